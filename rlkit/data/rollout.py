"""The rollout buffer of on-policy agents: ``n_steps`` steps of ``n_envs`` vector envs.

Rows are time, columns environments: ``obs[t, i]`` is what env ``i`` showed before
step ``t``. Filled with numpy arrays as the rollout runs (cheap writes), handed to torch
without copying when it is complete.

At the end of an episode the vector env already shows the next episode's first
observation (``SAME_STEP`` autoreset), so the value that follows a truncated step
comes from the *final* observation, recorded with ``set_final_values``. ``finish``
assembles ``next_values`` for ``rlkit.data.returns`` (see there for the formulas):

* inside an episode: ``V(obs[t + 1])`` (= ``values[t + 1]``),
* after a truncation: ``V(final observation)``,
* after a termination: 0 (never used: nothing follows a true end),
* after the last row: ``V`` of the observation following the rollout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rlkit.data.device import to_device
from rlkit.data.returns import discounted_returns, gae
from rlkit.distributed import SINGLE, Ranks
from rlkit.timing import PHASES


@dataclass
class RolloutBatch:
    """Flat (or sequence) minibatch of a rollout."""

    obs: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    episode_starts: torch.Tensor
    env_indices: torch.Tensor | None = None
    """For sequence minibatches: which environments (columns) they hold."""

    def flat(self) -> RolloutBatch:
        """A sequence minibatch ``(n_steps, envs, ...)`` as rows ``(n_steps * envs, ...)``."""

        def rows(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(-1, *x.shape[2:])

        return RolloutBatch(
            rows(self.obs),
            rows(self.actions),
            rows(self.log_probs),
            rows(self.values),
            rows(self.advantages),
            rows(self.returns),
            rows(self.episode_starts),
            self.env_indices,
        )


class RolloutBuffer:
    """Storage for one rollout, its advantages and returns, and its minibatches."""

    def __init__(
        self,
        n_steps: int,
        n_envs: int,
        obs_shape: tuple[int, ...],
        obs_dtype: np.dtype,
        action_shape: tuple[int, ...] = (),
        action_dtype: np.dtype = np.int64,
        device: torch.device | str = "cpu",
        channels_last: bool = False,
    ) -> None:
        if n_steps < 1 or n_envs < 1:
            raise ValueError(f"n_steps and n_envs must be >= 1, got {n_steps}, {n_envs}")
        self.n_steps, self.n_envs, self.device = n_steps, n_envs, torch.device(device)
        self.channels_last = channels_last and len(obs_shape) == 3
        """Minibatch observations (``C, H, W`` images) laid out channels-last, as a network
        with channels-last convolutions takes them (``minibatches``)."""
        self._rows: tuple[Any, dict[str, torch.Tensor]] | None = None
        tn = (n_steps, n_envs)
        self.obs = np.zeros(tn + tuple(obs_shape), dtype=obs_dtype)
        self.actions = np.zeros(tn + tuple(action_shape), dtype=action_dtype)
        self.log_probs = np.zeros(tn, dtype=np.float32)
        self.values = np.zeros(tn, dtype=np.float32)
        self.rewards = np.zeros(tn, dtype=np.float32)
        self.terminated = np.zeros(tn, dtype=np.float32)
        self.ended = np.zeros(tn, dtype=np.float32)
        self.episode_starts = np.zeros(tn, dtype=np.float32)
        self.final_values = np.zeros(tn, dtype=np.float32)
        self.t = 0
        self.advantages: torch.Tensor | None = None
        self.returns: torch.Tensor | None = None

    @property
    def size(self) -> int:
        """Steps in a full rollout: ``n_steps * n_envs``."""
        return self.n_steps * self.n_envs

    @property
    def full(self) -> bool:
        """True once ``n_steps`` rows are stored."""
        return self.t == self.n_steps

    def add(self, *step: np.ndarray) -> int:
        """Store one step of every env (``put``'s arrays, ``obs`` to ``episode_starts``);
        return its row index."""
        if self.full:
            raise RuntimeError("rollout buffer is full; call reset() after using it")
        t = self.t
        self.put(t, slice(None), *step)
        self.t += 1
        return t

    def put(
        self,
        t: int,
        envs: slice,
        obs: np.ndarray,
        actions: np.ndarray,
        log_probs: np.ndarray,
        values: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        episode_starts: np.ndarray,
    ) -> None:
        """Store step ``t`` of the envs ``envs`` (a part of row ``t``; ``add`` is the whole
        row and moves on, ``put`` leaves ``self.t`` to its caller)."""
        row = (t, envs)
        self.obs[row] = obs
        self.actions[row] = actions
        self.log_probs[row] = log_probs
        self.values[row] = values
        self.rewards[row] = rewards
        self.terminated[row] = terminated
        self.ended[row] = self._either(terminated, truncated)
        self.episode_starts[row] = episode_starts
        self.final_values[row] = 0.0

    @staticmethod
    def _either(terminated: Any, truncated: Any) -> Any:
        return np.logical_or(terminated, truncated)

    def set_final_values(self, row: int, env_indices: np.ndarray, values: np.ndarray) -> None:
        """``V`` of the final observations of the episodes truncated at ``row`` in ``env_indices``."""
        self.final_values[row, env_indices] = values

    def next_values(self, last_values: np.ndarray) -> np.ndarray:
        """The value that follows each step (see the module doc)."""
        following = np.concatenate([self.values[1:], np.asarray(last_values, np.float32)[None]])
        return np.where(self.ended > 0, self.final_values, following).astype(np.float32)

    def finish(self, last_values: np.ndarray, gamma: float, gae_lambda: float | None) -> None:
        """Compute advantages and returns: GAE(lambda), or with ``gae_lambda=None``
        Monte-Carlo returns and advantages ``G - V``."""
        if not self.full:
            raise RuntimeError(f"rollout holds {self.t} of {self.n_steps} steps")
        t = torch.from_numpy
        rewards, values = t(self.rewards), t(self.values)
        next_values, terminated, ended = (
            t(self.next_values(last_values)),
            t(self.terminated),
            t(self.ended),
        )
        if gae_lambda is None:
            returns = discounted_returns(rewards, next_values, terminated, ended, gamma)
            advantages = returns - values
        else:
            advantages, returns = gae(
                rewards, values, next_values, terminated, ended, gamma, gae_lambda
            )
        self.advantages, self.returns = advantages.to(self.device), returns.to(self.device)

    def explained_variance(self, ranks: Ranks = SINGLE) -> float:
        """How much of the returns' variance the rollout's values explain:
        ``1 - Var(R - V) / Var(R)`` (1: perfectly, 0: no better than a constant); in a
        data-parallel group (``ranks``), of the whole run's rollout."""
        if self.returns is None:
            raise RuntimeError("call finish() first")
        returns = torch.from_numpy(ranks.columns(self.returns.cpu().numpy())).flatten()
        values = torch.from_numpy(ranks.columns(self.values)).flatten()
        var = float(returns.var())
        return float("nan") if var == 0 else 1.0 - float((returns - values).var()) / var

    def reset(self) -> None:
        """Empty the buffer for the next rollout."""
        self.t = 0
        self.advantages = self.returns = None

    def _tensors(self) -> dict[str, torch.Tensor]:
        if self.advantages is None:
            raise RuntimeError("call finish() before drawing minibatches")
        d = self.device
        return {
            "obs": to_device(self.obs, d),
            "actions": to_device(self.actions, d),
            "log_probs": to_device(self.log_probs, d),
            "values": to_device(self.values, d),
            "advantages": self.advantages,
            "returns": self.returns,
            "episode_starts": to_device(self.episode_starts, d),
        }

    def minibatches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        shuffle: bool = True,
        ranks: Ranks = SINGLE,
    ) -> Iterator[RolloutBatch]:
        """The rollout's ``n_steps * n_envs`` rows flattened, shuffled, in minibatches of
        ``batch_size``. In a data-parallel group (``ranks``) the rows shuffled are the whole
        run's (every rank's envs, one permutation as one process draws it) and a minibatch
        holds this rank's rows of it (``rlkit.distributed``)."""
        flat = self._flat()
        total = self.n_steps * self.n_envs * ranks.world
        order = torch.randperm(total, generator=generator) if shuffle else torch.arange(total)
        order = order.to(self.device)
        for begin in range(0, total, batch_size):
            idx = ranks.local_rows(order[begin : begin + batch_size], self.n_envs)
            yield RolloutBatch(**{k: take_rows(v, idx) for k, v in flat.items()})

    def _flat(self) -> dict[str, torch.Tensor]:
        """The rollout's tensors as ``n_steps * n_envs`` rows, made once per rollout (every
        epoch's minibatches come from them; channels-last observations are reordered once,
        not in every minibatch)."""
        if self._rows is None or self._rows[0] is not self.advantages:
            n = self.n_steps * self.n_envs
            flat = {k: v.reshape(n, *v.shape[2:]) for k, v in self._tensors().items()}
            if self.channels_last:
                flat["obs"] = flat["obs"].contiguous(memory_format=torch.channels_last)
            self._rows = (self.advantages, flat)
        return self._rows[1]

    def sequences(
        self, envs_per_batch: int, generator: torch.Generator | None = None, ranks: Ranks = SINGLE
    ) -> Iterator[RolloutBatch]:
        """Whole-rollout sequences of ``envs_per_batch`` shuffled environments at a time:
        tensors ``(n_steps, envs_per_batch, ...)``, with ``env_indices`` (for recurrent state).
        In a data-parallel group the envs shuffled are the whole run's and a minibatch holds
        this rank's envs of it (maybe none)."""
        data = self._tensors()
        total = self.n_envs * ranks.world
        order = torch.randperm(total, generator=generator).to(self.device)
        for begin in range(0, total, envs_per_batch):
            idx = ranks.local_envs(order[begin : begin + envs_per_batch], self.n_envs)
            yield RolloutBatch(
                **{k: torch.index_select(v, 1, idx) for k, v in data.items()}, env_indices=idx
            )


