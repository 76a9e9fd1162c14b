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

``distributional`` learns the law of the return instead of its mean (``rlkit.distributional``):
``c51`` (Bellemare et al. 2017) predicts probabilities on ``n_atoms`` fixed atoms from
``v_min`` to ``v_max`` and minimizes the cross-entropy to the projected target
``Pi_C(R^(n) + gamma^n (1 - done) z)`` of the next state's distribution under the greedy
(or, with ``double_q``, the online network's greedy) action; ``qr`` (Dabney et al. 2018)
predicts ``n_quantiles`` quantiles and minimizes the quantile Huber loss to the target
samples ``R^(n) + gamma^n (1 - done) theta_j``. Q is the distribution's mean, so acting,
evaluation and the double-Q choice read it as before; dueling heads combine value and
advantage per atom; prioritized replay takes each sample's distributional loss as its
priority (Rainbow).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit import snapshot
from rlkit.config import OptimizerFields, RunFields, require, require_gamma
from rlkit.data import Batch, ReplayBuffer
from rlkit.data.device import use_bf16
from rlkit.distributional import atoms, project_categorical
from rlkit.envs import FirstEnv, describe_space
from rlkit.errors import BadInput
from rlkit.losses import categorical_loss, huber, huber_gradient, quantile_huber_loss
from rlkit.nn import (
    MLP,
    MinAtarCNN,
    NatureCNN,
    NoisyLinear,
    backprop,
    init_weights,
    reset_noise,
)
from rlkit.nn.cnn import small_frames
from rlkit.nn.passes import (
    AutogradQ,
    Loss,
    NumpyHeadsQ,
    QOutputs,
    WrittenOutHeadsQ,
    WrittenOutQ,
)
from rlkit.optim import clip_grad_norm_, load_state, optimizer_from_config, set_learning_rate
from rlkit.periodic import Periodic
from rlkit.resources import Part, parameter_bytes
from rlkit.rundir import Run
from rlkit.schedules import linear_schedule, schedule
from rlkit.seeding import make_rngs
from rlkit.timing import PHASES

ALGO = "dqn"
FITS = (
    "Discrete actions: CartPole-v1, Acrobot-v1, MountainCar-v0, "
    "Atari (PongNoFrameskip-v4, ALE/Pong-v5, ...), MinAtar (MinAtar/Breakout-v1, ...)"
)
RESUMABLE = True
"""Checkpoints carry everything to continue exactly (``rlkit train --resume``)."""


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
    minatar_hidden: int = 128
    """MinAtar's network: units of the linear layer after its convolution (Young & Tian's 128); 0 = none, the heads read the flattened maps (Dopamine's MinAtar networks)."""
    minatar_padding: int = 0
    """MinAtar's network: zero padding of its 3x3 convolution (0: Young & Tian's 8x8 maps; 1: "same", Dopamine's 10x10)."""
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
    distributional: Literal["none", "c51", "qr"] = "none"
    """Learn the return's distribution: c51 (categorical, on n_atoms atoms from v_min to v_max), qr (n_quantiles quantiles), none (its mean, DQN)."""
    n_atoms: int = 51
    """c51: atoms of the categorical support."""
    v_min: float = -10.0
    """c51: lowest atom (returns below it are clipped to it)."""
    v_max: float = 10.0
    """c51: highest atom (returns above it are clipped to it)."""
    n_quantiles: int = 200
    """qr: quantiles predicted per action (sb3-contrib's default)."""
    noisy: bool = False
    """NoisyNet heads (factorised Gaussian, rlkit.nn.NoisyLinear): exploration through the weights, epsilon 0."""
    noisy_sigma0: float = 0.5
    """Initial noise scale of the noisy heads (sigma = sigma0 / sqrt(fan-in))."""
    frame_stack: int = 4
    """Frames per observation (Atari only)."""
    vec_env: Literal["sync", "ale"] = "sync"
    """sync: the Python Atari pipeline (gymnasium and SB3 wrappers); ale: ale-py's C++ env (Atari only)."""
    eval_epsilon: float = 0.0
    """Epsilon of the evaluation policy (a little randomness unsticks some Atari games)."""
    save_replay: bool = False
    """Also checkpoint the replay buffer (large for Atari)."""
    channels_last: bool = False
    """Channels-last memory format for the CNN (Atari)."""
    compile: bool = False
    """torch.compile the Q-network."""
    precision: Literal["auto", "float32", "bf16"] = "float32"
    """bf16: run the Q-network's forward and backward passes under bfloat16 autocast (CNNs); auto: bf16 only where the hardware computes it natively."""
    written_out_backprop: bool = True
    """MLP and MinAtar Q-networks, Rainbow's heads included: backprop written out (rlkit.nn.backprop, rlkit.nn.passes) instead of autograd; same gradients, less overhead."""

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
        require(
            "learning_rate",
            self.learning_rate,
            schedule(self.learning_rate, "learning_rate")(0.0) > 0,
            "a number > 0 or lin_<number > 0>",
        )
        require(
            "learning_starts",
            self.learning_starts,
            0 <= self.learning_starts < self.total_steps,
            f"0 <= learning_starts < total_steps ({self.total_steps})",
        )
        require(
            "batch_size",
            self.batch_size,
            self.batch_size <= self.buffer_size,
            f"at most buffer_size ({self.buffer_size})",
        )
        require("tau", self.tau, 0 < self.tau <= 1, "0 < tau <= 1")
        require("max_grad_norm", self.max_grad_norm, self.max_grad_norm >= 0, "a number >= 0")
        require(
            "net_arch",
            list(self.net_arch),
            len(self.net_arch) >= 1 and min(self.net_arch) >= 1,
            "one or more layer sizes >= 1",
        )
        for key in (
            "exploration_fraction",
            "exploration_initial_eps",
            "exploration_final_eps",
            "eval_epsilon",
        ):
            value = getattr(self, key)
            require(key, value, 0 <= value <= 1, f"0 <= {key} <= 1")
        require("minatar_hidden", self.minatar_hidden, self.minatar_hidden >= 0, "an integer >= 0")
        require("minatar_padding", self.minatar_padding, self.minatar_padding in (0, 1), "0 or 1")
        require("n_atoms", self.n_atoms, self.n_atoms >= 2, "an integer >= 2")
        require("n_quantiles", self.n_quantiles, self.n_quantiles >= 1, "an integer >= 1")
        require(
            "v_max",
            self.v_max,
            self.v_min < self.v_max,
            f"a number above v_min ({self.v_min}): the support must hold the returns",
        )
        require("noisy_sigma0", self.noisy_sigma0, self.noisy_sigma0 > 0, "a number > 0")
        eps = (self.exploration_initial_eps, self.exploration_final_eps)
        require(
            "noisy",
            self.noisy,
            not self.noisy or eps in ((1.0, 0.05), (0.0, 0.0)),
            "false with an epsilon schedule: noisy nets explore through their weights "
            f"(exploration_initial_eps / exploration_final_eps are set to {eps[0]} / {eps[1]})",
        )
        require("priority_alpha", self.priority_alpha, self.priority_alpha >= 0, "a number >= 0")
        require(
            "priority_beta0",
            self.priority_beta0,
            0 <= self.priority_beta0 <= 1,
            "0 <= priority_beta0 <= 1",
        )


# ------------------------------------------------------------------ networks


class QNetwork(nn.Module):
    """Observation -> one Q-value per action: a torso (MLP, Nature CNN, or MinAtar's small
    CNN for frames too small for the Nature CNN, ``small_frames``) and a head.

    A distributional network (``distributional: c51 | qr``) has ``N`` outputs per action
    (``n_atoms`` logits, or ``n_quantiles`` quantiles): ``distribution(obs)`` gives them
    ``(batch, A, N)`` (C51 as log-probabilities), and ``forward`` their means, Q.
    """

    def __init__(
        self, obs_shape: tuple[int, ...], n_actions: int, config: Config, generator: torch.Generator
    ) -> None:
        super().__init__()
        self.image = len(obs_shape) == 3
        if small_frames(obs_shape):  # MinAtar's 10x10 object planes
            self.torso: nn.Module = MinAtarCNN(
                obs_shape[0],
                frame_size=obs_shape[-1],
                features=config.minatar_hidden,
                generator=generator,
                padding=config.minatar_padding,
            )
            features = self.torso.features
        elif self.image:
            self.torso = NatureCNN(obs_shape[0], 512, frame_size=obs_shape[-1], generator=generator)
            features = 512
        else:
            *hidden, features = config.net_arch
            self.torso = MLP(
                int(np.prod(obs_shape)),
                hidden,
                features,
                activation=config.activation,
                output_activation=config.activation,
                init="torch",
                generator=generator,
            )
        self.kind = config.distributional
        self.n_actions = n_actions
        self.n_out = {"none": 1, "c51": config.n_atoms, "qr": config.n_quantiles}[self.kind]
        if self.kind == "c51":
            self.register_buffer(
                "support", atoms(config.v_min, config.v_max, config.n_atoms), persistent=False
            )
        self.dueling, self.noisy = config.dueling, config.noisy

        def head(n_in: int, n_out: int) -> nn.Module:
            if self.noisy:  # (its own initialisation, from the run's generator)
                return NoisyLinear(n_in, n_out, config.noisy_sigma0, generator)
            layer = nn.Linear(n_in, n_out)
            # PyTorch's default init (SB3's for DQN), from the run's generator
            return init_weights(layer, "torch", generator=generator)

        if self.dueling:
            self.value = head(features, self.n_out)
            self.advantage = head(features, n_actions * self.n_out)
        else:
            self.head = head(features, n_actions * self.n_out)

    def layer_chain(self) -> list[nn.Linear] | None:
        """The Linear layers input to output, for a plain MLP Q-network or MinAtar's
        network after its convolution (``conv_input``), else None; a QR network's last
        layer gives ``n_out`` quantiles per action."""
        if self.dueling or self.noisy or self.kind == "c51":
            return None
        torso = self.torso_chain()
        return None if torso is None else [*torso, self.head]

    def torso_chain(self) -> list[nn.Linear] | None:
        """The torso's Linear layers (each followed by the activation) for an MLP torso or
        MinAtar's network after its convolution (possibly none), else None (Nature CNN)."""
        if isinstance(self.torso, MinAtarCNN):
            return self.torso.linears()
        return None if self.image else list(self.torso.linears)

    def heads(self) -> list[nn.Module]:
        """The output layers: ``[head]``, or ``[value, advantage]`` for a dueling network."""
        return [self.value, self.advantage] if self.dueling else [self.head]

    def conv_input(self) -> nn.Conv2d | None:
        """The convolution in front of ``layer_chain`` (MinAtar's network), else None."""
        return self.torso.convs[0] if isinstance(self.torso, MinAtarCNN) else None

    def distribution(self, obs: torch.Tensor) -> torch.Tensor:
        """``(batch, *obs_shape)`` -> ``(batch, A, N)``: C51 log-probabilities, QR quantiles
        (``N = 1``, Q itself, for a plain network)."""
        x = obs if self.image else obs.flatten(1).float()
        features = self.torso(x)
        if self.dueling:
            value = self.value(features).unsqueeze(1)  # (batch, 1, N)
            advantage = self.advantage(features).unflatten(1, (self.n_actions, self.n_out))
            out = dueling_q(value, advantage)
        else:
            out = self.head(features).unflatten(1, (self.n_actions, self.n_out))
        return out.float().log_softmax(dim=-1) if self.kind == "c51" else out

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """``(batch, *obs_shape)`` -> ``(batch, n_actions)``: Q, the mean of the return."""
        out = self.distribution(obs)
        if self.kind == "c51":
            return out.exp() @ self.support
        return out.mean(dim=-1) if self.kind == "qr" else out.squeeze(-1)


def dueling_q(value: torch.Tensor, advantage: torch.Tensor) -> torch.Tensor:
    """Q = V + A - mean_a A: (batch, 1, ...) and (batch, A, ...) -> (batch, A, ...)
    (Wang et al. 2016; per atom or quantile for a distributional network)."""
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
    """Exploration rate after ``step`` env steps (linear, then flat; 0 with noisy nets)."""
    if config.noisy:
        return 0.0
    return linear_schedule(
        config.exploration_initial_eps,
        config.exploration_final_eps,
        config.exploration_fraction,
        step / config.total_steps,
    )


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
    """The regression targets of a batch: (batch,), or for a distributional network the
    target distribution ``(batch, N)`` (``distributional_targets``)."""
    if getattr(target_net, "kind", "none") != "none":
        return distributional_targets(q_net, target_net, batch, double_q)
    next_q_target = target_net(batch.next_obs)
    if double_q:
        return double_q_target(
            batch.rewards, q_net(batch.next_obs), next_q_target, batch.dones, batch.discounts
        )
    return td_target(batch.rewards, next_q_target, batch.dones, batch.discounts)


@torch.no_grad()
def distributional_targets(
    q_net: nn.Module, target_net: nn.Module, batch: Batch, double_q: bool
) -> torch.Tensor:
    """The target distribution of each sample: the target network's distribution at the
    next state under the greedy action (of the online network's Q with ``double_q``, else
    of the target's), shifted and scaled by ``R^(n) + gamma^n (1 - done) x``: C51's
    projected onto the support ``(batch, n_atoms)``, QR's quantiles as target samples
    ``(batch, n_quantiles)``."""
    dist = target_net.distribution(batch.next_obs).float()  # (batch, A, N)
    c51 = target_net.kind == "c51"
    chooser = q_net(batch.next_obs) if double_q else None
    if chooser is None:  # the target network's own means
        chooser = dist.exp() @ target_net.support if c51 else dist.mean(dim=-1)
    chosen = dist[torch.arange(len(dist)), chooser.argmax(dim=1)]  # (batch, N)
    scale = (batch.discounts * (1.0 - batch.dones)).float()[:, None]
    shift = batch.rewards.float()[:, None]
    if not c51:  # QR: the target samples
        return shift + scale * chosen
    support = target_net.support
    return project_categorical(
        shift + scale * support, chosen.exp(), float(support[0]), float(support[-1]), len(support)
    )


def dqn_loss(
    out: QOutputs, targets: torch.Tensor, weights: torch.Tensor | None, with_value: bool = True
) -> Loss:
    """(Weighted) Huber loss of the taken actions' Q against the Bellman targets.

    ``L = mean(w huber(Q(s, a) - y))`` (``w = 1`` without prioritized replay); its gradient
    ``dL/dQ = w clamp(Q - y, -1, 1) / B``. The value is computed only ``with_value`` (a
    written-out pass needs just the gradient). ``parts`` holds the TD errors (for the
    priorities) and the Q values.
    """
    q, targets = out.q, targets.float()
    with torch.no_grad():
        td_errors = q.detach() - targets
        grad = huber_gradient(q.detach(), targets).div_(len(q))  # d mean-huber / d q
        if weights is not None:
            grad.mul_(weights)
    value = None
    if with_value:
        per_sample = huber(q, targets, reduction="none")
        value = (per_sample * weights).mean() if weights is not None else per_sample.mean()
    return Loss(value, {"td_errors": td_errors, "q": q.detach()}, {"q": grad})


# ------------------------------------------------------------------ checks


def check_env(env: gym.Env, config: Config) -> None:
    """Discrete actions and Box observations."""
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise BadInput(
            f"dqn needs a Discrete action space, got {describe_space(env.action_space)}; try ppo"
        )
    if not isinstance(env.observation_space, gym.spaces.Box):
        raise BadInput(f"dqn needs Box observations, got {describe_space(env.observation_space)}")


def frame_stack_of(env: gym.Env) -> int:
    """Frames stacked in an observation (the replay stores each frame once): an Atari
    game's stack, 1 for anything else (MinAtar's channels are object planes, not frames)."""
    from rlkit.envs.atari import is_atari

    shape = env.observation_space.shape
    spec = getattr(env, "spec", None)
    atari = spec is not None and is_atari(spec.id) or isinstance(env, FirstEnv)
    return shape[0] if len(shape) == 3 and atari else 1


def memory_bytes(env: gym.Env, config: Config) -> dict[str, Part]:
    """The replay buffer (frames stored once) and the two Q-networks with the online one's
    gradients and Adam moments (``rlkit.resources``)."""
    shape = env.observation_space.shape
    stack = frame_stack_of(env)
    replay = ReplayBuffer.estimate_bytes(
        config.buffer_size,
        shape,
        env.observation_space.dtype,
        stack=stack,
        prioritized=config.prioritized,
    )
    n_actions = int(env.action_space.n)
    networks = parameter_bytes(lambda: QNetwork(shape, n_actions, config, None), copies=5)
    return {
        "replay buffer": (replay, "lower buffer_size"),
        "networks": (networks, "lower net_arch"),
    }


def check_resume(checkpoint: dict[str, Any], path: Any) -> None:
    """A DQN run continues exactly only from a checkpoint that holds its replay buffer."""
    if "replay" not in checkpoint:
        raise BadInput(
            f"{path} was saved without its replay buffer (save_replay: false, the default "
            "for image observations); the run cannot continue exactly: train it with "
            "save_replay=true to continue it later"
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

    def act(obs: Any) -> int:
        if epsilon > 0 and rng is not None and rng.random() < epsilon:
            return int(rng.integers(n_actions))
        return int(q_fn(obs).argmax())

    return act


def quantile_means(q_fn: Any, n_quantiles: int):
    """``q_fn`` giving ``A * n_quantiles`` outputs -> Q of each action, the quantiles' mean."""

    def q(obs: Any) -> Any:
        out = q_fn(obs)
        # a sum and a division: numpy's mean is the same arithmetic behind a Python layer
        # (7 us of an acting step's 20 for CartPole's QR network)
        return out.reshape(*out.shape[:-1], -1, n_quantiles).sum(-1) / n_quantiles

    return q


def acts_in_bf16(config: Config, device_type: str, image: bool) -> bool:
    """Whether acting on one observation runs under bf16 autocast: where the updates do
    (``precision``), but not on the CPU, where casting the weights for a batch of one costs
    more than it saves (Nature CNN, 2 cores: 0.6 ms float32 against 1.0 ms bf16 a call;
    even with the casts kept from one act to the next until an update, 0.79 ms float32
    against 0.77 ms bf16 on average between emulator steps, the first act after each update
    casting from memory). Training and a checkpoint's evaluation both ask it."""
    bf16 = use_bf16(config.precision, device_type) and (image or config.precision == "bf16")
    return bf16 and device_type != "cpu"


def module_q_fn(q_net: nn.Module, device: torch.device, autocast: Any = None):
    """Q of one observation through ``q_net`` (a batch of one on ``device``)."""

    @torch.no_grad()
    def q_fn(obs: Any) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(obs)[None], device=device)
        if autocast is None:
            return q_net(x)[0]
        with autocast:
            return q_net(x)[0]

    return q_fn


def mean_q_fn(q_net: nn.Module, q_fn: Any):
    """``q_fn`` with a noisy network's mean weights (eval mode for the call): how it is
    evaluated, in training and by ``rlkit eval`` alike."""

    def mean_q(obs: Any) -> torch.Tensor:
        q_net.train(False)
        try:
            return q_fn(obs)
        finally:
            q_net.train(True)

    return mean_q


def batches(
    buffer: ReplayBuffer,
    q_net: nn.Module,
    target_net: nn.Module,
    config: Config,
    rng: np.random.Generator,
    beta: float,
):
    """The ``gradient_steps`` minibatches of one learning phase, with their targets.

    The target network does not change within a phase, so with uniform replay and
    plain (not double) targets all minibatches are drawn at once and their targets
    computed in one forward pass; otherwise each is drawn (and valued) in turn, after
    the previous update.
    """
    size = config.batch_size
    if config.prioritized or config.double_q:
        for _ in range(config.gradient_steps):
            with PHASES("sample"):
                batch = buffer.sample(size, rng, beta=beta)
            with PHASES("target"):
                targets = bellman_targets(q_net, target_net, batch, config.double_q)
            yield batch, targets
        return
    with PHASES("sample"):
        big = buffer.sample(size * config.gradient_steps, rng)
    # valued in chunks of ~2048 rows: one 8192-row pass was 4x slower here (its
    # 8 MB activations fall out of cache)
    chunk = max(size, 2048 // size * size)
    with PHASES("target"):
        targets = torch.cat(
            [
                bellman_targets(q_net, target_net, big[i : i + chunk], False)
                for i in range(0, size * config.gradient_steps, chunk)
            ]
        )
    for i in range(0, size * config.gradient_steps, size):
        yield big[i : i + size], targets[i : i + size]


class QPolicy:
    """A trained Q-network as a policy.

    ``policy(obs)`` is one evaluation step: the greedy action, or with probability
    ``epsilon`` (``eval_epsilon``) a uniform one from the policy's generator. ``predict``
    acts on a batch; without ``deterministic`` it explores with ``explore_epsilon``.
    ``q_one`` values one observation (numpy on the parameters' views during training).
    """

    def __init__(
        self,
        q_net: nn.Module,
        device: torch.device,
        n_actions: int,
        epsilon: float,
        explore_epsilon: float,
        rng: np.random.Generator,
        q_one: Any = None,
    ) -> None:
        self.module, self.device, self.n_actions = q_net, device, n_actions
        self.epsilon, self.explore_epsilon, self.rng = epsilon, explore_epsilon, rng
        self.act = greedy_policy(q_one or module_q_fn(q_net, device), n_actions, epsilon, rng)

    def __call__(self, obs: Any) -> int:
        """The action for one observation."""
        return self.act(obs)

    @torch.no_grad()
    def predict(
        self,
        obs: np.ndarray,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:
        """Greedy actions for a batch (epsilon-greedy unless ``deterministic``)."""
        actions = self.module(torch.as_tensor(obs, device=self.device)).argmax(dim=1).cpu().numpy()
        if not deterministic:
            explore = self.rng.random(len(actions)) < self.explore_epsilon
            actions[explore] = self.rng.integers(self.n_actions, size=int(explore.sum()))
        return actions, None


@dataclass
class State:
    """What DQN carries from step to step, and its checkpoint holds: both networks, the
    optimizer, the replay buffer (with ``keep_replay``), the env and its last observation,
    the counters and the recent losses and Q values (for the logged means)."""

    q_net: QNetwork
    target_net: QNetwork
    optimizer: torch.optim.Optimizer
    buffer: ReplayBuffer
    env: gym.Env
    keep_replay: bool
    """Vector observations always (small), Atari frames only with ``save_replay``."""
    obs: Any = None
    updates: int = 0
    synced_at: int = 0
    """``updates`` when the target network was last synced."""
    losses: deque = field(default_factory=lambda: deque(maxlen=100))
    q_means: deque = field(default_factory=lambda: deque(maxlen=100))

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint data (see the class doc)."""
        state = {
            "q_net": self.q_net.state_dict(),
            "target_net": self.target_net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "updates": self.updates,
            "loop": {
                "obs": snapshot.encode(self.obs),
                "env": snapshot.env_state(self.env),
                "synced_at": self.synced_at,
                "losses": list(self.losses),
                "q_means": list(self.q_means),
            },
        }
        if self.keep_replay:
            state["replay"] = self.buffer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back ``state_dict``."""
        self.q_net.load_state_dict(state["q_net"])
        self.target_net.load_state_dict(state["target_net"])
        load_state(self.optimizer, state["optimizer"])  # (also from before a pass was written out)
        self.buffer.load_state_dict(state["replay"])
        self.updates = int(state["updates"])
        loop = state["loop"]
        self.obs = snapshot.decode(loop["obs"])
        snapshot.load_env_state(self.env, loop["env"])
        self.synced_at = int(loop["synced_at"])
        if getattr(self.env, "fresh_on_resume", False):  # games whose state is out of reach
            self.obs = self.env.restart()
        self.losses.extend(loop["losses"])
        self.q_means.extend(loop["q_means"])


def q_model(
    q_net: QNetwork, config: Config, bf16: bool = False
) -> AutogradQ | WrittenOutQ | WrittenOutHeadsQ:
    """The Q-network's pass: backprop written out for a float32 MLP or MinAtar's network
    (``WrittenOutQ`` for a plain one, ``WrittenOutHeadsQ`` with dueling or noisy heads or
    C51's atoms), else autograd (through ``torch.compile`` with ``compile: true``;
    ``bf16``: the run computes under bf16 autocast, which only autograd's modules follow)."""
    layers, conv = q_net.layer_chain(), q_net.conv_input()
    activation = "relu" if conv is not None else config.activation  # (MinAtar's is ReLU)
    written_out = (
        config.written_out_backprop
        and not config.compile
        and config.precision != "bf16"
        and not bf16
        and activation in backprop.ACTIVATIONS
    )
    if written_out and layers is not None:
        return WrittenOutQ(layers, q_net, activation, q_net.n_out, conv)
    torso = q_net.torso_chain()
    if written_out and torso is not None:  # Rainbow's heads on an MLP or MinAtar's network
        return WrittenOutHeadsQ(
            torso,
            q_net.heads(),
            q_net,
            activation,
            q_net.n_actions,
            q_net.n_out,
            log_softmax=q_net.kind == "c51",
            conv=conv,
        )
    if config.distributional != "none":  # the pass gives the taken actions' distributions
        forward = q_net.distribution
        return AutogradQ(q_net, torch.compile(forward) if config.compile else forward)
    return AutogradQ(q_net, torch.compile(q_net) if config.compile else None)


def loss_of(
    config: Config, q_net: QNetwork, out: QOutputs, targets: torch.Tensor, weights: Any, value: bool
) -> Loss:
    """The agent's loss: Huber on Q (``dqn_loss``), C51's cross-entropy or QR's quantile
    Huber loss, per ``distributional``."""
    if config.distributional == "c51":
        return categorical_loss(out, targets, weights, q_net.support)
    if config.distributional == "qr":
        return quantile_huber_loss(out, targets, weights, with_value=value)
    return dqn_loss(out, targets, weights, with_value=value)


def train(config: Config, run: Run) -> dict[str, Any]:
    """Train for ``total_steps`` env steps; evaluate, log and checkpoint along the way."""
    # set-up: env, networks and their pass, optimizer, replay buffer
    rng = run.rngs.numpy
    if config.vec_env == "ale":  # ale-py's C++ Atari env, one game, seen as a plain env
        env = FirstEnv(run.make_vector_env(1, "ale", train=True, frame_stack=config.frame_stack))
    else:
        env = run.make_env(seed=run.rngs.env_seed, train=True, frame_stack=config.frame_stack)
    shape = env.observation_space.shape
    image = len(shape) == 3
    n_actions = int(env.action_space.n)
    q_net, target_net = make_networks(env, config, run)
    bf16 = use_bf16(config.precision, run.device.type) and (image or config.precision == "bf16")
    autocast = torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=bf16)
    model = q_model(q_net, config, bf16)
    learning_rate = schedule(config.learning_rate, "learning_rate")
    optimizer = optimizer_from_config(config, model.parameters(), lr=learning_rate(0.0))
    # acting, one observation at a time: numpy on views of the parameters for a plain
    # MLP on the CPU (no per-step tensor overhead), else the module itself
    numpy_acting = (
        model.written_out and run.device.type == "cpu" and model.activation in ("relu", "tanh")
    )
    if numpy_acting and isinstance(model, WrittenOutQ):
        conv = model.conv.conv if model.conv is not None else None
        q_values = backprop.NumpyForward(model.layers, model.activation, conv, shape)
        if q_net.n_out > 1:  # QR: Q is the mean of each action's quantiles
            q_values = quantile_means(q_values, q_net.n_out)
    elif numpy_acting and isinstance(model, WrittenOutHeadsQ):
        support = q_net.support if q_net.kind == "c51" else None
        q_values = NumpyHeadsQ(model, shape, support)
    else:
        forward = getattr(model, "forward", q_net) if config.distributional == "none" else q_net
        act_autocast = autocast if acts_in_bf16(config, run.device.type, image) else None
        q_values = module_q_fn(forward, run.device, act_autocast)
    greedy_action = greedy_policy(q_values, n_actions)
    buffer = ReplayBuffer(
        config.buffer_size,
        shape,
        env.observation_space.dtype,
        stack=frame_stack_of(env),
        n_step=config.n_step,
        gamma=config.gamma,
        prioritized=config.prioritized,
        alpha=config.priority_alpha,
        device=run.device,
    )
    state = State(q_net, target_net, optimizer, buffer, env, config.save_replay or not image)

    def eval_policy() -> QPolicy:
        eval_rng = np.random.default_rng(run.rngs.eval_seed)
        return QPolicy(
            q_net,
            run.device,
            n_actions,
            config.eval_epsilon,
            config.exploration_final_eps,
            eval_rng,
            mean_q_fn(q_net, q_values) if config.noisy else q_values,
        )

    periodic = Periodic(config, run, eval_policy, state, config.frame_stack, q_net.named_parameters)
    state.obs, _ = env.reset(seed=run.rngs.env_seed)
    first = periodic.restore() + 1  # 1, or the step after a resumed run's checkpoint
    for step in range(first, config.total_steps + 1):
        # act: epsilon-greedy
        with PHASES("act"):
            epsilon = epsilon_at(config, step)
            if config.noisy:  # new noise for every acting step (Fortunato et al. 2018)
                reset_noise(q_net, run.rngs.torch)
            action = (
                int(rng.integers(n_actions)) if rng.random() < epsilon else greedy_action(state.obs)
            )
        with PHASES("env"):
            next_obs, reward, terminated, truncated, info = env.step(action)
        # store
        with PHASES("store"):
            buffer.add(state.obs, action, reward, terminated, truncated, next_obs)
            periodic.stats.record(info)  # a whole episode (a whole game on Atari) ended
        if terminated or truncated:
            with PHASES("env"):
                next_obs = env.reset()[0]
        state.obs = next_obs
        # learn
        if step > config.learning_starts and step % config.train_freq == 0:
            beta = linear_schedule(config.priority_beta0, 1.0, 1.0, step / config.total_steps)
            set_learning_rate(optimizer, learning_rate(step / config.total_steps))
            with autocast:  # a no-op unless bf16 (precision bf16, or auto on native hardware)
                phase = batches(buffer, q_net, target_net, config, rng, beta)
                if config.noisy:  # the targets' noise (once per learning phase)
                    reset_noise(target_net, run.rngs.torch)
                for g, (batch, targets) in enumerate(phase):
                    with PHASES("update"):
                        if config.noisy:  # the online network's noise for this gradient step
                            reset_noise(q_net, run.rngs.torch)
                        weights = batch.weights if config.prioritized else None
                        last = g == config.gradient_steps - 1  # only the last one is logged
                        out = model(batch.obs, batch.actions)
                        with_value = last or not model.written_out
                        loss = loss_of(config, q_net, out, targets, weights, with_value)
                        model.backward(loss)
                        if config.max_grad_norm > 0:
                            clip_grad_norm_(model.parameters(), config.max_grad_norm)
                        optimizer.step()
                        if bf16:  # autocast's copies of the old weights would serve the next pass
                            torch.clear_autocast_cache()
                    if config.prioritized:
                        with PHASES("sample"):  # the replay's bookkeeping
                            buffer.update_priorities(batch.indices, loss.parts["td_errors"])
                    state.updates += 1
            state.losses.append(float(loss.value.detach()))
            state.q_means.append(float(loss.parts["q"].mean()))
            if not math.isfinite(state.losses[-1]):  # the NaN guard: stop before anything is saved
                periodic.guard(step, {"train/loss": state.losses[-1]})
        # sync the target network
        # (a hard copy is skipped when nothing was learned since the last one: it would change nothing)
        if step % config.target_update_interval == 0 and (
            config.tau < 1 or state.updates != state.synced_at
        ):
            with PHASES("sync"):
                update_target(q_net, target_net, config.tau)
            state.synced_at = state.updates
        # log, evaluate, checkpoint
        metrics = None
        if periodic.log_due(step - 1, step):
            periodic.guard(step)
            metrics = {"train/epsilon": epsilon, "train/updates": state.updates}
            if state.losses:
                metrics["train/loss"] = float(np.mean(state.losses))
                metrics["train/q_mean"] = float(np.mean(state.q_means))
        periodic.after(step - 1, step, metrics)
    env.close()
    return periodic.finish(config.total_steps, {"train/updates": state.updates})


def load_policy(
    checkpoint: dict[str, Any], env: gym.Env, device: str = "cpu", seed: int | None = None
) -> QPolicy:
    """The policy of a checkpoint's Q-network.

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
    autocast = None  # acting computes as it did in training's evaluations
    if acts_in_bf16(config, torch_device.type, len(shape) == 3):
        autocast = torch.autocast(torch_device.type, dtype=torch.bfloat16)
    return QPolicy(
        q_net,
        torch_device,
        int(env.action_space.n),
        config.eval_epsilon,
        config.exploration_final_eps,
        np.random.default_rng(rngs.eval_seed),
        module_q_fn(q_net, torch_device, autocast) if autocast is not None else None,
    )
