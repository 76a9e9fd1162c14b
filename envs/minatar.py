"""MinAtar (Young & Tian 2019): five miniature Atari games on a 10x10 grid, made for
value-based research on a CPU (the ``minatar`` package, a dependency of rlkit).

Ids ``MinAtar/<Game>-v1`` (minimal action sets; ``-v0``: all six actions) for Asterix,
Breakout, Freeway, Seaquest and SpaceInvaders. ``make_minatar`` gives observations as
``(channels, 10, 10)`` uint8 planes of 0 and 1 (the package's ``(10, 10, channels)``
booleans, channels first as torch's convolutions take them), with finished episodes in
``info["episode"]``. Every channel is one kind of object, not a stacked frame: DQN's
replay stores MinAtar observations whole. ``rlkit.nn.MinAtarCNN`` is the paper's network.
A checkpoint holds the game's whole state (``ChannelsFirst.extra_state``), so a resumed
run plays on exactly as the uninterrupted one.
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np

GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")
ACTION_SETS = {"minimal": "v1", "full": "v0"}  # action set -> the version of each game's id
RENDER_CELL = 16
"""Pixels a grid cell takes in an ``rgb_array`` frame (``rlkit render``'s videos: 160x160)."""


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


def preset_id(env_id: str) -> str:
    """The id whose config preset ``env_id`` takes: a MinAtar ``-v0`` id (the game with all
    six actions) its game's ``-v1`` (minimal actions) id, as only the action set differs;
    any other id itself."""
    full = "-" + ACTION_SETS["full"]
    if is_minatar(env_id) and env_id.endswith(full):
        return env_id.removesuffix(full) + "-" + ACTION_SETS["minimal"]
    return env_id


class ChannelsFirst(gym.ObservationWrapper):
    """``(H, W, C)`` booleans -> ``(C, H, W)`` uint8; and the game's state for a checkpoint
    (``rlkit.snapshot`` sees only the wrappers' own attributes, not the game object)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        h, w, c = env.observation_space.shape
        self.observation_space = gym.spaces.Box(0, 1, (c, h, w), np.uint8)

    def observation(self, observation: Any) -> np.ndarray:
        """Channels first, as bytes."""
        return np.ascontiguousarray(np.asarray(observation, np.uint8).transpose(2, 0, 1))

    def render(self) -> Any:
        """The game's frame; in ``rgb_array`` mode as ``uint8`` RGB (the package gives floats
        in [0, 1] from its palette, which video writers convert with a warning) with each
        cell of the 10x10 grid ``RENDER_CELL`` pixels wide, so that a video of it can be
        watched."""
        if self.render_mode != "rgb_array":
            return self.env.render()
        # (the game itself: gymnasium's passive checker would warn about its float frame)
        frame = self.env.unwrapped.render()
        if frame is None:
            return frame
        rgb = np.asarray(frame)
        if rgb.dtype != np.uint8:
            rgb = np.round(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)
        return np.repeat(np.repeat(rgb, RENDER_CELL, axis=0), RENDER_CELL, axis=1)

    def extra_state(self) -> dict[str, Any]:
        """The game's state as plain data: the attributes of ``minatar.Environment`` and of
        its game's rules (positions, timers, maps, entities), and the numpy ``RandomState``
        they share (spawns, sticky actions)."""
        from rlkit.snapshot import encode

        game = self.env.unwrapped.game
        return {
            "game": {k: encode(v) for k, v in vars(game).items() if k not in ("env", "random")},
            "rules": {k: encode(v) for k, v in vars(game.env).items() if k != "random"},
            "random": encode(game.random.get_state()),
        }

    def load_extra_state(self, state: dict[str, Any] | None) -> None:
        """Put ``extra_state()`` back (None: a checkpoint saved without it, whose run then
        goes on from the game as it is now, and says so)."""
        from rlkit.snapshot import decode

        if state is None:
            warnings.warn(
                "this checkpoint holds no MinAtar game state (saved before rlkit kept it): "
                "the run goes on with the game as it was reset, not where it stopped",
                stacklevel=2,
            )
            return
        game = self.env.unwrapped.game
        for name, value in state["game"].items():
            setattr(game, name, decode(value))
        for name, value in state["rules"].items():
            setattr(game.env, name, decode(value))
        game.random.set_state(decode(state["random"]))
        game.env.random = game.random  # one generator, as minatar's seed() leaves them


def make_minatar(env_id: str, **kwargs: Any) -> gym.Env:
    """A MinAtar game with channels-first uint8 observations and episode statistics."""
    register_minatar()
    with warnings.catch_warnings():
        # gymnasium calls a -v0 id "out of date"; here it is the same game with all six
        # actions (the paper's), not an older version
        warnings.filterwarnings("ignore", message=".*is out of date", category=DeprecationWarning)
        env = gym.make(env_id, **kwargs)
    return gym.wrappers.RecordEpisodeStatistics(ChannelsFirst(env))