def take_rows(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``x[idx]`` for a 1-d index tensor, by ``index_select`` (8x faster than advanced
    indexing on a minibatch of uint8 Atari frames here); rows of a channels-last tensor
    are taken whole in its own layout, so the minibatch is channels-last too."""
    if (
        x.dim() == 4
        and not x.is_contiguous()
        and x.is_contiguous(memory_format=torch.channels_last)
    ):
        return torch.index_select(x.permute(0, 2, 3, 1), 0, idx).permute(0, 3, 1, 2)
    return torch.index_select(x, 0, idx)


def collect_rollout(
    env: Any,
    buffer: RolloutBuffer,
    obs: np.ndarray,
    episode_starts: np.ndarray,
    act: Callable,
    stats: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Step the vector ``env`` (``SAME_STEP`` autoreset) until ``buffer`` is full; return the
    next ``(obs, episode_starts)``.

    ``act(obs, episode_starts) -> (actions, env_actions, log_probs, values)``, and
    ``act.values(final_obs, env_indices)`` values the final observation of every episode a
    time limit cut (a true termination is never bootstrapped); ``stats.record(info)`` sees
    every step's info.
    """
    everyone = slice(0, buffer.n_envs)
    while not buffer.full:
        with PHASES("act"):
            acted = act(obs, episode_starts)
        with PHASES("env"):
            stepped = env.step(acted[1])
        with PHASES("store"):
            episode_starts = store_step(
                buffer, buffer.t, everyone, obs, episode_starts, acted, stepped, act
            )
            buffer.t += 1
            stats.record(stepped[4])
        obs = stepped[0]
    return obs, episode_starts


def store_step(
    buffer: RolloutBuffer,
    t: int,
    envs: slice,
    obs: np.ndarray,
    episode_starts: np.ndarray,
    acted: tuple,
    stepped: tuple,
    act: Callable,
) -> np.ndarray:
    """Store step ``t`` of the envs ``envs``: what they saw (``obs``, ``episode_starts``),
    what ``act`` gave (``acted``) and what the env returned (``stepped``, its step's five
    values for those envs); the final observation of every episode a time limit cut is
    valued with ``act.values`` (a true termination is never bootstrapped). Returns the
    next ``episode_starts`` of those envs."""
    actions, _, log_probs, values = acted
    _, rewards, terminated, truncated, info = stepped
    buffer.put(
        t, envs, obs, actions, log_probs, values, rewards, terminated, truncated, episode_starts
    )
    cut = np.flatnonzero(np.logical_and(truncated, np.logical_not(terminated)))
    if cut.size:
        final = np.stack([info["final_obs"][i] for i in cut])
        indices = cut + envs.start
        buffer.set_final_values(t, indices, act.values(final, indices))
    return np.logical_or(terminated, truncated).astype(np.float32)


def merge_infos(infos: list[dict[str, Any]], parts: list[slice]) -> dict[str, Any]:
    """One vector-env ``info`` from the parts' own (each indexed within its part): their
    arrays end to end, a key some parts lack (``final_obs``, ``final_info``) filled with
    zeros there (``final_info``'s ``_episode`` mask is False there)."""
    if len(infos) == 1:
        return infos[0]
    n = parts[-1].stop

    def merged(values: list[Any]) -> Any:
        present = next(v for v in values if v is not None)
        if isinstance(present, dict):
            return {key: merged([None if v is None else v[key] for v in values]) for key in present}
        present = np.asarray(present)
        out = np.zeros((n, *present.shape[1:]), dtype=present.dtype)
        for part, value in zip(parts, values, strict=True):
            if value is not None:
                out[part] = value
        return out

    keys = dict.fromkeys(key for info in infos for key in info)
    return {key: merged([info.get(key) for info in infos]) for key in keys}


def collect_rollout_overlapped(
    env: Any,
    buffer: RolloutBuffer,
    obs: np.ndarray,
    episode_starts: np.ndarray,
    act: Callable,
    stats: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """``collect_rollout`` on a vector env stepped in two parts (``env.parts``, two slices
    of its envs; ``env.send_part`` / ``env.recv_part``, as ``rlkit.envs.ale_vector``'s),
    with one part's emulation overlapping the other's acting::

        act A(0), send A
        per step t:  act B(t), send B  | A emulates
                     recv A, store A(t), act A(t+1), send A  | B emulates
                     recv B, store B(t)

    Each env sees the same observations, takes its action from the same policy and
    stores the same row as ``collect_rollout`` would give it: a policy that acts on each
    observation alone (the mode, or noise drawn env by env) fills the buffer identically,
    and ``stats`` records each step's episodes in env order as there. While it runs, torch
    keeps half its threads, so that the emulator threads have the other cores. The last
    step's ``act A`` is not taken (the next rollout's first action comes from the updated
    policy).
    """
    parts = env.parts
    if len(parts) != 2:
        raise ValueError(f"collect_rollout_overlapped steps an env in 2 parts, got {len(parts)}")
    if buffer.full:  # (nothing may be sent that is not received)
        raise RuntimeError("rollout buffer is full; call reset() after using it")
    part_obs = [obs[p] for p in parts]
    part_starts = [episode_starts[p] for p in parts]
    acted: list[Any] = [None, None]
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads // 2))

    def act_and_send(k: int) -> None:
        with PHASES("act"):
            acted[k] = act(part_obs[k], part_starts[k])
        with PHASES("env"):
            env.send_part(k, acted[k][1])

    def receive(k: int, t: int) -> dict[str, Any]:
        with PHASES("env"):
            stepped = env.recv_part(k)
        with PHASES("store"):
            part_starts[k] = store_step(
                buffer, t, parts[k], part_obs[k], part_starts[k], acted[k], stepped, act
            )
            part_obs[k] = stepped[0]
        return stepped[4]

    try:
        act_and_send(0)
        for t in range(buffer.t, buffer.n_steps):
            act_and_send(1)
            info_a = receive(0, t)
            if t + 1 < buffer.n_steps:
                act_and_send(0)
            info_b = receive(1, t)
            buffer.t = t + 1
            with PHASES("store"):  # the step's finished episodes, in env order
                finals = [
                    {"final_info": i["final_info"]} if "final_info" in i else {}
                    for i in (info_a, info_b)
                ]
                stats.record(merge_infos(finals, parts) if any(finals) else {})
    finally:
        torch.set_num_threads(threads)
    return np.concatenate(part_obs), np.concatenate(part_starts)


class DeviceRolloutBuffer(RolloutBuffer):
    """A ``RolloutBuffer`` whose storage is torch tensors on the device (``vec_env: torch``):
    the rollout, its advantages and its minibatches never leave the device."""

    def __init__(
        self,
        n_steps: int,
        n_envs: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...] = (),
        action_dtype: torch.dtype = torch.int64,
        device: torch.device | str = "cpu",
    ) -> None:
        if n_steps < 1 or n_envs < 1:
            raise ValueError(f"n_steps and n_envs must be >= 1, got {n_steps}, {n_envs}")
        self.n_steps, self.n_envs, self.device = n_steps, n_envs, torch.device(device)
        tn = (n_steps, n_envs)

        def zeros(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.zeros(shape, dtype=dtype, device=self.device)

        self.obs = zeros(*tn, *obs_shape)
        self.actions = zeros(*tn, *action_shape, dtype=action_dtype)
        self.log_probs, self.values, self.rewards = zeros(*tn), zeros(*tn), zeros(*tn)
        self.terminated, self.ended, self.episode_starts = zeros(*tn), zeros(*tn), zeros(*tn)
        self.final_values = zeros(*tn)
        self.t = 0
        self.advantages = self.returns = None
        self.channels_last, self._rows = False, None

    @staticmethod
    def _either(terminated: Any, truncated: Any) -> Any:
        return terminated | truncated  # (``add`` stores device tensors as they come)

    def set_final_values(self, row: int, cut: torch.Tensor, values: torch.Tensor) -> None:
        """``V`` of the final observations of the episodes truncated at ``row`` (where ``cut``)."""
        self.final_values[row] = torch.where(cut, values, 0.0)

    def next_values(self, last_values: torch.Tensor) -> torch.Tensor:
        """The value that follows each step (see the module doc)."""
        following = torch.cat([self.values[1:], last_values.reshape(1, -1).float()])
        return torch.where(self.ended > 0, self.final_values, following)

    def finish(self, last_values: torch.Tensor, gamma: float, gae_lambda: float | None) -> None:
        """Advantages and returns on the device (see ``RolloutBuffer.finish``)."""
        if not self.full:
            raise RuntimeError(f"rollout holds {self.t} of {self.n_steps} steps")
        next_values = self.next_values(last_values)
        if gae_lambda is None:
            self.returns = discounted_returns(
                self.rewards, next_values, self.terminated, self.ended, gamma
            )
            self.advantages = self.returns - self.values
        else:
            self.advantages, self.returns = gae(
                self.rewards,
                self.values,
                next_values,
                self.terminated,
                self.ended,
                gamma,
                gae_lambda,
            )

    def explained_variance(self, ranks: Ranks = SINGLE) -> float:
        """``1 - Var(R - V) / Var(R)`` (see ``RolloutBuffer.explained_variance``; one process:
        the batched envs do not split over ranks)."""
        if ranks.active:
            raise ValueError("the batched torch envs run in one process")
        if self.returns is None:
            raise RuntimeError("call finish() first")
        var = float(self.returns.var())
        return float("nan") if var == 0 else 1.0 - float((self.returns - self.values).var()) / var

    def _by_group(self, x: torch.Tensor, groups: int) -> torch.Tensor:
        """``(n_steps, groups * n, ...)`` as each group's rows ``(groups, n_steps * n, ...)``,
        in the order a buffer of one group's ``n`` envs flattens them."""
        steps, n = self.n_steps, self.n_envs // groups
        return (
            x.reshape(steps, groups, n, *x.shape[2:])
            .movedim(1, 0)
            .reshape(groups, steps * n, *x.shape[2:])
        )

    def group_minibatches(
        self, batch_size: int, generators: list[torch.Generator]
    ) -> Iterator[RolloutBatch]:
        """Many seeds at once: the buffer's envs are ``G = len(generators)`` equal groups (one
        per seed, in order), and each minibatch stacks the ``G`` groups' own: tensors
        ``(G, batch_size, ...)``, group ``g`` shuffled by ``generators[g]`` exactly as
        ``minibatches`` shuffles a buffer of that group alone."""
        groups = len(generators)
        if self.n_envs % groups:
            raise ValueError(f"{self.n_envs} envs do not split into {groups} equal groups")
        data = {k: self._by_group(v, groups) for k, v in self._tensors().items()}
        n = self.n_steps * self.n_envs // groups
        order = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(self.device)
        rows = torch.arange(groups, device=self.device).unsqueeze(1)
        for begin in range(0, n, batch_size):
            idx = order[:, begin : begin + batch_size]
            yield RolloutBatch(**{k: v[rows, idx] for k, v in data.items()})

    def group_explained_variance(self, groups: int) -> list[float]:
        """``explained_variance`` of each of ``groups`` equal groups of envs."""
        if self.returns is None:
            raise RuntimeError("call finish() first")
        returns = self._by_group(self.returns, groups)
        var = returns.var(dim=1)
        unexplained = (returns - self._by_group(self.values, groups)).var(dim=1)
        return [
            float("nan") if v == 0 else 1.0 - u / v
            for v, u in zip(var.tolist(), unexplained.tolist(), strict=True)
        ]

    def _tensors(self) -> dict[str, torch.Tensor]:
        if self.advantages is None:
            raise RuntimeError("call finish() before drawing minibatches")
        return {
            "obs": self.obs,
            "actions": self.actions,
            "log_probs": self.log_probs,
            "values": self.values,
            "advantages": self.advantages,
            "returns": self.returns,
            "episode_starts": self.episode_starts,
        }


class DeviceEpisodes:
    """Finished episodes of a batched env, kept on the device during a rollout and handed
    to ``EpisodeStats`` once at its end (one transfer per rollout)."""

    def __init__(self) -> None:
        self.done: list[torch.Tensor] = []
        self.returns: list[torch.Tensor] = []
        self.lengths: list[torch.Tensor] = []

    def record(self, info: dict[str, Any]) -> None:
        """Keep a step's finished-episode mask, returns and lengths (no host transfer)."""
        final = info["final_info"]
        self.done.append(final["_episode"])
        self.returns.append(final["episode"]["r"])
        self.lengths.append(final["episode"]["l"])

    def flush(self, stats: Any) -> None:
        """``stats.add`` every episode recorded since the last flush, in step order."""
        if not self.done:
            return
        done = torch.stack(self.done)
        returns = torch.stack(self.returns)[done].cpu().tolist()
        lengths = torch.stack(self.lengths)[done].cpu().tolist()
        for episode_return, length in zip(returns, lengths, strict=True):
            stats.add(episode_return, length)
        self.done, self.returns, self.lengths = [], [], []


def collect_device_rollout(
    env: Any,
    buffer: DeviceRolloutBuffer,
    obs: torch.Tensor,
    episode_starts: torch.Tensor,
    act: Callable,
    stats: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``collect_rollout`` for a batched torch env: everything stays on the device.

    The final observation of an episode cut by the time limit is valued for every env and
    kept where the cut happened (on the CPU only when some env was cut: there the check
    costs nothing). Finished episodes reach ``stats`` once, after the rollout.

    Many seeds at once (``--seeds --batched``): ``env`` and ``stats`` are lists, one per
    seed; the loop's tensors hold every seed's envs in turn, each seed's share of the
    actions steps its own env and its episodes go to its own ``stats``.
    """
    envs, all_stats = (env, stats) if isinstance(env, list) else ([env], [stats])
    episodes = [DeviceEpisodes() for _ in envs]
    on_cpu = obs.device.type == "cpu"
    while not buffer.full:
        with PHASES("act"):
            actions, env_actions, log_probs, values = act(obs)
        with PHASES("env"):
            if len(envs) == 1:
                *out, info = envs[0].step(env_actions)
                infos = [info]
            else:
                chunks = env_actions.chunk(len(envs))
                steps = [e.step(a) for e, a in zip(envs, chunks, strict=True)]
                out = [torch.cat([s[i] for s in steps]) for i in range(4)]
                infos = [s[4] for s in steps]
        next_obs, rewards, terminated, truncated = out
        with PHASES("store"):
            row = buffer.add(
                obs, actions, log_probs, values, rewards, terminated, truncated, episode_starts
            )
            cut = truncated & ~terminated
            if not on_cpu or bool(cut.any()):
                final = (
                    torch.cat([info["final_obs"] for info in infos])
                    if len(infos) > 1
                    else info["final_obs"]
                )
                buffer.set_final_values(row, cut, act.values(final))
            for record, info in zip(episodes, infos, strict=True):
                record.record(info)
        obs = next_obs
        episode_starts = (terminated | truncated).float()
    for record, seed_stats in zip(episodes, all_stats, strict=True):
        record.flush(seed_stats)
    return obs, episode_starts
