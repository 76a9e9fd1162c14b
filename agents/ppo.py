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

``train`` below is the whole algorithm, top to bottom: collect a rollout, compute the
advantages, run the update epochs, then the periodic work (log, evaluate, checkpoint). The
loss is ``rlkit.losses.ppo_loss``; for MLP policies its gradient runs through the
written-out backpropagation of ``rlkit.nn.passes`` (chosen once, at set-up).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import torch

from rlkit.acting import (
    ActorCriticPolicy,
    ActorCriticState,
    action_spec,
    load_actor_critic_policy,
    on_policy_parts,
    rollout_parts,
    start_rollouts,
)
from rlkit.config import OptimizerFields, RunFields, require, require_gamma
from rlkit.envs import describe_space
from rlkit.errors import BadInput
from rlkit.losses import ppo_loss
from rlkit.nn.actor_critic import ActorCritic
from rlkit.nn.cnn import require_nature_frames
from rlkit.optim import clip_grad_norm_, optimizer_from_config, set_learning_rate
from rlkit.periodic import Periodic, update_metrics
from rlkit.resources import Part, parameter_bytes, rollout_bytes
from rlkit.rundir import Run
from rlkit.schedules import schedule
from rlkit.timing import PHASES

ALGO = "ppo"
FITS = "Discrete or Box actions: CartPole-v1, Acrobot-v1, Pendulum-v1, Atari (ALE/Pong-v5, ...)"
RESUMABLE = True
"""Checkpoints carry everything to continue exactly (``rlkit train --resume``)."""


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
    vec_env: Literal["sync", "async", "ale", "torch"] = "sync"
    """sync: all envs in this process; async: one process per env; ale: Atari on ale-py's C++ vector env (threads); torch: the batched classic-control envs on the run's device, the whole loop there."""
    precision: Literal["auto", "float32", "bf16"] = "float32"
    """bf16: run the CNN encoder (Atari) under bfloat16 autocast, heads and losses in float32; auto: bf16 only where the hardware computes it natively."""
    channels_last: bool = False
    """Channels-last memory format for the CNN (Atari): its convolution weights and frames."""
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
        require(
            "batch_size",
            self.batch_size,
            rollout % self.batch_size == 0 and self.batch_size <= rollout,
            f"a divisor of n_steps * n_envs = {rollout}",
        )
        require(
            "learning_rate",
            self.learning_rate,
            schedule(self.learning_rate, "learning_rate")(0.0) > 0,
            "a number > 0 or lin_<number > 0>",
        )
        require(
            "clip_range",
            self.clip_range,
            schedule(self.clip_range, "clip_range")(0.0) > 0,
            "a number > 0 or lin_<number > 0>",
        )
        if self.clip_range_vf is not None:
            require(
                "clip_range_vf", self.clip_range_vf, self.clip_range_vf > 0, "a number > 0 or null"
            )
        require("gae_lambda", self.gae_lambda, 0 <= self.gae_lambda <= 1, "0 <= gae_lambda <= 1")
        for key in ("ent_coef", "vf_coef", "max_grad_norm"):
            require(key, getattr(self, key), getattr(self, key) >= 0, "a number >= 0")
        if self.target_kl is not None:
            require("target_kl", self.target_kl, self.target_kl > 0, "a number > 0 or null")
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
        raise BadInput(f"ppo needs Box observations, got {describe_space(env.observation_space)}")
    require_nature_frames(env.observation_space.shape, ALGO)
    if config.normalize_obs and len(env.observation_space.shape) == 3:
        raise BadInput(
            "ppo: normalize_obs is for vector observations (image pixels are scaled by the CNN)"
        )


