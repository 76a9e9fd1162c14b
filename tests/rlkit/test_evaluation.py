import gymnasium as gym
import pytest

from rlkit.evaluation import EvalHistory, EvalResult, EvaluationCancelled, evaluate, record_video

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


def test_a_cancelled_evaluation_raises_between_steps_and_closes_its_env():
    closed, asked = [], []

    def make_tracked():
        env = make()
        close = env.close
        env.close = lambda: (closed.append(True), close())
        return env

    def cancel():
        asked.append(True)
        return len(asked) > 8  # the 9th question: inside the second episode

    steps = iter(PATH * 3)
    with pytest.raises(EvaluationCancelled, match="episode 2 of 3"):
        evaluate(lambda obs: next(steps), make_tracked, episodes=3, seed=0, cancel=cancel)
    assert closed == [True] and len(asked) == 9  # asked before each of the 9 steps taken


def test_a_video_cut_short_writes_no_file(tmp_path):
    def rendered():
        return gym.make("CartPole-v1", render_mode="rgb_array")

    calls = []

    def cancel():
        calls.append(True)
        return len(calls) > 5

    with pytest.raises(EvaluationCancelled):
        record_video(lambda obs: 0, rendered, tmp_path, "cut", seed=0, cancel=cancel)
    assert not list(tmp_path.glob("*.mp4"))
    result, files = record_video(lambda obs: 0, rendered, tmp_path, "whole", seed=0)
    assert [f.name for f in files] == ["whole-episode-0.mp4"] and files[0].is_file()
    assert result.lengths[0] > 5  # so the first one was cut inside its episode
