"""A network's forward and backward pass behind one interface, chosen once at set-up.

An agent's update reads as autograd would, whichever pass it runs on::

    model = policy_model(net, config.activation, config.written_out_backprop)
    optimizer = optimizer_from_config(config, model.parameters(), lr=...)
    ...
    out = model(batch.obs, batch.actions)      # PolicyOutputs: log_probs, values, entropy
    loss = ppo_loss(out, batch, clip, config)  # Loss: value, parts to log, grads
    model.backward(loss)                       # sets every parameter's .grad (no accumulating)
    optimizer.step()

* ``AutogradPolicy`` / ``AutogradQ`` work for any network: ``backward`` clears the
  gradients and runs ``loss.value.backward()``.
* ``WrittenOutPolicy`` / ``WrittenOutQ`` are for MLPs with a supported activation (the
  classic-control networks, where autograd's bookkeeping costs more than the arithmetic on
  a CPU): the forward pass keeps each layer's output (``rlkit.nn.backprop.forward``) and
  ``backward`` takes ``loss.grads``, the gradient of the loss with respect to each output
  of the forward pass, through the written-out backpropagation equations
  (``rlkit.nn.backprop.backward``). All parameters live in one flat buffer, so the
  optimizer and the gradient clipping touch one tensor.

Each agent's loss function returns a ``Loss`` whose ``grads`` it computes from the same
terms as its ``value``: one definition per loss. ``tests/rlkit/test_passes.py`` and the
agents' tests check ``grads`` against autograd of ``value``, and the written-out
parameter gradients against autograd's.

With ``p = softmax(z)`` (Discrete) or a mean ``mu`` and ``s = log std`` (Box):

* ``dlog pi/dz = onehot(a) - p``; ``dlog pi/dmu = (a - mu) / sigma^2``;
  ``dlog pi/ds = ((a - mu) / sigma)^2 - 1``;
* ``dH/dz = -p (log p + H)``; ``dH/ds = 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import nn

from rlkit.distributions import HALF_LOG_2PI
from rlkit.nn import backprop


@dataclass
class Loss:
    """What a loss function returns."""

    value: torch.Tensor | None
    """The scalar to minimize (None when the caller asked only for the gradient)."""
    parts: dict[str, torch.Tensor] = field(default_factory=dict)
    """Detached pieces for logging (``policy_loss``, ``entropy``, ...)."""
    grads: dict[str, torch.Tensor] = field(default_factory=dict)
    """``d value / d output`` for each output of the forward pass, one entry per sample."""


class PolicyOutputs(NamedTuple):
    """An actor-critic's outputs for a batch of (observation, action): each ``(batch,)``."""

    log_probs: torch.Tensor
    values: torch.Tensor
    entropy: torch.Tensor


class QOutputs(NamedTuple):
    """A Q-network's value of the taken actions: ``(batch,)``, or ``(batch, N)`` for a
    distributional network (C51 log-probabilities, QR quantiles)."""

    q: torch.Tensor


def _autograd_backward(parameters: list[nn.Parameter], loss: Loss) -> None:
    """Replace the parameters' gradients with those of ``loss.value``."""
    if loss.value is None:
        raise ValueError("an autograd pass needs the loss value; ask the loss function for it")
    for p in parameters:
        p.grad = None
    loss.value.backward()


class AutogradPolicy:
    """An ``ActorCritic``'s pass through autograd (any encoder, any activation)."""

    written_out = False

    def __init__(self, net: nn.Module) -> None:
        self.net = net
        self._params = list(net.parameters())

    def parameters(self) -> list[nn.Parameter]:
        """What the optimizer updates."""
        return self._params

    def __call__(self, obs: torch.Tensor, actions: torch.Tensor) -> PolicyOutputs:
        """Log-probabilities of ``actions``, values and entropies of ``obs``."""
        dist, values = self.net(obs)
        return PolicyOutputs(dist.log_prob(actions), values, dist.entropy())

    def backward(self, loss: Loss) -> None:
        """Set every parameter's gradient to that of ``loss.value``."""
        _autograd_backward(self._params, loss)


