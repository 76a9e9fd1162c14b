"""Tabular Q-learning (Watkins 1989): epsilon-greedy, learning from interaction.

The agent never reads the env's model; it learns ``Q(s, a)`` from transitions with

    Q(s, a) <- Q(s, a) + alpha * (r + gamma * (1 - terminated) * max_a' Q(s', a') - Q(s, a))

Truncation by a time limit is not termination: the target still bootstraps. Actions
are epsilon-greedy with a linear schedule (SB3's ``exploration_*`` fields); greedy
ties are broken at random so that an all-zero table still explores.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from envs import require_tabular
from rlkit import snapshot
from rlkit.config import RunFields, require, require_gamma
from rlkit.evaluation import EvalHistory, evaluate
from rlkit.rundir import Run
from rlkit.schedules import linear_schedule

ALGO = "q-learning"
FITS = "envs with Discrete observations and actions: FrozenLake-v1, Taxi-v4, CliffWalking-v1, rlkit/GridWorld5x5-v0"


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


def train(config: Config, run: Run) -> dict[str, Any]:
    """Learn Q from ``total_steps`` env steps; evaluate and checkpoint periodically."""
    rng = run.rngs.numpy
    env = run.make_env(seed=run.rngs.env_seed)
    n_states, n_actions = int(env.observation_space.n), int(env.action_space.n)
    q = np.zeros((n_states, n_actions))
    history = EvalHistory()
    returns: deque[float] = deque(maxlen=100)
    lengths: deque[int] = deque(maxlen=100)
    episodes, ep_return, ep_length = 0, 0.0, 0

    def greedy_policy(obs: Any) -> int:
        return int(q[int(obs)].argmax())

    def run_eval(step: int) -> dict[str, float]:
        result = evaluate(
            greedy_policy, run.make_env, config.eval_episodes, seed=run.rngs.eval_seed
        )
        return history.add(step, result)

    def save(step: int) -> None:
        run.save_checkpoint({
            "q": torch.from_numpy(q.copy()), "policy": torch.from_numpy(q.argmax(1)), "step": step,
            "episodes": episodes, "eval_history": history.state_dict(),
            "resume": {"obs": obs, "ep_return": ep_return, "ep_length": ep_length, "returns": list(returns),
                       "lengths": list(lengths), "env": snapshot.env_state(env),
                       "rng": snapshot.rng_state(run.rngs), "log_rows": run.logger.rows},
        })  # fmt: skip

    obs, _ = env.reset(seed=run.rngs.env_seed)
    obs = int(obs)
    first = 1
    if run.resume is not None:  # continue exactly where the checkpoint was taken
        checkpoint, resume = run.resume, run.resume["resume"]
        q[...] = checkpoint["q"].numpy()
        episodes, history = (
            int(checkpoint["episodes"]),
            EvalHistory.from_state_dict(checkpoint["eval_history"]),
        )
        obs, ep_return, ep_length = (
            int(resume["obs"]),
            float(resume["ep_return"]),
            int(resume["ep_length"]),
        )
        returns.extend(resume["returns"])
        lengths.extend(resume["lengths"])
        snapshot.load_env_state(env, resume["env"])
        snapshot.load_rng_state(run.rngs, resume["rng"])
        first = int(checkpoint["step"]) + 1
    for step in range(first, config.total_steps + 1):
        # act
        epsilon = epsilon_at(config, step - 1)
        if rng.random() < epsilon:
            action = int(rng.integers(n_actions))
        else:
            action = greedy_action(q[obs], rng)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        next_obs = int(next_obs)
        # learn
        target = td_target(reward, q[next_obs], terminated, config.gamma)
        q[obs, action] += config.learning_rate * (target - q[obs, action])
        ep_return += float(reward)
        ep_length += 1
        obs = next_obs
        if terminated or truncated:
            returns.append(ep_return)
            lengths.append(ep_length)
            episodes += 1
            ep_return, ep_length = 0.0, 0
            obs = int(env.reset()[0])
        # log, evaluate, checkpoint
        if step % config.log_interval == 0:
            metrics: dict[str, float] = {"train/epsilon": epsilon, "rollout/episodes": episodes}
            if returns:
                metrics["rollout/ep_return"] = float(np.mean(returns))
                metrics["rollout/ep_length"] = float(np.mean(lengths))
            metrics["time/sps"] = step / max(run.logger.elapsed_s, 1e-9)
            run.logger.log(step, metrics)
        if config.eval_interval and step % config.eval_interval == 0 and step != config.total_steps:
            run.logger.log(step, run_eval(step))
        if config.video_interval and step % config.video_interval == 0:
            run.record_eval_video(greedy_policy, step)
        if config.checkpoint_interval and step % config.checkpoint_interval == 0:
            save(step)
        run.stop_if_requested(step, save)
    env.close()
    final = run_eval(config.total_steps)
    run.logger.log(config.total_steps, final)
    save(config.total_steps)
    if config.video_interval and config.total_steps % config.video_interval:
        run.record_eval_video(greedy_policy, config.total_steps)
    return {"total_steps": config.total_steps, **final}


def load_policy(
    checkpoint: dict[str, Any], env: gym.Env, device: str = "cpu", seed: int | None = None
):
    """The greedy policy of the learned Q table, as ``obs -> action``."""
    table = checkpoint["q"].numpy()
    return lambda obs: int(table[int(obs)].argmax())
