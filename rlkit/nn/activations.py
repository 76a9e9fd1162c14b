"""Activation functions by name.

``step`` is the Heaviside function of the perceptron: 1 where the input is positive,
else 0. Its derivative is zero almost everywhere, which is why networks of step units
cannot be trained by gradient descent and smooth activations (sigmoid, tanh, ReLU)
replaced it.

``tanh`` on float32 CPU tensors runs numpy's vectorized kernel (``tanh_``): PyTorch's CPU
tanh computes one element at a time in the builds measured here (about 280 us for a
1024 x 64 batch on one core, against 44 us for numpy's and 41 us for torch's own
sigmoid), and the classic-control MLPs spend much of their time in it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rlkit.errors import unknown


class Step(nn.Module):
    """Heaviside step: ``1`` where ``x > 0`` else ``0`` (no gradient flows through it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the step elementwise."""
        return (x > 0).to(x.dtype)


def _numpy_ok(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and x.dtype == torch.float32 and x.is_contiguous()


def tanh_(x: torch.Tensor) -> torch.Tensor:
    """``x.tanh_()``, through numpy's vectorized kernel for a contiguous float32 CPU tensor
    that needs no gradient (see the module doc)."""
    if _numpy_ok(x) and not x.requires_grad:
        view = x.numpy()
        np.tanh(view, out=view)
        return x
    return x.tanh_()


def _numpy_tanh(x: torch.Tensor) -> torch.Tensor:
    y = torch.empty_like(x, requires_grad=False)
    np.tanh(x.detach().numpy(), out=y.numpy())
    return y


class _NumpyTanh(torch.autograd.Function):
    """tanh forward through numpy, backward ``grad * (1 - y^2)`` (autograd's own kernel)."""

    @staticmethod
    def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        y = _numpy_tanh(x)
        ctx.save_for_backward(y)  # type: ignore[attr-defined]
        return y

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (y,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return torch.ops.aten.tanh_backward(grad, y)


class Tanh(nn.Module):
    """Hyperbolic tangent; float32 CPU tensors through numpy's kernel (see the module doc),
    with autograd's gradient."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply tanh elementwise."""
        if not _numpy_ok(x):
            return torch.tanh(x)
        if x.requires_grad and torch.is_grad_enabled():
            return _NumpyTanh.apply(x)
        return _numpy_tanh(x)


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "step": Step,
    "sigmoid": nn.Sigmoid,
    "tanh": Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "identity": nn.Identity,
}


def activation(name: str) -> nn.Module:
    """A new activation module by name (``step``, ``sigmoid``, ``tanh``, ``relu``, ...)."""
    if name not in ACTIVATIONS:
        raise unknown("activation", name, ACTIVATIONS, show_all=True)
    return ACTIVATIONS[name]()
