"""A2C (Mnih et al. 2016, synchronous): advantage actor-critic over short n-step rollouts.

``rlkit train a2c CartPole-v1``.

Each iteration collects ``n_steps`` steps in each of ``n_envs`` environments and takes
one gradient step on the whole rollout, minimizing

    L = -E[A log pi(a|s)] + vf_coef E[(V - R)^2] - ent_coef E[H]

with advantages ``A`` from GAE(lambda) (``gae_lambda = 1``: the plain n-step returns of
the paper, bootstrapped from V at the rollout's end and at truncations). RMSprop is the
default optimizer (the paper's and SB3's), any rlkit optimizer can be chosen.

``train`` below is the whole algorithm, top to bottom: collect a rollout, compute the
advantages, take the gradient step, then the periodic work (log, evaluate, checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import torch

from rlkit.acting import (
    ActorCriticPolicy,
    action_spec,
    load_actor_critic_policy,
    on_policy_parts,
)
from rlkit.config import OptimizerFields, RunFields, require, require_gamma
from rlkit.envs import describe_space
from rlkit.errors import BadInput
from rlkit.losses import normalized
from rlkit.nn.actor_critic import ActorCritic
from rlkit.nn.cnn import require_nature_frames
from rlkit.nn.passes import Loss, PolicyOutputs
from rlkit.optim import clip_grad_norm_, set_learning_rate
from rlkit.resources import Part, parameter_bytes, rollout_bytes
from rlkit.rundir import Run
from rlkit.schedules import schedule

ALGO = "a2c"
FITS = "Discrete or Box actions: CartPole-v1, Acrobot-v1, Pendulum-v1, LunarLander-v3, ..."
RESUMABLE = True
"""Checkpoints carry everything to continue exactly (``rlkit train --resume``)."""


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
    vec_env: Literal["sync", "async", "ale", "torch"] = "sync"
    """sync: all envs in this process; async: one process per env; ale: Atari on ale-py's C++ vector env (threads); torch: the batched classic-control envs on the run's device, the whole loop there."""
    written_out_backprop: bool = True
    """MLP policies: backprop written out (rlkit.nn.backprop) instead of autograd; same gradients, less overhead."""

    def __post_init__(self) -> None:
        RunFields.__post_init__(self)
        OptimizerFields.__post_init__(self)
        require_gamma(self.gamma)
        for key in ("n_envs", "n_steps", "frame_stack"):
            value = getattr(self, key)
            require(key, value, value >= 1, "an integer >= 1")
        require(
            "learning_rate",
            self.learning_rate,
            schedule(self.learning_rate, "learning_rate")(0.0) > 0,
            "a number > 0 or lin_<number > 0>",
        )
        require("gae_lambda", self.gae_lambda, 0 <= self.gae_lambda <= 1, "0 <= gae_lambda <= 1")
        for key in ("ent_coef", "vf_coef", "max_grad_norm"):
            require(key, getattr(self, key), getattr(self, key) >= 0, "a number >= 0")
        require(
            "net_arch",
            list(self.net_arch),
            len(self.net_arch) >= 1 and min(self.net_arch) >= 1,
            "one or more layer sizes >= 1",
        )


def check_env(env: gym.Env, config: Config) -> None:
    """Discrete or 1-D Box actions and Box observations."""
    action_spec(env.action_space, ALGO, describe_space)
    if not isinstance(env.observation_space, gym.spaces.Box):
        raise BadInput(f"a2c needs Box observations, got {describe_space(env.observation_space)}")
    require_nature_frames(env.observation_space.shape, ALGO)
    if config.normalize_obs and len(env.observation_space.shape) == 3:
        raise BadInput(
            "a2c: normalize_obs is for vector observations (image pixels are scaled by the CNN)"
        )


def make_network(env: gym.Env, config: Config, generator: torch.Generator | None) -> ActorCritic:
    """The actor-critic for ``env``'s spaces."""
    spec = action_spec(env.action_space, ALGO, describe_space)
    return ActorCritic(
        env.observation_space.shape,
        spec.n_actions,
        spec.action_dim,
        config.net_arch,
        config.activation,
        config.ortho_init,
        config.log_std_init,
        generator,
        normalize_obs=config.normalize_obs,
    )


def memory_bytes(env: gym.Env, config: Config) -> dict[str, Part]:
    """The network with its gradients and Adam moments, and the rollout buffer
    (``rlkit.resources``)."""
    space = env.observation_space
    return {
        "network": (parameter_bytes(lambda: make_network(env, config, None)), "lower net_arch"),
        "rollout": (rollout_bytes(config.n_steps, config.n_envs, space), "lower n_steps or n_envs"),
    }


