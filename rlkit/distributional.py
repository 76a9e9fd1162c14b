"""Distributional Bellman operators: return distributions, their projections, distances,
and their dynamic programming on a tabular MDP.

The return ``G = sum_t gamma^t r_t`` of a state-action is a random variable; its law
``eta(s, a)`` satisfies the distributional Bellman equation

    eta(s, a) = law of  R + gamma * G'      (G' ~ eta(S', A'), S' ~ P(.|s, a), A' ~ pi(.|S'))

with ``G' = 0`` after a transition that ends the episode. Two finite representations:

* **categorical** (C51, Bellemare et al. 2017): probabilities on ``N`` fixed atoms
  ``z_i = v_min + i * dz``. ``project_categorical`` puts the mass of any atom ``x`` on its
  two neighbours on the grid in proportion to closeness (``x`` clipped to
  ``[v_min, v_max]``), which keeps the mean when the support holds ``x``. It is the
  orthogonal projection for the Cramer distance ``l2(p, q) = (int (F_p - F_q)^2)^(1/2)``
  (Rowland et al. 2018), and the projected operator ``Pi_C T`` is a ``sqrt(gamma)``
  contraction in the supremum of ``l2`` over state-actions.
* **quantile** (QR-DQN, Dabney et al. 2018): ``N`` atoms of mass ``1/N`` at the
  midpoint quantiles ``tau_i = (2i + 1) / 2N``. ``project_quantiles`` takes those
  quantiles of any discrete distribution, the 1-Wasserstein projection onto such
  atoms; ``Pi_Q T`` is a ``gamma`` contraction in the supremum of ``w_inf``.

Neither projected operator's fixed point is in general the projection of the true
return distribution (``Pi_C T eta_C = eta_C`` while ``Pi_C eta != Pi_C T eta``): the
gap is bounded, and zero when every target atom ``r + gamma z_i`` lands on the grid
(e.g. ``gamma = 1`` with integer rewards on an integer grid). ``categorical_evaluation``
and ``quantile_evaluation`` iterate the projected operators on a tabular MDP to their
fixed point; ``tests/rlkit/test_distributional.py`` holds them against return
distributions computed independently.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def atoms(v_min: float, v_max: float, n_atoms: int, **kwargs) -> torch.Tensor:
    """The categorical support: ``n_atoms`` evenly spaced values from ``v_min`` to ``v_max``."""
    if n_atoms < 2 or not v_min < v_max:
        raise ValueError(
            f"a support needs n_atoms >= 2 and v_min < v_max, got {n_atoms}, [{v_min}, {v_max}]"
        )
    return torch.linspace(v_min, v_max, n_atoms, **kwargs)


def project_categorical(
    values: torch.Tensor, weights: torch.Tensor, v_min: float, v_max: float, n_atoms: int
) -> torch.Tensor:
    """The categorical projection of discrete distributions onto the support.

    ``values`` and ``weights`` are ``(..., M)``: each row is a distribution with atoms at
    ``values`` carrying ``weights``. Returns ``(..., n_atoms)``: each value is clipped to
    ``[v_min, v_max]`` and its weight split between the two grid atoms around it, in
    proportion to closeness (all of it on an atom it sits on).
    """
    dz = (v_max - v_min) / (n_atoms - 1)
    b = (values.clamp(v_min, v_max) - v_min) / dz
    lower = b.floor().clamp(0, n_atoms - 1)
    upper = (lower + 1).clamp(max=n_atoms - 1)
    frac = b - lower  # 0 on an atom; (at v_max lower is the last atom and frac is 0)
    out = torch.zeros(*values.shape[:-1], n_atoms, dtype=weights.dtype, device=weights.device)
    out.scatter_add_(-1, lower.long(), weights * (1 - frac))
    out.scatter_add_(-1, upper.long(), weights * frac)
    return out


def quantile_midpoints(n: int, **kwargs) -> torch.Tensor:
    """``tau_i = (2i + 1) / 2n``, ``i = 0..n-1``: the levels quantile atoms stand for."""
    return (2 * torch.arange(n, **kwargs) + 1) / (2 * n)


def project_quantiles(values: torch.Tensor, weights: torch.Tensor, n: int) -> torch.Tensor:
    """The ``tau_i`` quantiles (``quantile_midpoints(n)``) of discrete distributions
    ``(values, weights)`` ``(..., M)``: ``(..., n)``, the smallest atom whose cumulative
    weight reaches ``tau_i`` (the 1-Wasserstein projection onto ``n`` equal-mass atoms)."""
    order = values.argsort(dim=-1)
    sorted_values = values.gather(-1, order)
    cumulative = weights.gather(-1, order).cumsum(dim=-1)
    cumulative = cumulative / cumulative[..., -1:]  # (rows sum to 1; guard round-off)
    levels = quantile_midpoints(n, dtype=values.dtype, device=values.device)
    levels = levels.expand(*values.shape[:-1], n).contiguous()
    index = torch.searchsorted(cumulative.contiguous(), levels).clamp(max=values.shape[-1] - 1)
    return sorted_values.gather(-1, index)


def _cdf_gaps(
    values_a: torch.Tensor, weights_a: torch.Tensor, values_b: torch.Tensor, weights_b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``|F_a - F_b|`` on each interval between consecutive atoms of either distribution,
    and the intervals' lengths (1-D distributions)."""
    points = torch.cat([values_a, values_b])
    mass = torch.cat([weights_a, -weights_b])
    order = points.argsort()
    points, mass = points[order], mass[order]
    gap = mass.cumsum(0)[:-1].abs()  # F_a - F_b just right of each point
    return gap, points.diff()


