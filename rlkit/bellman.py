"""Bellman operators of a tabular MDP, in torch, on any device.

A model holds the *continuation* kernel: for each state-action, the probabilities of
moving to each successor **without** the episode ending. Transitions that end the
episode carry their reward but no future value, so

    Q(s, a) = R(s, a) + gamma * sum_s' C(s, a, s') V(s')

where ``C`` is ``P`` with the terminating transitions removed. When every row of ``C``
sums to one the task is continuing.

The kernel is kept in CSR form with one row per state-action, so a sweep costs one
sparse matrix-vector product: ``O(nnz)``, never ``O(S^2)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class TabularModel:
    """Continuation kernel and expected rewards of an MDP, as torch tensors."""

    kernel: torch.Tensor
    """(S*A, S) sparse CSR float64: probability of continuing to s' from row s*A+a."""
    rewards: torch.Tensor
    """(S, A) float64: expected immediate reward."""
    successors: torch.Tensor
    """(S, A, K) int64: successor states (padded rows have probability 0)."""
    probs: torch.Tensor
    """(S, A, K) float64: continuation probability of each successor."""
    continuing: bool
    """True when no transition ends the episode (every row of the kernel sums to 1)."""

    @property
    def n_states(self) -> int:
        """Number of states S."""
        return self.rewards.shape[0]

    @property
    def n_actions(self) -> int:
        """Number of actions A."""
        return self.rewards.shape[1]

    @property
    def device(self) -> torch.device:
        """Where the tensors live."""
        return self.rewards.device

    @classmethod
    def from_arrays(
        cls,
        successors: np.ndarray | torch.Tensor,
        probs: np.ndarray | torch.Tensor,
        rewards: np.ndarray | torch.Tensor,
        device: str | torch.device = "cpu",
    ) -> TabularModel:
        """Build from padded successor lists ``(S, A, K)`` of continuation probabilities."""
        succ = torch.as_tensor(successors, dtype=torch.int64)
        prob = torch.as_tensor(probs, dtype=torch.float64)
        rew = torch.as_tensor(rewards, dtype=torch.float64)
        n_states, n_actions, k = succ.shape
        if prob.shape != succ.shape or rew.shape != (n_states, n_actions):
            raise ValueError(
                f"shapes disagree: successors {tuple(succ.shape)}, probs {tuple(prob.shape)}, rewards {tuple(rew.shape)}"
            )
        row_sums = prob.sum(-1)
        if (prob < 0).any() or (row_sums > 1 + 1e-9).any():
            raise ValueError("continuation probabilities must be >= 0 and sum to at most 1 per row")
        continuing = bool(torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-12, rtol=0))
        crow = torch.arange(0, n_states * n_actions * k + 1, k, dtype=torch.int64)
        kernel = csr(crow, succ.reshape(-1), prob.reshape(-1), (n_states * n_actions, n_states))
        device = torch.device(device)
        return cls(
            kernel=kernel.to(device),
            rewards=rew.to(device),
            successors=succ.to(device),
            probs=prob.to(device),
            continuing=continuing,
        )


