"""Actor-critic networks: a policy head and a value head over an observation encoder.

``ActorCritic`` (feed-forward): for vector observations two separate MLPs, one for the
policy and one for the value (SB3's default ``MlpPolicy``: 64-64 tanh each); for image
observations one Nature CNN shared by both heads. ``RecurrentActorCritic`` puts the
rlkit ``LSTM`` between the encoder and the heads; its memory is carried through rollouts
and reset at episode starts.

Initialization follows the PPO implementations (``ortho_init``): orthogonal weights with
gain sqrt(2) in hidden layers, 0.01 for the policy head (near-uniform first policy) and
1 for the value head; biases zero. Continuous actions get a state-independent
``log_std`` parameter (one per action dimension).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from rlkit.data.device import use_bf16
from rlkit.distributions import Categorical, DiagGaussian
from rlkit.nn.cnn import NatureCNN
from rlkit.nn.init import init_weights
from rlkit.nn.lstm import LSTM, State
from rlkit.nn.mlp import MLP
from rlkit.nn.normalize import ObsNorm

Distribution = Categorical | DiagGaussian


class _Heads(nn.Module):
    """Policy and value heads over features (shared by both network kinds)."""

    def __init__(
        self,
        pi_features: int,
        vf_features: int,
        n_actions: int | None,
        action_dim: int | None,
        log_std_init: float,
        ortho_init: bool,
        generator: torch.Generator | None,
    ) -> None:
        super().__init__()
        self.discrete = n_actions is not None
        self.policy = nn.Linear(pi_features, n_actions if self.discrete else action_dim)
        self.value = nn.Linear(vf_features, 1)
        if not self.discrete:
            self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))
        scheme = "orthogonal" if ortho_init else "torch"
        init_weights(self.policy, scheme, gain=0.01, generator=generator)
        init_weights(self.value, scheme, gain=1.0, generator=generator)

    def distribution(self, pi_features: torch.Tensor) -> Distribution:
        out = self.policy(pi_features)
        return Categorical(out) if self.discrete else DiagGaussian(out, self.log_std)


def _obs_norm(obs_shape: Sequence[int], normalize_obs: bool, image: bool) -> ObsNorm | None:
    if normalize_obs and image:
        raise ValueError(
            "normalize_obs is for vector observations; image pixels are scaled by the CNN"
        )
    return ObsNorm(obs_shape) if normalize_obs else None


def _action_sizes(n_actions: int | None, action_dim: int | None) -> None:
    if (n_actions is None) == (action_dim is None):
        raise ValueError("give exactly one of n_actions (Discrete) and action_dim (Box)")


class ActorCritic(nn.Module):
    """Observation -> (action distribution, value).

    Args:
        obs_shape: observation shape; 3 dims (C, H, W) selects the Nature CNN.
        n_actions: number of actions (Discrete), or None.
        action_dim: action dimensions (Box), or None.
        net_arch: hidden sizes of each MLP (vector observations).
        activation: hidden activation of the MLPs.
        ortho_init: orthogonal initialization (else PyTorch's default).
        log_std_init: initial log standard deviation (Box actions).
        generator: where initial weights come from.
        precision: ``bf16`` runs the CNN encoder under bfloat16 autocast (its features are
            cast back to float32, so the heads, log-probabilities and values stay float32);
            ``auto`` does so where the hardware computes bfloat16 natively
            (``rlkit.data.device.use_bf16``); ``float32`` never.
        normalize_obs: normalize vector observations with running statistics
            (``self.obs_norm``, an ``ObsNorm``; the training loop updates it).
    """

    def __init__(
        self,
        obs_shape: Sequence[int],
        n_actions: int | None = None,
        action_dim: int | None = None,
        net_arch: Sequence[int] = (64, 64),
        activation: str = "tanh",
        ortho_init: bool = True,
        log_std_init: float = 0.0,
        generator: torch.Generator | None = None,
        precision: str = "float32",
        normalize_obs: bool = False,
    ) -> None:
        super().__init__()
        self.precision = precision
        _action_sizes(n_actions, action_dim)
        self.image = len(obs_shape) == 3
        self.obs_norm = _obs_norm(obs_shape, normalize_obs, self.image)
        scheme = "orthogonal" if ortho_init else "torch"
        if self.image:
            self.encoder = NatureCNN(
                obs_shape[0], 512, frame_size=obs_shape[-1], generator=generator
            )
            if ortho_init:
                init_weights(self.encoder, "orthogonal", gain=math.sqrt(2), generator=generator)
            pi_features = vf_features = 512
            self.pi_net = self.vf_net = None
        else:
            n_in = int(np.prod(obs_shape))
            *hidden, last = net_arch
            self.pi_net = MLP(
                n_in,
                hidden,
                last,
                activation=activation,
                output_activation=activation,
                init=scheme,
                gain=math.sqrt(2),
                generator=generator,
            )
            self.vf_net = MLP(
                n_in,
                hidden,
                last,
                activation=activation,
                output_activation=activation,
                init=scheme,
                gain=math.sqrt(2),
                generator=generator,
            )
            pi_features = vf_features = last
        self.heads = _Heads(
            pi_features, vf_features, n_actions, action_dim, log_std_init, ortho_init, generator
        )

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """CNN features of image observations (float32)."""
        enabled = use_bf16(self.precision, obs.device.type)
        with torch.autocast(obs.device.type, dtype=torch.bfloat16, enabled=enabled):
            return self.encoder(obs).float()

    def forward(self, obs: torch.Tensor) -> tuple[Distribution, torch.Tensor]:
        """``(batch, *obs_shape)`` -> distribution over ``batch`` actions, values ``(batch,)``."""
        if self.image:
            features = self.encode(obs)
            return self.heads.distribution(features), self.heads.value(features).squeeze(-1)
        x = self._vector(obs)
        return (
            self.heads.distribution(self.pi_net(x)),
            self.heads.value(self.vf_net(x)).squeeze(-1),
        )

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """Values only, ``(batch,)``."""
        if self.image:
            return self.heads.value(self.encode(obs)).squeeze(-1)
        return self.heads.value(self.vf_net(self._vector(obs))).squeeze(-1)

    def _vector(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs if self.obs_norm is None else self.obs_norm(obs)
        return x.flatten(1).float()


class RecurrentActorCritic(nn.Module):
    """Observation sequence -> (action distributions, values), with an LSTM memory.

    The encoder (flatten for vectors, Nature CNN for images) feeds an LSTM for the
    policy and, unless ``shared_lstm``, a second LSTM for the value (sb3-contrib's
    default: the value loss then cannot pull the policy's memory around); MLPs of
    ``net_arch`` sit between the LSTMs and each head (``net_arch=()`` puts the heads
    directly on the LSTM outputs). ``normalize_obs`` puts an ``ObsNorm`` in front of
    the encoder (vector observations). With two LSTMs the state ``(h, c)`` holds both,
    concatenated along the hidden dimension, so callers handle one state either way.
    LSTM weights keep PyTorch's initialization (as in sb3-contrib); ``ortho_init``
    applies to the encoder, the MLPs and the heads.
    """

    def __init__(
        self,
        obs_shape: Sequence[int],
        n_actions: int | None = None,
        action_dim: int | None = None,
        lstm_hidden_size: int = 64,
        net_arch: Sequence[int] = (64,),
        activation: str = "tanh",
        ortho_init: bool = True,
        log_std_init: float = 0.0,
        shared_lstm: bool = False,
        generator: torch.Generator | None = None,
        normalize_obs: bool = False,
    ) -> None:
        super().__init__()
        _action_sizes(n_actions, action_dim)
        self.image = len(obs_shape) == 3
        self.obs_norm = _obs_norm(obs_shape, normalize_obs, self.image)
        self.hidden = lstm_hidden_size
        if self.image:
            self.encoder: nn.Module = NatureCNN(
                obs_shape[0], 512, frame_size=obs_shape[-1], generator=generator
            )
            if ortho_init:
                init_weights(self.encoder, "orthogonal", gain=math.sqrt(2), generator=generator)
            n_features = 512
        else:
            self.encoder = nn.Flatten(start_dim=1)
            n_features = int(np.prod(obs_shape))
        self.lstm = LSTM(n_features, lstm_hidden_size)
        self.critic_lstm = None if shared_lstm else LSTM(n_features, lstm_hidden_size)
        bound = 1.0 / math.sqrt(lstm_hidden_size)
        with torch.no_grad():  # PyTorch's LSTM init, drawn from the run's generator
            for lstm in (self.lstm, self.critic_lstm):
                for weight in lstm.parameters() if lstm is not None else ():
                    weight.uniform_(-bound, bound, generator=generator)
        scheme = "orthogonal" if ortho_init else "torch"

        def mlp() -> nn.Module:
            if not net_arch:
                return nn.Identity()
            return MLP(
                lstm_hidden_size,
                net_arch[:-1],
                net_arch[-1],
                activation=activation,
                output_activation=activation,
                init=scheme,
                gain=math.sqrt(2),
                generator=generator,
            )

        self.pi_net, self.vf_net = mlp(), mlp()
        features = net_arch[-1] if net_arch else lstm_hidden_size
        self.heads = _Heads(
            features, features, n_actions, action_dim, log_std_init, ortho_init, generator
        )

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> State:
        """Zero memory for ``batch_size`` environments."""
        h, c = self.lstm.initial_state(batch_size, device)
        if self.critic_lstm is None:
            return h, c
        return torch.cat([h, h], dim=-1), torch.cat([c, c], dim=-1)

    def forward(
        self, obs: torch.Tensor, state: State, episode_starts: torch.Tensor
    ) -> tuple[Distribution, torch.Tensor, State]:
        """``obs`` ``(T, batch, *obs_shape)``, ``episode_starts`` ``(T, batch)`` ->
        distributions and values over ``(T, batch)``, and the state after the last step."""
        steps, batch = obs.shape[:2]
        x = obs.reshape(steps * batch, *obs.shape[2:])
        if self.obs_norm is not None:
            x = self.obs_norm(x)
        x = self.encoder(x if self.image else x.float()).reshape(steps, batch, -1)
        if self.critic_lstm is None:
            pi_out, state = self.lstm(x, state, episode_starts)
            vf_out = pi_out
        else:
            h, c = state
            k = self.hidden
            pi_out, (h_pi, c_pi) = self.lstm(x, (h[..., :k], c[..., :k]), episode_starts)
            vf_out, (h_vf, c_vf) = self.critic_lstm(x, (h[..., k:], c[..., k:]), episode_starts)
            state = (torch.cat([h_pi, h_vf], dim=-1), torch.cat([c_pi, c_vf], dim=-1))
        dist = self.heads.distribution(self.pi_net(pi_out))
        return dist, self.heads.value(self.vf_net(vf_out)).squeeze(-1), state
