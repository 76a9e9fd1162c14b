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
