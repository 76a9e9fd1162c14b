"""MinAtar through ``make_env``: channels-first 0/1 planes equal to the package's own
state, the paper's small CNN in DQN, and whole observations in DQN's replay."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlkit.envs import make_env
from rlkit.envs.minatar import GAMES


@pytest.mark.parametrize("game", GAMES)
def test_observations_are_the_games_own_state_channels_first(game):
    from minatar import Environment

    env = make_env(f"MinAtar/{game}-v1", seed=0)
    raw = Environment(env_name={"SpaceInvaders": "space_invaders"}.get(game, game.lower()))
    obs, _ = env.reset(seed=3)
    raw.seed(3)
    raw.reset()
    assert obs.dtype == np.uint8 and obs.shape == env.observation_space.shape
    assert obs.shape[1:] == (10, 10) and set(np.unique(obs)) <= {0, 1}
    actions = env.unwrapped.action_set
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = int(rng.integers(env.action_space.n))
        obs, reward, terminated, truncated, info = env.step(a)
        raw_reward, raw_done = raw.act(actions[a])
        assert reward == raw_reward and terminated == raw_done
        assert np.array_equal(obs, raw.state().transpose(2, 0, 1).astype(np.uint8))
        if terminated or truncated:
            assert "episode" in info
            break


def test_dqn_uses_the_small_cnn_and_stores_whole_observations():
    from rlkit.agents.dqn import Config, QNetwork, frame_stack_of
    from rlkit.nn import MinAtarCNN

    env = make_env("MinAtar/Breakout-v1")
    assert frame_stack_of(env) == 1  # planes are objects, not a frame stack
    assert frame_stack_of(make_env("PongNoFrameskip-v4")) == 4
    net = QNetwork(env.observation_space.shape, 3, Config(), torch.Generator().manual_seed(0))
    assert isinstance(net.torso, MinAtarCNN)
    assert net(torch.zeros(2, *env.observation_space.shape, dtype=torch.uint8)).shape == (2, 3)


def test_a_dqn_run_on_minatar_learns_and_evaluates():
    import rlkit

    rows = []
    agent = rlkit.train(
        "dqn",
        "MinAtar/Breakout-v1",
        seed=0,
        run_dir=None,
        callback=rows.append,
        total_steps=1500,
        learning_starts=500,
        buffer_size=5000,
        eval_episodes=1,
        log_interval=500,
    )
    assert any("train/loss" in r for r in rows)
    assert "eval/mean_return" in agent.evaluate(episodes=1)


@pytest.mark.parametrize("game", GAMES)
def test_a_snapshot_holds_the_whole_game(game):
    """A game restored from ``rlkit.snapshot`` into a freshly built env plays on exactly as
    the original (the same observations, rewards and ends for the same actions), its
    spawns and sticky actions included; a checkpoint without the game's state says so."""
    from rlkit.snapshot import env_state, load_env_state

    original = make_env(f"MinAtar/{game}-v1")
    original.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(150):
        *_, terminated, truncated, _ = original.step(int(rng.integers(original.action_space.n)))
        if terminated or truncated:
            original.reset()
    saved = env_state(original)
    copy = make_env(f"MinAtar/{game}-v1")
    copy.reset(seed=99)  # another game altogether until the state is loaded
    load_env_state(copy, saved)
    for _ in range(300):
        action = int(rng.integers(original.action_space.n))
        a, b = original.step(action), copy.step(action)
        assert np.array_equal(a[0], b[0]) and a[1:4] == b[1:4]
        if a[2] or a[3]:
            assert np.array_equal(original.reset()[0], copy.reset()[0])
    for state in saved:
        state.pop("extra", None)
    with pytest.warns(UserWarning, match="no MinAtar game state"):
        load_env_state(make_env(f"MinAtar/{game}-v1"), saved)


def test_the_six_action_ids_take_their_games_preset():
    """``MinAtar/<Game>-v0`` (all six actions, as Young & Tian played) has no preset of its
    own: it takes the ``-v1`` one, so ``rlkit train dqn MinAtar/Breakout-v0`` runs MinAtar's
    DQN, not the algorithm's defaults; other ids are looked up as they are."""
    from rlkit.launch import default_config_path, plan_run

    for game in GAMES:
        v1 = default_config_path("dqn", f"MinAtar/{game}-v1")
        assert v1 is not None and v1.name == f"MinAtar-{game}-v1.yaml"
        assert default_config_path("dqn", f"MinAtar/{game}-v0") == v1
    assert default_config_path("dqn", "MinAtar/Breakout-v2") is None
    assert default_config_path("ppo", "MinAtar/Breakout-v0") is None  # no ppo preset
    spec = plan_run("dqn", "MinAtar/Breakout-v0", run_dir=None, wandb="disabled")
    assert spec.env_id == "MinAtar/Breakout-v0"
    assert (spec.config.optimizer, spec.config.total_steps) == ("rmsprop", 5_000_000)
    assert spec.make_env().action_space.n == 6


def test_rgb_frames_are_bytes_with_each_cell_a_square_of_the_games_colour():
    from rlkit.envs.minatar import RENDER_CELL

    env = make_env("MinAtar/Breakout-v1", seed=0, render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs, *_ = env.step(0)
    frame = env.render()
    palette = env.unwrapped.render()  # the package's own frame: floats in [0, 1], a pixel a cell
    assert palette.shape == (10, 10, 3) and palette.dtype.kind == "f"
    assert frame.dtype == np.uint8 and frame.shape == (10 * RENDER_CELL, 10 * RENDER_CELL, 3)
    cells = frame.reshape(10, RENDER_CELL, 10, RENDER_CELL, 3)
    assert (cells == cells[:, :1, :, :1]).all()  # every cell one colour
    assert np.array_equal(cells[:, 0, :, 0], np.round(palette * 255).astype(np.uint8))
    # empty cells are black, and the ball, paddle and bricks are not
    empty = obs.sum(axis=0) == 0
    assert (cells[:, 0, :, 0][empty] == 0).all() and (cells[:, 0, :, 0][~empty].sum(-1) > 0).all()
