"""REINFORCE (Williams 1992): Monte-Carlo policy gradient with reward-to-go and an optional baseline.

``rlkit train reinforce CartPole-v1``.

Each iteration plays one whole episode in each of ``n_envs`` environments with the
current policy, computes every step's reward-to-go ``G_t = sum_k gamma^k r_(t+k)``
(an episode cut by a time limit is bootstrapped from the baseline's value of its final
state) and takes one gradient step on

    L = -E[(G_t - b(s_t)) log pi(a_t|s_t)] + vf_coef E[(V(s_t) - G_t)^2] - ent_coef E[H]

with ``b = V`` (a learned value baseline, which lowers the variance without biasing the
gradient) or ``b = 0`` with ``baseline: false``. Episodes are whole: an environment
that finishes early idles (its extra steps are neither used nor counted) until all
``n_envs`` episodes are done. ``train`` below is the whole algorithm, top to bottom.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

from rlkit.acting import (
    ActorCriticPolicy,
    ActorCriticState,
    action_spec,
    load_actor_critic_policy,
    make_actor,
    probe_network,
)
from rlkit.config import OptimizerFields, RunFields, require, require_gamma
from rlkit.data import discounted_returns
from rlkit.envs import describe_space
from rlkit.errors import BadInput
from rlkit.losses import normalized
from rlkit.nn.actor_critic import ActorCritic
from rlkit.nn.cnn import require_nature_frames
from rlkit.nn.passes import Loss, PolicyOutputs, policy_model
from rlkit.optim import clip_grad_norm_, optimizer_from_config, set_learning_rate
from rlkit.periodic import EpisodeStats, Periodic
from rlkit.resources import Part, parameter_bytes, rollout_bytes
from rlkit.rundir import Run
from rlkit.schedules import schedule

ALGO = "reinforce"
FITS = "Discrete or Box actions, episodic tasks: CartPole-v1, Acrobot-v1, LunarLander-v3, ..."
RESUMABLE = True
"""Checkpoints carry everything to continue exactly (``rlkit train --resume``)."""


@dataclass(frozen=True, kw_only=True)
class Config(RunFields, OptimizerFields):
    """REINFORCE settings, plus the shared run and optimizer fields."""

    learning_rate: float | str = 1e-3
    """Optimizer step size: a number, or lin_<v> for a linear decay from v to 0."""
    n_envs: int = 8
    """Whole episodes per gradient step (one per environment, played together)."""
    gamma: float = 0.99
    """Discount factor."""
    baseline: bool = True
    """Subtract a learned value baseline V(s) from the reward-to-go."""
    normalize_advantage: bool = True
    """Normalize the (baselined) returns to mean 0, std 1 in each batch."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the baseline's value loss."""
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
    max_episode_steps: int = 10_000
    """Safety limit on an episode's length when the env has no time limit of its own."""
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
        for key in ("n_envs", "frame_stack", "max_episode_steps"):
            value = getattr(self, key)
            require(key, value, value >= 1, "an integer >= 1")
        require(
            "learning_rate",
            self.learning_rate,
            schedule(self.learning_rate, "learning_rate")(0.0) > 0,
            "a number > 0 or lin_<number > 0>",
        )
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
        raise BadInput(
            f"reinforce needs Box observations, got {describe_space(env.observation_space)}"
        )
    require_nature_frames(env.observation_space.shape, ALGO)


def make_network(env: gym.Env, config: Config, generator: torch.Generator | None) -> ActorCritic:
    """The policy (and baseline) network for ``env``'s spaces."""
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
    )


def memory_bytes(env: gym.Env, config: Config) -> dict[str, Part]:
    """The network with its gradients and Adam moments, and the longest batch of episodes
    (``max_episode_steps`` in each of ``n_envs`` envs; ``rlkit.resources``)."""
    space = env.observation_space
    episodes = rollout_bytes(config.max_episode_steps, config.n_envs, space)
    return {
        "network": (parameter_bytes(lambda: make_network(env, config, None)), "lower net_arch"),
        "episodes": (episodes, "lower max_episode_steps or n_envs"),
    }


