"""Human-normalized Atari scores (``rlkit.scores``) against the published reference table."""

import ale_py
import gymnasium as gym
import pytest

from rlkit.scores import ATARI_SCORES, atari_game, human_normalized, with_human_normalized

gym.register_envs(ale_py)


def test_the_table_holds_the_57_games_with_their_published_references():
    assert len(ATARI_SCORES) == 57
    # (random, human) as the DQN papers print them
    assert ATARI_SCORES["Pong"] == (-20.7, 14.6)
    assert ATARI_SCORES["Breakout"] == (1.7, 30.5)
    assert ATARI_SCORES["SpaceInvaders"] == (148.0, 1668.7)
    assert ATARI_SCORES["MontezumaRevenge"] == (0.0, 4753.3)
    assert ATARI_SCORES["Skiing"] == (-17098.1, -4336.9)
    for game, (random, human) in ATARI_SCORES.items():
        assert human > random, game  # so normalizing keeps the order of scores
        assert f"ALE/{game}-v5" in gym.registry, game  # named as the ids name it


@pytest.mark.parametrize(
    "env_id",
    [
        "PongNoFrameskip-v4",
        "Pong-v4",
        "Pong-v0",
        "PongDeterministic-v4",
        "Pong-ramNoFrameskip-v4",
        "ALE/Pong-v5",
        "ALE/Pong-ram-v5",
    ],
)
def test_every_form_of_an_atari_id_names_its_game(env_id):
    assert atari_game(env_id) == "Pong"


@pytest.mark.parametrize(
    "env_id",
    [
        "CartPole-v1",
        "Taxi-v4",  # a v4 id, but no Atari game
        "MinAtar/Breakout-v1",  # MinAtar's games have no human reference
        "ALE/Pooyan-v5",  # an Atari game outside the 57
        "ALE/Pitfall2-v5",
        "Pong-v1",
        "ALE/Pong-v5x",
        "xALE/Pong-v5",
        "rlkit/GridWorld5x5-v0",
    ],
)
def test_other_ids_have_no_game(env_id):
    assert atari_game(env_id) is None
    assert human_normalized(env_id, 10.0) is None


def test_every_registered_id_of_the_57_games_normalizes():
    ids = [i for i in gym.registry if atari_game(i) is not None]
    games = {atari_game(i) for i in ids}
    assert games == set(ATARI_SCORES)
    for game in ATARI_SCORES:
        for env_id in (f"ALE/{game}-v5", f"{game}NoFrameskip-v4"):
            assert atari_game(env_id) == game


def test_random_play_is_0_and_the_human_tester_1():
    for game, (random, human) in ATARI_SCORES.items():
        assert human_normalized(f"ALE/{game}-v5", random) == pytest.approx(0.0, abs=1e-12)
        assert human_normalized(f"{game}NoFrameskip-v4", human) == pytest.approx(1.0)
    # Pong won 21-0: (21 + 20.7) / (14.6 + 20.7)
    assert human_normalized("PongNoFrameskip-v4", 21) == pytest.approx(41.7 / 35.3)
    assert human_normalized("ALE/Breakout-v5", 59.3) == pytest.approx(2.0)


def test_metrics_gain_the_normalized_score_after_the_mean_return():
    metrics = {"eval/mean_return": 14.6, "eval/std_return": 1.0, "eval/episodes": 10}
    out = with_human_normalized(metrics, "ALE/Pong-v5")
    assert list(out) == [
        "eval/mean_return",
        "eval/human_normalized",
        "eval/std_return",
        "eval/episodes",
    ]
    assert out["eval/human_normalized"] == pytest.approx(1.0)
    assert "eval/human_normalized" not in metrics  # the caller's dict is left as it was
    assert with_human_normalized(metrics, "CartPole-v1") == metrics
    assert with_human_normalized({"time/sps": 5.0}, "ALE/Pong-v5") == {"time/sps": 5.0}
