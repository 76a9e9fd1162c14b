"""Activation functions by name.

``step`` is the Heaviside function of the perceptron: 1 where the input is positive,
else 0. Its derivative is zero almost everywhere, which is why networks of step units
cannot be trained by gradient descent and smooth activations (sigmoid, tanh, ReLU)
replaced it.
"""

from __future__ import annotations

import torch
from torch import nn

from rlkit.errors import unknown


class Step(nn.Module):
    """Heaviside step: ``1`` where ``x > 0`` else ``0`` (no gradient flows through it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the step elementwise."""
        return (x > 0).to(x.dtype)


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "step": Step,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
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
