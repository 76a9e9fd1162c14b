import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rlkit.envs import TabularMDP, make_env
from rlkit.envs.gridworld import GridWorldEnv
from rlkit.errors import BadInput


@pytest.mark.parametrize(
    "env_id",
    ["FrozenLake-v1", "FrozenLake8x8-v1", "Taxi-v4", "CliffWalking-v1", "rlkit/GridWorld5x5-v0"],
)
def test_mdp_reproduces_the_transition_table(env_id):
    env = make_env(env_id)
    mdp = TabularMDP.from_env(env)
    n_s, n_a = env.observation_space.n, env.action_space.n
    assert mdp.P.shape == (n_s, n_a, n_s)
    assert np.allclose(mdp.P.sum(-1), 1.0)
    assert np.isclose(mdp.initial.sum(), 1.0)
    table = env.unwrapped.P
    for s in range(0, n_s, max(1, n_s // 40)):
        for a in range(n_a):
            expected_r = sum(p * r for p, _, r, _ in table[s][a])
            assert mdp.rewards[s, a] == pytest.approx(expected_r)
            for p, s2, _, done in table[s][a]:
                assert mdp.P[s, a, s2] >= p - 1e-12
                if done and p > 0:
                    assert mdp.terminal[s, a, s2]


def test_frozen_lake_terminal_states_are_holes_and_goal():
    mdp = TabularMDP.from_env(make_env("FrozenLake-v1"))
    assert np.flatnonzero(mdp.terminal_states).tolist() == [5, 7, 11, 12, 15]
    assert mdp.initial.tolist() == [1.0] + [0.0] * 15


def test_taxi_terminal_transitions_are_per_transition():
    # Taxi's drop-off states are also entered without ending the episode from
    # unreachable states, so termination must live on the transition, not the state.
    mdp = TabularMDP.from_env(make_env("Taxi-v4"))
    s, a, _ = np.nonzero(mdp.done)
    assert len(s) == 4 and set(a) == {5}  # one drop-off at each of the 4 destinations
    assert not mdp.terminal_states.any()


def test_random_mdp_is_a_valid_continuing_mdp():
    mdp = TabularMDP.random(1000, 4, 3, seed=0)
    assert mdp.successors.shape == (1000, 4, 3)
    assert np.allclose(mdp.probs.sum(-1), 1.0)
    assert mdp.model().continuing


def test_gridworld_passes_check_env_and_moves_as_in_the_book():
    check_env(GridWorldEnv(), skip_render_check=True)
    env = make_env("rlkit/GridWorld5x5-v0")
    assert env.spec.max_episode_steps == 100
    table = env.unwrapped.P
    assert all(table[1][a] == [(1.0, 21, 10.0, False)] for a in range(4))  # A -> A' +10
    assert all(table[3][a] == [(1.0, 13, 5.0, False)] for a in range(4))  # B -> B' +5
    assert table[0][0] == [(1.0, 0, -1.0, False)]  # off the grid: stay, -1
    assert table[0][1] == [(1.0, 5, 0.0, False)]  # down from the corner: 0
    obs, _ = env.reset(seed=3)
    for _ in range(100):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
    assert truncated  # the fixed horizon


def test_gridworld_renders():
    env = make_env("rlkit/GridWorld5x5-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (160, 160, 3) and frame.dtype == np.uint8
    text = make_env("rlkit/GridWorld5x5-v0", render_mode="ansi")
    text.reset(seed=0)
    assert text.render().count("\n") == 5


def test_make_env_names_close_matches():
    with pytest.raises(BadInput, match="did you mean 'CartPole-v1'"):
        make_env("CartPol-v1")


def test_make_env_every_registered_classic_id():
    for env_id in ("CartPole-v1", "Acrobot-v1", "Pendulum-v1", "MountainCar-v0", "Blackjack-v1"):
        env = make_env(env_id, seed=0)
        assert isinstance(env, gym.Env)
        env.close()


def test_make_env_atari_ids_register_on_demand():
    env = make_env("ALE/Pong-v5")
    assert env.action_space.n == 6
    env.close()


def test_make_env_bad_kwargs():
    with pytest.raises(BadInput, match="bad env_kwargs"):
        make_env("FrozenLake-v1", slippery=False)
