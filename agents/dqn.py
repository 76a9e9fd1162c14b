"""DQN (Mnih et al. 2015) with Double DQN, dueling heads, n-step returns and prioritized replay.

``rlkit train dqn CartPole-v1`` / ``rlkit train dqn ALE/Pong-v5``.

The Q-network maps an observation to one value per action: an MLP for vector
observations, the Nature CNN for Atari frames. It learns from minibatches of past
transitions by regressing, with the Huber loss, onto the Bellman target

    y = R^(n) + gamma^n * (1 - done) * Q_target(s', argmax_a Q(s', a))       (Double DQN)
    y = R^(n) + gamma^n * (1 - done) * max_a Q_target(s', a)                 (Nature DQN)

where ``Q_target`` is a delayed copy of the network (hard copy every
``target_update_interval`` env steps when ``tau = 1``, Polyak averaging with ``tau`` < 1,
SB3's convention). Actions are epsilon-greedy with a linear schedule. The loop below
reads top to bottom: act, store, learn, sync the target, log / evaluate / checkpoint.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from envs import describe_space
from rlkit import guard, snapshot
from rlkit.config import OptimizerFields, RunFields, require, require_gamma
from rlkit.data import Batch, ReplayBuffer
from rlkit.errors import BadInput
from rlkit.evaluation import EvalHistory, evaluate
from rlkit.losses import huber, huber_gradient
from rlkit.nn import MLP, NatureCNN, backprop, init_weights
from rlkit.optim import clip_grad_norm_, optimizer_from_config
from rlkit.rundir import Run
from rlkit.schedules import linear_schedule, schedule
from rlkit.seeding import make_rngs

ALGO = "dqn"
FITS = "Discrete actions: CartPole-v1, Acrobot-v1, MountainCar-v0, Atari (PongNoFrameskip-v4, ALE/Pong-v5, ...)"


@dataclass(frozen=True, kw_only=True)
class Config(RunFields, OptimizerFields):
    """DQN settings (SB3 / rl-zoo names), plus the shared run and optimizer fields."""

    learning_rate: float | str = 1e-4
    """Optimizer step size: a number, or lin_<v> for a linear decay from v to 0."""
    optimizer_eps: float = 1e-5
    """Adam's epsilon (SB3's default for its policies)."""
    buffer_size: int = 1_000_000
    """Transitions the replay buffer holds."""
    learning_starts: int = 100
    """Env steps before learning starts."""
    batch_size: int = 32
    """Transitions per gradient step."""
    tau: float = 1.0
    """Target update coefficient: 1 = hard copy, < 1 = Polyak averaging."""
    gamma: float = 0.99
    """Discount factor."""
    train_freq: int = 4
    """Learn every this many env steps."""
    gradient_steps: int = 1
    """Gradient steps each time it learns."""
    target_update_interval: int = 10_000
    """Update the target network every this many env steps."""
    exploration_fraction: float = 0.1
    """Share of total_steps over which epsilon decays linearly."""
    exploration_initial_eps: float = 1.0
    """Epsilon at the start."""
    exploration_final_eps: float = 0.05
    """Epsilon after exploration_fraction of the run."""
    max_grad_norm: float = 10.0
    """Clip the gradient's global norm to this (0 = no clipping)."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of the MLP Q-network (vector observations)."""
    activation: str = "relu"
    """Hidden activation of the MLP Q-network."""
    double_q: bool = False
    """Double DQN: the online network picks the next action, the target network values it."""
    dueling: bool = False
    """Dueling heads: Q = V + A - mean(A)."""
    n_step: int = 1
    """Steps summed in the return before bootstrapping."""
    prioritized: bool = False
    """Prioritized replay (Schaul et al. 2016)."""
    priority_alpha: float = 0.6
    """Prioritization exponent."""
    priority_beta0: float = 0.4
    """Initial importance-sampling exponent, annealed linearly to 1."""
    frame_stack: int = 4
    """Frames per observation (Atari only)."""
    eval_epsilon: float = 0.0
    """Epsilon of the evaluation policy (a little randomness unsticks some Atari games)."""
    save_replay: bool = False
    """Also checkpoint the replay buffer (large for Atari)."""
    channels_last: bool = False
    """Channels-last memory format for the CNN (Atari)."""
    compile: bool = False
    """torch.compile the Q-network."""
    precision: Literal["float32", "bf16"] = "float32"
    """bf16: run the Q-network's forward and backward passes under bfloat16 autocast (CNNs)."""
    written_out_backprop: bool = True
    """MLP Q-networks: backprop written out (rlkit.nn.backprop) instead of autograd; same gradients, less overhead."""

    def __post_init__(self) -> None:
        RunFields.__post_init__(self)
        OptimizerFields.__post_init__(self)
        require_gamma(self.gamma)
        for key in (
            "buffer_size",
            "batch_size",
            "train_freq",
            "gradient_steps",
            "target_update_interval",
            "n_step",
            "frame_stack",
        ):
            value = getattr(self, key)
            require(key, value, value >= 1, "an integer >= 1")
        require("learning_rate", self.learning_rate, schedule(self.learning_rate, "learning_rate")(0.0) > 0,
                "a number > 0 or lin_<number > 0>")  # fmt: skip
        require("learning_starts", self.learning_starts, 0 <= self.learning_starts < self.total_steps,
                f"0 <= learning_starts < total_steps ({self.total_steps})")  # fmt: skip
        require("batch_size", self.batch_size, self.batch_size <= self.buffer_size,
                f"at most buffer_size ({self.buffer_size})")  # fmt: skip
        require("tau", self.tau, 0 < self.tau <= 1, "0 < tau <= 1")
        require("max_grad_norm", self.max_grad_norm, self.max_grad_norm >= 0, "a number >= 0")
        require("net_arch", list(self.net_arch), len(self.net_arch) >= 1 and min(self.net_arch) >= 1,
                "one or more layer sizes >= 1")  # fmt: skip
        for key in (
            "exploration_fraction",
            "exploration_initial_eps",
            "exploration_final_eps",
            "eval_epsilon",
        ):
            value = getattr(self, key)
            require(key, value, 0 <= value <= 1, f"0 <= {key} <= 1")
        require("priority_alpha", self.priority_alpha, self.priority_alpha >= 0, "a number >= 0")
        require(
            "priority_beta0",
            self.priority_beta0,
            0 <= self.priority_beta0 <= 1,
            "0 <= priority_beta0 <= 1",
        )


