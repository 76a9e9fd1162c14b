"""Backpropagation through an MLP written out, without autograd.

For a chain of layers ``z_l = a_(l-1) W_l^T + b_l``, ``a_l = sigma(z_l)`` (no activation
after the last layer), and ``delta_l = dC/dz_l``:

    delta_L   = dC/da_L                                  (the output gradient)
    dC/dW_l   = delta_l^T a_(l-1)        dC/db_l = sum over the batch of delta_l
    delta_l-1 = (delta_l W_l) * sigma'(z_(l-1))

which are the backpropagation equations of the lecture notes (section 4.7.3). With
``sigma'`` written in terms of the activation's output (ReLU: ``a > 0``; tanh: ``1 - a^2``;
sigmoid: ``a (1 - a)``) nothing but the activations needs to be kept from the forward
pass. For the small MLPs of RL on a CPU this skips autograd's bookkeeping, which costs
more than the arithmetic; ``tests/rlkit/test_backprop.py`` checks it against autograd.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

ACTIVATIONS = ("relu", "tanh", "sigmoid", "identity")


def _activate_(z: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "relu":
        return z.relu_()
    if activation == "tanh":
        return z.tanh_()
    if activation == "sigmoid":
        return z.sigmoid_()
    return z


def _derivative_(grad: torch.Tensor, a: torch.Tensor, activation: str) -> torch.Tensor:
    """``grad * sigma'(z)``, in place, from the activation's output ``a``."""
    if activation == "relu":
        return torch.ops.aten.threshold_backward(grad, a, 0.0)  # grad where a > 0, else 0
    if activation == "tanh":
        return grad.mul_(1.0 - a * a)
    if activation == "sigmoid":
        return grad.mul_(a * (1.0 - a))
    return grad


@torch.no_grad()
def forward(layers: Sequence[nn.Linear], activation: str, x: torch.Tensor) -> list[torch.Tensor]:
    """Outputs of every layer, input first: ``[x, a_1, ..., a_L]`` (``a_L`` has no activation)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    outputs = [x]
    for i, layer in enumerate(layers):
        z = torch.addmm(layer.bias, outputs[-1], layer.weight.t())
        outputs.append(z if i == len(layers) - 1 else _activate_(z, activation))
    return outputs


@torch.no_grad()
def backward(
    layers: Sequence[nn.Linear],
    activation: str,
    outputs: Sequence[torch.Tensor],
    grad_output: torch.Tensor,
) -> None:
    """Set ``.grad`` of every weight and bias from ``dC/da_L`` (overwriting, not adding)."""
    delta = grad_output
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        if layer.weight.grad is None or layer.bias.grad is None:
            layer.weight.grad = delta.t() @ outputs[i]
            layer.bias.grad = delta.sum(dim=0)
        else:  # write into the existing buffers (views of a flat gradient)
            torch.mm(delta.t(), outputs[i], out=layer.weight.grad)
            torch.sum(delta, dim=0, out=layer.bias.grad)
        if i > 0:
            delta = _derivative_(delta @ layer.weight, outputs[i], activation)


def flatten_parameters(module: nn.Module) -> nn.Parameter:
    """Move all parameters of ``module`` into one contiguous tensor and return it.

    Each parameter becomes a view into the returned flat ``Parameter`` and each
    ``.grad`` a view into ``flat.grad``, so an optimizer (and gradient clipping) given
    ``[flat]`` updates every layer with a handful of whole-buffer operations instead of
    a few per layer. ``backward`` writes into those gradient views in place.
    """
    params = list(module.parameters())
    flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in params]))
    flat.grad = torch.zeros_like(flat)
    offset = 0
    for p in params:
        n = p.numel()
        p.data = flat.data[offset : offset + n].view_as(p)
        p.grad = flat.grad[offset : offset + n].view_as(p)
        offset += n
    return flat


class NumpyForward:
    """One observation through an MLP chain, on numpy views of the layers' parameters.

    Acting one step at a time costs more in tensor creation and dispatch than in
    arithmetic; numpy on views that share memory with the (CPU, float32) parameters
    does it about 3x faster. The views follow every in-place update (optimizer steps,
    ``load_state_dict``, flat parameters), so nothing needs re-syncing.
    """

    def __init__(self, layers: Sequence[nn.Linear], activation: str) -> None:
        if activation not in ("relu", "tanh", "identity"):
            raise ValueError(f"NumpyForward supports relu, tanh and identity, got {activation!r}")
        if any(
            p.device.type != "cpu" or p.dtype != torch.float32
            for layer in layers
            for p in layer.parameters()
        ):
            raise ValueError("NumpyForward needs float32 parameters on the CPU")
        self.weights = [layer.weight.detach().numpy() for layer in layers]
        self.biases = [layer.bias.detach().numpy() for layer in layers]
        self.activation = activation

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(in_features,)`` -> ``(out_features,)``, or ``(batch, ...)`` -> ``(batch, out_features)``."""
        x = np.asarray(x, dtype=np.float32)
        batched = x.ndim > 1
        h = x.reshape(x.shape[0], -1) if batched else x.reshape(-1)
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = (h @ weight.T if batched else weight @ h) + bias
            if i < last:
                if self.activation == "relu":
                    np.maximum(h, 0.0, out=h)
                elif self.activation == "tanh":
                    np.tanh(h, out=h)
        return h