@dataclass
class Episodes:
    """``n_envs`` whole episodes as ``(T, N)`` arrays; ``valid[t, i]``: step t belongs to episode i."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    valid: np.ndarray
    terminated: np.ndarray
    ended: np.ndarray
    next_values: np.ndarray

    @property
    def steps(self) -> int:
        """Env steps used."""
        return int(self.valid.sum())


def play_episodes(
    env: gym.vector.VectorEnv, actor: Any, stats: EpisodeStats, baseline: bool, limit: int
) -> Episodes:
    """One whole episode in each env, from a fresh reset."""
    n = env.num_envs
    obs, _ = env.reset()
    done = np.zeros(n, dtype=bool)
    rows: dict[str, list] = {
        k: [] for k in ("obs", "actions", "rewards", "valid", "terminated", "ended", "next")
    }
    while not done.all() and len(rows["obs"]) < limit:
        actions, env_actions, _, _ = actor(obs)
        next_obs, rewards, terminated, truncated, info = env.step(env_actions)
        live = ~done
        ended = (terminated | truncated) & live
        next_values = np.zeros(n, dtype=np.float32)
        cut = np.flatnonzero(truncated & ~terminated & live)
        if baseline and cut.size:
            next_values[cut] = actor.values(np.stack([info["final_obs"][i] for i in cut]))
        for key, value in (
            ("obs", obs),
            ("actions", actions),
            ("rewards", rewards * live),
            ("valid", live),
            ("terminated", terminated & live),
            ("ended", ended),
            ("next", next_values),
        ):
            rows[key].append(value)
        for i in np.flatnonzero(ended):
            stats.add(info["final_info"]["episode"]["r"][i], info["final_info"]["episode"]["l"][i])
        done |= ended
        obs = next_obs
    if not done.all():  # the safety limit: treat as truncated, bootstrap from V
        rows["ended"][-1] = rows["ended"][-1] | ~done
        if baseline:
            rows["next"][-1] = np.where(~done, actor.values(obs), rows["next"][-1]).astype(
                np.float32
            )
    s = {k: np.stack(v) for k, v in rows.items()}
    return Episodes(
        s["obs"],
        s["actions"],
        s["rewards"].astype(np.float32),
        s["valid"],
        s["terminated"],
        s["ended"],
        s["next"],
    )


def reward_to_go(episodes: Episodes, gamma: float) -> np.ndarray:
    """``G_t`` of every step, ``(T, N)`` (0 after an episode's end)."""
    t = torch.from_numpy
    returns = discounted_returns(
        t(episodes.rewards),
        t(episodes.next_values),
        t(episodes.terminated),
        t(episodes.ended),
        gamma,
    )
    return returns.numpy() * episodes.valid


def reinforce_loss(out: PolicyOutputs, returns: torch.Tensor, config: Config) -> Loss:
    """The REINFORCE loss of a batch of steps, its parts and its gradient.

    ``L = -mean(A log pi) + vf_coef mean((V - G)^2) - ent_coef mean(H)`` with ``A = G - V``
    (held constant: the baseline lowers the variance without biasing the gradient), or
    ``A = G`` and no value loss without a baseline. With ``B`` the batch size,
    ``dL/dlog pi = -A / B``, ``dL/dV = 2 vf_coef (V - G) / B`` (0 without a baseline) and
    ``dL/dH = -ent_coef / B``.
    """
    n = len(out.log_probs)
    advantages = returns - out.values.detach() if config.baseline else returns
    if config.normalize_advantage:
        advantages = normalized(advantages)
    policy_loss = -(advantages * out.log_probs).mean()
    value_error = out.values - returns
    value_loss = value_error.square().mean()
    entropy = out.entropy.mean()
    loss = policy_loss - config.ent_coef * entropy
    if config.baseline:
        loss = loss + config.vf_coef * value_loss
    with torch.no_grad():
        vf_coef = config.vf_coef if config.baseline else 0.0
        grads = {
            "log_probs": advantages * (-1.0 / n),
            "values": value_error * (2.0 * vf_coef / n),
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
    """Train for at least ``total_steps`` env steps (whole batches of episodes)."""

    # set-up: the network, its pass (backprop written out for MLPs), optimizer, envs
    spec, net, _ = probe_network(config, run, make_network, ALGO, describe_space)
    model = policy_model(net, config.activation, config.written_out_backprop)
    learning_rate = schedule(config.learning_rate, "learning_rate")
    optimizer = optimizer_from_config(config, model.parameters(), lr=learning_rate(0.0))
    env = run.make_vector_env(
        config.n_envs, config.vec_env, train=True, frame_stack=config.frame_stack
    )
    env.reset(seed=run.rngs.env_seed)
    actor = make_actor(net, spec, run.device, run.rngs, config.activation)
    state = ActorCriticState(net, optimizer, env)  # each update starts from fresh resets

    def eval_policy() -> ActorCriticPolicy:
        return ActorCriticPolicy(
            net, spec, run.device, config.activation, config.deterministic, run.rngs.eval_seed
        )

    periodic = Periodic(
        config, run, eval_policy, state, config.frame_stack, parameters=net.named_parameters
    )
    step = periodic.restore()  # 0, or where a resumed run's checkpoint was taken
    try:
        while step < config.total_steps:
            lr = learning_rate(step / config.total_steps)
            set_learning_rate(optimizer, lr)
            # play one whole episode in each env
            episodes = play_episodes(
                env, actor, periodic.stats, config.baseline, config.max_episode_steps
            )
            before, step = step, step + episodes.steps
            # reward-to-go of every step
            valid = episodes.valid.astype(bool)
            returns = torch.from_numpy(reward_to_go(episodes, config.gamma)[valid]).to(run.device)
            obs = torch.as_tensor(episodes.obs[valid], device=run.device)
            actions = torch.as_tensor(episodes.actions[valid], device=run.device)
            # one gradient step
            loss = reinforce_loss(model(obs, actions), returns, config)
            model.backward(loss)
            metrics = {f"train/{k}": float(v) for k, v in loss.parts.items()}
            if config.max_grad_norm > 0:
                metrics["train/grad_norm"] = float(
                    clip_grad_norm_(model.parameters(), config.max_grad_norm)
                )
            optimizer.step()
            state.updates += 1
            periodic.guard(step, metrics)
            # log, evaluate, checkpoint
            periodic.after(
                before, step, {**metrics, "train/learning_rate": lr, "train/updates": state.updates}
            )
    finally:
        env.close()
    return periodic.finish(step, {"train/updates": state.updates})


def load_policy(
    checkpoint: dict[str, Any], env: gym.Env, device: str = "cpu", seed: int | None = None
) -> ActorCriticPolicy:
    """The policy of a checkpoint (the mode, or samples with ``deterministic: false``)."""
    return load_actor_critic_policy(checkpoint, Config, make_network, env, ALGO, device, seed)