# ------------------------------------------------------------------ networks


class QNetwork(nn.Module):
    """Observation -> one Q-value per action: a torso (MLP or Nature CNN) and a head."""

    def __init__(
        self, obs_shape: tuple[int, ...], n_actions: int, config: Config, generator: torch.Generator
    ) -> None:
        super().__init__()
        self.image = len(obs_shape) == 3
        if self.image:
            self.torso: nn.Module = NatureCNN(
                obs_shape[0], 512, frame_size=obs_shape[-1], generator=generator
            )
            features = 512
        else:
            *hidden, features = config.net_arch
            self.torso = MLP(int(np.prod(obs_shape)), hidden, features, activation=config.activation,
                             output_activation=config.activation, init="torch", generator=generator)  # fmt: skip
        self.dueling = config.dueling
        if self.dueling:
            self.value = nn.Linear(features, 1)
            self.advantage = nn.Linear(features, n_actions)
        else:
            self.head = nn.Linear(features, n_actions)
        heads = [self.value, self.advantage] if self.dueling else [self.head]
        for head in heads:  # PyTorch's default init (SB3's for DQN), from the run's generator
            init_weights(head, "torch", generator=generator)

    def layer_chain(self) -> list[nn.Linear] | None:
        """The Linear layers input to output, for a plain MLP Q-network (else None)."""
        if self.image or self.dueling:
            return None
        return [*self.torso.linears, self.head]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """``(batch, *obs_shape)`` -> ``(batch, n_actions)``."""
        x = obs if self.image else obs.flatten(1).float()
        features = self.torso(x)
        if self.dueling:
            return dueling_q(self.value(features), self.advantage(features))
        return self.head(features)


def dueling_q(value: torch.Tensor, advantage: torch.Tensor) -> torch.Tensor:
    """Q = V + A - mean_a A: (batch, 1) and (batch, A) -> (batch, A) (Wang et al. 2016)."""
    return value + advantage - advantage.mean(dim=1, keepdim=True)


# ------------------------------------------------------------------ pure update pieces


def td_target(
    rewards: torch.Tensor, next_q_target: torch.Tensor, dones: torch.Tensor, discounts: torch.Tensor
) -> torch.Tensor:
    """``r + gamma^n (1 - done) max_a Q_target(s', a)``, all (batch,) but ``next_q_target`` (batch, A)."""
    return rewards + discounts * (1.0 - dones) * next_q_target.max(dim=1).values


