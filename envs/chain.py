"""A small deterministic chain MDP with a known answer, for checking value-based agents.

Registered as ``rlkit/Chain-v0`` (one-hot observations, for deep agents). States
``0 .. n-1`` in a row; action 0 moves left, action 1 moves right (walls at both ends).

* choosing *right* in the last state pays +1 and ends the episode;
* choosing *left* in state 0 pays +0.02 (a small local optimum) and stays there;
* every other move pays 0.

Episodes start in a uniformly random state (so every state is visited) and are
truncated after 50 steps. With ``slip`` > 0 a move goes the other way with that
probability, which makes the return random (its law is what distributional agents learn). ``P`` follows the toy-text convention, so the exact Q* comes
from value iteration on ``Chain(one_hot=False)``: with gamma = 0.9 and n = 6 the optimal
policy goes right everywhere, ``V*(s) = 0.9^(n-1-s)`` (staying left forever is worth only
0.2, and ``Q*(0, left) = 0.02 + 0.9 * 0.9^5 = 0.551 < Q*(0, right) = 0.590``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ChainEnv(gym.Env):
    """The chain above; ``one_hot`` chooses Box one-hot or Discrete observations."""

    metadata = {"render_modes": []}

    def __init__(self, n: int = 6, one_hot: bool = True, slip: float = 0.0) -> None:
        if n < 2:
            raise ValueError("a chain needs n >= 2 states")
        if not 0 <= slip < 1:
            raise ValueError(f"slip must be in [0, 1), got {slip}")
        self.n, self.one_hot, self.slip = n, one_hot, slip
        self.action_space = spaces.Discrete(2)
        self.observation_space = (
            spaces.Box(0.0, 1.0, (n,), np.float32) if one_hot else spaces.Discrete(n)
        )
        self.initial_state_distrib = np.full(n, 1.0 / n)
        self.P: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {}

        def move(s: int, right: bool) -> tuple[int, float, bool]:
            if right:
                return (s, 1.0, True) if s == n - 1 else (s + 1, 0.0, False)
            return max(s - 1, 0), 0.02 if s == 0 else 0.0, False

        for s in range(n):
            self.P[s] = {}
            for a in (0, 1):
                self.P[s][a] = [(1.0 - slip, *move(s, a == 1))]
                if slip > 0:
                    self.P[s][a].append((slip, *move(s, a == 0)))
        self.s = 0

    def _obs(self) -> Any:
        if not self.one_hot:
            return self.s
        obs = np.zeros(self.n, np.float32)
        obs[self.s] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start in a uniformly random state."""
        super().reset(seed=seed)
        self.s = int(self.np_random.integers(self.n))
        return self._obs(), {}

    def step(self, action: int):
        """Move left or right (see the module doc for rewards)."""
        outcomes = self.P[self.s][int(action)]
        k = 0 if len(outcomes) == 1 or self.np_random.random() >= self.slip else 1
        _, self.s, reward, terminated = outcomes[k]
        return self._obs(), reward, terminated, False, {}


if "rlkit/Chain-v0" not in gym.registry:
    gym.register(id="rlkit/Chain-v0", entry_point="rlkit.envs.chain:ChainEnv", max_episode_steps=50)
