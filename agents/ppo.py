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

from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import torch

from envs import describe_space, make_vector_env
from rlkit.config import OptimizerFields, RunFields, require, require_gamma
from rlkit.data import RolloutBuffer
from rlkit.errors import BadInput
from rlkit.nn import backprop
from rlkit.nn.actor_critic import ActorCritic
from rlkit.onpolicy import (
    WrittenOutPass,
    action_spec,
    clipped_surrogate_loss,
    feedforward_eval_policy,
    load_feedforward_policy,
    make_actor,
    resume_updates,
    train_on_policy,
)
from rlkit.optim import clip_grad_norm_, optimizer_from_config
from rlkit.rundir import Run
from rlkit.schedules import schedule

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
    normalize_obs: bool = False
    """Normalize vector observations with running mean / std (rl-zoo's normalize: true, observations only)."""
    frame_stack: int = 4
    """Frames per observation (Atari only)."""
    vec_env: Literal["sync", "async"] = "sync"
    """sync: all envs in this process; async: one process per env (expensive envs such as Atari)."""
    precision: Literal["float32", "bf16"] = "float32"
    """bf16: run the CNN encoder (Atari) under bfloat16 autocast; heads and losses stay float32."""
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
    if config.normalize_obs and len(env.observation_space.shape) == 3:
        raise BadInput(
            "ppo: normalize_obs is for vector observations (image pixels are scaled by the CNN)"
        )


def make_network(env: gym.Env, config: Config, generator: torch.Generator | None) -> ActorCritic:
    """The actor-critic for ``env``'s spaces."""
    spec = action_spec(env.action_space, ALGO, describe_space)
    return ActorCritic(env.observation_space.shape, spec.n_actions, spec.action_dim, config.net_arch,
                       config.activation, config.ortho_init, config.log_std_init, generator,
                       bf16=config.precision == "bf16", normalize_obs=config.normalize_obs)  # fmt: skip


def ppo_loss(
    net: ActorCritic, batch: Any, clip: float, config: Config
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The PPO loss of one minibatch and its parts (detached) for logging."""
    dist, values = net(batch.obs)
    return clipped_surrogate_loss(dist.log_prob(batch.actions), batch.log_probs, batch.advantages, values,
                                  batch.values, batch.returns, dist.entropy(), clip, config)  # fmt: skip


def written_out_step(net: ActorCritic, activation: str, batch: Any, clip: float, config: Config
                     ) -> dict[str, torch.Tensor]:  # fmt: skip
    """The gradient of ``ppo_loss`` for an MLP ``ActorCritic``, without autograd.

    Sets ``.grad`` of every parameter (overwriting) and returns the same logged parts as
    ``ppo_loss``. With ``A`` the (normalized) advantages, ``r`` the ratio and ``B`` the
    batch size, ``dL/dlog pi = -A r / B`` where the unclipped branch is the min (else 0),
    and ``dL/dV = 2 vf_coef (V - R) / B`` (0 where value clipping is active); the rest is
    ``rlkit.onpolicy.WrittenOutPass``.
    """
    fwd = WrittenOutPass(net, activation, batch.obs, batch.actions)
    n = len(fwd.values)
    advantages = batch.advantages
    if config.normalize_advantage and n > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    log_ratio = fwd.log_probs - batch.log_probs
    ratio = log_ratio.exp()
    unclipped = advantages * ratio
    clipped = advantages * ratio.clamp(1.0 - clip, 1.0 + clip)
    policy_loss = -torch.min(unclipped, clipped).mean()
    d_log_prob = torch.where(unclipped <= clipped, unclipped, 0.0).mul_(-1.0 / n)
    values = fwd.values
    if config.clip_range_vf is not None:
        change = values - batch.values
        values = batch.values + change.clamp(-config.clip_range_vf, config.clip_range_vf)
    value_error = values - batch.returns
    d_value = value_error * (2.0 * config.vf_coef / n)
    if config.clip_range_vf is not None:
        d_value = d_value * (change.abs() <= config.clip_range_vf)
    fwd.backward(d_log_prob, d_value, config.ent_coef)
    return {
        "policy_loss": policy_loss, "value_loss": value_error.square().mean(), "entropy": fwd.entropy.mean(),
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
    actor = make_actor(net, spec, run.device, run.rngs, config.activation)
    updates = resume_updates(run, net, optimizer)  # 0 unless resuming

    def make_eval_policy():
        return feedforward_eval_policy(net, spec, run.device, config.activation, config.deterministic,
                                       run.rngs.eval_seed)  # fmt: skip

    def update(buffer: RolloutBuffer, progress: float) -> dict[str, float]:
        nonlocal updates
        lr, clip = learning_rate(progress), clip_range(progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        parts_list: list[torch.Tensor] = []
        grad_norms: list[torch.Tensor] = []
        names: tuple[str, ...] = ()
        n_steps = 0
        for _epoch in range(config.n_epochs):
            for batch in buffer.minibatches(config.batch_size, run.rngs.torch):
                if written_out:
                    parts = written_out_step(net, config.activation, batch, clip, config)
                else:
                    loss, parts = ppo_loss(net, batch, clip, config)
                names = tuple(parts)
                if (
                    config.target_kl is not None
                    and float(parts["approx_kl"]) > 1.5 * config.target_kl
                ):
                    break  # SB3's rule: this minibatch is not applied, the epochs end
                if not written_out:
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                if config.max_grad_norm > 0:
                    grad_norms.append(clip_grad_norm_(params, config.max_grad_norm))
                optimizer.step()
                updates += 1
                n_steps += 1
                parts_list.append(torch.stack(list(parts.values())))
            else:
                continue
            break
        means = torch.stack(parts_list).mean(dim=0).tolist() if parts_list else []
        metrics = dict(zip(names, means, strict=False))
        if grad_norms:
            metrics["grad_norm"] = float(torch.stack(grad_norms).max())
        return {**metrics, "learning_rate": lr, "clip_range": clip, "updates": updates}

    return train_on_policy(
        config, run, env=env, buffer=buffer, actor=actor, make_eval_policy=make_eval_policy, update=update,
        state_dict=lambda: {"net": net.state_dict(), "optimizer": optimizer.state_dict(), "updates": updates},
        gae_lambda=config.gae_lambda, frame_stack=config.frame_stack, obs_norm=net.obs_norm,
        parameters=net.named_parameters,
    )  # fmt: skip


def load_policy(
    checkpoint: dict[str, Any], env: gym.Env, device: str = "cpu", seed: int | None = None
):
    """The evaluation policy of a checkpoint (the mode, or samples with ``deterministic: false``)."""
    spec = action_spec(env.action_space, ALGO, describe_space)
    return load_feedforward_policy(checkpoint, Config, make_network, env, spec, device, seed)
