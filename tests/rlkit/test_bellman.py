"""Planners against exact oracles: independent linear solves of the Bellman equation."""

import numpy as np
import pytest
import torch

from rlkit.bellman import (
    NotConverged,
    TabularModel,
    policy_iteration,
    q_values,
    value_iteration,
)
from rlkit.envs import TabularMDP, make_env

TOY_TEXT = [
    ("FrozenLake-v1", {}),
    ("FrozenLake-v1", {"is_slippery": False}),
    ("FrozenLake8x8-v1", {}),
    ("FrozenLake8x8-v1", {"is_slippery": False}),
    ("Taxi-v4", {}),
    ("CliffWalking-v1", {}),
    ("rlkit/GridWorld5x5-v0", {}),
]


def policy_value_from_table(env, policy, gamma):
    """V of a deterministic policy, from env.unwrapped.P alone, by numpy's dense solve."""
    table = env.unwrapped.P
    n = env.observation_space.n
    a_mat = np.eye(n)
    b = np.zeros(n)
    for s in range(n):
        for p, s2, r, done in table[s][int(policy[s])]:
            b[s] += p * r
            if not done:
                a_mat[s, s2] -= gamma * p
    return np.linalg.solve(a_mat, b)


def optimality_residual(env, values, gamma):
    """max_s |max_a sum p (r + gamma V') - V(s)|, from env.unwrapped.P alone."""
    table = env.unwrapped.P
    worst = 0.0
    for s in range(env.observation_space.n):
        best = max(
            sum(p * (r + (0.0 if d else gamma * values[s2])) for p, s2, r, d in table[s][a])
            for a in range(env.action_space.n)
        )
        worst = max(worst, abs(best - values[s]))
    return worst


@pytest.mark.parametrize("env_id,kwargs", TOY_TEXT)
@pytest.mark.parametrize("method", ["modified", "macqueen", "sup"])
def test_value_iteration_matches_linear_solve_of_its_greedy_policy(env_id, kwargs, method):
    gamma = 0.9 if "GridWorld" in env_id else 0.99
    env = make_env(env_id, **kwargs)
    model = TabularMDP.from_env(env).model()
    solution = value_iteration(model, gamma, tol=1e-10, method=method)
    exact = policy_value_from_table(env, solution.policy.numpy(), gamma)
    assert np.abs(solution.values.numpy() - exact).max() <= 1e-8
    assert solution.error_bound <= 1e-10
    # and the greedy policy is optimal: its value satisfies the optimality equation
    assert optimality_residual(env, exact, gamma) <= 1e-8


@pytest.mark.parametrize("env_id,kwargs", TOY_TEXT)
def test_value_and_policy_iteration_agree(env_id, kwargs):
    gamma = 0.9 if "GridWorld" in env_id else 0.99
    env = make_env(env_id, **kwargs)
    model = TabularMDP.from_env(env).model()
    vi = value_iteration(model, gamma, tol=1e-10)
    pi = policy_iteration(model, gamma)
    assert torch.allclose(vi.values, pi.values, atol=1e-8, rtol=0)
    exact = policy_value_from_table(env, pi.policy.numpy(), gamma)
    assert np.abs(pi.values.numpy() - exact).max() <= 1e-10


def test_error_bound_is_honest_with_a_loose_tolerance():
    env = make_env("FrozenLake8x8-v1")
    model = TabularMDP.from_env(env).model()
    exact = policy_iteration(model, 0.99).values
    for method in ("modified", "macqueen", "sup"):
        loose = value_iteration(model, 0.99, tol=1e-3, method=method)
        assert float((loose.values - exact).abs().max()) <= 1e-3
        assert loose.error_bound <= 1e-3


def test_sutton_barto_figure_3_5():
    env = make_env("rlkit/GridWorld5x5-v0")
    solution = value_iteration(TabularMDP.from_env(env).model(), 0.9, tol=1e-10)
    figure = np.array(
        [
            [22.0, 24.4, 22.0, 19.4, 17.5],
            [19.8, 22.0, 19.8, 17.8, 16.0],
            [17.8, 19.8, 17.8, 16.0, 14.4],
            [16.0, 17.8, 16.0, 14.4, 13.0],
            [14.4, 16.0, 14.4, 13.0, 11.7],
        ]
    )
    assert np.abs(solution.values.numpy().reshape(5, 5) - figure).max() <= 0.05 + 1e-9


def test_random_sparse_mdp_against_dense_solve():
    mdp = TabularMDP.random(300, n_actions=4, n_successors=3, seed=1)
    model = mdp.model()
    solution = value_iteration(model, 0.99, tol=1e-9)
    p = mdp.P
    rows = np.arange(300)
    pol = solution.policy.numpy()
    exact = np.linalg.solve(np.eye(300) - 0.99 * p[rows, pol], mdp.rewards[rows, pol])
    assert np.abs(solution.values.numpy() - exact).max() <= 1e-8
    assert solution.iterations < 200  # span bounds stop long before 1,800 sup-norm sweeps


def test_q_values_by_hand():
    # two states, one action: s0 -> s1 (reward 1), s1 -> s1 (reward 2), s1 ends w.p. 0.5
    model = TabularModel.from_arrays([[[1]], [[1]]], [[[1.0]], [[0.5]]], [[1.0], [2.0]])
    q = q_values(model, torch.tensor([10.0, 20.0], dtype=torch.float64), gamma=0.5)
    assert q.squeeze(1).tolist() == [1.0 + 0.5 * 20.0, 2.0 + 0.5 * 0.5 * 20.0]
    assert not model.continuing


def test_gamma_one_on_continuing_task_is_refused():
    model = TabularMDP.from_env(make_env("rlkit/GridWorld5x5-v0")).model()
    with pytest.raises(ValueError, match="gamma=1 on a continuing task"):
        value_iteration(model, 1.0)
    with pytest.raises(ValueError, match="gamma=1 on a continuing task"):
        policy_iteration(model, 1.0)


def test_gamma_one_on_episodic_task_converges():
    env = make_env("CliffWalking-v1")
    solution = value_iteration(TabularMDP.from_env(env).model(), 1.0, tol=1e-12)
    assert solution.values[36].item() == pytest.approx(-13.0)  # 13 steps from start to goal


def test_iteration_cap_raises_instead_of_looping():
    model = TabularMDP.from_env(make_env("FrozenLake8x8-v1")).model()
    with pytest.raises(NotConverged, match="max_iterations=5"):
        value_iteration(model, 0.999, tol=1e-12, method="sup", max_iterations=5)