def make_network(env: gym.Env, config: Config, generator: torch.Generator | None) -> ActorCritic:
    """The actor-critic for ``env``'s spaces."""
    spec = action_spec(env.action_space, ALGO, describe_space)
    net = ActorCritic(
        env.observation_space.shape,
        spec.n_actions,
        spec.action_dim,
        config.net_arch,
        config.activation,
        config.ortho_init,
        config.log_std_init,
        generator,
        precision=config.precision,
        normalize_obs=config.normalize_obs,
    )
    if config.channels_last and net.image:
        net = net.to(memory_format=torch.channels_last)
    return net


def memory_bytes(env: gym.Env, config: Config) -> dict[str, Part]:
    """The network with its gradients and Adam moments, and the rollout buffer
    (``rlkit.resources``)."""
    space = env.observation_space
    return {
        "network": (parameter_bytes(lambda: make_network(env, config, None)), "lower net_arch"),
        "rollout": (rollout_bytes(config.n_steps, config.n_envs, space), "lower n_steps or n_envs"),
    }


def train(config: Config, run: Run) -> dict[str, Any]:
    """Train for ``total_steps`` env steps (whole rollouts); evaluate, log and checkpoint along the way."""

    # set-up (rlkit.acting.on_policy_parts): the network, its pass (backprop written out
    # for MLPs), optimizer, this rank's envs (data-parallel: its share of the envs, of
    # the rollout and of the gradient sums), buffer, actor, Periodic; a resumed run restored
    learning_rate = schedule(config.learning_rate, "learning_rate")
    clip_range = schedule(config.clip_range, "clip_range")
    setup = on_policy_parts(config, run, make_network, ALGO, describe_space, learning_rate(0.0))
    net, model, optimizer, loss_config = setup.net, setup.model, setup.optimizer, setup.loss_config
    env, state, periodic, episodes = setup.env, setup.state, setup.periodic, setup.episodes
    rollouts, step, ranks = setup.rollouts, setup.step, run.ranks
    buffer, actor = rollouts.buffer, rollouts.actor
    try:
        while step < config.total_steps:
            progress = step / config.total_steps
            lr, clip = learning_rate(progress), clip_range(progress)
            set_learning_rate(optimizer, lr)
            # collect a rollout (truncated episodes are valued from their final observation)
            buffer.reset()
            state.obs, state.episode_starts = rollouts.collect(
                env, buffer, state.obs, state.episode_starts, actor, episodes
            )
            ranks.flush(episodes)
            before, step = step, step + buffer.size * ranks.world
            # advantages and returns: GAE(lambda)
            with PHASES("gae"):
                buffer.finish(actor.values(state.obs), config.gamma, config.gae_lambda)
            # update: n_epochs passes over shuffled minibatches
            parts, grad_norms, kl_exceeded = [], [], False
            with PHASES("update"):
                for _epoch in range(config.n_epochs):
                    for batch in buffer.minibatches(config.batch_size, run.rngs.torch, ranks=ranks):
                        if ranks.active and config.normalize_advantage:
                            batch = ranks.normalize_advantages(batch, config.batch_size)
                        loss = ppo_loss(model(batch.obs, batch.actions), batch, clip, loss_config)
                        loss = ranks.share(loss, len(batch.actions), config.batch_size)
                        if config.target_kl is not None and (
                            float(ranks.sum_(loss.parts["approx_kl"].clone()))
                            > 1.5 * config.target_kl
                        ):
                            kl_exceeded = True  # SB3's rule: this minibatch is not applied,
                            break  # and the epochs end
                        model.backward(loss)
                        ranks.sum_gradients(model.parameters())
                        if config.max_grad_norm > 0:
                            norm = clip_grad_norm_(model.parameters(), config.max_grad_norm)
                            grad_norms.append(norm)
                        optimizer.step()
                        state.updates += 1
                        parts.append(loss.parts)
                    if kl_exceeded:
                        break
            with PHASES("metrics"):
                metrics = update_metrics(ranks.sum_parts(parts), grad_norms)
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
                    "train/clip_range": clip,
                    "train/updates": state.updates,
                    "train/explained_variance": buffer.explained_variance(ranks),
                },
            )
    finally:
        env.close()
    return periodic.finish(step, {"train/updates": state.updates})


