"""A replay buffer that stores every frame once and rebuilds stacks from indices.

Atari observations are stacks of the last 4 frames, and consecutive observations share
3 of them; the next observation of a transition is the observation of the following
one. So instead of ``obs`` and ``next_obs`` stacks (SB3 keeps both: 56 GB for 1M Atari
transitions, 28 GB with ``optimize_memory_usage``), the buffer keeps one stream of
frames, each frame once, as uint8:

    episode:  f0  f1  f2 ... fT      (f0 from reset, f(t+1) the newest frame of next_obs)

A transition keeps only the position of its observation's newest frame, ``ptr``, and
how many earlier frames of its episode exist (``history``, at most stack - 1). Its
observation is frames ``ptr - 3 .. ptr``; its next observation ``ptr - 2 .. ptr + 1``;
where the episode began less than 3 frames earlier, the episode's first frame is
repeated, exactly as gymnasium's ``FrameStackObservation`` pads after a reset. The last
frame of an episode is kept too, so a truncated episode bootstraps from its true final
observation.

An episode of T transitions holds T + 1 frames, so the frame ring has a little more
room than the transition ring (1% for large frames). If many short episodes would need
more, the oldest transitions are dropped early; ``len(buffer)`` is always the true
number of transitions held.

Sampling returns ``n``-step returns (stopping at the end of an episode and at the newest
transition) and, with ``prioritized=True``, samples in proportion to priority^alpha with
importance weights (Schaul et al. 2016), normalised by the batch maximum.

For vector observations (``stack=1``) a "frame" is the whole observation.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from rlkit.data.device import to_device
from rlkit.data.sumtree import SumTree


@dataclass
class Batch:
    """A sampled minibatch, as tensors on the buffer's device."""

    obs: torch.Tensor
    """(B, *obs_shape), the buffer's dtype (uint8 frames stay uint8)."""
    actions: torch.Tensor
    """(B,) int64."""
    rewards: torch.Tensor
    """(B,) float32: the n-step discounted sum of rewards."""
    next_obs: torch.Tensor
    """(B, *obs_shape): the observation the return bootstraps from."""
    dones: torch.Tensor
    """(B,) float32: 1 where the episode terminated within the n steps (no bootstrap)."""
    discounts: torch.Tensor
    """(B,) float32: gamma^m, m the number of steps summed (<= n)."""
    weights: torch.Tensor
    """(B,) float32: importance-sampling weights (all 1 when sampling uniformly)."""
    indices: np.ndarray
    """(B,) int64: slots sampled, for ``update_priorities``."""

    def __getitem__(self, index: slice) -> Batch:
        """The rows ``index`` of every field, as a smaller batch."""
        return Batch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def frame_ring_size(capacity: int, frame_bytes: int) -> int:
    """Frames kept for ``capacity`` transitions: 1% extra for big frames, 2x for small ones."""
    if capacity * frame_bytes <= 1 << 30:  # small: room for one extra frame per transition
        return 2 * capacity + 8
    return capacity + max(capacity // 100, 64)


class ReplayBuffer:
    """Experience replay for one stream of transitions (one environment).

    Args:
        capacity: transitions held (the oldest are overwritten).
        obs_shape: shape of one observation, e.g. ``(4, 84, 84)`` or ``(4,)``.
        obs_dtype: numpy dtype of observations (uint8 for frames).
        stack: frames per observation (``obs_shape[0]`` for Atari; 1 for vectors).
        n_step: steps summed in the return.
        gamma: discount of the n-step return.
        prioritized: sample in proportion to priority^alpha.
        alpha: prioritisation exponent (0 = uniform).
        priority_eps: added to |TD error| so no transition gets probability 0.
        device: where sampled tensors go.
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        obs_dtype: Any = np.uint8,
        stack: int = 1,
        n_step: int = 1,
        gamma: float = 0.99,
        prioritized: bool = False,
        alpha: float = 0.6,
        priority_eps: float = 1e-6,
        device: str | torch.device = "cpu",
        frames: int | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if stack < 1 or n_step < 1:
            raise ValueError("stack and n_step must be >= 1")
        if stack > 1 and (len(obs_shape) < 2 or obs_shape[0] != stack):
            raise ValueError(
                f"with stack={stack} the observation shape must start with {stack}, got {obs_shape}"
            )
        self.capacity, self.stack, self.n_step, self.gamma = capacity, stack, n_step, gamma
        self.obs_shape = tuple(obs_shape)
        self.frame_shape = self.obs_shape[1:] if stack > 1 else self.obs_shape
        self.dtype = np.dtype(obs_dtype)
        frame_bytes = int(np.prod(self.frame_shape)) * self.dtype.itemsize
        self.n_frames = frames if frames is not None else frame_ring_size(capacity, frame_bytes)
        if self.n_frames < stack + 2:
            raise ValueError("the frame ring must hold at least stack + 2 frames")
        self.device = torch.device(device)
        # storage
        self.frames = np.empty((self.n_frames, *self.frame_shape), dtype=self.dtype)
        # commit the ring's memory now (one write per page): a buffer that does not fit fails
        # at the start rather than hours in, and the process's memory stays flat afterwards
        self.frames.reshape(-1)[:: max(4096 // self.dtype.itemsize, 1)] = 0
        self.ptr = np.zeros(capacity, dtype=np.int64)  # newest frame of obs, monotone
        self.history = np.zeros(
            capacity, dtype=np.uint8
        )  # earlier frames of the episode, <= stack-1
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=bool)
        self.ended = np.zeros(capacity, dtype=bool)  # terminated or truncated
        # cursors
        self.head = 0  # next slot to write
        self.size = 0
        self.frame_count = 0  # frames pushed so far
        self._new_episode = True
        self._steps_in_episode = 0
        # prioritized replay
        self.prioritized = prioritized
        self.alpha, self.priority_eps = alpha, priority_eps
        self.tree = SumTree(capacity) if prioritized else None
        self.max_priority = 1.0

    # ------------------------------------------------------------------ sizes

    def __len__(self) -> int:
        return self.size

    @property
    def oldest(self) -> int:
        """Slot of the oldest transition held."""
        return (self.head - self.size) % self.capacity

    @property
    def nbytes(self) -> int:
        """Bytes of storage (allocated lazily by the OS as it fills)."""
        arrays = (
            self.frames,
            self.ptr,
            self.history,
            self.actions,
            self.rewards,
            self.terminated,
            self.ended,
        )
        tree = self.tree.tree.nbytes if self.tree is not None else 0
        return sum(a.nbytes for a in arrays) + tree

    @staticmethod
    def estimate_bytes(
        capacity: int,
        obs_shape: tuple[int, ...],
        obs_dtype: Any = np.uint8,
        stack: int = 1,
        prioritized: bool = False,
    ) -> int:
        """Bytes a buffer with these settings will take when full."""
        frame_shape = obs_shape[1:] if stack > 1 else obs_shape
        frame_bytes = int(np.prod(frame_shape)) * np.dtype(obs_dtype).itemsize
        per_transition = 8 + 1 + 8 + 4 + 1 + 1
        tree = 16 * (1 << (capacity - 1).bit_length()) if prioritized else 0
        return (
            frame_ring_size(capacity, frame_bytes) * frame_bytes + capacity * per_transition + tree
        )

    # ------------------------------------------------------------------ adding

    def _newest_frame(self, obs: Any) -> np.ndarray:
        obs = np.asarray(obs)
        return obs[-1] if self.stack > 1 else obs

    def _evict_oldest(self) -> None:
        slot = self.oldest
        if self.tree is not None:
            self.tree.update(slot, 0.0)
        self.size -= 1

    def _push_frame(self, frame: np.ndarray) -> int:
        p = self.frame_count
        # drop transitions whose frames this write would overwrite
        while self.size > 0:
            slot = self.oldest
            if int(self.ptr[slot]) - int(self.history[slot]) > p - self.n_frames:
                break
            self._evict_oldest()
        self.frames[p % self.n_frames] = frame
        self.frame_count += 1
        return p

    def add(
        self, obs: Any, action: int, reward: float, terminated: bool, truncated: bool, next_obs: Any
    ) -> None:
        """Store one transition ``(obs, action, reward, next_obs)`` of the stream."""
        if self._new_episode:
            self._push_frame(self._newest_frame(obs))
            self._steps_in_episode = 0
            self._new_episode = False
        ptr = self.frame_count - 1
        if self.size == self.capacity:
            self._evict_oldest()
        self._push_frame(self._newest_frame(next_obs))
        slot = self.head
        self.ptr[slot] = ptr
        self.history[slot] = min(self._steps_in_episode, self.stack - 1)
        self.actions[slot] = int(action)
        self.rewards[slot] = float(reward)
        self.terminated[slot] = bool(terminated)
        self.ended[slot] = bool(terminated or truncated)
        self.head = (self.head + 1) % self.capacity
        self.size += 1
        if self.tree is not None:
            self.tree.update(slot, self.max_priority**self.alpha)
        self._steps_in_episode += 1
        if terminated or truncated:
            self._new_episode = True

    # ------------------------------------------------------------------ sampling

    def _stacks(self, ptr: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Frames of observations whose newest frame is ``ptr``: (B, stack, *frame) or (B, *frame)."""
        if self.stack == 1:
            return self.frames[ptr % self.n_frames]
        offsets = np.arange(1 - self.stack, 1)  # -3, -2, -1, 0
        offsets = np.maximum(offsets[None, :], -history[:, None].astype(np.int64))
        return self.frames[(ptr[:, None] + offsets) % self.n_frames]

    def sample(self, batch_size: int, rng: np.random.Generator, beta: float = 0.4) -> Batch:
        """A minibatch of ``batch_size`` transitions (uniform, or prioritized with ``beta``)."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if self.tree is not None:
            total = self.tree.total
            values = (np.arange(batch_size) + rng.random(batch_size)) * (total / batch_size)
            idx = self.tree.find(np.minimum(values, np.nextafter(total, 0)))
            probs = self.tree[idx] / total
            weights = (self.size * probs) ** (-beta)
            weights = (weights / weights.max()).astype(np.float32)
        else:
            idx = (self.oldest + rng.integers(0, self.size, size=batch_size)) % self.capacity
            weights = np.ones(batch_size, dtype=np.float32)
        return self._gather(idx, weights)

    def _gather(self, idx: np.ndarray, weights: np.ndarray) -> Batch:
        ahead = self.size - 1 - (idx - self.oldest) % self.capacity  # transitions after idx
        returns = np.zeros(len(idx), dtype=np.float64)
        last = idx.copy()
        steps = np.zeros(len(idx), dtype=np.int64)
        alive = np.ones(len(idx), dtype=bool)
        for k in range(self.n_step):
            j = (idx + k) % self.capacity
            valid = alive & (k <= ahead)
            returns += np.where(valid, self.gamma**k * self.rewards[j], 0.0)
            last = np.where(valid, j, last)
            steps = np.where(valid, k + 1, steps)
            alive = valid & ~self.ended[j]
        obs = self._stacks(self.ptr[idx], self.history[idx])
        next_history = np.minimum(self.history[last].astype(np.int64) + 1, self.stack - 1)
        next_obs = self._stacks(self.ptr[last] + 1, next_history)
        device = self.device
        return Batch(
            obs=to_device(obs, device),
            actions=to_device(self.actions[idx], device),
            rewards=to_device(returns.astype(np.float32), device),
            next_obs=to_device(next_obs, device),
            dones=to_device(self.terminated[last].astype(np.float32), device),
            discounts=to_device(
                (self.gamma ** steps.astype(np.float64)).astype(np.float32), device
            ),
            weights=to_device(weights, device),
            indices=idx,
        )

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray | torch.Tensor) -> None:
        """Set priorities ``(|td| + eps)^alpha`` of sampled slots (prioritized buffers)."""
        if self.tree is None:
            raise RuntimeError("update_priorities needs prioritized=True")
        if isinstance(td_errors, torch.Tensor):
            td_errors = td_errors.detach().float().cpu().numpy()
        priority = np.abs(np.asarray(td_errors, dtype=np.float64)) + self.priority_eps
        self.max_priority = max(self.max_priority, float(priority.max()))
        # a slot evicted since it was sampled keeps priority 0
        live = ((np.asarray(indices) - self.oldest) % self.capacity) < self.size
        self.tree.update(np.asarray(indices)[live], priority[live] ** self.alpha)

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore the buffer exactly (tensors and plain values).

        Until the rings wrap, only their written parts are kept (a 1M-transition Atari
        replay is 7 GB of frames when full, a tenth of that after 100k steps). The
        tensors are views of the rings, not copies, as a module's ``state_dict`` holds
        its parameters: a checkpoint is written as soon as it is taken, and a copy of a
        full Atari replay beside the live one doubled the save's memory (14 GB)."""
        # transitions push at least one frame each, so while no more frames than slots
        # were pushed neither ring has wrapped and the written parts are prefixes
        partial = self.frame_count <= self.capacity
        lengths = {"frames": self.frame_count if partial else self.n_frames}
        slots = self.head if partial else self.capacity
        arrays = {
            name: torch.from_numpy(getattr(self, name)[: lengths.get(name, slots)])
            for name in ("frames", "ptr", "history", "actions", "rewards", "terminated", "ended")
        }
        state: dict[str, Any] = {
            **arrays,
            "head": self.head,
            "size": self.size,
            "frame_count": self.frame_count,
            "new_episode": self._new_episode,
            "steps_in_episode": self._steps_in_episode,
            "max_priority": self.max_priority,
        }
        if self.tree is not None:
            state["tree"] = torch.from_numpy(self.tree.tree.copy())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from ``state_dict`` (same capacity and shapes; written parts of the rings
        fill their starts)."""
        for name in ("frames", "ptr", "history", "actions", "rewards", "terminated", "ended"):
            target = getattr(self, name)
            source = state[name].numpy()
            if source.shape[1:] != target.shape[1:] or len(source) > len(target):
                raise ValueError(
                    f"replay state {name} has shape {source.shape}, expected {target.shape}"
                )
            target[: len(source)] = source
            if name != "frames":  # (frames past the written part are never read)
                target[len(source) :] = 0
        self.head, self.size, self.frame_count = (
            int(state["head"]),
            int(state["size"]),
            int(state["frame_count"]),
        )
        self._new_episode, self._steps_in_episode = (
            bool(state["new_episode"]),
            int(state["steps_in_episode"]),
        )
        self.max_priority = float(state["max_priority"])
        if self.tree is not None:
            self.tree.tree[...] = state["tree"].numpy()
