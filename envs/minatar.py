"""MinAtar (Young & Tian 2019): five miniature Atari games on a 10x10 grid, made for
value-based research on a CPU (the ``minatar`` package, a dependency of rlkit).

Ids ``MinAtar/<Game>-v1`` (minimal action sets; ``-v0``: all six actions) for Asterix,
Breakout, Freeway, Seaquest and SpaceInvaders. ``make_minatar`` gives observations as
``(channels, 10, 10)`` uint8 planes of 0 and 1 (the package's ``(10, 10, channels)``
booleans, channels first as torch's convolutions take them), with finished episodes in
``info["episode"]``. Every channel is one kind of object, not a stacked frame: DQN's
replay stores MinAtar observations whole. ``rlkit.nn.MinAtarCNN`` is the paper's network.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")


def register_minatar() -> bool:
    """Register MinAtar's ids with gymnasium; False when the package is not installed."""
    try:
        import logging

        logging.getLogger().disabled = True  # (minatar.gym warns when seaborn is missing)
        try:
            from minatar.gym import register_envs
        finally:
            logging.getLogger().disabled = False
    except ImportError:
        return False
    if "MinAtar/Breakout-v1" not in gym.registry:
        register_envs()
    return True


def is_minatar(env_id: str) -> bool:
    """True for ``MinAtar/...`` ids."""
    return env_id.startswith("MinAtar/")


class ChannelsFirst(gym.ObservationWrapper):
    """``(H, W, C)`` booleans -> ``(C, H, W)`` uint8."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        h, w, c = env.observation_space.shape
        self.observation_space = gym.spaces.Box(0, 1, (c, h, w), np.uint8)

    def observation(self, observation: Any) -> np.ndarray:
        """Channels first, as bytes."""
        return np.ascontiguousarray(np.asarray(observation, np.uint8).transpose(2, 0, 1))


def make_minatar(env_id: str, **kwargs: Any) -> gym.Env:
    """A MinAtar game with channels-first uint8 observations and episode statistics."""
    register_minatar()
    return gym.wrappers.RecordEpisodeStatistics(ChannelsFirst(gym.make(env_id, **kwargs)))
