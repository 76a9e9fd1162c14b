"""Policy evaluation: the exact value of any policy, deterministic or stochastic, on a
tabular MDP read from the env's model.

``rlkit train policy-evaluation rlkit/GridWorld5x5-v0 gamma=0.9`` solves the Bellman
expectation equation of the uniform random policy,

    V(s) = sum_a pi(a|s) [R(s, a) + gamma * sum_s' P(s'|s, a) V(s')],

as one linear system ``(I - gamma P_pi) V = R_pi`` (Sutton & Barto's Figure 3.2 for that
gridworld). ``policy`` is ``uniform``, or a file holding the ``(S, A)`` table of
probabilities ``pi(a|s)`` (``.npy``, read without pickle, or ``.csv``); one action per
state with probability 1 is a deterministic policy. The checkpoint holds V, Q^pi and the
table; the policy is played (sampling from ``pi``) in the real env to check V's start value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlkit.bellman import Solution, q_values, solve_policy
from rlkit.config import require, require_gamma
from rlkit.envs import check_plannable
from rlkit.errors import BadInput
from rlkit.planning import ProbabilityTablePolicy, report_solution
from rlkit.rundir import Run
from rlkit.seeding import make_rngs

ALGO = "policy-evaluation"
FITS = "tabular toy-text envs, any policy: rlkit/GridWorld5x5-v0, FrozenLake-v1, Taxi-v4, CliffWalking-v1"
RESUMABLE = False
"""A linear solve finishes in seconds; an interrupted one starts over."""
PLANNER = True
"""Exact, from the env's model: nothing to tune by evaluation."""


@dataclass(frozen=True, kw_only=True)
class Config:
    """Policy-evaluation settings."""

    policy: str = "uniform"
    """uniform (every action equally likely), or a .npy / .csv file of the (S, A) table pi(a|s)."""
    gamma: float = 0.99
    """Discount factor, 0 < gamma <= 1 (1 only when the policy ends every episode)."""
    eval_episodes: int = 100
    """Episodes of the policy played in the real env at the end."""
    env_kwargs: dict = field(default_factory=dict)
    """Keyword arguments for gymnasium.make, e.g. env_kwargs.is_slippery=false."""

    def __post_init__(self) -> None:
        require_gamma(self.gamma)
        require("eval_episodes", self.eval_episodes, self.eval_episodes >= 1, "an integer >= 1")
        if self.policy != "uniform" and Path(self.policy).suffix not in (".npy", ".csv"):
            raise BadInput(
                f"bad value policy={self.policy!r}; allowed: uniform, or a .npy or .csv file "
                "of the (S, A) table of action probabilities"
            )


def check_env(env: gym.Env, config: Config) -> None:
    """A tabular model, gamma < 1 on a continuing task, and a policy table that fits it."""
    mdp = check_plannable(env, ALGO, config.gamma)
    policy_table(config.policy, mdp.n_states, mdp.n_actions)


def policy_table(policy: str | np.ndarray, n_states: int, n_actions: int) -> torch.Tensor:
    """The ``(S, A)`` float64 table of ``policy`` (``uniform``, a file, or an array),
    checked: every row a probability distribution."""
    if isinstance(policy, str) and policy == "uniform":
        return torch.full((n_states, n_actions), 1.0 / n_actions, dtype=torch.float64)
    if isinstance(policy, str):
        path = Path(policy)
        if not path.is_file():
            raise BadInput(f"policy file not found: {path}")
        # an untrusted file: its size (.csv) or its declared shape (.npy) is checked before
        # anything is read into memory, and .npy never unpickles
        limit = 32 * n_states * n_actions + 4096
        try:
            if path.suffix == ".npy":
                with open(path, "rb") as f:
                    major, _ = np.lib.format.read_magic(f)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if major == 1
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, _ = read_header(f)
                if tuple(shape) != (n_states, n_actions):
                    raise BadInput(
                        f"the policy table in {path} has shape {tuple(shape)}; this env needs "
                        f"({n_states}, {n_actions}): one row of action probabilities per state"
                    )
                table = np.load(path, allow_pickle=False)
            else:
                if path.stat().st_size > limit:
                    raise BadInput(
                        f"the policy table {path} is {path.stat().st_size:,} bytes; a "
                        f"({n_states}, {n_actions}) table in CSV needs at most {limit:,}"
                    )
                table = np.loadtxt(path, delimiter=",", ndmin=2)
        except (ValueError, OSError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise BadInput(f"cannot read the policy table {path}: {first}") from None
    else:
        table = np.asarray(policy)
    table = np.asarray(table, dtype=np.float64)
    if table.shape != (n_states, n_actions):
        raise BadInput(
            f"the policy table has shape {table.shape}; this env needs ({n_states}, {n_actions}): "
            "one row of action probabilities per state"
        )
    if (
        not np.isfinite(table).all()
        or (table < 0).any()
        or not np.allclose(table.sum(axis=1), 1.0, atol=1e-9)
    ):
        raise BadInput("every row of the policy table must hold probabilities >= 0 that sum to 1")
    return torch.from_numpy(table)


def evaluate_policy(
    mdp: Any, table: torch.Tensor, gamma: float, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """``V^pi`` (S,) by a linear solve, and ``Q^pi = R + gamma P V^pi`` (S, A)."""
    model = mdp.model(device)
    table = table.to(device)
    values = solve_policy(model, table, gamma)
    return values, q_values(model, values, gamma)


def train(config: Config, run: Run) -> dict[str, Any]:
    """Solve ``V^pi`` exactly, checkpoint it with ``Q^pi`` and the table, play the policy."""
    env = run.make_env()
    mdp = check_plannable(env, ALGO, config.gamma)
    env.close()
    table = policy_table(config.policy, mdp.n_states, mdp.n_actions)
    start = time.perf_counter()
    values, q = evaluate_policy(mdp, table, config.gamma, run.device)
    solution = Solution(values=values, policy=table, q=q, iterations=1, sweeps=1, error_bound=0.0)
    play = ProbabilityTablePolicy(table, np.random.default_rng(run.rngs.eval_seed))
    summary = report_solution(
        run, solution, mdp.initial, config.eval_episodes, time.perf_counter() - start, play=play
    )
    if mdp.n_states <= 1000:  # small tables are read most easily in the summary itself
        summary["values"] = values.cpu().tolist()
    return summary


def load_policy(
    checkpoint: dict[str, Any], env: gym.Env, device: str = "cpu", seed: int | None = None
) -> ProbabilityTablePolicy:
    """The evaluated policy, sampling from the eval generator of ``seed`` (default: the run's)."""
    rngs = make_rngs(int(checkpoint.get("seed", 0)) if seed is None else seed, seed_globals=False)
    return ProbabilityTablePolicy(checkpoint["policy"], np.random.default_rng(rngs.eval_seed))