def double_q_target(
    rewards: torch.Tensor,
    next_q_online: torch.Tensor,
    next_q_target: torch.Tensor,
    dones: torch.Tensor,
    discounts: torch.Tensor,
) -> torch.Tensor:
    """``r + gamma^n (1 - done) Q_target(s', argmax_a Q_online(s', a))`` (van Hasselt et al. 2016)."""
    best = next_q_online.argmax(dim=1, keepdim=True)
    return rewards + discounts * (1.0 - dones) * next_q_target.gather(1, best).squeeze(1)


def epsilon_at(config: Config, step: int) -> float:
    """Exploration rate after ``step`` env steps (linear, then flat)."""
    return linear_schedule(
        config.exploration_initial_eps, config.exploration_final_eps, config.exploration_fraction,
        step / config.total_steps,
    )  # fmt: skip


@torch.no_grad()
def update_target(online: nn.Module, target: nn.Module, tau: float) -> None:
    """``target <- tau * online + (1 - tau) * target`` (a hard copy when tau = 1)."""
    target_params = list(target.parameters()) + list(target.buffers())
    online_params = list(online.parameters()) + list(online.buffers())
    if tau >= 1.0:
        torch._foreach_copy_(target_params, online_params)
    else:
        torch._foreach_lerp_(target_params, online_params, tau)


@torch.no_grad()
def bellman_targets(
    q_net: nn.Module, target_net: nn.Module, batch: Batch, double_q: bool
) -> torch.Tensor:
    """The regression targets of a batch: (batch,)."""
    next_q_target = target_net(batch.next_obs)
    if double_q:
        return double_q_target(
            batch.rewards, q_net(batch.next_obs), next_q_target, batch.dones, batch.discounts
        )
    return td_target(batch.rewards, next_q_target, batch.dones, batch.discounts)


def dqn_loss(
    q_net: nn.Module,
    obs: torch.Tensor,
    actions: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(Weighted) Huber loss of the taken actions' Q against the targets; also TD errors and Q."""
    q_taken = q_net(obs).gather(1, actions.unsqueeze(1)).squeeze(1).float()
    targets = targets.float()
    per_sample = huber(q_taken, targets, reduction="none")
    loss = (per_sample * weights).mean() if weights is not None else per_sample.mean()
    return loss, (q_taken - targets).detach(), q_taken.detach()


def written_out_step(
    layers: list[nn.Linear], activation: str, obs: torch.Tensor, actions: torch.Tensor,
    targets: torch.Tensor, weights: torch.Tensor | None, with_loss: bool = True,
) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:  # fmt: skip
    """``dqn_loss`` and its backward pass for a plain MLP Q-network, without autograd.

    Sets ``.grad`` of every layer; returns the loss (only ``with_loss``; the gradient
    does not need it), the TD errors and the Q of the taken actions.
    """
    x = obs if obs.dim() == 2 and obs.dtype == torch.float32 else obs.flatten(1).float()
    outputs = backprop.forward(layers, activation, x)
    q = outputs[-1]
    column = actions.unsqueeze(1)  # (batch, 1)
    q_taken = q.gather(1, column).squeeze(1)
    td = q_taken - targets
    grad = huber_gradient(q_taken, targets).div_(len(td))  # d mean-huber / d q_taken
    if weights is not None:
        grad.mul_(weights)
    grad_q = torch.zeros_like(q).scatter_(1, column, grad.unsqueeze(1))
    backprop.backward(layers, activation, outputs, grad_q)
    loss = None
    if with_loss:
        per_sample = huber(q_taken, targets, reduction="none")
        loss = (per_sample * weights).mean() if weights is not None else per_sample.mean()
    return loss, td, q_taken


# ------------------------------------------------------------------ checks


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (None where there is no such file)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_env(env: gym.Env, config: Config) -> None:
    """Discrete actions, Box observations, and a replay buffer that fits in memory."""
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise BadInput(
            f"dqn needs a Discrete action space, got {describe_space(env.action_space)}; try ppo"
        )
    if not isinstance(env.observation_space, gym.spaces.Box):
        raise BadInput(f"dqn needs Box observations, got {describe_space(env.observation_space)}")
    shape = env.observation_space.shape
    image = len(shape) == 3
    need = ReplayBuffer.estimate_bytes(config.buffer_size, shape, env.observation_space.dtype,
                                       stack=shape[0] if image else 1, prioritized=config.prioritized)  # fmt: skip
    free = available_memory_bytes()
    if free is not None and need > 0.9 * free:
        raise BadInput(
            f"a replay buffer of buffer_size={config.buffer_size:,} needs {need / 1e9:.2f} GB but only "
            f"{free / 1e9:.2f} GB of memory is available; lower buffer_size"
        )


# ------------------------------------------------------------------ training


def make_networks(env: gym.Env, config: Config, run: Run) -> tuple[QNetwork, QNetwork]:
    """Online and target Q-networks on the run's device."""
    shape = env.observation_space.shape
    q_net = QNetwork(shape, int(env.action_space.n), config, run.rngs.torch).to(run.device)
    target_net = QNetwork(shape, int(env.action_space.n), config, run.rngs.torch).to(run.device)
    if config.channels_last and q_net.image:
        q_net, target_net = (n.to(memory_format=torch.channels_last) for n in (q_net, target_net))
    target_net.load_state_dict(q_net.state_dict())
    target_net.requires_grad_(False)
    return q_net, target_net


def greedy_policy(
    q_fn, n_actions: int, epsilon: float = 0.0, rng: np.random.Generator | None = None
):
    """``obs -> action``: argmax of ``q_fn(obs)`` (Q of one observation), or uniform w.p. ``epsilon``."""

    @torch.no_grad()
    def act(obs: Any) -> int:
        if epsilon > 0 and rng is not None and rng.random() < epsilon:
            return int(rng.integers(n_actions))
        return int(q_fn(obs).argmax())

    return act


def module_q_fn(q_net: nn.Module, device: torch.device, autocast: Any = None):
    """Q of one observation through ``q_net`` (a batch of one on ``device``)."""

    def q_fn(obs: Any) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(obs)[None], device=device)
        if autocast is None:
            return q_net(x)[0]
        with autocast:
            return q_net(x)[0]

    return q_fn


