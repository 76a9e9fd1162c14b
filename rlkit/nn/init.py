"""Weight initialisation, written from the formulas, drawn from an explicit generator.

For a weight of shape ``(fan_out, fan_in, *kernel)``, with ``receptive = prod(kernel)``:

* ``xavier_uniform`` (Glorot & Bengio 2010): ``U(-a, a)``,
  ``a = gain * sqrt(6 / (fan_in + fan_out))``;
* ``xavier_normal``: ``N(0, std^2)``, ``std = gain * sqrt(2 / (fan_in + fan_out))``;
* ``he_normal`` / ``he_uniform`` (He et al. 2015, for ReLU): ``std = gain * sqrt(2 / fan_in)``;
* ``orthogonal`` (Saxe et al. 2014): the Q of a QR decomposition of a Gaussian
  matrix, sign-corrected so it is uniform over orthogonal matrices, times ``gain``;
* ``torch``: PyTorch's default for Linear and Conv layers, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``
  for weights and biases alike, but drawn from the given generator;
* ``zeros``: every weight 0. All units of a layer then compute the same function and
  receive the same gradient, so they stay equal: the symmetry is never broken.

Biases are set to ``bias`` (0 by default), except with ``torch``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rlkit.errors import unknown

INITS = (
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "orthogonal",
    "zeros",
    "torch",
)


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a linear or convolution weight."""
    if weight.dim() < 2:
        raise ValueError(f"fans need a weight with >= 2 dims, got shape {tuple(weight.shape)}")
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


@torch.no_grad()
def init_tensor_(
    weight: torch.Tensor, scheme: str, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Fill ``weight`` in place with ``scheme``; return it."""
    if scheme not in INITS:
        raise unknown("init scheme", scheme, INITS, show_all=True)
    if scheme == "zeros" or weight.is_meta:  # a meta tensor has no values to draw (and
        return weight.zero_()  # drawing on it would import torch's compiler: 2 s)
    fan_in, fan_out = fans(weight)
    if scheme == "torch":
        bound = 1.0 / math.sqrt(fan_in)
        return weight.uniform_(-bound, bound, generator=generator)
    if scheme == "xavier_uniform":
        bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
        return weight.uniform_(-bound, bound, generator=generator)
    if scheme == "xavier_normal":
        return weight.normal_(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator=generator)
    if scheme == "he_uniform":
        bound = gain * math.sqrt(6.0 / fan_in)
        return weight.uniform_(-bound, bound, generator=generator)
    if scheme == "he_normal":
        return weight.normal_(0.0, gain * math.sqrt(2.0 / fan_in), generator=generator)
    if scheme == "orthogonal":
        rows, cols = weight.shape[0], weight.numel() // weight.shape[0]
        gauss = torch.randn(
            max(rows, cols), min(rows, cols), generator=generator, dtype=torch.float64
        )
        q, r = torch.linalg.qr(gauss)
        q = q * torch.sign(torch.diagonal(r))  # make the distribution uniform (Haar)
        if rows < cols:
            q = q.T
        weight.copy_((gain * q).reshape(weight.shape).to(weight.dtype))
        return weight
    raise AssertionError(scheme)


@torch.no_grad()
def init_weights(
    module: nn.Module,
    scheme: str = "xavier_uniform",
    gain: float = 1.0,
    bias: float = 0.0,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Initialise every Linear / Conv weight of ``module`` with ``scheme`` and set biases.

    Returns ``module``.
    """
    if scheme not in INITS:
        raise unknown("init scheme", scheme, INITS, show_all=True)
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            init_tensor_(layer.weight, scheme, gain, generator)
            if layer.bias is None:
                continue
            if scheme == "torch":
                bound = 1.0 / math.sqrt(fans(layer.weight)[0])
                layer.bias.uniform_(-bound, bound, generator=generator)
            else:
                layer.bias.fill_(bias)
    return module
