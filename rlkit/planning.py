"""The shared tail of a planning run: log the solution, checkpoint it, evaluate it.

Planners (value and policy iteration) differ only in how they solve the MDP; what
they report is the same, so it lives here, next to the Bellman operators.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from rlkit.bellman import Solution
from rlkit.evaluation import EvalHistory, evaluate
from rlkit.rundir import Run


class TablePolicy:
    """A tabular policy: ``policy(obs)`` looks one state's action up in a ``(S,)`` table,
    ``predict`` a batch of states'. ``table`` is the table (a torch tensor)."""

    def __init__(self, table: torch.Tensor) -> None:
        self.table = table.detach().cpu()
        self._actions = self.table.numpy()

    def __call__(self, obs: Any) -> int:
        """The action of one state."""
        return int(self._actions[int(obs)])

    def predict(
        self,
        obs: np.ndarray,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:
        """The actions of a batch of states (a table is deterministic)."""
        return self._actions[np.asarray(obs, dtype=np.int64)], None


class ProbabilityTablePolicy:
    """A stochastic tabular policy ``pi(a|s)``, ``(S, A)``: ``policy(obs)`` samples one
    state's action from its generator, ``predict`` samples a batch (or takes the most
    likely actions when ``deterministic``). ``table`` is the table (a torch tensor)."""

    def __init__(self, probabilities: torch.Tensor, rng: np.random.Generator) -> None:
        self.table = probabilities.detach().cpu()
        self._cdf = np.cumsum(self.table.numpy(), axis=1)
        self.rng = rng

    def __call__(self, obs: Any) -> int:
        """A sampled action of one state."""
        cdf = self._cdf[int(obs)]
        return int(
            min(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right"), len(cdf) - 1)
        )

    def predict(
        self,
        obs: np.ndarray,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:
        """Actions of a batch of states: sampled, or the most likely with ``deterministic``."""
        states = np.asarray(obs, dtype=np.int64)
        if deterministic:
            return self.table.numpy()[states].argmax(axis=1), None
        return np.array([self(s) for s in states], dtype=np.int64), None


def table_policy(policy: torch.Tensor) -> TablePolicy:
    """The ``TablePolicy`` of a ``(S,)`` table of actions."""
    return TablePolicy(policy)


def report_solution(
    run: Run,
    solution: Solution,
    initial: np.ndarray,
    eval_episodes: int,
    plan_seconds: float,
    extra_state: dict[str, Any] | None = None,
    play: Any = None,
) -> dict[str, Any]:
    """Checkpoint V and the policy, play it in the real env, return the summary.

    ``v_start`` is the value of the initial-state distribution. For planners a step is a
    sweep over all states, so ``time/sps`` is sweeps per second. ``play`` is the policy
    played (default: the greedy table of ``solution.policy``).
    """
    values = solution.values.detach().cpu()
    v_start = float(np.dot(initial, values.numpy()))
    run.save_checkpoint(
        {
            "values": values,
            "policy": solution.policy.detach().cpu(),
            "q": solution.q.detach().cpu(),
            "v_start": v_start,
            "iterations": solution.iterations,
            **(extra_state or {}),
        }
    )
    start = time.perf_counter()
    play = table_policy(solution.policy) if play is None else play
    result = evaluate(play, run.make_env, eval_episodes, seed=run.rngs.eval_seed)
    metrics = EvalHistory().add(solution.sweeps, result)
    metrics.update(
        {
            "v_start": v_start,
            "iterations": solution.iterations,
            "sweeps": solution.sweeps,
            "error_bound": solution.error_bound,
            "time/plan_s": plan_seconds,
            "time/eval_s": time.perf_counter() - start,
            "time/sps": solution.sweeps / max(plan_seconds, 1e-9),
        }
    )
    run.logger.log(solution.sweeps, metrics)
    return {"total_steps": solution.sweeps, **metrics}
