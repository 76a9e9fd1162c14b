"""A planner's v_start is what its greedy policy earns in the real Gymnasium env."""

import numpy as np
import pytest

from rlkit.bellman import value_iteration
from rlkit.envs import TabularMDP, make_env
from rlkit.evaluation import evaluate
from rlkit.planning import table_policy


@pytest.mark.parametrize(
    "env_id,kwargs,gamma,episodes",
    [
        ("FrozenLake-v1", {}, 0.95, 4000),
        ("FrozenLake8x8-v1", {}, 0.95, 2000),
        ("CliffWalkingSlippery-v1", {}, 0.9, 2000),
        ("rlkit/GridWorld5x5-v0", {}, 0.9, 1000),
    ],
)
def test_discounted_return_in_env_matches_v_start(env_id, kwargs, gamma, episodes):
    mdp = TabularMDP.from_env(make_env(env_id, **kwargs))
    solution = value_iteration(mdp.model(), gamma, tol=1e-10)
    v_start = float(mdp.initial @ solution.values.numpy())
    # lift the time limit; a discounted return beyond 400 steps changes by < gamma^400
    result = evaluate(
        table_policy(solution.policy),
        lambda: make_env(env_id, max_episode_steps=10**9, **kwargs),
        episodes,
        seed=123,
        gamma=gamma,
        max_steps=400,
    )
    returns = np.array(result.discounted_returns)
    stderr = returns.std(ddof=1) / np.sqrt(episodes)
    assert abs(returns.mean() - v_start) <= 4 * stderr + 1e-6
