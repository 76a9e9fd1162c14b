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


def table_policy(policy: torch.Tensor):
    """A callable ``obs -> action`` that looks the action up in a (S,) table."""
    table = policy.detach().cpu().numpy()
    return lambda obs: int(table[int(obs)])


def report_solution(
    run: Run,
    solution: Solution,
    initial: np.ndarray,
    eval_episodes: int,
    plan_seconds: float,
    extra_state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Checkpoint V and the greedy policy, play it in the real env, return the summary.

    ``v_start`` is the optimal value of the initial-state distribution. For planners a
    step is a sweep over all states, so ``time/sps`` is sweeps per second.
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
    result = evaluate(
        table_policy(solution.policy), run.make_env, eval_episodes, seed=run.rngs.eval_seed
    )
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
