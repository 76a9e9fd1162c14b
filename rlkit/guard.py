"""The NaN guard: stop a run at the first non-finite loss, gradient or parameter.

A diverged run (an absurd learning rate, an exploding value target) otherwise trains on
NaNs for hours and overwrites its checkpoints with them. The agents call ``check``
after every update, before anything is logged, evaluated or saved, so the run stops with
one line naming the step and the quantity, and ``checkpoints/latest.pt`` still holds the
last good state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch


class NonFinite(RuntimeError):
    """A loss, gradient norm or parameter became NaN or infinite."""


def check(
    step: int, metrics: Mapping[str, Any] | None = None, tensors: Iterable[tuple[str, Any]] = ()
) -> None:
    """Raise ``NonFinite`` naming ``step`` and the first non-finite quantity.

    ``metrics``: losses and gradient norms by name (numbers); ``tensors``:
    ``(name, tensor)`` pairs, e.g. ``module.named_parameters()`` or a state dict's items.
    """
    for name, value in (metrics or {}).items():
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and not math.isfinite(value)
        ):
            kind = "gradient norm" if "grad" in name else "loss" if "loss" in name else "value"
            raise NonFinite(
                f"non-finite {kind} {name}={value} at step {step}; the run stops here "
                f"(checkpoints written before it are untouched; try a smaller learning_rate)"
            )
    for name, tensor in tensors:
        if (
            torch.is_tensor(tensor)
            and tensor.is_floating_point()
            and not bool(torch.isfinite(tensor).all())
        ):
            raise NonFinite(
                f"non-finite parameter {name} at step {step}; the run stops here "
                f"(checkpoints written before it are untouched; try a smaller learning_rate)"
            )
