"""What the on-policy agents (reinforce, a2c, ppo, recurrent-ppo) share, as plain functions.

* ``action_spec``: what a policy needs to know about an action space (or a clear error).
* ``Actor``: acting in N environments with an ``ActorCritic`` (sampled actions, their
  log-probabilities and values; actions clipped to a Box's bounds for the env only, the
  unclipped sample kept for the log-probability).
* ``collect_rollout``: fill a ``RolloutBuffer`` from a vector env (``SAME_STEP``
  autoreset), valuing the final observation of every truncated episode.
* ``EpisodeStats``: returns and lengths of finished episodes for the ``rollout/`` metrics.
* ``eval_policy``: ``obs -> action`` for ``rlkit.evaluation.evaluate``.
* ``explained_variance``, ``crossed``: small helpers of the training loops.

No agent inherits from anything here; each composes what it needs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlkit.data.rollout import RolloutBuffer
from rlkit.errors import BadInput


@dataclass(frozen=True)
class ActionSpec:
    """An action space as a policy sees it."""

    n_actions: int | None
    """Number of actions (Discrete), else None."""
    action_dim: int | None
    """Action dimensions (Box), else None."""
    low: np.ndarray | None = None
    """Lower bounds (Box)."""
    high: np.ndarray | None = None
    """Upper bounds (Box)."""

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one stored action."""
        return () if self.n_actions is not None else (int(self.action_dim),)

    @property
    def dtype(self) -> type:
        """numpy dtype of stored actions."""
        return np.int64 if self.n_actions is not None else np.float32

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """Actions as the env takes them: Box samples clipped to the bounds."""
        if self.n_actions is not None:
            return actions
        return np.clip(actions, self.low, self.high)


def action_spec(
    space: gym.Space, algo: str, describe: Callable[[gym.Space], str] = str
) -> ActionSpec:
    """``ActionSpec`` of a ``Discrete`` or 1-D ``Box`` space; ``BadInput`` for anything else."""
    if isinstance(space, gym.spaces.Discrete):
        if space.start != 0:
            raise BadInput(f"{algo} needs Discrete actions starting at 0, got {describe(space)}")
        return ActionSpec(int(space.n), None)
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise BadInput(f"{algo} needs a bounded Box action space, got {describe(space)}")
        return ActionSpec(
            None, int(space.shape[0]), space.low.astype(np.float32), space.high.astype(np.float32)
        )
    raise BadInput(f"{algo} needs a Discrete or 1-D Box action space, got {describe(space)}")


@dataclass
class EpisodeStats:
    """The last 100 finished episodes' returns and lengths, and the episode count."""

    returns: deque = field(default_factory=lambda: deque(maxlen=100))
    lengths: deque = field(default_factory=lambda: deque(maxlen=100))
    episodes: int = 0

    def record(self, info: dict[str, Any]) -> None:
        """Add the episodes that ended in a vector step (from its ``info``)."""
        final = info.get("final_info")
        if not final or "episode" not in final:
            return
        for i in np.flatnonzero(final["_episode"]):
            self.returns.append(float(final["episode"]["r"][i]))
            self.lengths.append(int(final["episode"]["l"][i]))
            self.episodes += 1

    def metrics(self) -> dict[str, float]:
        """``rollout/ep_return``, ``rollout/ep_length`` (when any ended) and ``rollout/episodes``."""
        out: dict[str, float] = {"rollout/episodes": self.episodes}
        if self.returns:
            out["rollout/ep_return"] = float(np.mean(self.returns))
            out["rollout/ep_length"] = float(np.mean(self.lengths))
        return out


class Actor:
    """Acts in N environments at once with a feed-forward ``ActorCritic``."""

    def __init__(self, net: torch.nn.Module, spec: ActionSpec, device: torch.device,
                 generator: torch.Generator) -> None:  # fmt: skip
        self.net, self.spec, self.device, self.generator = net, spec, device, generator

    @torch.no_grad()
    def __call__(self, obs: np.ndarray, episode_starts: np.ndarray | None = None):
        """``(actions to store, actions for the env, log-probs, values)`` as numpy arrays."""
        dist, values = self.net(torch.as_tensor(obs, device=self.device))
        actions = dist.sample(self.generator)
        log_probs = dist.log_prob(actions)
        actions_np = actions.cpu().numpy()
        return (
            actions_np,
            self.spec.to_env(actions_np),
            log_probs.cpu().numpy(),
            values.cpu().numpy(),
        )

    @torch.no_grad()
    def values(self, obs: np.ndarray, env_indices: np.ndarray | None = None) -> np.ndarray:
        """``V(obs)`` for a batch of observations."""
        return self.net.value(torch.as_tensor(obs, device=self.device)).cpu().numpy()