def a2c_loss(out: PolicyOutputs, batch: Any, config: Config) -> Loss:
    """The A2C loss of a rollout, its parts and its gradient.

    ``L = -mean(A log pi) + vf_coef mean((V - R)^2) - ent_coef mean(H)``; with ``B`` the
    batch size, ``dL/dlog pi = -A / B``, ``dL/dV = 2 vf_coef (V - R) / B`` and
    ``dL/dH = -ent_coef / B``.
    """
    n = max(len(out.log_probs), 1)  # (a data-parallel rank may hold no row)
    advantages = normalized(batch.advantages) if config.normalize_advantage else batch.advantages
    policy_loss = -(advantages * out.log_probs).mean()
    value_error = out.values - batch.returns
    value_loss = value_error.square().mean()
    entropy = out.entropy.mean()
    loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
    with torch.no_grad():
        grads = {
            "log_probs": advantages * (-1.0 / n),
            "values": value_error * (2.0 * config.vf_coef / n),
        }
        if config.ent_coef:  # (no entropy term, no gradient to take through it)
            grads["entropy"] = torch.full_like(out.values, -config.ent_coef / n)
    parts = {
        "policy_loss": policy_loss.detach(),
        "value_loss": value_loss.detach(),
        "entropy": entropy.detach(),
    }
    return Loss(loss, parts, grads)


def train(config: Config, run: Run) -> dict[str, Any]:
    """Train for ``total_steps`` env steps (whole rollouts); evaluate, log and checkpoint along the way."""

    # set-up (rlkit.acting.on_policy_parts): the network, its pass (backprop written out
    # for MLPs), optimizer, this rank's envs (data-parallel: its share of the envs, of
    # the rollout and of the gradient sums), buffer, actor, Periodic; a resumed run restored
    learning_rate = schedule(config.learning_rate, "learning_rate")
    setup = on_policy_parts(config, run, make_network, ALGO, describe_space, learning_rate(0.0))
    net, model, optimizer, loss_config = setup.net, setup.model, setup.optimizer, setup.loss_config
    env, state, periodic, episodes = setup.env, setup.state, setup.periodic, setup.episodes
    rollouts, step, ranks = setup.rollouts, setup.step, run.ranks
    buffer, actor = rollouts.buffer, rollouts.actor
    try:
        while step < config.total_steps:
            lr = learning_rate(step / config.total_steps)
            set_learning_rate(optimizer, lr)
            # collect a rollout (truncated episodes are valued from their final observation)
            buffer.reset()
            state.obs, state.episode_starts = rollouts.collect(
                env, buffer, state.obs, state.episode_starts, actor, episodes
            )
            ranks.flush(episodes)
            rows = buffer.size * ranks.world  # the whole run's rollout
            before, step = step, step + rows
            # advantages and returns: GAE(lambda) (lambda = 1: n-step returns)
            buffer.finish(actor.values(state.obs), config.gamma, config.gae_lambda)
            # one gradient step on the whole rollout
            batch = next(buffer.minibatches(rows, shuffle=False, ranks=ranks))
            if ranks.active and config.normalize_advantage:
                batch = ranks.normalize_advantages(batch, rows)
            loss = a2c_loss(model(batch.obs, batch.actions), batch, loss_config)
            loss = ranks.share(loss, len(batch.actions), rows)
            model.backward(loss)
            ranks.sum_gradients(model.parameters())
            (parts,) = ranks.sum_parts([loss.parts])
            metrics = {f"train/{k}": float(v) for k, v in parts.items()}
            if config.max_grad_norm > 0:
                metrics["train/grad_norm"] = float(
                    clip_grad_norm_(model.parameters(), config.max_grad_norm)
                )
            optimizer.step()
            state.updates += 1
            periodic.guard(step, metrics)
            if net.obs_norm is not None:  # after the update, which replayed what the actor saw
                net.obs_norm.update(ranks.columns(buffer.obs))
            # log, evaluate, checkpoint
            periodic.after(
                before,
                step,
                {
                    **metrics,
                    "train/learning_rate": lr,
                    "train/updates": state.updates,
                    "train/explained_variance": buffer.explained_variance(ranks),
                },
            )
    finally:
        env.close()
    return periodic.finish(step, {"train/updates": state.updates})


def load_policy(
    checkpoint: dict[str, Any], env: gym.Env, device: str = "cpu", seed: int | None = None
) -> ActorCriticPolicy:
    """The policy of a checkpoint (the mode, or samples with ``deterministic: false``)."""
    return load_actor_critic_policy(checkpoint, Config, make_network, env, ALGO, device, seed)
