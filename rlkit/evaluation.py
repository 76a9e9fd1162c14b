"""Evaluation: N episodes of a policy in a fresh environment; mean, std and ``eval/auc``.

The environment comes from a factory so that rlkit needs no knowledge of ``envs``;
the CLI and the agents pass ``lambda: envs.make_env(env_id, seed, ...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Policy = Callable[[Any], Any]
"""Maps one observation to one action."""


@dataclass(frozen=True)
class EvalResult:
    """What ``evaluate`` measured."""

    returns: tuple[float, ...]
    """Undiscounted return of each episode."""
    lengths: tuple[int, ...]
    """Steps of each episode."""
    discounted_returns: tuple[float, ...] = ()
    """Discounted return of each episode (when a ``gamma`` was given)."""

    @property
    def mean(self) -> float:
        """Mean undiscounted return."""
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        """Standard deviation (population) of the undiscounted returns."""
        return float(np.std(self.returns))

    def metrics(self) -> dict[str, float]:
        """The ``eval/...`` metrics of this evaluation."""
        return {
            "eval/mean_return": self.mean,
            "eval/std_return": self.std,
            "eval/mean_length": float(np.mean(self.lengths)),
            "eval/episodes": len(self.returns),
        }


def evaluate(
    policy: Policy,
    make_env: Callable[[], Any],
    episodes: int,
    seed: int | None = None,
    gamma: float | None = None,
    max_steps: int | None = None,
) -> EvalResult:
    """Play ``episodes`` whole episodes of ``policy`` in one fresh env from ``make_env``.

    The first reset uses ``seed``; later resets continue the env's own generator, so a
    seed fixes the whole sequence of episodes. A policy with a ``reset()`` method (a
    recurrent policy's memory) has it called before every episode. An episode ends when the env terminates
    or truncates (its time limit), or after ``max_steps`` steps when that is given.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    env = make_env()
    returns, lengths, discounted = [], [], []
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed if episode == 0 else None)
            if hasattr(policy, "reset"):
                policy.reset()
            total, disc, scale, steps = 0.0, 0.0, 1.0, 0
            while True:
                obs, reward, terminated, truncated, _ = env.step(policy(obs))
                total += float(reward)
                if gamma is not None:
                    disc += scale * float(reward)
                    scale *= gamma
                steps += 1
                if terminated or truncated or (max_steps is not None and steps >= max_steps):
                    break
            returns.append(total)
            lengths.append(steps)
            discounted.append(disc)
    finally:
        env.close()
    return EvalResult(
        tuple(returns), tuple(lengths), tuple(discounted) if gamma is not None else ()
    )


@dataclass
class EvalHistory:
    """Periodic evaluations of one run; ``auc`` is the sum of their mean returns."""

    steps: list[int] = field(default_factory=list)
    means: list[float] = field(default_factory=list)

    def add(self, step: int, result: EvalResult) -> dict[str, float]:
        """Record an evaluation at ``step``; return its metrics including ``eval/auc``."""
        self.steps.append(int(step))
        self.means.append(result.mean)
        return {**result.metrics(), "eval/auc": self.auc}

    @property
    def auc(self) -> float:
        """Sum over the periodic evaluations of the mean eval return."""
        return float(sum(self.means))

    def state_dict(self) -> dict[str, list]:
        """Plain data for a checkpoint."""
        return {"steps": list(self.steps), "means": list(self.means)}

    @classmethod
    def from_state_dict(cls, state: dict[str, list]) -> EvalHistory:
        """Rebuild from ``state_dict``."""
        return cls(steps=[int(s) for s in state["steps"]], means=[float(m) for m in state["means"]])
