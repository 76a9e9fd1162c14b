"""A2C (Mnih et al. 2016, synchronous): advantage actor-critic over short n-step rollouts.

``rlkit train a2c CartPole-v1``.

Each iteration collects ``n_steps`` steps in each of ``n_envs`` environments and takes
one gradient step on the whole rollout, minimizing

    L = -E[A log pi(a|s)] + vf_coef E[(V - R)^2] - ent_coef E[H]

with advantages ``A`` from GAE(lambda) (``gae_lambda = 1``: the plain n-step returns of
the paper, bootstrapped from V at the rollout's end and at truncations). RMSprop is the
default optimizer (the paper's and SB3's), any rlkit optimizer can be chosen.
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
    feedforward_eval_policy,
    load_feedforward_policy,
    make_actor,
    resume_updates,
    train_on_policy,
)
from rlkit.optim import clip_grad_norm_, optimizer_from_config
from rlkit.rundir import Run
from rlkit.schedules import schedule

ALGO = "a2c"
FITS = "Discrete or Box actions: CartPole-v1, Acrobot-v1, Pendulum-v1, LunarLander-v3, ..."


@dataclass(frozen=True, kw_only=True)
class Config(RunFields, OptimizerFields):
    """A2C settings (SB3 / rl-zoo names and defaults), plus the shared run and optimizer fields."""

    learning_rate: float | str = 7e-4
    """Optimizer step size: a number, or lin_<v> for a linear decay from v to 0."""
    optimizer: Literal["sgd", "momentum", "adam", "rmsprop", "lion"] = "rmsprop"
    """sgd, momentum, adam, rmsprop (A2C's, the default) or lion."""
    optimizer_eps: float = 1e-5
    """RMSprop's / Adam's epsilon (SB3's A2C default)."""
    n_envs: int = 1
    """Environments stepped together."""
    n_steps: int = 5
    """Steps per environment in each rollout (one gradient step per rollout)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 1.0
    """GAE lambda (1 = n-step returns, as in the paper)."""
    normalize_advantage: bool = False
    """Normalize advantages to mean 0, std 1 in each rollout."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 0.5
    """Clip the gradient's global norm to this (0 = no clipping)."""
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
    """sync: all envs in this process; async: one process per env."""
    written_out_backprop: bool = True
    """MLP policies: backprop written out (rlkit.nn.backprop) instead of autograd; same gradients, less overhead."""

    def __post_init__(self) -> None:
        RunFields.__post_init__(self)
        OptimizerFields.__post_init__(self)
        require_gamma(self.gamma)
        for key in ("n_envs", "n_steps", "frame_stack"):
            value = getattr(self, key)
            require(key, value, value >= 1, "an integer >= 1")
        require("learning_rate", self.learning_rate, schedule(self.learning_rate, "learning_rate")(0.0) > 0,
                "a number > 0 or lin_<number > 0>")  # fmt: skip
        require("gae_lambda", self.gae_lambda, 0 <= self.gae_lambda <= 1, "0 <= gae_lambda <= 1")
        for key in ("ent_coef", "vf_coef", "max_grad_norm"):
            require(key, getattr(self, key), getattr(self, key) >= 0, "a number >= 0")
        require("net_arch", list(self.net_arch), len(self.net_arch) >= 1 and min(self.net_arch) >= 1,
                "one or more layer sizes >= 1")  # fmt: skip


def check_env(env: gym.Env, config: Config) -> None:
    """Discrete or 1-D Box actions and Box observations."""
    action_spec(env.action_space, ALGO, describe_space)
    if not isinstance(env.observation_space, gym.spaces.Box):
        raise BadInput(f"a2c needs Box observations, got {describe_space(env.observation_space)}")
    if config.normalize_obs and len(env.observation_space.shape) == 3:
        raise BadInput(
            "a2c: normalize_obs is for vector observations (image pixels are scaled by the CNN)"
        )


def make_network(env: gym.Env, config: Config, generator: torch.Generator | None) -> ActorCritic:
    """The actor-critic for ``env``'s spaces."""
    spec = action_spec(env.action_space, ALGO, describe_space)
    return ActorCritic(env.observation_space.shape, spec.n_actions, spec.action_dim, config.net_arch,
                       config.activation, config.ortho_init, config.log_std_init, generator,
                       normalize_obs=config.normalize_obs)  # fmt: skip


def a2c_loss(
    net: ActorCritic, batch: Any, config: Config
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The A2C loss of a rollout and its parts (detached) for logging."""
    dist, values = net(batch.obs)
    log_probs = dist.log_prob(batch.actions)
    advantages = batch.advantages
    if config.normalize_advantage and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy_loss = -(advantages * log_probs).mean()
    value_loss = (batch.returns - values).square().mean()
    entropy = dist.entropy().mean()
    loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
    return loss, {
        "policy_loss": policy_loss.detach(),
        "value_loss": value_loss.detach(),
        "entropy": entropy.detach(),
    }


def written_out_step(
    net: ActorCritic, activation: str, batch: Any, config: Config
) -> dict[str, torch.Tensor]:
    """The gradient of ``a2c_loss`` for an MLP ``ActorCritic``, without autograd:
    ``dL/dlog pi = -A / B``, ``dL/dV = 2 vf_coef (V - R) / B`` (``rlkit.onpolicy.WrittenOutPass``)."""
    fwd = WrittenOutPass(net, activation, batch.obs, batch.actions)
    n = len(fwd.values)
    advantages = batch.advantages
    if config.normalize_advantage and n > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    value_error = fwd.values - batch.returns
    fwd.backward(advantages * (-1.0 / n), value_error * (2.0 * config.vf_coef / n), config.ent_coef)
    return {"policy_loss": -(advantages * fwd.log_probs).mean(), "value_loss": value_error.square().mean(),
            "entropy": fwd.entropy.mean()}  # fmt: skip


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
    written_out = (
        config.written_out_backprop and not net.image and config.activation in backprop.ACTIVATIONS
    )
    params = [backprop.flatten_parameters(net)] if written_out else list(net.parameters())
    optimizer = optimizer_from_config(config, params, lr=learning_rate(0.0))
    buffer = RolloutBuffer(
        config.n_steps, config.n_envs, obs_shape, obs_dtype, spec.shape, spec.dtype, run.device
    )
    actor = make_actor(net, spec, run.device, run.rngs, config.activation)
    updates = resume_updates(run, net, optimizer)  # 0 unless resuming

    def make_eval_policy():
        return feedforward_eval_policy(net, spec, run.device, config.activation, config.deterministic,
                                       run.rngs.eval_seed)  # fmt: skip

    def update(buffer: RolloutBuffer, progress: float) -> dict[str, float]:
        nonlocal updates
        lr = learning_rate(progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = next(buffer.minibatches(buffer.n_steps * buffer.n_envs, shuffle=False))
        if written_out:
            parts = written_out_step(net, config.activation, batch, config)
        else:
            loss, parts = a2c_loss(net, batch, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        grad = {}
        if config.max_grad_norm > 0:
            grad["grad_norm"] = float(clip_grad_norm_(params, config.max_grad_norm))
        optimizer.step()
        updates += 1
        return {**parts, **grad, "learning_rate": lr, "updates": updates}

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
