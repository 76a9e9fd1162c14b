"""Tabular Q-learning (Watkins 1989): epsilon-greedy, learning from interaction.

The agent never reads the env's model; it learns ``Q(s, a)`` from transitions with

    Q(s, a) <- Q(s, a) + alpha * (r + gamma * (1 - terminated) * max_a' Q(s', a') - Q(s, a))

Truncation by a time limit is not termination: the target still bootstraps. Actions
are epsilon-greedy with a linear schedule (SB3's ``exploration_*`` fields); greedy
ties are broken at random so that an all-zero table still explores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlkit import snapshot
from rlkit.config import RunFields, require, require_gamma
from rlkit.envs import require_tabular
from rlkit.periodic import Periodic
from rlkit.planning import TablePolicy
from rlkit.resources import Part
from rlkit.rundir import Run
from rlkit.schedules import linear_schedule

ALGO = "q-learning"
FITS = "envs with Discrete observations and actions: FrozenLake-v1, Taxi-v4, CliffWalking-v1, rlkit/GridWorld5x5-v0"
RESUMABLE = True
"""Checkpoints carry everything to continue exactly (``rlkit train --resume``)."""


@dataclass(frozen=True, kw_only=True)
class Config(RunFields):
    """Q-learning settings (plus the shared run fields)."""

    learning_rate: float = 0.1
    """Step size alpha of the tabular update."""
    gamma: float = 0.99
    """Discount factor, 0 < gamma <= 1."""
    exploration_fraction: float = 0.5
    """Share of total_steps over which epsilon decays linearly."""
    exploration_initial_eps: float = 1.0
    """Epsilon at the start."""
    exploration_final_eps: float = 0.05
    """Epsilon after exploration_fraction of the run."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require_gamma(self.gamma)
        require(
            "learning_rate",
            self.learning_rate,
            0 < self.learning_rate <= 1,
            "0 < learning_rate <= 1",
        )
        require(
            "exploration_fraction",
            self.exploration_fraction,
            0 <= self.exploration_fraction <= 1,
            "0 <= exploration_fraction <= 1",
        )
        for key in ("exploration_initial_eps", "exploration_final_eps"):
            value = getattr(self, key)
            require(key, value, 0 <= value <= 1, f"0 <= {key} <= 1")


def check_env(env: gym.Env, config: Config) -> None:
    """Q-learning needs Discrete observations and actions."""
    if not (
        isinstance(env.observation_space, gym.spaces.Discrete)
        and isinstance(env.action_space, gym.spaces.Discrete)
    ):
        require_tabular(env, ALGO)


def memory_bytes(env: gym.Env, config: Config) -> dict[str, Part]:
    """The Q table: ``S x A`` float64 (and its greedy policy in a checkpoint)."""
    table = int(env.observation_space.n) * int(env.action_space.n) * 8
    return {"Q table": (2 * table, "a smaller env")}


def td_target(reward: float, next_q: np.ndarray, terminated: bool, gamma: float) -> float:
    """``r + gamma * max_a' Q(s', a')``, without the bootstrap when the episode terminated."""
    return float(reward) if terminated else float(reward) + gamma * float(next_q.max())


def greedy_action(q_row: np.ndarray, rng: np.random.Generator) -> int:
    """Argmax of one row of Q, ties broken uniformly at random."""
    best = np.flatnonzero(q_row == q_row.max())
    return int(best[0] if len(best) == 1 else rng.choice(best))


def epsilon_at(config: Config, step: int) -> float:
    """Exploration rate after ``step`` environment steps."""
    return linear_schedule(
        config.exploration_initial_eps,
        config.exploration_final_eps,
        config.exploration_fraction,
        step / config.total_steps,
    )


@dataclass
class State:
    """What Q-learning carries from step to step, and its checkpoint holds: the table, the
    env and its last observation."""

    q: np.ndarray
    """``Q[s, a]``, float64."""
    env: gym.Env
    obs: int = 0

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint data: the table, its greedy policy and where the loop stands."""
        return {
            "q": torch.from_numpy(self.q.copy()),
            "policy": torch.from_numpy(self.q.argmax(1)),
            "loop": {"obs": self.obs, "env": snapshot.env_state(self.env)},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back ``state_dict``."""
        self.q[...] = state["q"].numpy()
        self.obs = int(state["loop"]["obs"])
        snapshot.load_env_state(self.env, state["loop"]["env"])


def train(config: Config, run: Run) -> dict[str, Any]:
    """Learn Q from ``total_steps`` env steps; evaluate and checkpoint periodically."""
    rng = run.rngs.numpy
    env = run.make_env(seed=run.rngs.env_seed)
    n_states, n_actions = int(env.observation_space.n), int(env.action_space.n)
    state = State(np.zeros((n_states, n_actions)), env)
    q = state.q
    periodic = Periodic(config, run, lambda: TablePolicy(torch.from_numpy(q.argmax(1))), state)
    state.obs = int(env.reset(seed=run.rngs.env_seed)[0])
    first = periodic.restore() + 1  # 1, or the step after a resumed run's checkpoint
    for step in range(first, config.total_steps + 1):
        # act: epsilon-greedy
        epsilon = epsilon_at(config, step - 1)
        if rng.random() < epsilon:
            action = int(rng.integers(n_actions))
        else:
            action = greedy_action(q[state.obs], rng)
        next_obs, reward, terminated, truncated, info = env.step(action)
        next_obs = int(next_obs)
        # learn
        target = td_target(reward, q[next_obs], terminated, config.gamma)
        q[state.obs, action] += config.learning_rate * (target - q[state.obs, action])
        periodic.stats.record(info)
        state.obs = int(env.reset()[0]) if terminated or truncated else next_obs
        # log, evaluate, checkpoint
        periodic.after(step - 1, step, {"train/epsilon": epsilon})
    env.close()
    return periodic.finish(config.total_steps)


def load_policy(
    checkpoint: dict[str, Any], env: gym.Env, device: str = "cpu", seed: int | None = None
) -> TablePolicy:
    """The greedy policy of the learned Q table."""
    return TablePolicy(checkpoint["q"].argmax(1))
