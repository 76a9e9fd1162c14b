"""Policy iteration: Howard's algorithm with exact policy evaluation.

``rlkit train policy-iteration Taxi-v4`` alternates an exact evaluation of the current
policy (a linear solve of ``(I - gamma P_pi) V = R_pi``) with greedy improvement, and
stops when the policy no longer changes. Runs in torch on ``--device``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from rlkit.bellman import policy_iteration
from rlkit.config import require, require_gamma
from rlkit.envs import check_plannable
from rlkit.planning import report_solution, table_policy
from rlkit.rundir import Run

ALGO = "policy-iteration"
FITS = "tabular toy-text envs: FrozenLake-v1, FrozenLake8x8-v1, Taxi-v4, CliffWalking-v1, rlkit/GridWorld5x5-v0"
RESUMABLE = False
"""A planner finishes in seconds; an interrupted one starts over."""
PLANNER = True
"""Exact, from the env's model: nothing to tune by evaluation."""


@dataclass(frozen=True, kw_only=True)
class Config:
    """Policy-iteration settings."""

    gamma: float = 0.99
    """Discount factor, 0 < gamma <= 1 (1 only when every policy ends the episode)."""
    max_iterations: int = 1_000
    """Give up (with an error) after this many improvements."""
    eval_episodes: int = 100
    """Episodes of the greedy policy played in the real env at the end."""
    env_kwargs: dict = field(default_factory=dict)
    """Keyword arguments for gymnasium.make, e.g. env_kwargs.is_slippery=false."""

    def __post_init__(self) -> None:
        require_gamma(self.gamma)
        require("max_iterations", self.max_iterations, self.max_iterations >= 1, "an integer >= 1")
        require("eval_episodes", self.eval_episodes, self.eval_episodes >= 1, "an integer >= 1")


def check_env(env: gym.Env, config: Config) -> None:
    """Refuse envs without a tabular model, and gamma = 1 on a continuing task."""
    check_plannable(env, ALGO, config.gamma)


def train(config: Config, run: Run) -> dict[str, Any]:
    """Solve the env's MDP exactly, checkpoint V and the policy, evaluate it."""
    env = run.make_env()
    mdp = check_plannable(env, ALGO, config.gamma)
    env.close()
    model = mdp.model(run.device)
    start = time.perf_counter()
    solution = policy_iteration(
        model,
        config.gamma,
        max_iterations=config.max_iterations,
        callback=lambda it, changed: run.logger.log(it, {"train/policy_changes": changed}),
    )
    return report_solution(
        run, solution, mdp.initial, config.eval_episodes, time.perf_counter() - start
    )


def load_policy(
    checkpoint: dict[str, Any], env: gym.Env, device: str = "cpu", seed: int | None = None
):
    """The optimal policy stored in a checkpoint, as ``obs -> action``."""
    return table_policy(checkpoint["policy"])
