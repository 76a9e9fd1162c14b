"""Our Atari pipeline against SB3's AtariWrapper, step for step on the same seed and actions."""

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.atari_wrappers import AtariWrapper

from rlkit.envs import make_env
from rlkit.envs.atari import is_atari


def play_both(env_id, steps, seed=3):
    ours = make_env(env_id, train=True, frame_stack=1)
    sb3 = AtariWrapper(gym.make(env_id, **({"frameskip": 1} if env_id.startswith("ALE/") else {})))
    o1, _ = ours.reset(seed=seed)
    o2, _ = sb3.reset(seed=seed)
    rng = np.random.default_rng(0)
    pixel_diffs, events = [np.abs(o1.astype(int) - o2[..., 0].astype(int))], 0
    for _ in range(steps):
        action = int(rng.integers(ours.action_space.n))
        o1, r1, t1, tr1, _ = ours.step(action)
        o2, r2, t2, tr2, _ = sb3.step(action)
        assert (r1, t1, tr1) == (r2, t2, tr2)
        if not (t1 and not ours.unwrapped.ale.lives()):
            # a game-over inside the 4-frame skip leaves stale frames in both max-pool
            # buffers, differently; that final observation is never bootstrapped from
            pixel_diffs.append(np.abs(o1.astype(int) - o2[..., 0].astype(int)))
        events += int(r1 != 0) + int(t1)
        if t1 or tr1:
            o1, _ = ours.reset()
            o2, _ = sb3.reset()
            pixel_diffs.append(np.abs(o1.astype(int) - o2[..., 0].astype(int)))
    return np.array(pixel_diffs), events


@pytest.mark.parametrize("env_id", ["PongNoFrameskip-v4", "ALE/Breakout-v5"])
def test_same_observations_rewards_and_terminations_as_sb3(env_id):
    diffs, events = play_both(env_id, 1500)
    assert events > 10  # rewards and life losses did happen
    assert diffs.max() == 0  # gray tables and max-pooling order agree on these games


def test_differences_by_design_are_bounded():
    # BeamRider: ALE gray vs OpenCV gray, and max of gray vs gray of max, differ slightly
    diffs, _ = play_both("BeamRiderNoFrameskip-v4", 800)
    assert diffs.mean() < 0.1
    assert diffs.reshape(len(diffs), -1).mean(axis=1).max() < 4.0


def test_stacked_uint8_frames_and_v5_settings():
    env = make_env("ALE/Pong-v5", train=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert all(np.array_equal(obs[i], obs[-1]) for i in range(3))  # padded with the reset frame
    ale_env = env.unwrapped
    assert ale_env._frameskip == 1
    assert env.unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
    calm = make_env("ALE/Pong-v5", repeat_action_probability=0.0)
    assert calm.unwrapped.ale.getFloat("repeat_action_probability") == 0.0
    assert is_atari("PongNoFrameskip-v4") and not is_atari("CartPole-v1")


def test_training_clips_rewards_and_ends_episodes_at_a_lost_life_evaluation_does_not():
    train = make_env("BreakoutNoFrameskip-v4", train=True, frame_stack=1)
    evaluation = make_env("BreakoutNoFrameskip-v4", train=False, frame_stack=1)
    for env in (train, evaluation):
        env.reset(seed=1)
    lives_at_end = []
    for env in (train, evaluation):
        while True:
            _, reward, terminated, truncated, _ = env.step(1)  # FIRE only: the paddle never moves
            assert reward in (0.0, 1.0) or env is evaluation
            if terminated or truncated:
                lives_at_end.append(env.unwrapped.ale.lives())
                break
    assert lives_at_end == [4, 0]  # training ends at the first lost life, evaluation at game over
