"""Recurrent PPO: PPO with an LSTM memory, for partially observed environments.

``rlkit train recurrent-ppo rlkit/CartPoleNoVel-v1``.

The policy is ``rlkit.nn.actor_critic.RecurrentActorCritic``: observations go through
the rlkit ``LSTM`` (shared by the policy and value heads) whose state is carried from
step to step while acting in the ``n_envs`` environments and zeroed where an episode
starts. The memory each environment had when a rollout began is kept, so training can
replay the rollout exactly: minibatches are whole sequences (all ``n_steps`` of
``batch_size / n_steps`` environments), run through the LSTM from that stored state
with the same episode-start resets, and PPO's loss (``rlkit.losses.ppo_loss``) is taken
over every step. ``train`` below is the whole algorithm, top to bottom: collect a rollout
(carrying the memory), compute the advantages, run the update epochs over whole
sequences, then the periodic work (log, evaluate, checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

from rlkit.acting import (
    ActionSpec,
    ActorCriticState,
    action_spec,
    load_actor_critic,
    probe_network,
)
from rlkit.config import OptimizerFields, RunFields, require, require_gamma
from rlkit.data.rollout import RolloutBuffer, collect_rollout
from rlkit.envs import describe_space
from rlkit.errors import BadInput
from rlkit.losses import PPO_PARTS, ppo_loss
from rlkit.nn.actor_critic import RecurrentActorCritic
from rlkit.nn.cnn import require_nature_frames
from rlkit.nn.passes import AutogradPolicy, Loss, PolicyOutputs
from rlkit.optim import clip_grad_norm_, optimizer_from_config, set_learning_rate
from rlkit.periodic import Periodic, update_metrics
from rlkit.resources import Part, parameter_bytes, rollout_bytes
from rlkit.rundir import Run
from rlkit.schedules import schedule
from rlkit.seeding import make_rngs

ALGO = "recurrent-ppo"
FITS = "Discrete or Box actions, partially observed: rlkit/CartPoleNoVel-v1, rlkit/PendulumNoVel-v1, ..."
RESUMABLE = True
"""Checkpoints carry everything to continue exactly (``rlkit train --resume``)."""


@dataclass(frozen=True, kw_only=True)
class Config(RunFields, OptimizerFields):
    """Recurrent PPO settings (sb3-contrib / rl-zoo names), plus the shared run and optimizer fields."""

    learning_rate: float | str = 3e-4
    """Optimizer step size: a number, or lin_<v> for a linear decay from v to 0."""
    optimizer_eps: float = 1e-5
    """Adam's epsilon (SB3's default for its policies)."""
    n_envs: int = 1
    """Environments stepped together."""
    n_steps: int = 128
    """Steps per environment in each rollout (the length of the training sequences)."""
    batch_size: int = 128
    """Steps per minibatch: whole sequences, so a multiple of n_steps."""
    n_epochs: int = 10
    """Passes over the rollout per iteration."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
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
    lstm_hidden_size: int = 256
    """Units of each LSTM (sb3-contrib's default)."""
    shared_lstm: bool = False
    """One LSTM for policy and value (else a separate critic LSTM, sb3-contrib's default)."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden sizes of the MLPs between the LSTM and the policy / value heads (may be empty)."""
    activation: str = "tanh"
    """Hidden activation of the MLPs."""
    ortho_init: bool = True
    """Orthogonal initialization."""
    log_std_init: float = 0.0
    """Initial log standard deviation of Gaussian actions (Box)."""
    normalize_obs: bool = False
    """Normalize vector observations with running mean / std (rl-zoo's normalize: true, observations only)."""
    frame_stack: int = 1
    """Frames per observation (Atari); must be 1: the LSTM is the memory."""
    vec_env: Literal["sync", "async"] = "sync"
    """sync: all envs in this process; async: one process per env."""

    def __post_init__(self) -> None:
        RunFields.__post_init__(self)
        OptimizerFields.__post_init__(self)
        require_gamma(self.gamma)
        for key in ("n_envs", "n_steps", "batch_size", "n_epochs", "lstm_hidden_size"):
            value = getattr(self, key)
            require(key, value, value >= 1, "an integer >= 1")
        if self.frame_stack != 1:
            raise BadInput(
                f"recurrent-ppo keeps its memory in the LSTM; frame stacking is refused "
                f"(got frame_stack={self.frame_stack}; use frame_stack=1, or ppo)"
            )
        rollout = self.n_steps * self.n_envs
        require(
            "batch_size",
            self.batch_size,
            self.batch_size % self.n_steps == 0 and rollout % self.batch_size == 0,
            f"whole sequences: a multiple of n_steps ({self.n_steps}) dividing n_steps * n_envs ({rollout})",
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
        if self.target_kl is not None:
            require("target_kl", self.target_kl, self.target_kl > 0, "a number > 0 or null")
        require("gae_lambda", self.gae_lambda, 0 <= self.gae_lambda <= 1, "0 <= gae_lambda <= 1")
        for key in ("ent_coef", "vf_coef", "max_grad_norm"):
            require(key, getattr(self, key), getattr(self, key) >= 0, "a number >= 0")
        require(
            "net_arch",
            list(self.net_arch),
            all(size >= 1 for size in self.net_arch),
            "layer sizes >= 1",
        )


def check_env(env: gym.Env, config: Config) -> None:
    """Discrete or 1-D Box actions and Box observations."""
    action_spec(env.action_space, ALGO, describe_space)
    if not isinstance(env.observation_space, gym.spaces.Box):
        raise BadInput(
            f"recurrent-ppo needs Box observations, got {describe_space(env.observation_space)}"
        )
    require_nature_frames(env.observation_space.shape, ALGO)
    if config.normalize_obs and len(env.observation_space.shape) == 3:
        raise BadInput(
            "recurrent-ppo: normalize_obs is for vector observations (image pixels are scaled by the CNN)"
        )


def make_network(
    env: gym.Env, config: Config, generator: torch.Generator | None
) -> RecurrentActorCritic:
    """The recurrent actor-critic for ``env``'s spaces."""
    spec = action_spec(env.action_space, ALGO, describe_space)
    return RecurrentActorCritic(
        env.observation_space.shape,
        spec.n_actions,
        spec.action_dim,
        config.lstm_hidden_size,
        config.net_arch,
        config.activation,
        config.ortho_init,
        config.log_std_init,
        config.shared_lstm,
        generator,
        config.normalize_obs,
    )


def memory_bytes(env: gym.Env, config: Config) -> dict[str, Part]:
    """The network with its gradients and Adam moments, and the rollout buffer
    (``rlkit.resources``)."""
    space = env.observation_space
    return {
        "network": (
            parameter_bytes(lambda: make_network(env, config, None)),
            "lower lstm_hidden_size or net_arch",
        ),
        "rollout": (rollout_bytes(config.n_steps, config.n_envs, space), "lower n_steps or n_envs"),
    }


class RecurrentActor:
    """Acts in N environments, carrying the LSTM state; remembers it at each rollout's start."""

    def __init__(
        self,
        net: RecurrentActorCritic,
        spec: ActionSpec,
        n_envs: int,
        device: torch.device,
        generator: torch.Generator,
    ) -> None:
        self.net, self.spec, self.device, self.generator = net, spec, device, generator
        self.state = net.initial_state(n_envs, device)
        self.rollout_state = self.state

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The memory of every environment (a checkpoint carries it to resume exactly)."""
        return {"h": self.state[0].clone(), "c": self.state[1].clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Take back ``state_dict``."""
        self.state = (state["h"].to(self.device), state["c"].to(self.device))

    def begin_rollout(self) -> None:
        """Keep the memory the rollout starts from (training replays from it)."""
        self.rollout_state = (self.state[0].clone(), self.state[1].clone())

    @torch.no_grad()
    def __call__(self, obs: np.ndarray, episode_starts: np.ndarray):
        """``(actions to store, actions for the env, log-probs, values)``; advances the memory."""
        x = torch.as_tensor(obs, device=self.device)[None]
        starts = torch.as_tensor(episode_starts, device=self.device)[None]
        dist, values, self.state = self.net(x, self.state, starts)
        actions = dist.sample(self.generator)[0]
        log_probs = dist.log_prob(actions[None])[0]
        actions_np = actions.cpu().numpy()
        return (
            actions_np,
            self.spec.to_env(actions_np),
            log_probs.cpu().numpy(),
            values[0].cpu().numpy(),
        )

    @torch.no_grad()
    def values(self, obs: np.ndarray, env_indices: np.ndarray | None = None) -> np.ndarray:
        """``V`` of the observations that follow the last step, from the memory after it."""
        h, c = self.state
        if env_indices is not None:
            index = torch.as_tensor(env_indices, device=self.device)
            h, c = h[:, index], c[:, index]
        x = torch.as_tensor(obs, device=self.device)[None]
        _, values, _ = self.net(x, (h, c), torch.zeros(x.shape[:2], device=self.device))
        return values[0].cpu().numpy()


class RecurrentPolicy:
    """A trained recurrent actor-critic as a policy.

    ``policy(obs) -> action`` plays one evaluation step, carrying the memory (``reset()``
    forgets it at an episode start); ``predict`` acts on a batch with the LSTM state given
    and returned, zeroed where ``episode_start`` is set (as sb3-contrib's ``predict``).
    """

    def __init__(
        self,
        net: RecurrentActorCritic,
        spec: ActionSpec,
        device: torch.device,
        deterministic: bool,
        generator: torch.Generator | None,
    ) -> None:
        self.module, self.spec, self.device = net, spec, device
        self.deterministic, self.generator = deterministic, generator
        self.reset()

    def reset(self) -> None:
        """Forget everything (a new episode)."""
        self.state = self.module.initial_state(1, self.device)

    @torch.no_grad()
    def __call__(self, obs: Any) -> Any:
        x = torch.as_tensor(np.asarray(obs)[None, None], device=self.device)
        dist, _, self.state = self.module(x, self.state, torch.zeros(1, 1, device=self.device))
        action = dist.mode() if self.deterministic else dist.sample(self.generator)
        action = action[0, 0].cpu().numpy()
        return int(action) if self.spec.n_actions is not None else self.spec.to_env(action)

    @torch.no_grad()
    def predict(
        self,
        obs: np.ndarray,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Actions for a batch ``(n, *obs_shape)`` and the next LSTM state ``(h, c)``, each
        ``(layers, n, hidden)`` (None: a fresh memory)."""
        x = torch.as_tensor(obs, device=self.device)[None]
        n = x.shape[1]
        if state is None:
            h, c = self.module.initial_state(n, self.device)
        else:
            h, c = (torch.as_tensor(np.asarray(s), device=self.device) for s in state)
        starts = torch.zeros(1, n, device=self.device)
        if episode_start is not None:
            starts[0] = torch.as_tensor(np.asarray(episode_start, dtype=np.float32))
        dist, _, (h, c) = self.module(x, (h, c), starts)
        actions = dist.mode() if deterministic else dist.sample(self.generator)
        return self.spec.to_env(actions[0].cpu().numpy()), (h.cpu().numpy(), c.cpu().numpy())


def sequence_outputs(
    net: RecurrentActorCritic, batch: Any, state: tuple[torch.Tensor, torch.Tensor]
) -> PolicyOutputs:
    """Whole sequences ``(n_steps, envs)`` replayed through the LSTM from the memory they
    began with (and the same episode-start resets), as flat ``PolicyOutputs``."""
    dist, values, _ = net(batch.obs, state, batch.episode_starts)
    return PolicyOutputs(
        dist.log_prob(batch.actions).flatten(), values.flatten(), dist.entropy().flatten()
    )


def train(config: Config, run: Run) -> dict[str, Any]:
    """Train for ``total_steps`` env steps (whole rollouts); evaluate, log and checkpoint along the way."""

    # set-up: the network (through autograd: an LSTM), optimizer, envs, buffer, actor
    spec, net, obs_space = probe_network(config, run, make_network, ALGO, describe_space)
    model = AutogradPolicy(net)
    learning_rate = schedule(config.learning_rate, "learning_rate")
    clip_range = schedule(config.clip_range, "clip_range")
    optimizer = optimizer_from_config(config, model.parameters(), lr=learning_rate(0.0))
    # data-parallel (rlkit.distributed): this rank's share of the envs and of each
    # minibatch's sequences, gradients summed over the ranks; one process: all of them
    ranks = run.ranks
    first, n_envs = ranks.envs(config.n_envs)
    loss_config = replace(config, normalize_advantage=False) if ranks.active else config
    env = run.make_vector_env(n_envs, config.vec_env, train=True, frame_stack=config.frame_stack)
    buffer = RolloutBuffer(
        config.n_steps, n_envs, obs_space.shape, obs_space.dtype, spec.shape, spec.dtype, run.device
    )
    noise = ranks.rows(run.rngs.torch, config.n_envs, dim=1)  # (1, n_envs, ...) per step
    actor = RecurrentActor(net, spec, n_envs, run.device, noise)
    envs_per_batch = config.batch_size // config.n_steps
    state = ActorCriticState(net, optimizer, env, actor=actor)

    def eval_policy() -> RecurrentPolicy:
        generator = torch.Generator().manual_seed(run.rngs.eval_seed)
        return RecurrentPolicy(net, spec, run.device, config.deterministic, generator)

    periodic = Periodic(config, run, eval_policy, state, config.frame_stack, net.named_parameters)
    state.obs, _ = env.reset(seed=run.rngs.env_seed + first)  # env i of the run: env_seed + i
    state.episode_starts = np.ones(n_envs, dtype=np.float32)
    step = periodic.restore()  # 0, or where a resumed run's checkpoint was taken
    episodes = ranks.episodes(periodic.stats, config.n_envs)
    try:
        while step < config.total_steps:
            progress = step / config.total_steps
            lr, clip = learning_rate(progress), clip_range(progress)
            set_learning_rate(optimizer, lr)
            # collect a rollout, carrying the memory (the one it starts from is kept)
            buffer.reset()
            actor.begin_rollout()
            state.obs, state.episode_starts = collect_rollout(
                env, buffer, state.obs, state.episode_starts, actor, episodes
            )
            ranks.flush(episodes)
            before, step = step, step + buffer.size * ranks.world
            # advantages and returns: GAE(lambda)
            buffer.finish(actor.values(state.obs), config.gamma, config.gae_lambda)
            # update: n_epochs passes over whole sequences, replayed from their first memory
            h0, c0 = actor.rollout_state
            parts, grad_norms, kl_exceeded = [], [], False
            for _epoch in range(config.n_epochs):
                for batch in buffer.sequences(envs_per_batch, run.rngs.torch, ranks=ranks):
                    flat, rows = batch.flat(), len(batch.env_indices) * config.n_steps
                    if ranks.active and config.normalize_advantage:
                        flat = ranks.normalize_advantages(flat, config.batch_size)
                    if rows:
                        memory = (h0[:, batch.env_indices], c0[:, batch.env_indices])
                        out = sequence_outputs(net, batch, memory)
                        loss = ranks.share(
                            ppo_loss(out, flat, clip, loss_config), rows, config.batch_size
                        )
                    else:  # (a rank that holds none of the minibatch's envs adds nothing)
                        loss = Loss(None, {k: torch.zeros(()) for k in PPO_PARTS})
                    if config.target_kl is not None and (
                        float(ranks.sum_(loss.parts["approx_kl"].clone())) > 1.5 * config.target_kl
                    ):
                        kl_exceeded = True  # SB3's rule: this minibatch is not applied,
                        break  # and the epochs end
                    if rows:
                        model.backward(loss)
                    else:
                        for p in model.parameters():
                            p.grad = torch.zeros_like(p)
                    ranks.sum_gradients(model.parameters())
                    if config.max_grad_norm > 0:
                        grad_norms.append(clip_grad_norm_(model.parameters(), config.max_grad_norm))
                    optimizer.step()
                    state.updates += 1
                    parts.append(loss.parts)
                if kl_exceeded:
                    break
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


def load_policy(
    checkpoint: dict[str, Any], env: gym.Env, device: str = "cpu", seed: int | None = None
) -> RecurrentPolicy:
    """The policy of a checkpoint: a ``RecurrentPolicy`` (``reset()`` at each episode start)."""
    config, net, torch_device = load_actor_critic(checkpoint, Config, make_network, env, device)
    rngs = make_rngs(int(checkpoint.get("seed", 0)) if seed is None else seed, seed_globals=False)
    spec = action_spec(env.action_space, ALGO, describe_space)
    return RecurrentPolicy(
        net, spec, torch_device, config.deterministic, torch.Generator().manual_seed(rngs.eval_seed)
    )