class NumpyActor:
    """``Actor`` for a vector-observation ``ActorCritic`` on the CPU, in numpy.

    Acting on a handful of observations per step costs far more in torch dispatch than in
    arithmetic; numpy on views of the parameters (``rlkit.nn.backprop.NumpyForward``)
    does the same in a fraction of the time and follows every optimizer update.
    Sampling uses a numpy generator: categorical by inverse transform, Gaussian as
    ``mean + std * noise``.
    """

    def __init__(
        self, net: torch.nn.Module, spec: ActionSpec, rng: np.random.Generator, activation: str
    ) -> None:
        from rlkit.nn.backprop import NumpyForward

        self.spec, self.rng = spec, rng
        self.policy = NumpyForward([*net.pi_net.linears, net.heads.policy], activation)
        self.value = NumpyForward([*net.vf_net.linears, net.heads.value], activation)
        self.log_std = None if spec.n_actions is not None else net.heads.log_std.detach().numpy()

    @staticmethod
    def supports(net: torch.nn.Module, activation: str) -> bool:
        """True for an MLP ``ActorCritic`` with float32 CPU parameters and a tanh / relu activation."""
        return (not getattr(net, "image", True) and activation in ("tanh", "relu")
                and all(p.device.type == "cpu" and p.dtype == torch.float32 for p in net.parameters()))  # fmt: skip

    def __call__(self, obs: np.ndarray, episode_starts: np.ndarray | None = None):
        """``(actions to store, actions for the env, log-probs, values)``."""
        out = self.policy(obs)
        values = self.value(obs)[:, 0]
        if self.spec.n_actions is not None:
            shifted = out - out.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            cdf = np.exp(log_probs).cumsum(axis=1)
            u = self.rng.random((out.shape[0], 1))
            actions = np.minimum((cdf < u).sum(axis=1), out.shape[1] - 1)
            chosen = log_probs[np.arange(out.shape[0]), actions]
            return actions, actions, chosen.astype(np.float32), values
        std = np.exp(self.log_std)
        actions = (out + std * self.rng.standard_normal(out.shape)).astype(np.float32)
        z = (actions - out) / std
        log_probs = (-0.5 * z * z - self.log_std - 0.5 * np.log(2 * np.pi)).sum(axis=1)
        return actions, self.spec.to_env(actions), log_probs.astype(np.float32), values

    def values(self, obs: np.ndarray, env_indices: np.ndarray | None = None) -> np.ndarray:
        """``V(obs)`` for a batch of observations."""
        return self.value(obs)[:, 0]

    def eval_policy(self, deterministic: bool, rng: np.random.Generator) -> Callable[[Any], Any]:
        """``obs -> action`` for one observation: the mode, or a sample from ``rng``."""
        policy, spec = self.policy, self.spec

        def act(obs: Any) -> Any:
            out = policy(obs)
            if spec.n_actions is not None:
                if deterministic:
                    return int(out.argmax())
                p = np.exp(out - out.max())
                return int(min((p.cumsum() < rng.random() * p.sum()).sum(), out.shape[0] - 1))
            if not deterministic:
                out = out + np.exp(self.log_std) * rng.standard_normal(out.shape)
            return spec.to_env(out.astype(np.float32))

        return act


def collect_rollout(env: gym.vector.VectorEnv, buffer: RolloutBuffer, obs: np.ndarray,
                    episode_starts: np.ndarray, act: Callable, value_of: Callable,
                    stats: EpisodeStats) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Step ``env`` until ``buffer`` is full; return the next ``(obs, episode_starts)``.

    ``act(obs, episode_starts) -> (actions, env_actions, log_probs, values)``;
    ``value_of(final_obs, env_indices) -> values`` values truncated episodes' last states.
    """
    while not buffer.full:
        actions, env_actions, log_probs, values = act(obs, episode_starts)
        next_obs, rewards, terminated, truncated, info = env.step(env_actions)
        row = buffer.add(
            obs, actions, log_probs, values, rewards, terminated, truncated, episode_starts
        )
        cut = np.flatnonzero(np.logical_and(truncated, np.logical_not(terminated)))
        if cut.size:
            final = np.stack([info["final_obs"][i] for i in cut])
            buffer.set_final_values(row, cut, value_of(final, cut))
        stats.record(info)
        obs = next_obs
        episode_starts = np.logical_or(terminated, truncated).astype(np.float32)
    return obs, episode_starts


def eval_policy(net: torch.nn.Module, device: torch.device, deterministic: bool,
                generator: torch.Generator | None, spec: ActionSpec) -> Callable[[Any], Any]:  # fmt: skip
    """``obs -> action`` of a feed-forward ``ActorCritic``: the mode, or a sample."""

    @torch.no_grad()
    def act(obs: Any) -> Any:
        dist, _ = net(torch.as_tensor(np.asarray(obs)[None], device=device))
        action = dist.mode() if deterministic else dist.sample(generator)
        action = action[0].cpu().numpy()
        return int(action) if spec.n_actions is not None else spec.to_env(action)

    return act


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """``1 - Var(target - predicted) / Var(target)`` (1: perfect, 0: no better than a constant)."""
    var = float(target.var())
    return float("nan") if var == 0 else 1.0 - float((target - predicted).var()) / var


def crossed(before: int, after: int, interval: int) -> bool:
    """True if a multiple of ``interval`` lies in ``(before, after]`` (``interval`` 0: never)."""
    return interval > 0 and after // interval > before // interval
