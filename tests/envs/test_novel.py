"""NoVel envs: registered, pass gymnasium's checker, show the base env's positions only;
SAME_STEP vector envs report the final observation of a truncated episode."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rlkit.envs import finished_episodes, make_env, make_vector_env
from rlkit.envs.novel import cartpole_no_velocity, pendulum_no_velocity


@pytest.mark.parametrize("factory", [cartpole_no_velocity, pendulum_no_velocity])
def test_check_env_passes(factory):
    check_env(factory(), skip_render_check=True)


@pytest.mark.parametrize(
    "env_id,base,kept,limit",
    [
        ("rlkit/CartPoleNoVel-v1", "CartPole-v1", [0, 2], 500),
        ("rlkit/PendulumNoVel-v1", "Pendulum-v1", [0, 1], 200),
    ],
)
def test_observation_is_the_base_positions(env_id, base, kept, limit):
    ours, ref = make_env(env_id), make_env(base)
    assert ours.spec.max_episode_steps == limit
    o, _ = ours.reset(seed=3)
    r, _ = ref.reset(seed=3)
    assert o.shape == (2,) and np.array_equal(o, r[kept])
    for _ in range(20):
        action = ref.action_space.sample()
        o, rew_o, *_ = ours.step(action)
        r, rew_r, *_ = ref.step(action)
        assert np.array_equal(o, r[kept]) and rew_o == rew_r


def test_vector_env_same_step_reset_and_final_obs():
    env = make_vector_env(lambda: make_env("CartPole-v1", max_episode_steps=5), 2)
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs, _, terminated, truncated, info = env.step(np.array([0, 1]))
    assert truncated.all() and not terminated.any()
    assert info["final_obs"][0].shape == (4,)
    assert not np.array_equal(
        info["final_obs"][0], obs[0]
    )  # obs is already the next episode's first
    assert finished_episodes(info) == [(5.0, 5), (5.0, 5)]
    assert isinstance(env, gym.vector.SyncVectorEnv)
