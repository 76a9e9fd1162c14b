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
