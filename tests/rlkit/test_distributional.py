"""``rlkit.distributional``: projections, distances, and the projected distributional
Bellman operators on FrozenLake held against return distributions computed independently
(first-passage probabilities of the goal) and against the Bellman equation's exact Q."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlkit.bellman import policy_iteration, q_values, solve_policy
from rlkit.distributional import (
    atoms,
    categorical_evaluation,
    cramer_distance,
    project_categorical,
    project_quantiles,
    quantile_evaluation,
    quantile_midpoints,
    wasserstein1,
)
from rlkit.envs import TabularMDP, make_env


def frozen_lake() -> TabularMDP:
    return TabularMDP.from_env(make_env("FrozenLake-v1"))


def optimal(mdp: TabularMDP, gamma: float) -> torch.Tensor:
    actions = policy_iteration(mdp.model(), gamma).policy
    return torch.nn.functional.one_hot(actions, mdp.n_actions).to(torch.float64)


def uniform(mdp: TabularMDP) -> torch.Tensor:
    return torch.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions, dtype=torch.float64)


def exact_q(mdp: TabularMDP, policy: torch.Tensor, gamma: float) -> torch.Tensor:
    model = mdp.model()
    return q_values(model, solve_policy(model, policy, gamma), gamma)


def first_passage_returns(mdp: TabularMDP, policy: torch.Tensor, gamma: float):
    """The exact return distribution of every (s, a) in an MDP whose only reward is 1 on a
    transition that ends the episode (FrozenLake's goal): the return is gamma^(T-1) with
    T the step that enters the goal, else 0. The law of T comes from propagating the
    state distribution of the episodes still running, step by step, until less than 1e-15
    of it is left. Returns ``(values (S, A, M), weights (S, A, M))`` with zero-weight
    padding."""
    succ, prob, done = mdp.successors, mdp.probs, mdp.done
    reward = mdp.transition_rewards
    assert set(np.unique(reward)) <= {0.0, 1.0} and np.all(done[reward == 1])
    n_states, n_actions, _ = succ.shape
    pi = policy.numpy()
    goal_now = (prob * (reward == 1)).sum(-1)  # (S, A): enter the goal on this step
    running = np.zeros((n_states, n_actions, n_states))  # from (s, a): where it still runs
    s_index, a_index, _ = np.indices(succ.shape)
    np.add.at(running, (s_index, a_index, succ), prob * ~done)
    cont = np.einsum("sa,sat->st", pi, running)  # the chain under pi
    goal = np.einsum("sa,sa->s", pi, goal_now)
    masses = [goal_now]
    state = running  # (S, A, S): after step 1
    while state.sum(-1).max() > 1e-15:
        masses.append(state @ goal)
        state = state @ cont
        assert len(masses) < 100_000
    masses = np.stack(masses, axis=-1)  # (S, A, T)
    values = gamma ** np.arange(masses.shape[-1], dtype=np.float64)
    values = np.broadcast_to(values, masses.shape)
    zero = 1.0 - masses.sum(-1, keepdims=True)
    values = np.concatenate([np.zeros_like(zero), values], axis=-1)
    weights = np.concatenate([zero, masses], axis=-1)
    return torch.from_numpy(np.ascontiguousarray(values)), torch.from_numpy(weights)


def test_categorical_projection_keeps_the_mean_and_splits_mass_by_closeness():
    support = atoms(-1.0, 1.0, 5, dtype=torch.float64)  # -1, -0.5, 0, 0.5, 1
    values = torch.tensor([[0.25, 0.5, 2.0]], dtype=torch.float64)
    weights = torch.tensor([[0.5, 0.25, 0.25]], dtype=torch.float64)
    out = project_categorical(values, weights, -1.0, 1.0, 5)[0]
    # 0.25 halfway between 0 and 0.5; 0.5 on its atom; 2.0 clipped to 1
    assert torch.allclose(out, torch.tensor([0, 0, 0.25, 0.5, 0.25], dtype=torch.float64))
    inside = torch.tensor([[-0.9, 0.13, 0.77]], dtype=torch.float64)
    w = torch.tensor([[0.2, 0.3, 0.5]], dtype=torch.float64)
    projected = project_categorical(inside, w, -1.0, 1.0, 5)
    assert float(projected @ support) == pytest.approx(float((inside * w).sum()), abs=1e-15)
    assert float(projected.sum()) == pytest.approx(1.0, abs=1e-15)


def test_quantile_projection_takes_the_midpoint_quantiles():
    values = torch.tensor([[3.0, 1.0, 2.0, 0.0]], dtype=torch.float64)
    weights = torch.tensor([[0.1, 0.4, 0.3, 0.2]], dtype=torch.float64)
    # CDF: 0 -> 0.2, 1 -> 0.6, 2 -> 0.9, 3 -> 1.0; levels 0.125, 0.375, 0.625, 0.875
    out = project_quantiles(values, weights, 4)[0]
    assert out.tolist() == [0.0, 1.0, 2.0, 2.0]
    assert torch.allclose(quantile_midpoints(4), torch.tensor([0.125, 0.375, 0.625, 0.875]))


def test_distances_against_their_definitions():
    a_values, a_weights = torch.tensor([0.0, 1.0]), torch.tensor([0.5, 0.5])
    b_values, b_weights = torch.tensor([0.5]), torch.tensor([1.0])
    # F_a - F_b: 0.5 on [0, 0.5), -0.5 on [0.5, 1): W1 = 0.5, Cramer = sqrt(0.25) = 0.5
    assert wasserstein1(a_values, a_weights, b_values, b_weights) == pytest.approx(0.5)
    assert cramer_distance(a_values, a_weights, b_values, b_weights) == pytest.approx(0.5)
    assert cramer_distance(a_values, a_weights, a_values, a_weights) == 0.0


def test_on_a_lattice_the_categorical_fixed_point_is_the_exact_return_distribution():
    """gamma = 1 and FrozenLake's 0/1 reward: every target atom r + z lands on the integer
    grid, so the projected operator loses nothing and its fixed point is the true law of
    the return: 1 with the probability of reaching the goal (Q of gamma 1), else 0."""
    mdp = frozen_lake()
    support = atoms(-1.0, 2.0, 4, dtype=torch.float64)  # -1, 0, 1, 2
    for policy in (uniform(mdp), optimal(mdp, 0.999)):
        eta = categorical_evaluation(mdp.transitions(), 1.0, support, policy, tol=1e-14)
        reach = exact_q(mdp, policy, 1.0)
        want = torch.stack([torch.zeros_like(reach), 1 - reach, reach, torch.zeros_like(reach)], -1)
        assert torch.allclose(eta, want, atol=1e-10)


@pytest.mark.parametrize("which", ["uniform", "optimal"])
def test_the_categorical_fixed_point_keeps_q_and_lies_within_rowlands_bound(which):
    """gamma = 0.9: the support [0, 1] holds every return, so the projection keeps means and
    the fixed point's means are Q^pi exactly (for the optimal policy, Q*). Its distance to
    the true return distribution is not zero, and is bounded (Rowland et al. 2018, Prop. 2):
    sup l2(eta_C, eta) <= sup l2(Pi_C eta, eta) / sqrt(1 - gamma)."""
    gamma, mdp = 0.9, frozen_lake()
    policy = uniform(mdp) if which == "uniform" else optimal(mdp, gamma)
    support = atoms(0.0, 1.0, 51, dtype=torch.float64)
    eta = categorical_evaluation(mdp.transitions(), gamma, support, policy, tol=1e-14)
    q = exact_q(mdp, policy, gamma)
    assert torch.allclose(eta @ support, q, atol=1e-10)
    if which == "optimal":  # control (greedy in the means) reaches the same fixed point's Q*
        control = categorical_evaluation(mdp.transitions(), gamma, support, None, tol=1e-14)
        assert torch.allclose(control @ support, q, atol=1e-10)
    values, weights = first_passage_returns(mdp, policy, gamma)
    assert torch.allclose((values * weights).sum(-1), q, atol=1e-12)  # the same Q, independently
    projected = project_categorical(values, weights, 0.0, 1.0, 51)
    gaps, errors, apart = [], [], []
    for s in range(mdp.n_states):
        for a in range(mdp.n_actions):
            truth = (values[s, a], weights[s, a])
            gaps.append(cramer_distance(support, projected[s, a], *truth))
            errors.append(cramer_distance(support, eta[s, a], *truth))
            apart.append(cramer_distance(support, eta[s, a], support, projected[s, a]))
    # measured: uniform 0.0054 <= 0.0168, optimal 0.0119 <= 0.0367
    assert max(errors) <= max(gaps) / (1 - gamma) ** 0.5
    # the fixed point is not the projection of the true law (here up to 8e-4 / 4e-3 apart)
    assert max(apart) > 1e-4


def test_the_quantile_fixed_point_lies_within_its_w1_bound():
    """The quantile fixed point eta_Q of Pi_Q T^pi against the true return distribution:
    sup_(s,a) w1(eta_Q, eta) <= sup w1(Pi_Q T eta_Q, T eta_Q) / (1 - gamma), since T is a
    gamma-contraction in sup-w1 and eta_Q = Pi_Q T eta_Q (triangle inequality). For returns
    in [0, 1] a projection onto N equal-mass atoms moves at most 1 / (2N) in w1, so the
    bound is at most 1 / (2N (1 - gamma)); the a-posteriori one is measured."""
    gamma, n, mdp = 0.9, 50, frozen_lake()
    policy = uniform(mdp)
    theta = quantile_evaluation(mdp.transitions(), gamma, n, policy, tol=1e-13)
    values, weights = first_passage_returns(mdp, policy, gamma)
    equal = torch.full((n,), 1.0 / n, dtype=torch.float64)
    errors = [
        wasserstein1(theta[s, a], equal, values[s, a], weights[s, a])
        for s in range(mdp.n_states)
        for a in range(mdp.n_actions)
    ]
    # T eta_Q in full (before projection), and how far the projection moved it
    from rlkit.distributional import _targets

    t = mdp.transitions()
    pi = policy
    next_values = theta.reshape(mdp.n_states, -1)
    next_weights = (pi[..., None] / n).expand_as(theta).reshape(mdp.n_states, -1)
    full_values, full_weights = _targets(t, gamma, next_values, next_weights)
    moved = [
        wasserstein1(theta[s, a], equal, full_values[s, a], full_weights[s, a])
        for s in range(mdp.n_states)
        for a in range(mdp.n_actions)
    ]
    assert max(moved) <= 1 / (2 * n) + 1e-12
    assert max(errors) <= max(moved) / (1 - gamma) + 1e-12
    q = exact_q(mdp, policy, gamma)  # the means within the same bound
    assert float((theta.mean(-1) - q).abs().max()) <= max(errors) + 1e-12


def test_a_support_that_cannot_hold_returns_is_refused():
    with pytest.raises(ValueError, match="n_atoms >= 2 and v_min < v_max"):
        atoms(1.0, 1.0, 51)
    with pytest.raises(ValueError, match="n_atoms >= 2"):
        atoms(0.0, 1.0, 1)
