"""Value iteration: exact planning on a tabular MDP read from the env's model.

``rlkit train value-iteration FrozenLake8x8-v1 gamma=0.99`` solves the Bellman
optimality equation ``V(s) = max_a [R(s, a) + gamma * sum_s' P(s'|s, a) V(s')]`` to
within ``tol`` of V* (a guaranteed max-norm bound), in torch on ``--device``, with the
model kept sparse. The checkpoint holds V, Q and the greedy policy; ``rlkit eval``
plays that policy in the real env. No environment step is used for learning.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym

from rlkit.bellman import value_iteration
from rlkit.config import require, require_gamma
from rlkit.envs import check_plannable
from rlkit.planning import report_solution, table_policy
from rlkit.rundir import Run

ALGO = "value-iteration"
FITS = "tabular toy-text envs: FrozenLake-v1, FrozenLake8x8-v1, Taxi-v4, CliffWalking-v1, rlkit/GridWorld5x5-v0"
RESUMABLE = False
"""A planner finishes in seconds; an interrupted one starts over."""
PLANNER = True
"""Exact, from the env's model: nothing to tune by evaluation."""


@dataclass(frozen=True, kw_only=True)
class Config:
    """Value-iteration settings."""

    gamma: float = 0.99
    """Discount factor, 0 < gamma <= 1 (1 only for tasks that end)."""
    tol: float = 1e-8
    """Stop once max |V - V*| <= tol is guaranteed (MacQueen bounds)."""
    method: Literal["modified", "macqueen", "sup"] = "modified"
    """modified policy iteration (fastest), value iteration with span bounds, or textbook VI."""
    eval_sweeps: int = 20
    """Policy sweeps per greedy sweep for method=modified."""
    max_iterations: int = 100_000
    """Give up (with an error) after this many greedy sweeps."""
    eval_episodes: int = 100
    """Episodes of the greedy policy played in the real env at the end."""
    env_kwargs: dict = field(default_factory=dict)
    """Keyword arguments for gymnasium.make, e.g. env_kwargs.is_slippery=false."""

    def __post_init__(self) -> None:
        require_gamma(self.gamma)
        require("tol", self.tol, self.tol > 0, "a number > 0")
        require("eval_sweeps", self.eval_sweeps, self.eval_sweeps >= 1, "an integer >= 1")
        require("max_iterations", self.max_iterations, self.max_iterations >= 1, "an integer >= 1")
        require("eval_episodes", self.eval_episodes, self.eval_episodes >= 1, "an integer >= 1")


def check_env(env: gym.Env, config: Config) -> None:
    """Refuse envs without a tabular model, and gamma = 1 on a continuing task."""
    check_plannable(env, ALGO, config.gamma)


def train(config: Config, run: Run) -> dict[str, Any]:
    """Solve the env's MDP, checkpoint V and the greedy policy, evaluate it."""
    env = run.make_env()
    mdp = check_plannable(env, ALGO, config.gamma)
    env.close()
    model = mdp.model(run.device)
    start = time.perf_counter()
    solution = value_iteration(
        model,
        config.gamma,
        tol=config.tol,
        method=config.method,
        max_iterations=config.max_iterations,
        eval_sweeps=config.eval_sweeps,
        callback=lambda it, bound: run.logger.log(it, {"train/error_bound": bound}),
    )
    return report_solution(
        run, solution, mdp.initial, config.eval_episodes, time.perf_counter() - start
    )


def load_policy(
    checkpoint: dict[str, Any], env: gym.Env, device: str = "cpu", seed: int | None = None
):
    """The greedy policy stored in a checkpoint, as ``obs -> action``."""
    return table_policy(checkpoint["policy"])
