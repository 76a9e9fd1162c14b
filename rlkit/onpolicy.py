"""What the on-policy agents (reinforce, a2c, ppo, recurrent-ppo) share, as plain functions.

* ``action_spec``: what a policy needs to know about an action space (or a clear error).
* ``Actor``: acting in N environments with an ``ActorCritic`` (sampled actions, their
  log-probabilities and values; actions clipped to a Box's bounds for the env only, the
  unclipped sample kept for the log-probability).
* ``collect_rollout``: fill a ``RolloutBuffer`` from a vector env (``SAME_STEP``
  autoreset), valuing the final observation of every truncated episode.
* ``EpisodeStats``: returns and lengths of finished episodes for the ``rollout/`` metrics.
* ``eval_policy``: ``obs -> action`` for ``rlkit.evaluation.evaluate``.
* ``train_on_policy``: the loop around them (collect, update, log, evaluate, checkpoint);
  each agent brings its own network, actor and ``update``.
* ``explained_variance``, ``crossed``: small helpers.

No agent inherits from anything here; each composes what it needs.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlkit.data.rollout import RolloutBuffer
from rlkit.errors import BadInput
from rlkit.evaluation import EvalHistory, evaluate


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
    ``mean + std * noise``. A network with ``obs_norm`` has its observations normalized
    with the statistics current at each call.
    """

    def __init__(
        self, net: torch.nn.Module, spec: ActionSpec, rng: np.random.Generator, activation: str
    ) -> None:
        from rlkit.nn.backprop import NumpyForward

        self.spec, self.rng = spec, rng
        self.policy = NumpyForward([*net.pi_net.linears, net.heads.policy], activation)
        self.value = NumpyForward([*net.vf_net.linears, net.heads.value], activation)
        self.log_std = None if spec.n_actions is not None else net.heads.log_std.detach().numpy()
        self.obs_norm = getattr(net, "obs_norm", None)

    def _normalized(self, obs: np.ndarray) -> np.ndarray:
        return obs if self.obs_norm is None else self.obs_norm.numpy(obs)

    @staticmethod
    def supports(net: torch.nn.Module, activation: str) -> bool:
        """True for an MLP ``ActorCritic`` with float32 CPU parameters and a tanh / relu activation."""
        return (not getattr(net, "image", True) and activation in ("tanh", "relu")
                and all(p.device.type == "cpu" and p.dtype == torch.float32 for p in net.parameters()))  # fmt: skip

    def __call__(self, obs: np.ndarray, episode_starts: np.ndarray | None = None):
        """``(actions to store, actions for the env, log-probs, values)``."""
        obs = self._normalized(obs)
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
        return self.value(self._normalized(obs))[:, 0]

    def eval_policy(self, deterministic: bool, rng: np.random.Generator) -> Callable[[Any], Any]:
        """``obs -> action`` for one observation: the mode, or a sample from ``rng``."""
        policy, spec = self.policy, self.spec

        def act(obs: Any) -> Any:
            out = policy(self._normalized(np.asarray(obs)))
            if spec.n_actions is not None:
                if deterministic:
                    return int(out.argmax())
                p = np.exp(out - out.max())
                return int(min((p.cumsum() < rng.random() * p.sum()).sum(), out.shape[0] - 1))
            if not deterministic:
                out = out + np.exp(self.log_std) * rng.standard_normal(out.shape)
            return spec.to_env(out.astype(np.float32))

        return act


