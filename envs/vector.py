"""Vector environments: N copies of one env stepped together, reset in the same step.

Policy-gradient agents act in N environments at once. ``make_vector_env`` builds them
with gymnasium's ``SyncVectorEnv`` (all in this process: best for cheap envs such as
classic control, where a step costs microseconds) or ``AsyncVectorEnv`` (one process
per env: pays off when a step is expensive, e.g. Atari emulation on several cores).

Both use gymnasium's ``SAME_STEP`` autoreset: when a sub-env's episode ends, ``step``
already returns the first observation of its next episode, and the last observation of
the finished one is in ``info["final_obs"]`` (needed to bootstrap a truncated episode
from its final state). Finished-episode statistics are in
``info["final_info"]["episode"]``, masked by ``info["final_info"]["_episode"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

BACKENDS = ("sync", "async", "ale", "torch")
"""``vec_env`` values: gymnasium's ``SyncVectorEnv`` / ``AsyncVectorEnv`` of ``make_env``
envs, ale-py's C++ vector env for Atari ids (``rlkit.envs.ale_vector``), or the batched
torch classic-control envs on the run's device (``rlkit.envs.batched``)."""


def make_vector_env(
    make_one: Callable[[], gym.Env], n_envs: int, asynchronous: bool = False
) -> gym.vector.VectorEnv:
    """``n_envs`` copies from ``make_one``, stepped together (``SAME_STEP`` autoreset).

    Seed them with ``vec.reset(seed=s)``: copy ``i`` gets ``s + i``.
    """
    if n_envs < 1:
        raise ValueError(f"n_envs must be >= 1, got {n_envs}")
    fns = [make_one] * n_envs
    if asynchronous:
        return AsyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
    return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)


def finished_episodes(info: dict[str, Any]) -> list[tuple[float, int]]:
    """``(return, length)`` of every episode that ended in the step that gave ``info``."""
    final = info.get("final_info")
    if not final or "episode" not in final:
        return []
    mask = final["_episode"]
    returns, lengths = final["episode"]["r"], final["episode"]["l"]
    return [(float(returns[i]), int(lengths[i])) for i in np.flatnonzero(mask)]


def make_backend_vector_env(
    env_id: str | None,
    env_kwargs: dict[str, Any],
    make_one: Callable[..., gym.Env],
    n_envs: int,
    backend: str = "sync",
    train: bool = True,
    frame_stack: int = 4,
    device: Any = "cpu",
    parts: int = 1,
) -> gym.vector.VectorEnv:
    """``n_envs`` copies of an env on the ``backend`` (``BACKENDS``): ``make_one(train=...,
    frame_stack=...)`` for sync and async, the C++ Atari vector env of ``env_id`` for ale
    (in ``parts`` parts: ``rlkit.envs.ale_vector``), the batched torch env of ``env_id`` on
    ``device`` for torch."""
    if backend == "torch":
        from rlkit.envs.batched import make_batched_env

        if env_id is None:
            raise ValueError("vec_env=torch needs a classic-control env id")
        return make_batched_env(env_id, n_envs, device, **env_kwargs)
    if backend == "ale":
        from rlkit.envs.ale_vector import AleVectorEnv

        if env_id is None:
            raise ValueError("vec_env=ale needs an Atari env id")
        return AleVectorEnv(
            env_id, n_envs, train=train, frame_stack=frame_stack, parts=parts, **env_kwargs
        )
    return make_vector_env(
        lambda: make_one(train=train, frame_stack=frame_stack),
        n_envs,
        asynchronous=backend == "async",
    )


class FirstEnv(gym.Env):
    """The one env of a one-env vector env, as a plain ``gymnasium.Env`` (DQN's loop).

    A step that ends an episode returns its *final* observation (the vector env has
    already moved on to the next episode: ``SAME_STEP``) and that finished episode's
    ``info["episode"]``; the ``reset()`` that follows returns the next episode's first
    observation without resetting anything again.
    """

    def __init__(self, vector: gym.vector.VectorEnv) -> None:
        if vector.num_envs != 1:
            raise ValueError(f"FirstEnv takes a vector env of one env, got {vector.num_envs}")
        self.env = vector  # (``env``: what rlkit.snapshot follows down a stack of layers)
        self.observation_space = vector.single_observation_space
        self.action_space = vector.single_action_space
        self._next: Any = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """The next episode's first observation (a real reset only with ``seed``, or at first)."""
        if seed is None and self._next is not None:
            obs, self._next = self._next, None
            return obs, {}
        obs, info = self.env.reset(seed=seed, options=options)
        self._next = None
        return obs[0], {k: v[0] for k, v in info.items() if isinstance(v, np.ndarray)}

    def step(self, action: Any):
        """One step; see the class doc for what an ending step returns."""
        obs, rewards, terminated, truncated, info = self.env.step(np.asarray([action]))
        out: dict[str, Any] = {}
        final = info.get("final_info")
        if final is not None and final["_episode"][0]:
            out["episode"] = {"r": final["episode"]["r"][0], "l": final["episode"]["l"][0]}
        first = obs[0]
        if (
            "final_obs" in info
            and (terminated[0] or truncated[0])
            and info["final_obs"][0] is not None
        ):
            self._next, first = first, info["final_obs"][0]
        return first, float(rewards[0]), bool(terminated[0]), bool(truncated[0]), out

    @property
    def fresh_on_resume(self) -> bool:
        """Whether the vector env's state escapes a checkpoint (``restart`` on resume)."""
        return bool(getattr(self.env, "fresh_on_resume", False))

    def restart(self) -> Any:
        """New episodes for a resumed run (the vector env's ``restart``); the first observation."""
        self._next = None
        return self.env.restart()[0]

    def close(self) -> None:
        """Close the vector env."""
        self.env.close()
