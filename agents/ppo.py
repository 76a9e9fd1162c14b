"""PPO (Schulman et al. 2017): the clipped surrogate objective over vector-env rollouts.

``rlkit train ppo CartPole-v1`` / ``Pendulum-v1`` / ``ALE/Pong-v5``.

Each iteration collects ``n_steps`` steps in each of ``n_envs`` environments, computes
GAE(lambda) advantages (bootstrapping truncated episodes from their final state), then
runs ``n_epochs`` passes over shuffled minibatches of the rollout, minimizing

    L = -E[min(r A, clip(r, 1 - eps, 1 + eps) A)] + vf_coef E[(V - R)^2] - ent_coef E[H]

with ``r = pi(a|s) / pi_old(a|s)``. Optional: value clipping (``clip_range_vf``),
advantage normalization per minibatch, early stop of the epochs once the approximate
KL divergence exceeds ``1.5 * target_kl`` (SB3's rule), linear schedules of the learning
rate and clip range (``lin_<v>``), gradient-norm clipping. Policies: two 64-64 tanh MLPs
(policy, value) for vector observations, a shared Nature CNN for Atari frames;
categorical actions for Discrete spaces, a diagonal Gaussian with a state-independent
log std for Box spaces.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

from envs import describe_space, make_vector_env
from rlkit.config import OptimizerFields, RunFields, require, require_gamma
from rlkit.data import RolloutBuffer
from rlkit.distributions import HALF_LOG_2PI
from rlkit.errors import BadInput
from rlkit.evaluation import EvalHistory, evaluate
from rlkit.nn import backprop
from rlkit.nn.actor_critic import ActorCritic
from rlkit.onpolicy import (
    Actor,
    EpisodeStats,
    NumpyActor,
    action_spec,
    collect_rollout,
    crossed,
    eval_policy,
    explained_variance,
)
from rlkit.optim import clip_grad_norm_, optimizer_from_config
from rlkit.rundir import Run
from rlkit.schedules import schedule
from rlkit.seeding import make_rngs

ALGO = "ppo"
FITS = "Discrete or Box actions: CartPole-v1, Acrobot-v1, Pendulum-v1, Atari (ALE/Pong-v5, ...)"


@dataclass(frozen=True, kw_only=True)
class Config(RunFields, OptimizerFields):
    """PPO settings (SB3 / rl-zoo names and defaults), plus the shared run and optimizer fields."""

    learning_rate: float | str = 3e-4
    """Optimizer step size: a number, or lin_<v> for a linear decay from v to 0."""
    optimizer_eps: float = 1e-5
    """Adam's epsilon (SB3's default for its policies)."""
    n_envs: int = 1
    """Environments stepped together."""
    n_steps: int = 2048
    """Steps per environment in each rollout."""
    batch_size: int = 64
    """Minibatch size (rows of the n_steps * n_envs rollout)."""
    n_epochs: int = 10
    """Passes over the rollout per iteration."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda (1 = Monte-Carlo advantages, 0 = one-step TD)."""
    clip_range: float | str = 0.2
    """Clip of the probability ratio: a number, or lin_<v>."""
    clip_range_vf: float | None = None
    """Clip of the value change around the rollout's values (None = no value clipping)."""
    normalize_advantage: bool = True
    """Normalize advantages to mean 0, std 1 in each minibatch."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 0.5
    """Clip the gradient's global norm to this (0 = no clipping)."""
    target_kl: float | None = None
    """Stop an iteration's epochs once the approximate KL exceeds 1.5 * target_kl (None = never)."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden sizes of the policy and value MLPs (vector observations)."""
    activation: str = "tanh"
    """Hidden activation of the MLPs."""
    ortho_init: bool = True
    """Orthogonal initialization (gains sqrt 2, 0.01 policy head, 1 value head)."""
    log_std_init: float = 0.0
    """Initial log standard deviation of Gaussian actions (Box)."""
    frame_stack: int = 4
    """Frames per observation (Atari only)."""
    vec_env: Literal["sync", "async"] = "sync"
    """sync: all envs in this process; async: one process per env (expensive envs such as Atari)."""
    written_out_backprop: bool = True
    """MLP policies: backprop written out (rlkit.nn.backprop) instead of autograd; same gradients, less overhead."""

    def __post_init__(self) -> None:
        RunFields.__post_init__(self)
        OptimizerFields.__post_init__(self)
        require_gamma(self.gamma)
        for key in ("n_envs", "n_steps", "batch_size", "n_epochs", "frame_stack"):
            value = getattr(self, key)
            require(key, value, value >= 1, "an integer >= 1")
        rollout = self.n_steps * self.n_envs
        require("batch_size", self.batch_size, rollout % self.batch_size == 0 and self.batch_size <= rollout,
                f"a divisor of n_steps * n_envs = {rollout}")  # fmt: skip
        require("learning_rate", self.learning_rate, schedule(self.learning_rate, "learning_rate")(0.0) > 0,
                "a number > 0 or lin_<number > 0>")  # fmt: skip
        require("clip_range", self.clip_range, schedule(self.clip_range, "clip_range")(0.0) > 0,
                "a number > 0 or lin_<number > 0>")  # fmt: skip
        if self.clip_range_vf is not None:
            require(
                "clip_range_vf", self.clip_range_vf, self.clip_range_vf > 0, "a number > 0 or null"
            )
        require("gae_lambda", self.gae_lambda, 0 <= self.gae_lambda <= 1, "0 <= gae_lambda <= 1")
        for key in ("ent_coef", "vf_coef", "max_grad_norm"):
            require(key, getattr(self, key), getattr(self, key) >= 0, "a number >= 0")
        if self.target_kl is not None:
            require("target_kl", self.target_kl, self.target_kl > 0, "a number > 0 or null")
        require("net_arch", list(self.net_arch), len(self.net_arch) >= 1 and min(self.net_arch) >= 1,
                "one or more layer sizes >= 1")  # fmt: skip


