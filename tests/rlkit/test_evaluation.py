import gymnasium as gym
import pytest

from rlkit.evaluation import EvalHistory, EvalResult, evaluate

# deterministic 4x4 lake: RIGHT, RIGHT, DOWN, DOWN, DOWN, RIGHT reaches the goal in 6 steps
PATH = [2, 2, 1, 1, 1, 2]


def make():
    return gym.make("FrozenLake-v1", is_slippery=False)


def test_known_returns_and_discount():
    steps = iter(PATH * 3)
    result = evaluate(lambda obs: next(steps), make, episodes=3, seed=0, gamma=0.9)
    assert result.returns == (1.0, 1.0, 1.0)
    assert result.lengths == (6, 6, 6)
    assert result.discounted_returns == pytest.approx((0.9**5,) * 3)
    assert result.mean == 1.0 and result.std == 0.0


def test_truncation_ends_an_episode():
    # LEFT forever never reaches the goal; the 100-step time limit ends it
    result = evaluate(lambda obs: 0, make, episodes=2, seed=0)
    assert result.returns == (0.0, 0.0) and result.lengths == (100, 100)
    capped = evaluate(lambda obs: 0, make, episodes=1, seed=0, max_steps=7)
    assert capped.lengths == (7,)


def test_history_auc_is_the_sum_of_means():
    history = EvalHistory()
    history.add(10, EvalResult((1.0, 3.0), (1, 1)))
    metrics = history.add(20, EvalResult((4.0, 4.0), (1, 1)))
    assert metrics["eval/auc"] == 6.0 and metrics["eval/mean_return"] == 4.0
    assert metrics["eval/std_return"] == 0.0
    again = EvalHistory.from_state_dict(history.state_dict())
    assert again.auc == 6.0 and again.steps == [10, 20]
