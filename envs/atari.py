"""Atari with the Nature DQN preprocessing (Mnih et al. 2015), from gymnasium and SB3 parts.

For training (``train=True``) an Atari id becomes::

    FrameStackObservation(4)          (4, 84, 84) uint8, padded with the reset frame
      ClipRewardEnv                   sign of the reward            (SB3)
        FireResetEnv                  FIRE after reset, where the game needs it (SB3)
          EpisodicLifeEnv             a lost life ends the episode, the game goes on (SB3)
            AtariPreprocessing        up to 30 no-ops on reset, frame skip 4 with a max over
                                      the last two frames, 84x84 grayscale (gymnasium)
              RecordEpisodeStatistics whole-game score and length in info["episode"]
                the ALE env           frameskip 1 at the ALE level

For evaluation (``train=False``) the episodic-life and reward-clipping wrappers are left
out: an episode is a whole game, all lives, with the game's own score.

Both id styles work: ``PongNoFrameskip-v4`` (no sticky actions) and ``ALE/Pong-v5``,
which is made with ``frameskip=1`` (the skipping is done by the preprocessing) and keeps
v5's sticky actions, ``repeat_action_probability=0.25`` unless ``env_kwargs`` say
otherwise.

Compared with SB3's ``AtariWrapper``, two things differ by design: the gray frame comes
from the ALE's own luminance table rather than OpenCV's RGB-to-gray formula, and the
max over the last two frames is taken on gray frames rather than on RGB frames. Both
change a few pixel levels, never the rewards or terminations (``tests/envs/test_atari.py``
bounds the difference).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation, RecordEpisodeStatistics

STACK, FRAME_SKIP, NOOP_MAX, SCREEN = 4, 4, 30, 84


def is_atari(env_id: str) -> bool:
    """True for ids registered by ale-py (``ALE/...-v5``, ``...NoFrameskip-v4``, ...)."""
    try:
        spec = gym.spec(env_id)
    except gym.error.Error:
        return False
    return str(spec.entry_point).startswith("ale_py")


def make_atari(
    env_id: str,
    train: bool = True,
    frame_stack: int = STACK,
    noop_max: int = NOOP_MAX,
    frame_skip: int = FRAME_SKIP,
    screen_size: int = SCREEN,
    render_mode: str | None = None,
    max_episode_steps: int | None = None,
    **ale_kwargs: Any,
) -> gym.Env:
    """An Atari env with the Nature preprocessing (see the module docstring)."""
    from stable_baselines3.common.atari_wrappers import ClipRewardEnv, EpisodicLifeEnv, FireResetEnv

    kwargs: dict[str, Any] = {"frameskip": 1, **ale_kwargs}
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    env = gym.make(env_id, **kwargs)
    env = RecordEpisodeStatistics(env)  # whole games, real score: info["episode"]
    env = AtariPreprocessing(env, noop_max=noop_max, frame_skip=frame_skip, screen_size=screen_size)
    if train:
        env = EpisodicLifeEnv(env)
    if "FIRE" in env.unwrapped.get_action_meanings():
        env = FireResetEnv(env)
    if train:
        env = ClipRewardEnv(env)
    if frame_stack > 1:
        env = FrameStackObservation(env, frame_stack)
    return env
