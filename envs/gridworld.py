"""The 5x5 gridworld of Sutton & Barto (2018), Example 3.5, as a Gymnasium env.

Registered as ``rlkit/GridWorld5x5-v0``.

Observation space: ``Discrete(25)``, the cell ``row * 5 + col`` (row 0 at the top).
Action space: ``Discrete(4)``: 0 left, 1 down, 2 right, 3 up (FrozenLake's order).
Rewards and dynamics (deterministic):

* from A = (0, 1) every action moves to A' = (4, 1) with reward +10;
* from B = (0, 3) every action moves to B' = (2, 3) with reward +5;
* a move off the grid leaves the agent in place with reward -1;
* any other move goes to the neighbouring cell with reward 0.

The task is continuing: it never terminates. For episodic play the registered id
truncates after 100 steps (``max_episode_steps``). The start cell is uniform over the
25 cells (``initial_state_distrib``). ``P[s][a]`` follows the toy-text convention, a
list of ``(prob, next_state, reward, terminated)``, so planners can read the model.
With gamma = 0.9 the optimal values are those of the book's Figure 3.5 (24.4 at A).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

SIZE = 5
A, A_PRIME, B, B_PRIME = (0, 1), (4, 1), (0, 3), (2, 3)
MOVES = ((0, -1), (1, 0), (0, 1), (-1, 0))  # left, down, right, up as (d_row, d_col)
CELL_PX = 32


def _step(cell: tuple[int, int], action: int) -> tuple[tuple[int, int], float]:
    if cell == A:
        return A_PRIME, 10.0
    if cell == B:
        return B_PRIME, 5.0
    row, col = cell[0] + MOVES[action][0], cell[1] + MOVES[action][1]
    if not (0 <= row < SIZE and 0 <= col < SIZE):
        return cell, -1.0
    return (row, col), 0.0


class GridWorldEnv(gym.Env):
    """Sutton & Barto's 5x5 gridworld with teleporting cells A and B (see module doc)."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.render_mode = render_mode
        self.observation_space = spaces.Discrete(SIZE * SIZE)
        self.action_space = spaces.Discrete(4)
        self.initial_state_distrib = np.full(SIZE * SIZE, 1.0 / (SIZE * SIZE))
        self.P: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {}
        for s in range(SIZE * SIZE):
            cell = divmod(s, SIZE)
            self.P[s] = {}
            for a in range(4):
                nxt, reward = _step(cell, a)
                self.P[s][a] = [(1.0, nxt[0] * SIZE + nxt[1], reward, False)]
        self.s = 0
        self.lastaction: int | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start in a uniformly random cell."""
        super().reset(seed=seed)
        self.s = int(self.np_random.choice(SIZE * SIZE, p=self.initial_state_distrib))
        self.lastaction = None
        return self.s, {"prob": 1.0}

    def step(self, action: int):
        """Move; the task never terminates (the registered TimeLimit truncates)."""
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}; expected 0..3")
        prob, nxt, reward, terminated = self.P[self.s][int(action)][0]
        self.s, self.lastaction = nxt, int(action)
        return nxt, reward, terminated, False, {"prob": prob}

    def render(self):
        """``ansi``: the grid as text; ``rgb_array``: a (160, 160, 3) uint8 picture."""
        if self.render_mode == "ansi":
            rows = []
            for r in range(SIZE):
                line = ""
                for c in range(SIZE):
                    mark = "A" if (r, c) == A else "B" if (r, c) == B else "."
                    line += "@" if r * SIZE + c == self.s else mark
                rows.append(line)
            return "\n".join(rows) + "\n"
        if self.render_mode == "rgb_array":
            img = np.full((SIZE * CELL_PX, SIZE * CELL_PX, 3), 255, np.uint8)
            for (r, c), color in ((A, (66, 133, 244)), (B, (52, 168, 83))):
                img[r * CELL_PX : (r + 1) * CELL_PX, c * CELL_PX : (c + 1) * CELL_PX] = color
            img[::CELL_PX, :] = 0
            img[:, ::CELL_PX] = 0
            r, c = divmod(self.s, SIZE)
            pad = CELL_PX // 4
            img[
                r * CELL_PX + pad : (r + 1) * CELL_PX - pad,
                c * CELL_PX + pad : (c + 1) * CELL_PX - pad,
            ] = (
                219,
                68,
                55,
            )
            return img
        return None


if "rlkit/GridWorld5x5-v0" not in gym.registry:
    gym.register(
        id="rlkit/GridWorld5x5-v0",
        entry_point="rlkit.envs.gridworld:GridWorldEnv",
        max_episode_steps=100,
    )