def check_env(env: gym.Env, config: Config) -> None:
    """Discrete or 1-D Box actions and Box observations."""
    action_spec(env.action_space, ALGO, describe_space)
    if not isinstance(env.observation_space, gym.spaces.Box):
        raise BadInput(f"ppo needs Box observations, got {describe_space(env.observation_space)}")


def make_network(env: gym.Env, config: Config, generator: torch.Generator | None) -> ActorCritic:
    """The actor-critic for ``env``'s spaces."""
    spec = action_spec(env.action_space, ALGO, describe_space)
    return ActorCritic(env.observation_space.shape, spec.n_actions, spec.action_dim, config.net_arch,
                       config.activation, config.ortho_init, config.log_std_init, generator)  # fmt: skip


def ppo_loss(
    net: ActorCritic, batch: Any, clip: float, config: Config
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The PPO loss of one minibatch and its parts (detached) for logging."""
    dist, values = net(batch.obs)
    log_probs = dist.log_prob(batch.actions)
    advantages = batch.advantages
    if config.normalize_advantage and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    log_ratio = log_probs - batch.log_probs
    ratio = log_ratio.exp()
    policy_loss = -torch.min(
        advantages * ratio, advantages * ratio.clamp(1.0 - clip, 1.0 + clip)
    ).mean()
    if config.clip_range_vf is not None:
        values = batch.values + (values - batch.values).clamp(
            -config.clip_range_vf, config.clip_range_vf
        )
    value_loss = (batch.returns - values).square().mean()
    entropy = dist.entropy().mean()
    loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
    with torch.no_grad():
        parts = {
            "policy_loss": policy_loss.detach(), "value_loss": value_loss.detach(), "entropy": entropy.detach(),
            "approx_kl": ((ratio - 1.0) - log_ratio).mean(),  # Schulman's low-variance estimator
            "clip_fraction": ((ratio - 1.0).abs() > clip).float().mean(),
        }  # fmt: skip
    return loss, parts


def written_out_step(net: ActorCritic, activation: str, batch: Any, clip: float, config: Config
                     ) -> dict[str, torch.Tensor]:  # fmt: skip
    """The gradient of ``ppo_loss`` for an MLP ``ActorCritic``, without autograd.

    Sets ``.grad`` of every parameter (overwriting) and returns the same logged parts as
    ``ppo_loss``. With ``p = softmax(z)`` (Discrete) or ``mu``, ``s = log std`` (Box),
    ``A`` the (normalized) advantages, ``r`` the ratio and ``B`` the batch size:

    * policy term: ``dL/dlog pi = -A r / B`` where the unclipped branch is the min, else 0;
      ``dlog pi/dz = onehot(a) - p``; ``dlog pi/dmu = (a - mu) / sigma^2``;
      ``dlog pi/ds = ((a - mu) / sigma)^2 - 1``;
    * entropy term: ``dH/dz = -p (log p + H)``; ``dH/ds = 1``;
    * value term: ``dL/dV = 2 vf_coef (V - R) / B`` (0 where value clipping is active).
    """
    x = batch.obs if batch.obs.dtype == torch.float32 else batch.obs.float()
    x = x.flatten(1)
    pi_layers = [*net.pi_net.linears, net.heads.policy]
    vf_layers = [*net.vf_net.linears, net.heads.value]
    pi_out = backprop.forward(pi_layers, activation, x)
    vf_out = backprop.forward(vf_layers, activation, x)
    out, values = pi_out[-1], vf_out[-1][:, 0]
    n = len(values)
    advantages = batch.advantages
    if config.normalize_advantage and n > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    if net.heads.discrete:
        log_p = out - torch.logsumexp(out, dim=1, keepdim=True)
        p = log_p.exp()
        column = batch.actions.long().unsqueeze(1)
        log_probs = log_p.gather(1, column).squeeze(1)
        entropy = -(p * log_p).sum(dim=1)
    else:
        log_std = net.heads.log_std.detach()
        inv_std = torch.exp(-log_std)
        z = (batch.actions - out) * inv_std
        log_probs = (-0.5 * z.square() - log_std - HALF_LOG_2PI).sum(dim=1)
        entropy = (0.5 + HALF_LOG_2PI + log_std).sum().expand(n)
    log_ratio = log_probs - batch.log_probs
    ratio = log_ratio.exp()
    unclipped = advantages * ratio
    clipped = advantages * ratio.clamp(1.0 - clip, 1.0 + clip)
    policy_loss = -torch.min(unclipped, clipped).mean()
    d_log_prob = torch.where(unclipped <= clipped, unclipped, 0.0).mul_(-1.0 / n)
    if net.heads.discrete:
        grad_out = (
            torch.zeros_like(p).scatter_(1, column, 1.0).sub_(p).mul_(d_log_prob.unsqueeze(1))
        )
        if config.ent_coef:
            grad_out.add_(p * (log_p + entropy.unsqueeze(1)), alpha=config.ent_coef / n)
    else:
        grad_out = (z * inv_std).mul_(d_log_prob.unsqueeze(1))
        net.heads.log_std.grad.copy_(
            (d_log_prob.unsqueeze(1) * (z.square() - 1.0)).sum(dim=0) - config.ent_coef
        )
    if config.clip_range_vf is not None:
        change = values - batch.values
        inside = change.abs() <= config.clip_range_vf
        values = batch.values + change.clamp(-config.clip_range_vf, config.clip_range_vf)
    value_error = values - batch.returns
    grad_v = value_error * (2.0 * config.vf_coef / n)
    if config.clip_range_vf is not None:
        grad_v = grad_v * inside
    backprop.backward(pi_layers, activation, pi_out, grad_out)
    backprop.backward(vf_layers, activation, vf_out, grad_v.unsqueeze(1))
    return {
        "policy_loss": policy_loss, "value_loss": value_error.square().mean(), "entropy": entropy.mean(),
        "approx_kl": ((ratio - 1.0) - log_ratio).mean(), "clip_fraction": ((ratio - 1.0).abs() > clip).float().mean(),
    }  # fmt: skip


def train(config: Config, run: Run) -> dict[str, Any]:
    """Train for ``total_steps`` env steps (whole rollouts); evaluate, log and checkpoint along the way."""
    probe = run.make_env(train=True, frame_stack=config.frame_stack)
    spec = action_spec(probe.action_space, ALGO, describe_space)
    net = make_network(probe, config, run.rngs.torch).to(run.device)
    obs_shape, obs_dtype = probe.observation_space.shape, probe.observation_space.dtype
    probe.close()
    env = make_vector_env(lambda: run.make_env(train=True, frame_stack=config.frame_stack),
                          config.n_envs, asynchronous=config.vec_env == "async")  # fmt: skip
    learning_rate = schedule(config.learning_rate, "learning_rate")
    clip_range = schedule(config.clip_range, "clip_range")
    written_out = (
        config.written_out_backprop and not net.image and config.activation in backprop.ACTIVATIONS
    )
    # with backprop written out, all parameters live in one flat buffer: the optimizer and
    # the gradient clipping then touch one tensor instead of one per layer
    params = [backprop.flatten_parameters(net)] if written_out else list(net.parameters())
    optimizer = optimizer_from_config(config, params, lr=learning_rate(0.0))
    buffer = RolloutBuffer(
        config.n_steps, config.n_envs, obs_shape, obs_dtype, spec.shape, spec.dtype, run.device
    )
    # acting a few observations at a time: numpy on views of the parameters for MLPs on
    # the CPU (no per-step tensor overhead), else the module itself
    fast = (
        NumpyActor(net, spec, run.rngs.numpy, config.activation)
        if NumpyActor.supports(net, config.activation)
        else None
    )
    actor = fast or Actor(net, spec, run.device, run.rngs.torch)
    stats = EpisodeStats()
    history = EvalHistory()
    best_eval = -math.inf
    per_rollout = config.n_steps * config.n_envs
    iterations = math.ceil(config.total_steps / per_rollout)
    step = updates = 0

    def run_eval(at: int) -> dict[str, float]:
        if fast is not None:
            policy = fast.eval_policy(
                config.deterministic, np.random.default_rng(run.rngs.eval_seed)
            )
        else:
            generator = torch.Generator().manual_seed(run.rngs.eval_seed)
            policy = eval_policy(net, run.device, config.deterministic, generator, spec)
        result = evaluate(policy, lambda: run.make_env(train=False, frame_stack=config.frame_stack),
                          config.eval_episodes, seed=run.rngs.eval_seed)  # fmt: skip
        return history.add(at, result)

    def save(at: int, best: bool = False) -> None:
        run.save_checkpoint({"net": net.state_dict(), "optimizer": optimizer.state_dict(), "step": at,
                             "updates": updates, "episodes": stats.episodes,
                             "eval_history": history.state_dict()}, best=best)  # fmt: skip

    start = time.perf_counter()
    obs, _ = env.reset(seed=run.rngs.env_seed)
    episode_starts = np.ones(config.n_envs, dtype=np.float32)
    for _ in range(iterations):
        progress = step / config.total_steps
        lr, clip = learning_rate(progress), clip_range(progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        buffer.reset()
        obs, episode_starts = collect_rollout(
            env, buffer, obs, episode_starts, actor, actor.values, stats
        )
        before, step = step, step + per_rollout
        buffer.finish(actor.values(obs), config.gamma, config.gae_lambda)
        parts_sum: dict[str, float] = {}
        n_parts = 0
        stopped = False
        for _epoch in range(config.n_epochs):
            for batch in buffer.minibatches(config.batch_size, run.rngs.torch):
                if written_out:
                    parts = written_out_step(net, config.activation, batch, clip, config)
                else:
                    loss, parts = ppo_loss(net, batch, clip, config)
                if (
                    config.target_kl is not None
                    and float(parts["approx_kl"]) > 1.5 * config.target_kl
                ):
                    stopped = True
                    break
                if not written_out:
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                if config.max_grad_norm > 0:
                    clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                updates += 1
                for k, v in parts.items():
                    parts_sum[k] = parts_sum.get(k, 0.0) + float(v)
                n_parts += 1
            if stopped:
                break
        if crossed(before, step, config.log_interval) or step >= config.total_steps:
            metrics = {f"train/{k}": v / max(n_parts, 1) for k, v in parts_sum.items()}
            metrics.update({
                "train/learning_rate": lr, "train/clip_range": clip, "train/updates": updates,
                "train/explained_variance": explained_variance(torch.from_numpy(buffer.values).flatten(),
                                                               buffer.returns.flatten().cpu()),
                "time/sps": step / max(time.perf_counter() - start, 1e-9), **stats.metrics(),
            })  # fmt: skip
            run.logger.log(step, metrics)
        if crossed(before, step, config.eval_interval) and step < config.total_steps:
            metrics = run_eval(step)
            run.logger.log(step, metrics)
            if metrics["eval/mean_return"] > best_eval:
                best_eval = metrics["eval/mean_return"]
                save(step, best=True)
        if crossed(before, step, config.checkpoint_interval):
            save(step)
    env.close()
    final = run_eval(step)
    run.logger.log(step, final)
    save(step, best=final["eval/mean_return"] >= best_eval)
    return {
        "total_steps": step,
        "time/sps": step / (time.perf_counter() - start),
        "train/updates": updates,
        **final,
    }


def load_policy(
    checkpoint: dict[str, Any], env: gym.Env, device: str = "cpu", seed: int | None = None
):
    """The evaluation policy of a checkpoint (the mode, or samples with ``deterministic: false``)."""
    from rlkit.config import build_config

    fields = {f: v for f, v in checkpoint["config"].items() if f in Config.__dataclass_fields__}
    config = build_config(Config, fields)
    torch_device = torch.device(device)
    net = make_network(env, config, None).to(torch_device)
    net.load_state_dict(checkpoint["net"])
    net.eval()
    rngs = make_rngs(int(checkpoint.get("seed", 0)) if seed is None else seed, seed_globals=False)
    spec = action_spec(env.action_space, ALGO, describe_space)
    if NumpyActor.supports(net, config.activation):  # the same path as training-time evaluation
        return NumpyActor(net, spec, np.random.default_rng(), config.activation).eval_policy(
            config.deterministic, np.random.default_rng(rngs.eval_seed)
        )
    generator = torch.Generator().manual_seed(rngs.eval_seed)
    return eval_policy(net, torch_device, config.deterministic, generator, spec)