def check_group(config: Config) -> None:
    """What ``--seeds --batched`` needs (``BadInput`` naming what is not so): the batched
    torch envs, MLP policies with the written-out pass, and nothing that makes one seed's
    update sequence differ in length or state from another's."""
    from rlkit.nn.backprop import ACTIVATIONS

    needs = [
        (config.vec_env == "torch", "vec_env=torch (the batched torch envs)"),
        (config.written_out_backprop, "written_out_backprop=true"),
        (config.activation in ACTIVATIONS, f"an activation of {', '.join(ACTIVATIONS)}"),
        (config.target_kl is None, "target_kl=null (it would stop each seed's epochs apart)"),
        (not config.normalize_obs, "normalize_obs=false (each seed would need its own statistics)"),
    ]
    missing = [what for ok, what in needs if not ok]
    if missing:
        raise BadInput("ppo --batched needs " + "; ".join(missing))


def train_group(config: Config, runs: list[Run]) -> list[dict[str, Any]]:
    """``train`` for many seeds as one batched computation (``--seeds 0-9 --batched``).

    Each run (seed) builds what ``train`` builds, from its own generators in the same
    order: its network, its batched env, its actor's generator, its evaluator, its
    ``Periodic``. Then the networks' parameters become the rows of one stacked buffer
    (``WrittenOutPolicy`` with a group), one optimizer updates them all, and the loop is
    ``train``'s with a leading seed dimension: one forward pass acts for every seed, one
    rollout buffer holds all envs (seed by seed), each seed's minibatches are shuffled by
    its own generator and stacked, and gradient clipping is per seed. Each seed logs,
    evaluates and checkpoints its own run dir, and its checkpoint is a single run's
    (``rlkit train --resume`` continues one seed alone). Returns the runs' summaries.
    """
    from rlkit.acting import GroupActor
    from rlkit.data.rollout import DeviceRolloutBuffer, collect_device_rollout
    from rlkit.errors import Stopped
    from rlkit.nn.passes import WrittenOutPolicy
    from rlkit.optim import RowOptimizer, clip_grad_norm_rows_

    check_group(config)
    groups, device = len(runs), runs[0].device
    nets, envs, states, periodics, actors, steps = [], [], [], [], [], []
    probe = runs[0].make_env(train=True, frame_stack=config.frame_stack)
    spec, obs_space = action_spec(probe.action_space, ALGO, describe_space), probe.observation_space
    for run in runs:
        nets.append(make_network(probe, config, run.rngs.torch).to(device))
    probe.close()
    model = WrittenOutPolicy(nets[0], config.activation, group=nets)
    columns = sum(p.numel() for p in nets[0].parameters())  # a row's own (then padding)
    learning_rate = schedule(config.learning_rate, "learning_rate")
    clip_range = schedule(config.clip_range, "clip_range")
    optimizer = optimizer_from_config(config, model.parameters(), lr=learning_rate(0.0))
    try:
        for g, (run, net) in enumerate(zip(runs, nets, strict=True)):
            env = run.make_vector_env(config.n_envs, "torch", train=True, device=device)
            envs.append(env)
            state = ActorCriticState(net, RowOptimizer(optimizer, g, columns), env)
            rollouts = rollout_parts(config, run, net, spec, obs_space, state)

            def eval_policy(net: torch.nn.Module = net, run: Run = run) -> ActorCriticPolicy:
                return ActorCriticPolicy(
                    net, spec, device, config.activation, config.deterministic, run.rngs.eval_seed
                )

            periodic = Periodic(
                config,
                run,
                eval_policy,
                state,
                parameters=net.named_parameters,
                evaluator=rollouts.evaluator,
            )
            steps.append(start_rollouts(state, env, run, periodic))  # 0, or where it resumes
            states.append(state)
            periodics.append(periodic)
            actors.append(rollouts.actor)
        if len(set(steps)) > 1:
            raise BadInput(f"the seeds of a batched group resume from one step, not {steps}")
        step = steps[0]
        actor = GroupActor(model, spec, actors)
        action_dtype = torch.float32 if spec.n_actions is None else torch.int64
        buffer = DeviceRolloutBuffer(
            config.n_steps,
            groups * config.n_envs,
            obs_space.shape,
            spec.shape,
            action_dtype,
            device,
        )
        obs = torch.cat([state.obs for state in states])
        episode_starts = torch.cat([state.episode_starts for state in states])
        updates = states[0].updates
        generators = [run.rngs.torch for run in runs]
        while step < config.total_steps:
            progress = step / config.total_steps
            lr, clip = learning_rate(progress), clip_range(progress)
            set_learning_rate(optimizer, lr)
            # collect every seed's rollout (one forward pass acts for all of them)
            buffer.reset()
            obs, episode_starts = collect_device_rollout(
                envs, buffer, obs, episode_starts, actor, [p.stats for p in periodics]
            )
            before, step = step, step + config.n_steps * config.n_envs
            buffer.finish(actor.values(obs), config.gamma, config.gae_lambda)
            # update: each seed's minibatch in one stacked pass, clipped seed by seed
            parts, grad_norms = [], []
            for _epoch in range(config.n_epochs):
                for batch in buffer.group_minibatches(config.batch_size, generators):
                    loss = ppo_loss(model(batch.obs, batch.actions), batch, clip, config)
                    model.backward(loss)
                    if config.max_grad_norm > 0:
                        grad_norms.append(
                            clip_grad_norm_rows_(model.flat, config.max_grad_norm, columns)
                        )
                    optimizer.step()
                    updates += 1
                    parts.append(loss.parts)
            variances = buffer.group_explained_variance(groups)
            # each seed's log, evaluation and checkpoint, in its own run dir
            metrics = []
            for g, (state, periodic) in enumerate(zip(states, periodics, strict=True)):
                seed_metrics = update_metrics(
                    [{k: v[g] for k, v in p.items()} for p in parts], [n[g] for n in grad_norms]
                )
                periodic.guard(step, seed_metrics)
                rows = slice(g * config.n_envs, (g + 1) * config.n_envs)
                state.obs, state.episode_starts = obs[rows], episode_starts[rows]
                state.updates = updates
                metrics.append(seed_metrics)
            stopped = None
            for g, periodic in enumerate(periodics):
                try:
                    periodic.after(
                        before,
                        step,
                        {
                            **metrics[g],
                            "train/learning_rate": lr,
                            "train/clip_range": clip,
                            "train/updates": updates,
                            "train/explained_variance": variances[g],
                        },
                    )
                except Stopped as e:  # every seed saves before the group stops
                    stopped = stopped or e
            if stopped is not None:
                # a signal that came while the seeds took their turns found the first ones
                # past their check: they save here (the others are not saved twice)
                for periodic in periodics:
                    with contextlib.suppress(Stopped):
                        periodic.stop_if_requested(step)
                raise stopped
    finally:
        for env in envs:
            env.close()
    summaries, stopped = [], None
    for periodic in periodics:  # a stop during one seed's final video: every seed saves
        try:
            summaries.append(periodic.finish(step, {"train/updates": updates}))
        except Stopped as e:
            stopped = stopped or e
    if stopped is not None:
        raise stopped
    return summaries


def load_policy(
    checkpoint: dict[str, Any], env: gym.Env, device: str = "cpu", seed: int | None = None
) -> ActorCriticPolicy:
    """The policy of a checkpoint (the mode, or samples with ``deterministic: false``)."""
    return load_actor_critic_policy(checkpoint, Config, make_network, env, ALGO, device, seed)
