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
  optimizer and the gradient clipping touch one tensor. ``WrittenOutQ`` also takes
  MinAtar's small CNN (a convolution in front of the chain), and ``WrittenOutHeadsQ``
  Rainbow's heads (dueling, noisy, C51's log-softmax) on either torso.

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

import numpy as np
import torch
from torch import nn

from rlkit.distributions import HALF_LOG_2PI
from rlkit.nn import backprop
from rlkit.nn.noisy import NoisyLinear


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


class _FlatPass:
    """What the written-out Q passes share: the network's parameters in one flat buffer,
    an optional convolution in front of the chain (``backprop.ConvInput``), and the
    observation as the chain takes it."""

    written_out = True

    def __init__(self, q_net: nn.Module, activation: str, conv: nn.Conv2d | None) -> None:
        self.activation = activation
        self.flat = backprop.flatten_parameters(q_net)
        self.conv = None if conv is None else backprop.ConvInput(conv, activation)
        self._saved: dict[str, Any] = {}

    def parameters(self) -> list[nn.Parameter]:
        """What the optimizer updates: the one flat buffer."""
        return [self.flat]

    @torch.no_grad()
    def _input(
        self, obs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The chain's input ``(batch, features)``; with a convolution also the float planes
        and the activated maps (for its backward), else None twice."""
        if self.conv is None:
            x = obs if obs.dim() == 2 and obs.dtype == torch.float32 else obs.flatten(1).float()
            return x, None, None
        planes = obs.float()  # (batch, C, H, W) planes through the convolution first
        maps = self.conv.forward(planes)
        return maps.flatten(1), planes, maps


class WrittenOutQ(_FlatPass):
    """A plain MLP Q-network's pass with backpropagation written out, or with ``conv`` a
    convolution in front of the MLP (MinAtar's network, ``backprop.ConvInput``).

    With ``n_out`` > 1 (QR-DQN's quantiles) the last layer's ``A * n_out`` outputs are
    ``n_out`` per action, and the pass gives the taken action's ``(batch, n_out)``."""

    def __init__(
        self,
        layers: list[nn.Linear],
        q_net: nn.Module,
        activation: str,
        n_out: int = 1,
        conv: nn.Conv2d | None = None,
    ) -> None:
        super().__init__(q_net, activation, conv)
        self.layers, self.n_out = layers, n_out

    def __call__(self, obs: torch.Tensor, actions: torch.Tensor) -> QOutputs:
        """Q (or the quantiles) of the taken actions, keeping every layer's output for
        ``backward``."""
        x, planes, maps = self._input(obs)
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


class WrittenOutHeadsQ(_FlatPass):
    """A Q-network with Rainbow's heads, its backpropagation written out: a torso whose
    every layer is activated (an MLP, or MinAtar's convolution ``conv`` and the linear
    layers after it, possibly none) and linear or noisy heads (``rlkit.nn.noisy``), one
    head with ``n_out`` outputs per action or two dueling ones (value and advantage).
    ``n_out`` is 1 (Q), QR's quantiles, or C51's atoms (``log_softmax``: the outputs are
    logits, and the pass gives their log-probabilities).

    The forward pass keeps the torso's outputs, the features ``h`` and each head's
    weights as used (a noisy head's ``mu + sigma * eps``, built once per pass). From the
    gradient ``g`` of the loss with respect to the taken actions' outputs, ``backward``
    writes every parameter's gradient into one flat buffer:

        log p = z - logsumexp(z)          dz = g - p * sum_atoms g
        out = V + A - mean_a A            dV = sum_a dout,   dA = dout - mean_a dout
        y = h W^T + b                     dW = delta^T h,    db = sum_batch delta,  dh += delta W
        W = mu + sigma * eps              dmu = dW,          dsigma = dW * eps

    and then through the torso as ``WrittenOutQ`` does. Rainbow's update on MinAtar
    spends most of its autograd time on bookkeeping, not arithmetic.
    """

    def __init__(
        self,
        torso: list[nn.Linear],
        heads: list[nn.Module],
        q_net: nn.Module,
        activation: str,
        n_actions: int,
        n_out: int = 1,
        log_softmax: bool = False,
        conv: nn.Conv2d | None = None,
    ) -> None:
        if len(heads) not in (1, 2):
            raise ValueError(f"one head, or two dueling heads, got {len(heads)}")
        super().__init__(q_net, activation, conv)
        self.torso, self.heads = torso, heads
        self.n_actions, self.n_out, self.log_softmax = n_actions, n_out, log_softmax

    @torch.no_grad()
    def distribution(self, obs: torch.Tensor, keep: bool = False) -> torch.Tensor:
        """``(batch, A, n_out)``: the network's outputs (C51's as log-probabilities), with
        the heads' current noise; ``keep`` saves what ``backward`` needs."""
        x, planes, maps = self._input(obs)
        outputs = backprop.forward(self.torso, self.activation, x, activate_last=True)
        h = outputs[-1]
        used = [_weights_as_used(head) for head in self.heads]
        ys = [torch.addmm(b, h, w.t()) for w, b, _ in used]
        if len(ys) == 2:  # dueling: Q = V + A - mean_a A, per output
            value, advantage = ys[0].unsqueeze(1), ys[1].view(len(h), self.n_actions, -1)
            out = value + advantage - advantage.mean(dim=1, keepdim=True)
        else:
            out = ys[0].view(len(h), self.n_actions, self.n_out)
        if self.log_softmax:
            out = out.log_softmax(dim=-1)
        if keep:
            self._saved = {"outputs": outputs, "used": used, "planes": planes, "maps": maps}
        return out

    def __call__(self, obs: torch.Tensor, actions: torch.Tensor) -> QOutputs:
        """The taken actions' outputs, ``(batch, n_out)`` (Q alone: ``(batch,)``), keeping
        what ``backward`` needs."""
        out = self.distribution(obs, keep=True)
        index = actions.view(-1, 1, 1).expand(-1, 1, self.n_out)
        taken = out.gather(1, index).squeeze(1)
        self._saved.update(index=index, taken=taken)
        return QOutputs(taken if self.n_out > 1 else taken.squeeze(1))

    @torch.no_grad()
    def backward(self, loss: Loss) -> None:
        """Set every parameter's gradient (overwriting) from ``loss.grads["q"]``."""
        saved = self._saved
        index, outputs = saved["index"], saved["outputs"]
        h = outputs[-1]
        grad = loss.grads["q"].reshape(len(h), self.n_out)
        if self.log_softmax:  # through log p = z - logsumexp(z)
            grad = grad - saved["taken"].exp() * grad.sum(dim=-1, keepdim=True)
        grad_out = h.new_zeros(len(h), self.n_actions, self.n_out)
        grad_out.scatter_(1, index, grad.unsqueeze(1))
        if len(self.heads) == 2:  # dueling
            deltas = [grad_out.sum(dim=1), (grad_out - grad_out.mean(dim=1, keepdim=True))]
        else:
            deltas = [grad_out]
        grad_h = None
        for head, (weight, _, noise), delta in zip(self.heads, saved["used"], deltas, strict=True):
            delta = delta.flatten(1)
            _head_gradients(head, delta, h, noise)
            grad_h = delta @ weight if grad_h is None else grad_h.addmm_(delta, weight)
        if self.torso:
            grad_x = backprop.backward(
                self.torso,
                self.activation,
                outputs,
                grad_h,
                input_grad=self.conv is not None,
                activated_last=True,
            )
        else:  # the features are the maps themselves
            grad_x = grad_h
        if self.conv is not None:
            self.conv.backward(saved["planes"], saved["maps"], grad_x)


def _weights_as_used(
    head: nn.Module,
) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
    """A head's weight and bias as its forward uses them, and a noisy head's noise (the
    weights' matrix and the bias's vector; None for a plain layer or one in eval mode)."""
    if isinstance(head, NoisyLinear):
        if not head.training:
            return head.weight_mu, head.bias_mu, None
        noise = head.weight_epsilon  # f(eps_out) f(eps_in)^T, built once
        weight = head.weight_mu + head.weight_sigma * noise
        bias = head.bias_mu + head.bias_sigma * head.bias_epsilon
        return weight, bias, (noise, head.bias_epsilon)
    return head.weight, head.bias, None


def _head_gradients(
    head: nn.Module,
    delta: torch.Tensor,
    h: torch.Tensor,
    noise: tuple[torch.Tensor, torch.Tensor] | None,
) -> None:
    """Write a head's gradients from ``delta = dC/dy`` and its input ``h``."""
    if isinstance(head, NoisyLinear):
        weight_grad, bias_grad = head.weight_mu.grad, head.bias_mu.grad
    else:
        weight_grad, bias_grad = head.weight.grad, head.bias.grad
    torch.mm(delta.t(), h, out=weight_grad)
    torch.sum(delta, dim=0, out=bias_grad)
    if isinstance(head, NoisyLinear):
        if noise is None:  # eval mode: the noise is not in the pass
            head.weight_sigma.grad.zero_()
            head.bias_sigma.grad.zero_()
        else:
            torch.mul(weight_grad, noise[0], out=head.weight_sigma.grad)
            torch.mul(bias_grad, noise[1], out=head.bias_sigma.grad)


class NumpyHeadsQ:
    """Q of one observation (or a batch) through a ``WrittenOutHeadsQ`` network, in numpy
    on views of its (CPU, float32) parameters and noise, as ``backprop.NumpyForward`` does
    for a plain chain: the torso, then each head (a noisy head in training mode as
    ``mu_W x + mu_b + sigma_b eps_b + f(eps_out) * (sigma_W (f(eps_in) * x))``, its
    module's own one-row product; in eval mode ``mu_W x + mu_b``, so that the module's
    ``train(False)`` turns the noise off here too), dueling, and each action's mean: C51's
    softmax over the atoms times ``support``, QR's mean of the quantiles. Rainbow's acting
    step on MinAtar spends most of its time in torch's per-call overhead, not arithmetic.
    """

    def __init__(
        self, model: WrittenOutHeadsQ, in_shape: Sequence[int], support: torch.Tensor | None = None
    ) -> None:
        conv = model.conv.conv if model.conv is not None else None
        self.torso = backprop.NumpyForward(
            model.torso, model.activation, conv, in_shape, activate_last=True
        )
        self.in_dims = len(in_shape)
        self.heads = [_numpy_head(head) for head in model.heads]
        self.n_actions, self.n_out = model.n_actions, model.n_out
        self.support = None if support is None else support.detach().numpy()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``in_shape`` -> ``(A,)``, or ``(batch, *in_shape)`` -> ``(batch, A)``."""
        x = np.asarray(x)
        batched = x.ndim > self.in_dims
        h = self.torso(x)
        h = h if batched else h[None]
        ys = [head(h) for head in self.heads]
        if len(ys) == 2:  # dueling
            advantage = ys[1].reshape(len(h), self.n_actions, -1)
            out = ys[0][:, None] + advantage - advantage.sum(axis=1, keepdims=True) / self.n_actions
        else:
            out = ys[0].reshape(len(h), self.n_actions, self.n_out)
        if self.support is not None:  # C51: the mean of each action's softmax
            out = np.exp(out - out.max(axis=-1, keepdims=True))
            q = (out @ self.support) / out.sum(axis=-1)
        else:
            q = out.sum(axis=-1) / self.n_out
        return q if batched else q[0]


def _numpy_head(head: nn.Module):
    """``(batch, in) -> (batch, out)`` of a linear or noisy head, in numpy on views."""
    if isinstance(head, NoisyLinear):
        mu_w, sigma_w = head.weight_mu.detach().numpy(), head.weight_sigma.detach().numpy()
        mu_b, sigma_b = head.bias_mu.detach().numpy(), head.bias_sigma.detach().numpy()
        eps_in, eps_out = head.input_epsilon.numpy(), head.bias_epsilon.numpy()

        def noisy(h: np.ndarray) -> np.ndarray:
            y = h @ mu_w.T + mu_b
            if head.training:
                y += sigma_b * eps_out + eps_out * ((h * eps_in) @ sigma_w.T)
            return y

        return noisy
    weight, bias = head.weight.detach().numpy(), head.bias.detach().numpy()
    return lambda h: h @ weight.T + bias