def csr(
    crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: tuple[int, int]
) -> torch.Tensor:
    """A CSR tensor, without torch's beta-state warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size=size, check_invariants=False)


def q_values(model: TabularModel, values: torch.Tensor, gamma: float) -> torch.Tensor:
    """``Q = R + gamma * C V``, shape (S, A)."""
    future = (model.kernel @ values).view(model.n_states, model.n_actions)
    return torch.add(model.rewards, future, alpha=gamma)


def greedy(q: torch.Tensor, previous: torch.Tensor | None = None, tol: float = 0.0) -> torch.Tensor:
    """Greedy actions of ``q`` (S, A); keep ``previous[s]`` when it is within ``tol`` of the best.

    Keeping the previous action on (near-)ties is what makes policy iteration stop.
    """
    best = q.argmax(dim=1)
    if previous is None:
        return best
    keep = q.gather(1, previous[:, None]).squeeze(1) >= q.max(dim=1).values - tol
    return torch.where(keep, previous, best)


def policy_kernel(model: TabularModel, policy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The Markov chain of a policy: (S, S) CSR kernel and (S,) rewards.

    ``policy`` is deterministic, ``(S,)`` actions, or stochastic, ``(S, A)`` probabilities
    ``pi(a|s)``: then ``C_pi(s, s') = sum_a pi(a|s) C(s, a, s')`` and
    ``R_pi(s) = sum_a pi(a|s) R(s, a)``.
    """
    n_states = model.n_states
    rows = torch.arange(n_states, device=model.device)
    if policy.dim() == 2:
        weights = model.probs * policy.to(model.probs)[:, :, None]  # (S, A, K)
        per_row = weights[0].numel()
        index = torch.stack([rows.repeat_interleave(per_row), model.successors.reshape(-1)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            shape = (n_states, n_states)
            coo = torch.sparse_coo_tensor(index, weights.reshape(-1), shape, check_invariants=False)
        kernel = coo.coalesce().to_sparse_csr()  # a successor reached by two actions: summed
        return kernel, (policy.to(model.rewards) * model.rewards).sum(dim=1)
    succ = model.successors[rows, policy]  # (S, K)
    prob = model.probs[rows, policy]  # (S, K)
    k = succ.shape[1]
    crow = torch.arange(0, n_states * k + 1, k, dtype=torch.int64, device=model.device)
    kernel = csr(crow, succ.reshape(-1), prob.reshape(-1), (n_states, n_states))
    return kernel, model.rewards[rows, policy]


def solve_policy(model: TabularModel, policy: torch.Tensor, gamma: float) -> torch.Tensor:
    """Exact value of a policy, deterministic ``(S,)`` or stochastic ``(S, A)``: solve
    ``(I - gamma C_pi) V = R_pi``.

    Dense LU for up to 8192 states; above that, Richardson iteration with MacQueen
    bounds down to 1e-13 relative (float64 round-off), since a sparse direct solve of
    a random MDP fills in.
    """
    kernel, rewards = policy_kernel(model, policy)
    n = model.n_states
    if n <= 8192:
        dense = torch.eye(n, dtype=torch.float64, device=model.device) - gamma * kernel.to_dense()
        values = torch.linalg.solve(dense, rewards)
        if not torch.isfinite(values).all():
            raise ArithmeticError("the policy's Bellman system is singular")
        return values
    scale = float(rewards.abs().max()) / max(1.0 - gamma, 1e-12)
    values, _ = iterate_to_bound(
        lambda v: torch.add(rewards, kernel @ v, alpha=gamma),
        torch.zeros(n, dtype=torch.float64, device=model.device),
        gamma,
        tol=max(scale, 1.0) * 1e-13,
        continuing=model.continuing,
        max_iterations=1_000_000,
    )
    return values


class NotConverged(RuntimeError):
    """An iteration reached its cap before its error bound fell below the tolerance."""


def error_bound(
    diff: torch.Tensor, gamma: float, continuing: bool, sup: bool = False
) -> tuple[float, float]:
    """MacQueen's bound on ``max |v' + shift - v*|`` from ``diff = v' - v``, and that shift.

    With ``g = gamma / (1 - gamma)``: ``v' + g*min(d) <= v* <= v' + g*max(d)``, so the
    midpoint (``shift = g * (max + min) / 2``) is within ``g * (max - min) / 2``. When
    some transitions end the episode the kernel is sub-stochastic and the bounds widen
    to include 0. ``sup=True`` gives the textbook bound ``g * max |d|`` around ``v'``
    itself (shift 0). With ``gamma == 1`` there is no such bound: ``max |d|`` is returned.
    """
    lo, hi = (float(x) for x in diff.aminmax())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise NotConverged("values became non-finite")
    if sup:
        lo, hi = min(lo, -hi, 0.0), max(hi, -lo, 0.0)
    elif not continuing:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if gamma >= 1.0:
        return max(-lo, hi), 0.0
    factor = gamma / (1.0 - gamma)
    return factor * (hi - lo) / 2.0, 0.0 if sup else factor * (hi + lo) / 2.0


def iterate_to_bound(
    operator,
    values: torch.Tensor,
    gamma: float,
    tol: float,
    continuing: bool,
    max_iterations: int,
) -> tuple[torch.Tensor, int]:
    """Apply a gamma-contraction until the error of the returned values is <= ``tol``.

    Stops by ``error_bound`` (MacQueen's bounds; the midpoint is returned).
    Returns the values and the number of sweeps.
    """
    for sweep in range(1, max_iterations + 1):
        new = operator(values)
        bound, shift = error_bound(new - values, gamma, continuing)
        if bound <= tol:
            return new.add_(shift), sweep
        values = new
    raise NotConverged(
        f"no convergence to tol={tol:g} within max_iterations={max_iterations:,} sweeps"
    )


# ------------------------------------------------------------------ solvers


@dataclass(frozen=True)
class Solution:
    """What a planner returns."""

    values: torch.Tensor
    """(S,) float64: the optimal state values (within ``error_bound``)."""
    policy: torch.Tensor
    """(S,) int64: a greedy (optimal) action per state."""
    q: torch.Tensor
    """(S, A) float64: Q computed from ``values``."""
    iterations: int
    """Sweeps of the optimality operator (value iteration) or improvements (policy iteration)."""
    sweeps: int
    """Every sweep over the kernel, evaluation sweeps included."""
    error_bound: float
    """Guaranteed bound on max |values - V*| (0 for an exact linear solve, up to round-off)."""


VI_METHODS = ("modified", "macqueen", "sup")


def check_solvable(model: TabularModel, gamma: float) -> None:
    """Refuse ``gamma == 1`` on a continuing task: its values are unbounded."""
    if gamma >= 1.0 and model.continuing:
        raise ValueError(
            "gamma=1 on a continuing task (no transition ends an episode) has unbounded "
            "values and cannot converge; use gamma < 1"
        )


def value_iteration(
    model: TabularModel,
    gamma: float,
    tol: float = 1e-8,
    method: str = "modified",
    max_iterations: int = 100_000,
    eval_sweeps: int = 20,
    callback=None,
) -> Solution:
    """Solve ``V = max_a [R + gamma C V]`` to within ``tol`` (max-norm) of V*.

    Methods:
      * ``modified`` (default): modified policy iteration: one greedy sweep, then
        ``eval_sweeps - 1`` cheaper sweeps of the greedy policy's operator (1/A of the
        work each), stopped by the bounds below evaluated at each greedy sweep. The
        fastest here on large random MDPs (benchmarks/value_iteration.py).
      * ``macqueen``: value iteration stopped by MacQueen's span bounds,
        returning the midpoint of the bounds. On mixing MDPs the span contracts much
        faster than the max-norm, so it needs far fewer sweeps for the same guarantee.
      * ``sup``: textbook value iteration, stopped when
        ``gamma / (1 - gamma) * max|V_k+1 - V_k| <= tol``.

    ``callback(iteration, bound)`` is called after each greedy sweep.
    """
    if method not in VI_METHODS:
        raise ValueError(f"method must be one of {VI_METHODS}, got {method!r}")
    check_solvable(model, gamma)
    values = torch.zeros(model.n_states, dtype=torch.float64, device=model.device)
    sweeps = 0
    for iteration in range(1, max_iterations + 1):
        q = q_values(model, values, gamma)
        new = q.max(dim=1).values
        sweeps += 1
        bound, shift = error_bound(new - values, gamma, model.continuing, sup=method == "sup")
        done = bound <= tol
        if callback is not None:
            callback(iteration, bound)
        if done:
            values = new.add_(shift) if shift else new
            q = q_values(model, values, gamma)
            return Solution(values, q.argmax(dim=1), q, iteration, sweeps, bound)
        values = new
        if method == "modified" and eval_sweeps > 1:
            kernel, rewards = policy_kernel(model, q.argmax(dim=1))
            for _ in range(eval_sweeps - 1):
                values = torch.add(rewards, kernel @ values, alpha=gamma)
                sweeps += 1
    raise NotConverged(
        f"value iteration did not reach tol={tol:g} within max_iterations={max_iterations:,}; "
        "raise max_iterations or tol, or lower gamma"
    )


def policy_iteration(
    model: TabularModel,
    gamma: float,
    max_iterations: int = 1_000,
    callback=None,
) -> Solution:
    """Howard's policy iteration with exact evaluation (a linear solve per policy).

    Starts from the myopic policy ``argmax_a R(s, a)``; improves greedily, keeping the
    current action on ties, and stops when the policy is stable.
    ``callback(iteration, changed)`` is called after each improvement with the number
    of states whose action changed.
    """
    check_solvable(model, gamma)
    policy = model.rewards.argmax(dim=1)
    for iteration in range(1, max_iterations + 1):
        try:
            values = solve_policy(model, policy, gamma)
        except (ArithmeticError, RuntimeError, NotConverged) as e:
            raise NotConverged(
                f"cannot evaluate the policy of iteration {iteration} ({e}); with gamma=1 a "
                "policy that never ends the episode has no finite value: use gamma < 1 or "
                "value-iteration"
            ) from None
        q = q_values(model, values, gamma)
        scale = float(values.abs().max()) + 1.0
        improved = greedy(q, previous=policy, tol=1e-12 * scale)
        changed = int((improved != policy).sum())
        if callback is not None:
            callback(iteration, changed)
        if changed == 0:
            residual = float((q.max(dim=1).values - values).abs().max())
            bound = residual * (gamma / (1.0 - gamma)) if gamma < 1.0 else residual
            return Solution(values, policy, q, iteration, iteration, bound)
        policy = improved
    raise NotConverged(
        f"policy iteration did not stabilise within max_iterations={max_iterations:,}"
    )
