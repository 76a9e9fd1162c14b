"""Partially observed classic control: the velocities removed from the observation.

* ``rlkit/CartPoleNoVel-v1``: CartPole-v1 observing ``[x, theta]`` (no ``x_dot``,
  ``theta_dot``); 500-step limit as CartPole-v1.
* ``rlkit/PendulumNoVel-v1``: Pendulum-v1 observing ``[cos theta, sin theta]`` (no
  angular velocity); 200-step limit as Pendulum-v1.

A memoryless policy sees only positions, so it cannot tell a pole swinging left from
one swinging right through the same angle: velocities must be inferred from the
history, which is what recurrent policies (``recurrent-ppo``) are for. These are the
sb3-contrib / rl-zoo "NoVel" benchmarks, written as observation wrappers over the
gymnasium classes (dynamics, rewards and rendering are theirs).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import CartPoleEnv, PendulumEnv


class KeepObservation(gym.ObservationWrapper):
    """Keep only the observation entries at ``indices`` of a 1-D Box observation."""

    def __init__(self, env: gym.Env, indices: list[int]) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise ValueError(f"KeepObservation needs a 1-D Box observation space, got {space}")
        self.indices = np.asarray(indices, dtype=np.intp)
        self.observation_space = gym.spaces.Box(
            space.low[self.indices], space.high[self.indices], dtype=space.dtype
        )

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """The kept entries."""
        return observation[self.indices]


def cartpole_no_velocity(**kwargs: Any) -> gym.Env:
    """CartPole observing cart position and pole angle only."""
    return KeepObservation(CartPoleEnv(**kwargs), [0, 2])


def pendulum_no_velocity(**kwargs: Any) -> gym.Env:
    """Pendulum observing cos and sin of the angle only."""
    return KeepObservation(PendulumEnv(**kwargs), [0, 1])


for _id, _entry, _limit, _threshold in (
    ("rlkit/CartPoleNoVel-v1", "rlkit.envs.novel:cartpole_no_velocity", 500, 475.0),
    ("rlkit/PendulumNoVel-v1", "rlkit.envs.novel:pendulum_no_velocity", 200, None),
):
    if _id not in gym.registry:
        gym.register(
            id=_id, entry_point=_entry, max_episode_steps=_limit, reward_threshold=_threshold
        )
