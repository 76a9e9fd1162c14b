"""Schedules of a hyperparameter over training progress."""

from __future__ import annotations


def linear_schedule(start: float, end: float, fraction: float, progress: float) -> float:
    """Go linearly from ``start`` to ``end`` over the first ``fraction`` of training.

    ``progress`` is the elapsed share of training in [0, 1]; after ``fraction`` the
    value stays at ``end`` (SB3's ``exploration_fraction`` convention).
    """
    if fraction <= 0:
        return end
    return start + (end - start) * min(max(progress, 0.0) / fraction, 1.0)


def schedule(value: float | str, key: str = "value"):
    """A hyperparameter as a function of training progress in [0, 1].

    A number is constant; ``"lin_<v>"`` (rl-zoo's notation) goes linearly from ``v`` at
    the start to 0 at the end. Raises ``BadInput`` naming ``key`` for anything else.
    """
    from rlkit.errors import BadInput

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        constant = float(value)
        return lambda progress: constant
    if isinstance(value, str) and value.startswith("lin_"):
        try:
            start = float(value[4:])
        except ValueError:
            start = float("nan")
        if start == start:  # not NaN
            return lambda progress: start * (1.0 - min(max(progress, 0.0), 1.0))
    raise BadInput(f"bad value {key}={value!r}; allowed: a number or lin_<number>")