class WrittenOutPolicy:
    """An MLP ``ActorCritic``'s pass with backpropagation written out (see the module doc).

    With ``group`` (``G`` networks of one architecture, ``net`` first) it is the pass of
    all of them at once: their parameters become the rows of one ``(G, P)`` buffer
    (``rlkit.nn.backprop.stack_parameters``; each network's parameters stay views of its
    row, so each network always holds its current weights), inputs and outputs gain a
    leading ``G`` dimension and the loss's ``grads`` are ``(G, batch)``. Networks with
    ``obs_norm`` do not group (each would need its own statistics).
    """

    written_out = True

    def __init__(self, net: nn.Module, activation: str, group: Sequence[nn.Module] = ()) -> None:
        self.net, self.activation = net, activation
        self.pi_layers = [*net.pi_net.linears, net.heads.policy]
        self.vf_layers = [*net.vf_net.linears, net.heads.value]
        self.log_std = None if net.heads.discrete else net.heads.log_std
        self.grouped = bool(group)
        if group:  # G copies: one (G, P) buffer, inputs (G, batch, ...) (see the class doc)
            if group[0] is not net:
                raise ValueError("a group's first network is the one the pass is built on")
            if any(getattr(n, "obs_norm", None) is not None for n in group):
                raise ValueError("networks with obs_norm cannot be grouped")
            self.flat, offsets = backprop.stack_parameters(group)
            self.pi_layers = backprop.stacked_layers(self.flat, offsets, self.pi_layers)
            self.vf_layers = backprop.stacked_layers(self.flat, offsets, self.vf_layers)
            if self.log_std is not None:
                self.log_std = backprop.stacked_view(
                    self.flat, offsets[id(self.log_std)], self.log_std.shape
                )
        else:  # every parameter becomes a view of one flat buffer (and each .grad of its .grad)
            self.flat = backprop.flatten_parameters(net)
        self._saved: dict[str, Any] = {}

    def parameters(self) -> list[nn.Parameter]:
        """What the optimizer updates: the one flat buffer."""
        return [self.flat]

    def __call__(self, obs: torch.Tensor, actions: torch.Tensor) -> PolicyOutputs:
        """The outputs, keeping what ``backward`` needs."""
        pi_out, vf_out, out, values = self._forward(obs)
        saved: dict[str, Any] = {"pi_out": pi_out, "vf_out": vf_out}
        if self.log_std is None:
            log_p = out - torch.logsumexp(out, dim=-1, keepdim=True)
            p = log_p.exp()
            column = actions.long().unsqueeze(-1)
            log_probs = log_p.gather(-1, column).squeeze(-1)
            entropy = -(p * log_p).sum(dim=-1)
            saved.update(log_p=log_p, p=p, column=column, entropy=entropy)
        else:
            log_std = self.log_std.detach().unsqueeze(-2)  # (1, dim), or (G, 1, dim)
            inv_std = torch.exp(-log_std)
            z = (actions - out) * inv_std
            log_probs = (-0.5 * z.square() - log_std - HALF_LOG_2PI).sum(dim=-1)
            entropy = (0.5 + HALF_LOG_2PI + log_std).sum(dim=-1).expand_as(values)
            saved.update(z=z, inv_std=inv_std)
        self._saved = saved
        return PolicyOutputs(log_probs, values, entropy)

    def _input(self, obs: torch.Tensor) -> torch.Tensor:
        if getattr(self.net, "obs_norm", None) is not None:
            obs = self.net.obs_norm(obs)
        x = obs if obs.dtype == torch.float32 else obs.float()
        return x.flatten(2 if self.grouped else 1)

    def _forward(self, obs: torch.Tensor) -> tuple[list, list, torch.Tensor, torch.Tensor]:
        x = self._input(obs)
        pi_out = backprop.forward(self.pi_layers, self.activation, x)
        vf_out = backprop.forward(self.vf_layers, self.activation, x)
        return pi_out, vf_out, pi_out[-1], vf_out[-1][..., 0]

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits or means, values)`` of a batch (or ``G`` stacked batches), nothing kept."""
        _, _, out, values = self._forward(obs)
        return out, values

    @torch.no_grad()
    def values(self, obs: torch.Tensor) -> torch.Tensor:
        """``V(obs)`` of a batch (or ``G`` stacked batches)."""
        return backprop.forward(self.vf_layers, self.activation, self._input(obs))[-1][..., 0]

    def backward(self, loss: Loss) -> None:
        """Set every parameter's gradient (overwriting) from ``loss.grads`` of the last call."""
        s = self._saved
        d_log_prob = loss.grads["log_probs"].unsqueeze(-1)  # (batch, 1)
        d_entropy = loss.grads.get("entropy")
        if self.log_std is None:
            p = s["p"]
            grad_out = torch.zeros_like(p).scatter_(-1, s["column"], 1.0).sub_(p).mul_(d_log_prob)
            if d_entropy is not None:
                grad_out.sub_(
                    p * (s["log_p"] + s["entropy"].unsqueeze(-1)) * d_entropy.unsqueeze(-1)
                )
        else:
            z = s["z"]
            grad_out = (z * s["inv_std"]).mul_(d_log_prob)
            log_std_grad = (d_log_prob * (z.square() - 1.0)).sum(dim=-2)
            if d_entropy is not None:
                log_std_grad += d_entropy.sum(dim=-1, keepdim=True)
            self.log_std.grad.copy_(log_std_grad)
        backprop.backward(self.pi_layers, self.activation, s["pi_out"], grad_out)
        backprop.backward(
            self.vf_layers, self.activation, s["vf_out"], loss.grads["values"].unsqueeze(-1)
        )