def clipped_surrogate_loss(log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor,
                           values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
                           entropy: torch.Tensor, clip: float, config: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:  # fmt: skip
    """PPO's loss from a batch's log-probabilities, values and entropies, and its parts for logging.

    ``L = -mean(min(r A, clip(r, 1 - eps, 1 + eps) A)) + vf_coef mean((V - R)^2) - ent_coef mean(H)``,
    ``r = exp(log pi - log pi_old)``; ``config`` supplies ``normalize_advantage``,
    ``clip_range_vf``, ``vf_coef`` and ``ent_coef``.
    """
    if config.normalize_advantage and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    log_ratio = log_probs - old_log_probs
    ratio = log_ratio.exp()
    policy_loss = -torch.min(
        advantages * ratio, advantages * ratio.clamp(1.0 - clip, 1.0 + clip)
    ).mean()
    if config.clip_range_vf is not None:
        values = old_values + (values - old_values).clamp(
            -config.clip_range_vf, config.clip_range_vf
        )
    value_loss = (returns - values).square().mean()
    entropy = entropy.mean()
    loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
    with torch.no_grad():
        parts = {
            "policy_loss": policy_loss.detach(), "value_loss": value_loss.detach(), "entropy": entropy.detach(),
            "approx_kl": ((ratio - 1.0) - log_ratio).mean(),  # Schulman's low-variance estimator
            "clip_fraction": ((ratio - 1.0).abs() > clip).float().mean(),
        }  # fmt: skip
    return loss, parts


class WrittenOutPass:
    """One forward pass of an MLP ``ActorCritic`` whose backward pass is written out.

    ``log_probs``, ``entropy`` and ``values`` come from ``rlkit.nn.backprop.forward``;
    ``backward(d_log_prob, d_value, ent_coef)`` sets ``.grad`` of every parameter
    (overwriting) for a loss whose gradient is ``d_log_prob`` with respect to each
    sample's ``log pi(a|s)``, ``d_value`` with respect to each ``V(s)``, plus
    ``-ent_coef * mean(H)``. With ``p = softmax(z)`` (Discrete), or mean ``mu`` and
    ``s = log std`` (Box), and ``B`` the batch size:

    * ``dlog pi/dz = onehot(a) - p``; ``dlog pi/dmu = (a - mu) / sigma^2``;
      ``dlog pi/ds = ((a - mu) / sigma)^2 - 1``;
    * ``dH/dz = -p (log p + H)``; ``dH/ds = 1``.

    For the small MLPs of classic control this skips autograd's bookkeeping, which on a
    CPU costs more than the arithmetic; the agents' tests check it against autograd.
    """

    def __init__(
        self, net: torch.nn.Module, activation: str, obs: torch.Tensor, actions: torch.Tensor
    ) -> None:
        from rlkit.distributions import HALF_LOG_2PI
        from rlkit.nn import backprop

        self.net, self.activation, self._backprop = net, activation, backprop
        if getattr(net, "obs_norm", None) is not None:
            obs = net.obs_norm(obs)
        x = (obs if obs.dtype == torch.float32 else obs.float()).flatten(1)
        self.pi_layers = [*net.pi_net.linears, net.heads.policy]
        self.vf_layers = [*net.vf_net.linears, net.heads.value]
        self.pi_out = backprop.forward(self.pi_layers, activation, x)
        self.vf_out = backprop.forward(self.vf_layers, activation, x)
        out = self.pi_out[-1]
        self.values = self.vf_out[-1][:, 0]
        n = len(self.values)
        self.discrete = net.heads.discrete
        if self.discrete:
            self.log_p = out - torch.logsumexp(out, dim=1, keepdim=True)
            self.p = self.log_p.exp()
            self.column = actions.long().unsqueeze(1)
            self.log_probs = self.log_p.gather(1, self.column).squeeze(1)
            self.entropy = -(self.p * self.log_p).sum(dim=1)
        else:
            log_std = net.heads.log_std.detach()
            self.inv_std = torch.exp(-log_std)
            self.z = (actions - out) * self.inv_std
            self.log_probs = (-0.5 * self.z.square() - log_std - HALF_LOG_2PI).sum(dim=1)
            self.entropy = (0.5 + HALF_LOG_2PI + log_std).sum().expand(n)

    def backward(self, d_log_prob: torch.Tensor, d_value: torch.Tensor, ent_coef: float) -> None:
        """Set the parameters' gradients (see the class doc)."""
        n = len(self.values)
        column_grad = d_log_prob.unsqueeze(1)
        if self.discrete:
            grad_out = (
                torch.zeros_like(self.p)
                .scatter_(1, self.column, 1.0)
                .sub_(self.p)
                .mul_(column_grad)
            )
            if ent_coef:
                grad_out.add_(self.p * (self.log_p + self.entropy.unsqueeze(1)), alpha=ent_coef / n)
        else:
            grad_out = (self.z * self.inv_std).mul_(column_grad)
            self.net.heads.log_std.grad.copy_(
                (column_grad * (self.z.square() - 1.0)).sum(dim=0) - ent_coef
            )
        self._backprop.backward(self.pi_layers, self.activation, self.pi_out, grad_out)
        self._backprop.backward(self.vf_layers, self.activation, self.vf_out, d_value.unsqueeze(1))


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


def resume_updates(run: Any, net: torch.nn.Module, optimizer: Any) -> int:
    """For a resumed run (``run.resume``): load the network and optimizer from the checkpoint
    and return its update count; 0 for a new run."""
    checkpoint = getattr(run, "resume", None)
    if checkpoint is None:
        return 0
    net.load_state_dict(checkpoint["net"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return int(checkpoint.get("updates", 0))


def crossed(before: int, after: int, interval: int) -> bool:
    """True if a multiple of ``interval`` lies in ``(before, after]`` (``interval`` 0: never)."""
    return interval > 0 and after // interval > before // interval


def make_actor(
    net: torch.nn.Module, spec: ActionSpec, device: torch.device, rngs: Any, activation: str
) -> Any:
    """``NumpyActor`` for an MLP ``ActorCritic`` on the CPU, else the torch ``Actor``."""
    if NumpyActor.supports(net, activation):
        return NumpyActor(net, spec, rngs.numpy, activation)
    return Actor(net, spec, device, rngs.torch)


def feedforward_eval_policy(net: torch.nn.Module, spec: ActionSpec, device: torch.device, activation: str,
                            deterministic: bool, eval_seed: int) -> Callable[[Any], Any]:  # fmt: skip
    """The evaluation policy of a feed-forward ``ActorCritic``, fresh from ``eval_seed``: in
    numpy where ``NumpyActor`` applies (training-time evaluation and ``rlkit eval`` then
    take the same path), else through the module."""
    if NumpyActor.supports(net, activation):
        actor = NumpyActor(net, spec, np.random.default_rng(), activation)
        return actor.eval_policy(deterministic, np.random.default_rng(eval_seed))
    return eval_policy(net, device, deterministic, torch.Generator().manual_seed(eval_seed), spec)


def load_network(checkpoint: dict[str, Any], config_cls: type, make_network: Callable, env: gym.Env,
                 device: str = "cpu") -> tuple[Any, torch.nn.Module, torch.device]:  # fmt: skip
    """The config of a checkpoint (its agent's fields rebuilt) and
    ``make_network(env, config, None)`` loaded with its weights, in eval mode on ``device``."""
    from rlkit.config import build_config

    fields = {f: v for f, v in checkpoint["config"].items() if f in config_cls.__dataclass_fields__}
    config = build_config(config_cls, fields)
    torch_device = torch.device(device)
    net = make_network(env, config, None).to(torch_device)
    net.load_state_dict(checkpoint["net"])
    net.eval()
    return config, net, torch_device


def load_feedforward_policy(checkpoint: dict[str, Any], config_cls: type, make_network: Callable, env: gym.Env,
                            spec: ActionSpec, device: str = "cpu", seed: int | None = None) -> Callable[[Any], Any]:  # fmt: skip
    """An agent's evaluation policy from its checkpoint (:func:`load_network`) with the eval
    seed of ``seed`` (default: the run's), as in training-time evaluation."""
    from rlkit.seeding import make_rngs

    config, net, torch_device = load_network(checkpoint, config_cls, make_network, env, device)
    rngs = make_rngs(int(checkpoint.get("seed", 0)) if seed is None else seed, seed_globals=False)
    return feedforward_eval_policy(
        net, spec, torch_device, config.activation, config.deterministic, rngs.eval_seed
    )


class Bookkeeping:
    """Logging, periodic evaluation and checkpoints of an on-policy run, after each update.

    ``make_eval_policy()`` gives a fresh evaluation policy; ``state_dict()`` what the agent
    saves (step, episode count and evaluation history are added).
    """

    def __init__(self, config: Any, run: Any, make_eval_policy: Callable[[], Callable[[Any], Any]],
                 state_dict: Callable[[], dict[str, Any]], frame_stack: int = 4,
                 parameters: Callable[[], Any] | None = None) -> None:  # fmt: skip
        self.config, self.run, self.frame_stack = config, run, frame_stack
        self.parameters = parameters
        self.make_eval_policy, self.state_dict = make_eval_policy, state_dict
        self.stats, self.history = EpisodeStats(), EvalHistory()
        self.best_eval = -math.inf
        self.last_video = -1
        self.start = time.perf_counter()
        self.start_step = 0
        self.loop_state: Callable[[], dict[str, Any]] | None = None
        """Set by the training loop: what it needs to continue from a checkpoint."""

    def resume_state(self) -> dict[str, Any]:
        """What ``restore`` needs, as plain data (saved in every checkpoint)."""
        from rlkit import snapshot

        return {"best_eval": float(self.best_eval), "last_video": int(self.last_video),
                "returns": snapshot.encode(self.stats.returns), "lengths": snapshot.encode(self.stats.lengths),
                "loop": self.loop_state() if self.loop_state is not None else None,
                "rng": snapshot.rng_state(self.run.rngs), "log_rows": self.run.logger.rows}  # fmt: skip

    def restore(self, checkpoint: dict[str, Any]) -> dict[str, Any]:
        """Take back the bookkeeping of ``checkpoint``; returns its loop state."""
        from rlkit import snapshot

        state = checkpoint["resume"]
        self.best_eval, self.last_video = state["best_eval"], state["last_video"]
        self.stats.returns = snapshot.decode(state["returns"])
        self.stats.lengths = snapshot.decode(state["lengths"])
        self.stats.episodes = int(checkpoint["episodes"])
        self.history = EvalHistory.from_state_dict(checkpoint["eval_history"])
        self.start_step = int(checkpoint["step"])
        return state["loop"]

    def guard(self, step: int, metrics: dict[str, Any]) -> None:
        """Stop the run (``rlkit.guard.NonFinite``) at a non-finite loss, gradient norm or
        parameter, before anything of this update is logged or saved."""
        from rlkit import guard

        guard.check(step, metrics, self.parameters() if self.parameters is not None else ())

    def evaluate(self, step: int) -> dict[str, float]:
        """Evaluate now and record it in the history; returns the ``eval/...`` metrics."""
        result = evaluate(self.make_eval_policy(), lambda: self.run.make_env(train=False, frame_stack=self.frame_stack),
                          self.config.eval_episodes, seed=self.run.rngs.eval_seed)  # fmt: skip
        return self.history.add(step, result)

    def save(self, step: int, best: bool = False) -> None:
        """Write ``latest.pt`` (and ``best.pt``)."""
        self.run.save_checkpoint({**self.state_dict(), "step": step, "episodes": self.stats.episodes,
                                  "eval_history": self.history.state_dict(), "resume": self.resume_state()},
                                 best=best)  # fmt: skip

    def wants_log(self, before: int, step: int) -> bool:
        """True when the update that took the run from ``before`` to ``step`` steps is logged."""
        return crossed(before, step, self.config.log_interval) or step >= self.config.total_steps

    def after_update(self, before: int, step: int, train_metrics: dict[str, float] | None) -> None:
        """Log ``train_metrics`` (when given), evaluate and checkpoint at the configured intervals."""
        config = self.config
        if train_metrics is not None:
            sps = (step - self.start_step) / max(time.perf_counter() - self.start, 1e-9)
            self.run.logger.log(step, {**train_metrics, "time/sps": sps, **self.stats.metrics()})
        if crossed(before, step, config.eval_interval) and step < config.total_steps:
            metrics = self.evaluate(step)
            self.run.logger.log(step, metrics)
            if metrics["eval/mean_return"] > self.best_eval:
                self.best_eval = metrics["eval/mean_return"]
                self.save(step, best=True)
        if crossed(before, step, config.video_interval):
            self.video(step)
        if crossed(before, step, config.checkpoint_interval):
            self.save(step)
        stop = getattr(self.run, "stop_if_requested", None)
        if stop is not None:
            stop(step, self.save)

    def video(self, step: int) -> None:
        """Record one evaluation episode to ``videos/`` and W&B."""
        self.run.record_eval_video(self.make_eval_policy(), step, frame_stack=self.frame_stack)
        self.last_video = step

    def finish(self, step: int, updates: float | None) -> dict[str, Any]:
        """The final evaluation and checkpoint; returns the summary."""
        final = self.evaluate(step)
        self.run.logger.log(step, final)
        self.save(step, best=final["eval/mean_return"] >= self.best_eval)
        if self.config.video_interval and self.last_video != step:
            self.video(step)
        summary = {
            "total_steps": step,
            "time/sps": (step - self.start_step) / (time.perf_counter() - self.start),
            **final,
        }
        if updates is not None:
            summary["train/updates"] = updates
        return summary


def train_on_policy(config: Any, run: Any, *, env: gym.vector.VectorEnv, buffer: RolloutBuffer, actor: Any,
                    make_eval_policy: Callable[[], Callable[[Any], Any]],
                    update: Callable[[RolloutBuffer, float], dict[str, float]],
                    state_dict: Callable[[], dict[str, Any]], gae_lambda: float | None,
                    frame_stack: int = 4, obs_norm: Any = None,
                    parameters: Callable[[], Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Run rollouts and updates for ``config.total_steps`` env steps (whole rollouts).

    Each iteration: ``actor.begin_rollout()`` when it has one (recurrent memory), fill
    ``buffer`` from ``env``, compute advantages and returns (GAE with ``gae_lambda``,
    Monte-Carlo with None), call ``update(buffer, progress)`` (its metrics are logged
    as ``train/...``), then log, evaluate and checkpoint at the configured intervals
    (``Bookkeeping``; ``state_dict()`` is what the agent saves). With an ``obs_norm``
    (``rlkit.nn.normalize.ObsNorm``), the rollout's observations are merged into its
    statistics after the update, so the actor and the update see the same mapping.
    ``parameters()`` (named tensors) and the update's metrics go through the NaN guard
    (``rlkit.guard``) after every update. Returns the summary.
    """
    from rlkit import snapshot

    books = Bookkeeping(config, run, make_eval_policy, state_dict, frame_stack, parameters)
    per_rollout = buffer.n_steps * buffer.n_envs
    step = 0
    obs, _ = env.reset(seed=run.rngs.env_seed)
    episode_starts = np.ones(buffer.n_envs, dtype=np.float32)

    def loop_state() -> dict[str, Any]:
        actor_state = actor.state_dict() if hasattr(actor, "state_dict") else None
        return {"obs": snapshot.encode(obs), "episode_starts": snapshot.encode(episode_starts),
                "env": snapshot.env_state(env), "actor": actor_state}  # fmt: skip

    books.loop_state = loop_state
    checkpoint = getattr(run, "resume", None)
    if checkpoint is not None:  # continue exactly where the checkpoint was taken
        loop = books.restore(checkpoint)
        step = int(checkpoint["step"])
        obs, episode_starts = snapshot.decode(loop["obs"]), snapshot.decode(loop["episode_starts"])
        snapshot.load_env_state(env, loop["env"])
        if loop["actor"] is not None:
            actor.load_state_dict(loop["actor"])
        snapshot.load_rng_state(run.rngs, checkpoint["resume"]["rng"])
    last: dict[str, float] = {}
    try:
        while step < config.total_steps:
            progress = step / config.total_steps
            buffer.reset()
            if hasattr(actor, "begin_rollout"):
                actor.begin_rollout()
            obs, episode_starts = collect_rollout(
                env, buffer, obs, episode_starts, actor, actor.values, books.stats
            )
            before, step = step, step + per_rollout
            buffer.finish(actor.values(obs), config.gamma, gae_lambda)
            last = {f"train/{k}": v for k, v in update(buffer, progress).items()}
            books.guard(step, last)
            if obs_norm is not None:
                obs_norm.update(buffer.obs)
            logged = None
            if books.wants_log(before, step):
                returns = buffer.returns.flatten().cpu()
                values = torch.from_numpy(buffer.values).flatten()
                logged = {**last, "train/explained_variance": explained_variance(values, returns)}
            books.after_update(before, step, logged)
    finally:
        env.close()
    return books.finish(step, last.get("train/updates"))