def cramer_distance(
    values_a: torch.Tensor, weights_a: torch.Tensor, values_b: torch.Tensor, weights_b: torch.Tensor
) -> float:
    """The Cramer distance ``(int (F_a - F_b)^2 dx)^(1/2)`` of two discrete distributions."""
    gap, width = _cdf_gaps(values_a, weights_a, values_b, weights_b)
    return float((gap.square() * width).sum().sqrt())


def wasserstein1(
    values_a: torch.Tensor, weights_a: torch.Tensor, values_b: torch.Tensor, weights_b: torch.Tensor
) -> float:
    """The 1-Wasserstein distance ``int |F_a - F_b| dx`` of two discrete distributions."""
    gap, width = _cdf_gaps(values_a, weights_a, values_b, weights_b)
    return float((gap * width).sum())


@dataclass(frozen=True)
class Transitions:
    """A tabular MDP transition by transition: ``(s, a)`` moves to ``successors[s, a, k]``
    with probability ``probs[s, a, k]``, receiving ``rewards[s, a, k]``; ``done[s, a, k]``
    ends the episode (no return follows). All ``(S, A, K)`` float64 / int64 / bool."""

    successors: torch.Tensor
    probs: torch.Tensor
    rewards: torch.Tensor
    done: torch.Tensor

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(S, A, K)``."""
        s, a, k = self.successors.shape
        return s, a, k


def _policy_weights(
    transitions: Transitions, policy: torch.Tensor | None, means: torch.Tensor
) -> torch.Tensor:
    """``pi(a'|s')`` ``(S, A)``: the given policy (actions ``(S,)`` or probabilities
    ``(S, A)``), or, with ``None``, greedy in ``means`` (control; ties to the first)."""
    n_states, n_actions, _ = transitions.shape
    if policy is None:
        return torch.nn.functional.one_hot(means.argmax(dim=1), n_actions).to(means)
    if policy.dim() == 1:
        return torch.nn.functional.one_hot(policy.long(), n_actions).to(means)
    return policy.to(means)


def _targets(
    transitions: Transitions, gamma: float, next_values: torch.Tensor, next_weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The atoms and weights of ``T eta`` for every state-action: ``(S, A, K * M)``, from
    each successor's own return distribution ``(next_values, next_weights)`` ``(S, M)``."""
    t = transitions
    keep = (~t.done).to(t.rewards)
    values = t.rewards[..., None] + gamma * keep[..., None] * next_values[t.successors]
    weights = t.probs[..., None] * next_weights[t.successors]
    n_states, n_actions, _ = t.shape
    return values.reshape(n_states, n_actions, -1), weights.reshape(n_states, n_actions, -1)


def categorical_evaluation(
    transitions: Transitions,
    gamma: float,
    support: torch.Tensor,
    policy: torch.Tensor | None = None,
    tol: float = 1e-12,
    max_iterations: int = 100_000,
) -> torch.Tensor:
    """The fixed point of the projected categorical operator ``Pi_C T^pi`` (or, with
    ``policy=None``, of the control operator, greedy in the means) on a tabular MDP:
    ``(S, A, N)`` probabilities on ``support``. Iterated from point masses at the
    support's lowest atom until no probability moves by more than ``tol``."""
    n_states, n_actions, _ = transitions.shape
    v_min, v_max, n = float(support[0]), float(support[-1]), len(support)
    probs = torch.zeros(n_states, n_actions, n, dtype=torch.float64, device=support.device)
    probs[..., 0] = 1.0
    for _ in range(max_iterations):
        pi = _policy_weights(transitions, policy, probs @ support)
        state_probs = (pi[..., None] * probs).sum(dim=1)  # eta(s') = sum_a' pi(a'|s') eta(s', a')
        next_values = support.expand(n_states, n)
        values, weights = _targets(transitions, gamma, next_values, state_probs)
        new = project_categorical(values, weights, v_min, v_max, n)
        change = float((new - probs).abs().max())
        probs = new
        if change <= tol:
            return probs
    raise RuntimeError(f"categorical evaluation did not reach {tol} in {max_iterations} sweeps")


def quantile_evaluation(
    transitions: Transitions,
    gamma: float,
    n_quantiles: int,
    policy: torch.Tensor | None = None,
    tol: float = 1e-12,
    max_iterations: int = 100_000,
) -> torch.Tensor:
    """The fixed point of the projected quantile operator ``Pi_Q T^pi`` (``policy=None``:
    greedy in the means) on a tabular MDP: ``(S, A, N)`` atoms of mass ``1/N`` at the
    midpoint quantiles, iterated from all zeros until no atom moves by more than ``tol``."""
    n_states, n_actions, _ = transitions.shape
    theta = torch.zeros(
        n_states, n_actions, n_quantiles, dtype=torch.float64, device=transitions.probs.device
    )
    for _ in range(max_iterations):
        pi = _policy_weights(transitions, policy, theta.mean(dim=-1))
        # eta(s'): the atoms of every action, each weighted pi(a'|s') / N
        next_values = theta.reshape(n_states, -1)
        next_weights = (pi[..., None] / n_quantiles).expand_as(theta).reshape(n_states, -1)
        values, weights = _targets(transitions, gamma, next_values, next_weights)
        new = project_quantiles(values, weights, n_quantiles)
        change = float((new - theta).abs().max())
        theta = new
        if change <= tol:
            return theta
    raise RuntimeError(f"quantile evaluation did not reach {tol} in {max_iterations} sweeps")