def policy_model(
    net: nn.Module, activation: str, written_out: bool
) -> AutogradPolicy | WrittenOutPolicy:
    """The pass for an ``ActorCritic``: written out when asked and the net is an MLP with a
    supported activation, else autograd."""
    if written_out and not net.image and activation in backprop.ACTIVATIONS:
        return WrittenOutPolicy(net, activation)
    return AutogradPolicy(net)


class AutogradQ:
    """A Q-network's pass through autograd (``forward`` may be a compiled copy of it)."""

    written_out = False

    def __init__(self, q_net: nn.Module, forward: Any = None) -> None:
        self.q_net, self.forward = q_net, forward if forward is not None else q_net
        self._params = list(q_net.parameters())

    def parameters(self) -> list[nn.Parameter]:
        """What the optimizer updates."""
        return self._params

    def __call__(self, obs: torch.Tensor, actions: torch.Tensor) -> QOutputs:
        """Q (or the return distribution) of the taken actions (float32 even under bf16
        autocast)."""
        out = self.forward(obs)  # (batch, A), or (batch, A, N) for a return distribution
        index = actions.view(-1, 1, *([1] * (out.dim() - 2))).expand(-1, 1, *out.shape[2:])
        return QOutputs(out.gather(1, index).squeeze(1).float())

    def backward(self, loss: Loss) -> None:
        """Set every parameter's gradient to that of ``loss.value``."""
        _autograd_backward(self._params, loss)


class WrittenOutQ:
    """A plain MLP Q-network's pass with backpropagation written out, or with ``conv`` a
    convolution in front of the MLP (MinAtar's network, ``backprop.ConvInput``).

    With ``n_out`` > 1 (QR-DQN's quantiles) the last layer's ``A * n_out`` outputs are
    ``n_out`` per action, and the pass gives the taken action's ``(batch, n_out)``."""

    written_out = True

    def __init__(
        self,
        layers: list[nn.Linear],
        q_net: nn.Module,
        activation: str,
        n_out: int = 1,
        conv: nn.Conv2d | None = None,
    ) -> None:
        self.layers, self.activation, self.n_out = layers, activation, n_out
        self.flat = backprop.flatten_parameters(q_net)
        self.conv = None if conv is None else backprop.ConvInput(conv, activation)
        self._saved: dict[str, Any] = {}

    def parameters(self) -> list[nn.Parameter]:
        """What the optimizer updates: the one flat buffer."""
        return [self.flat]

    def __call__(self, obs: torch.Tensor, actions: torch.Tensor) -> QOutputs:
        """Q (or the quantiles) of the taken actions, keeping every layer's output for
        ``backward``."""
        maps = None
        if self.conv is not None:  # (batch, C, H, W) planes through the convolution first
            planes = obs.float()
            maps = self.conv.forward(planes)
            x = maps.flatten(1)
        else:
            x = obs if obs.dim() == 2 and obs.dtype == torch.float32 else obs.flatten(1).float()
        outputs = backprop.forward(self.layers, self.activation, x)
        out = outputs[-1].view(len(x), -1, self.n_out)  # (batch, A, n_out)
        index = actions.view(-1, 1, 1).expand(-1, 1, self.n_out)
        self._saved = {"outputs": outputs, "index": index}
        if maps is not None:
            self._saved.update(planes=planes, maps=maps)
        q = out.gather(1, index).squeeze(1)
        return QOutputs(q if self.n_out > 1 else q.squeeze(1))

    def backward(self, loss: Loss) -> None:
        """Set every parameter's gradient (overwriting) from ``loss.grads["q"]``."""
        outputs, index = self._saved["outputs"], self._saved["index"]
        grad = loss.grads["q"].view(len(index), 1, self.n_out)
        grad_out = (
            outputs[-1]
            .new_zeros(len(index), outputs[-1].shape[1] // self.n_out, self.n_out)
            .scatter_(1, index, grad)
        )
        grad_x = backprop.backward(
            self.layers,
            self.activation,
            outputs,
            grad_out.flatten(1),
            input_grad=self.conv is not None,
        )
        if self.conv is not None:
            self.conv.backward(self._saved["planes"], self._saved["maps"], grad_x)