def batches(buffer: ReplayBuffer, q_net: nn.Module, target_net: nn.Module, config: Config,
            rng: np.random.Generator, beta: float):  # fmt: skip
    """The ``gradient_steps`` minibatches of one learning phase, with their targets.

    The target network does not change within a phase, so with uniform replay and
    plain (not double) targets all minibatches are drawn at once and their targets
    computed in one forward pass; otherwise each is drawn (and valued) in turn, after
    the previous update.
    """
    size = config.batch_size
    if config.prioritized or config.double_q:
        for _ in range(config.gradient_steps):
            batch = buffer.sample(size, rng, beta=beta)
            yield batch, bellman_targets(q_net, target_net, batch, config.double_q)
        return
    big = buffer.sample(size * config.gradient_steps, rng)
    # valued in chunks of ~2048 rows: one 8192-row pass was 4x slower here (its
    # 8 MB activations fall out of cache)
    chunk = max(size, 2048 // size * size)
    targets = torch.cat([bellman_targets(q_net, target_net, big[i : i + chunk], False)
                         for i in range(0, size * config.gradient_steps, chunk)])  # fmt: skip
    for i in range(0, size * config.gradient_steps, size):
        yield big[i : i + size], targets[i : i + size]


def train(config: Config, run: Run) -> dict[str, Any]:
    """Train for ``total_steps`` env steps; evaluate, log and checkpoint along the way."""
    rng = run.rngs.numpy
    env = run.make_env(seed=run.rngs.env_seed, train=True, frame_stack=config.frame_stack)
    shape = env.observation_space.shape
    image = len(shape) == 3
    n_actions = int(env.action_space.n)
    q_net, target_net = make_networks(env, config, run)
    forward = torch.compile(q_net) if config.compile else q_net
    plain_mlp = config.written_out_backprop and not config.compile and config.precision == "float32"
    layers = (
        q_net.layer_chain() if plain_mlp and config.activation in backprop.ACTIVATIONS else None
    )
    # with backprop written out, all parameters live in one flat buffer: the optimizer
    # and the gradient clipping then touch one tensor instead of one per layer
    params = (
        [backprop.flatten_parameters(q_net)] if layers is not None else list(q_net.parameters())
    )
    learning_rate = schedule(config.learning_rate, "learning_rate")
    optimizer = optimizer_from_config(config, params, lr=learning_rate(0.0))
    autocast = torch.autocast(
        run.device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"
    )

    # acting, one observation at a time: numpy on views of the parameters for a plain
    # MLP on the CPU (no per-step tensor overhead), else the module itself
    if layers is not None and run.device.type == "cpu" and config.activation in ("relu", "tanh"):
        q_values = backprop.NumpyForward(layers, config.activation)
    else:
        q_values = module_q_fn(forward, run.device, autocast)
    greedy_action = greedy_policy(q_values, n_actions)

    buffer = ReplayBuffer(
        config.buffer_size, shape, env.observation_space.dtype, stack=shape[0] if image else 1,
        n_step=config.n_step, gamma=config.gamma, prioritized=config.prioritized,
        alpha=config.priority_alpha, device=run.device,
    )  # fmt: skip
    history = EvalHistory()
    returns: deque[float] = deque(maxlen=100)
    lengths: deque[int] = deque(maxlen=100)
    losses: deque[float] = deque(maxlen=100)
    q_means: deque[float] = deque(maxlen=100)
    episodes = updates = 0
    synced_at = 0  # `updates` when the target network was last synced
    best_eval = -np.inf

    def run_eval(step: int) -> dict[str, float]:
        eval_rng = np.random.default_rng(run.rngs.eval_seed)
        policy = greedy_policy(q_values, n_actions, config.eval_epsilon, eval_rng)
        q_net.eval()
        result = evaluate(policy, lambda: run.make_env(train=False, frame_stack=config.frame_stack),
                          config.eval_episodes, seed=run.rngs.eval_seed)  # fmt: skip
        q_net.train()
        return history.add(step, result)

    def video(step: int) -> None:
        policy = greedy_policy(
            q_values, n_actions, config.eval_epsilon, np.random.default_rng(run.rngs.eval_seed)
        )
        q_net.eval()
        run.record_eval_video(policy, step, frame_stack=config.frame_stack)
        q_net.train()

    def save(step: int, best: bool = False) -> None:
        guard.check(
            step, None, q_net.named_parameters()
        )  # never overwrite a good checkpoint with NaNs
        state = {
            "q_net": q_net.state_dict(), "target_net": target_net.state_dict(),
            "optimizer": optimizer.state_dict(), "step": step, "episodes": episodes,
            "updates": updates, "eval_history": history.state_dict(),
        }  # fmt: skip
        if (
            config.save_replay or not image
        ):  # small for vector observations: always, to resume exactly
            state["replay"] = buffer.state_dict()
        state["resume"] = {
            "obs": snapshot.encode(obs), "env": snapshot.env_state(env), "synced_at": synced_at,
            "best_eval": float(best_eval), "returns": list(returns), "lengths": list(lengths),
            "losses": list(losses), "q_means": list(q_means), "rng": snapshot.rng_state(run.rngs),
            "log_rows": run.logger.rows,
        }  # fmt: skip
        run.save_checkpoint(state, best=best)

    start = time.perf_counter()
    obs, _ = env.reset(seed=run.rngs.env_seed)
    first = 1
    if run.resume is not None:  # continue exactly where the checkpoint was taken
        checkpoint, resume = run.resume, run.resume["resume"]
        q_net.load_state_dict(checkpoint["q_net"])
        target_net.load_state_dict(checkpoint["target_net"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        buffer.load_state_dict(checkpoint["replay"])
        episodes, updates = int(checkpoint["episodes"]), int(checkpoint["updates"])
        history = EvalHistory.from_state_dict(checkpoint["eval_history"])
        obs, synced_at, best_eval = (
            snapshot.decode(resume["obs"]),
            int(resume["synced_at"]),
            resume["best_eval"],
        )
        for queue, values in ((returns, resume["returns"]), (lengths, resume["lengths"]),
                              (losses, resume["losses"]), (q_means, resume["q_means"])):  # fmt: skip
            queue.extend(values)
        snapshot.load_env_state(env, resume["env"])
        snapshot.load_rng_state(run.rngs, resume["rng"])
        first = int(checkpoint["step"]) + 1
    for step in range(first, config.total_steps + 1):
        # act: epsilon-greedy
        epsilon = epsilon_at(config, step)
        action = int(rng.integers(n_actions)) if rng.random() < epsilon else greedy_action(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        # store
        buffer.add(obs, action, reward, terminated, truncated, next_obs)
        if "episode" in info:  # a whole episode (a whole game on Atari) ended
            returns.append(float(info["episode"]["r"]))
            lengths.append(int(info["episode"]["l"]))
            episodes += 1
        obs = env.reset()[0] if terminated or truncated else next_obs
        # learn
        if step > config.learning_starts and step % config.train_freq == 0:
            beta = linear_schedule(config.priority_beta0, 1.0, 1.0, step / config.total_steps)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step / config.total_steps)
            with autocast:  # a no-op unless precision=bf16
                for g, (batch, targets) in enumerate(
                    batches(buffer, q_net, target_net, config, rng, beta)
                ):
                    weights = batch.weights if config.prioritized else None
                    if layers is not None:
                        loss, td_errors, q_taken = written_out_step(
                            layers, config.activation, batch.obs, batch.actions, targets, weights,
                            with_loss=g == config.gradient_steps - 1,  # only the last one is logged
                        )  # fmt: skip
                    else:
                        loss, td_errors, q_taken = dqn_loss(
                            forward, batch.obs, batch.actions, targets, weights
                        )
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                    if config.max_grad_norm > 0:
                        clip_grad_norm_(params, config.max_grad_norm)
                    optimizer.step()
                    if config.prioritized:
                        buffer.update_priorities(batch.indices, td_errors)
                    updates += 1
            losses.append(float(loss.detach()))
            q_means.append(float(q_taken.mean()))
            if not math.isfinite(losses[-1]):  # the NaN guard: stop before anything is saved
                guard.check(step, {"train/loss": losses[-1]})
        # sync the target network
        # (a hard copy is skipped when nothing was learned since the last one: it would change nothing)
        if step % config.target_update_interval == 0 and (config.tau < 1 or updates != synced_at):
            update_target(q_net, target_net, config.tau)
            synced_at = updates
        # log, evaluate, checkpoint
        if step % config.log_interval == 0:
            guard.check(step, None, q_net.named_parameters())
            metrics: dict[str, float] = {"train/epsilon": epsilon, "train/updates": updates,
                                         "rollout/episodes": episodes,
                                         "time/sps": (step - first + 1) / max(time.perf_counter() - start, 1e-9)}  # fmt: skip
            if returns:
                metrics["rollout/ep_return"] = float(np.mean(returns))
                metrics["rollout/ep_length"] = float(np.mean(lengths))
            if losses:
                metrics["train/loss"] = float(np.mean(losses))
                metrics["train/q_mean"] = float(np.mean(q_means))
            run.logger.log(step, metrics)
        if config.eval_interval and step % config.eval_interval == 0 and step != config.total_steps:
            metrics = run_eval(step)
            run.logger.log(step, metrics)
            if metrics["eval/mean_return"] > best_eval:
                best_eval = metrics["eval/mean_return"]
                save(step, best=True)
        if config.video_interval and step % config.video_interval == 0:
            video(step)
        if config.checkpoint_interval and step % config.checkpoint_interval == 0:
            save(step)
        run.stop_if_requested(step, save)  # SIGINT / SIGTERM: save this step, then stop
    env.close()
    final = run_eval(config.total_steps)
    run.logger.log(config.total_steps, final)
    save(config.total_steps, best=final["eval/mean_return"] >= best_eval)
    if config.video_interval and config.total_steps % config.video_interval:
        video(config.total_steps)
    return {"total_steps": config.total_steps, "time/sps": (config.total_steps - first + 1) / (time.perf_counter() - start),
            "train/updates": updates, **final}  # fmt: skip


def load_policy(
    checkpoint: dict[str, Any], env: gym.Env, device: str = "cpu", seed: int | None = None
):
    """The evaluation policy of a checkpoint's Q-network, as ``obs -> action``.

    With ``eval_epsilon > 0`` its random actions come from the eval generator of ``seed``
    (default: the run's), as during training.
    """
    from rlkit.config import build_config

    fields = {f: v for f, v in checkpoint["config"].items() if f in Config.__dataclass_fields__}
    config = build_config(Config, fields)
    shape = env.observation_space.shape
    torch_device = torch.device(device)
    q_net = QNetwork(shape, int(env.action_space.n), config, torch.Generator()).to(torch_device)
    q_net.load_state_dict(checkpoint["q_net"])
    q_net.eval()
    rngs = make_rngs(int(checkpoint.get("seed", 0)) if seed is None else seed, seed_globals=False)
    eval_rng = np.random.default_rng(rngs.eval_seed)
    q_fn = module_q_fn(q_net, torch_device)
    return greedy_policy(q_fn, int(env.action_space.n), config.eval_epsilon, eval_rng)
