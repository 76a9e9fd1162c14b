"""Stable-Baselines3 (and sb3-contrib) agents for the benchmarks, from rlkit configs.

The field mapping lives in ``rlkit.sb3`` (what ``rlkit baseline`` runs); these
helpers give the benchmarks the same hyperparameters, env construction (``rlkit.envs.make_env``),
seeds and evaluation protocol, without the run directory around them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from rlkit import sb3 as baseline
from rlkit.agents.dqn import Config
from rlkit.envs import make_env
from rlkit.evaluation import evaluate
from rlkit.seeding import make_rngs


def sb3_dqn_kwargs(config: Config, obs_shape: Sequence[int] = ()) -> dict[str, Any]:
    """SB3 ``DQN(...)`` keyword arguments for an rlkit DQN config and observations of
    ``obs_shape`` (``()``: not images); refuses what SB3 lacks."""
    return baseline.sb3_kwargs("dqn", config, obs_shape)


def sb3_onpolicy_model(algo: str, env_id: str, config: Any, seed: int, device: str = "cpu") -> Any:
    """An untrained SB3 / sb3-contrib model on ``n_envs`` rlkit envs."""

    def make(**kwargs: Any) -> Any:
        return make_env(env_id, **{**config.env_kwargs, **kwargs})

    return baseline.make_model(algo, config, make, seed, device)


def _run(algo: str, env_id: str, config: Any, seed: int, device: str) -> dict[str, float]:
    rngs = make_rngs(seed)
    frame_stack = getattr(config, "frame_stack", 4)

    def make(**kwargs: Any) -> Any:
        return make_env(env_id, **{**config.env_kwargs, **kwargs})

    start = time.perf_counter()
    model = baseline.make_model(algo, config, make, seed, device)  # (imports SB3 once)
    setup_s = time.perf_counter() - start
    start = time.perf_counter()
    model.learn(config.total_steps)
    train_s = time.perf_counter() - start  # learn() alone: SB3's training
    policy = baseline.eval_policy(
        algo, config, model.policy, baseline.obs_stats(model), rngs.eval_seed
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(rngs.eval_seed)
        result = evaluate(
            policy,
            lambda: make(train=False, frame_stack=frame_stack),
            config.eval_episodes,
            seed=rngs.eval_seed,
        )
    return {
        "eval/mean_return": result.mean,
        "eval/std_return": result.std,
        "train_s": train_s,
        "setup_s": setup_s,
    }


def run_sb3_dqn(env_id: str, config: Config, seed: int, device: str = "cpu") -> dict[str, float]:
    """Train SB3's DQN for ``config.total_steps`` and evaluate it as rlkit does."""
    return _run("dqn", env_id, config, seed, device)


def run_sb3_onpolicy(
    algo: str, env_id: str, config: Any, seed: int, device: str = "cpu"
) -> dict[str, float]:
    """Train an SB3 on-policy agent for ``config.total_steps`` and evaluate it as rlkit does."""
    return _run(algo, env_id, config, seed, device)
