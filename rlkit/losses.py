"""Loss functions, written from their definitions.

Every loss takes ``reduction``: ``mean`` (default), ``sum`` or ``none``.

* ``cross_entropy(logits, target)``: ``-log softmax(logits)[target]``, computed as
  ``logsumexp(logits) - logits[target]`` so large logits never overflow.
* ``binary_cross_entropy(logits, y)``: ``-(y log p + (1-y) log(1-p))`` with
  ``p = sigmoid(logits)``, computed as ``softplus(z) - y z``.
* ``mse``: mean of ``(y_hat - y)^2``; ``mae``: mean of ``|y_hat - y|``.
* ``huber(delta)``: quadratic within ``delta``, linear beyond (DQN's loss, delta = 1),
  ``0.5 e^2`` if ``|e| <= delta`` else ``delta (|e| - 0.5 delta)``.
"""

from __future__ import annotations

import torch

REDUCTIONS = ("mean", "sum", "none")


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy of class indices ``target`` (N,) under ``logits`` (N, C)."""
    picked = logits.gather(-1, target.long().unsqueeze(-1)).squeeze(-1)
    return _reduce(torch.logsumexp(logits, dim=-1) - picked, reduction)


def binary_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Binary cross-entropy of 0/1 ``target`` under ``logits`` (any shape)."""
    target = target.to(logits.dtype)
    return _reduce(torch.nn.functional.softplus(logits) - target * logits, reduction)


def mse(prediction: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error."""
    return _reduce((prediction - target).square(), reduction)


def mae(prediction: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean absolute error."""
    return _reduce((prediction - target).abs(), reduction)


def huber(
    prediction: torch.Tensor, target: torch.Tensor, delta: float = 1.0, reduction: str = "mean"
) -> torch.Tensor:
    """Huber loss (smooth L1 scaled by ``delta``): quadratic near 0, linear in the tails."""
    error = (prediction - target).abs()
    quadratic = torch.clamp(error, max=delta)
    return _reduce(0.5 * quadratic.square() + delta * (error - quadratic), reduction)


def huber_gradient(
    prediction: torch.Tensor, target: torch.Tensor, delta: float = 1.0
) -> torch.Tensor:
    """d huber / d prediction, elementwise (unreduced): ``clamp(prediction - target, -delta, delta)``."""
    return (prediction - target).clamp(-delta, delta)


LOSSES = {"cross_entropy": cross_entropy, "mse": mse, "mae": mae, "huber": huber}
