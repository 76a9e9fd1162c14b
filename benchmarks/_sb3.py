"""Run Stable-Baselines3's DQN from an rlkit config, with rlkit's env and evaluation protocol.

Used by the DQN benchmarks so that both sides get the same hyperparameters, the same
env construction (``envs.make_env``), the same seeds and the same evaluation.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from agents.dqn import Config
from envs import make_env
from rlkit.evaluation import evaluate
from rlkit.schedules import schedule
from rlkit.seeding import make_rngs

#: rlkit DQN fields -> SB3 DQN arguments (same meaning, same name unless noted)
SAME = (
    "learning_rate", "buffer_size", "learning_starts", "batch_size", "tau", "gamma", "train_freq",
    "gradient_steps", "target_update_interval", "exploration_fraction", "exploration_initial_eps",
    "exploration_final_eps", "max_grad_norm",
)  # fmt: skip


def sb3_dqn_kwargs(config: Config) -> dict[str, Any]:
    """SB3 ``DQN(...)`` keyword arguments for an rlkit DQN config; refuses what SB3 lacks."""
    unsupported = [
        name for name, bad in (
            ("double_q", config.double_q), ("dueling", config.dueling), ("prioritized", config.prioritized),
            ("optimizer", config.optimizer != "adam"), ("weight_decay", config.weight_decay != 0),
        ) if bad
    ]  # fmt: skip
    if unsupported:
        raise ValueError(f"SB3's DQN cannot honour: {', '.join(unsupported)}")
    kwargs: dict[str, Any] = {name: getattr(config, name) for name in SAME}
    lr = schedule(config.learning_rate, "learning_rate")
    # SB3 calls a schedule with the progress *remaining* (1 -> 0)
    kwargs["learning_rate"] = (
        lr(0.0) if isinstance(config.learning_rate, float) else (lambda rem: lr(1.0 - rem))
    )
    kwargs["n_steps"] = config.n_step
    policy_kwargs: dict[str, Any] = {"optimizer_kwargs": {"eps": config.optimizer_eps}}
    if config.optimizer_betas is not None:
        policy_kwargs["optimizer_kwargs"]["betas"] = tuple(config.optimizer_betas)
    policy_kwargs["net_arch"] = list(config.net_arch)
    kwargs["policy_kwargs"] = policy_kwargs
    return kwargs


def run_sb3_dqn(env_id: str, config: Config, seed: int, device: str = "cpu") -> dict[str, float]:
    """Train SB3's DQN for ``config.total_steps`` and evaluate it as rlkit does."""
    from stable_baselines3 import DQN

    rngs = make_rngs(seed)
    env = make_env(
        env_id, seed=rngs.env_seed, train=True, frame_stack=config.frame_stack, **config.env_kwargs
    )
    image = len(env.observation_space.shape) == 3
    kwargs = sb3_dqn_kwargs(config)
    if image:
        kwargs["policy_kwargs"].pop("net_arch")
    start = time.perf_counter()
    model = DQN(
        "CnnPolicy" if image else "MlpPolicy", env, seed=seed, device=device, verbose=0, **kwargs
    )
    model.learn(config.total_steps)
    train_s = time.perf_counter() - start

    def policy(obs: Any) -> int:
        return int(model.predict(np.asarray(obs), deterministic=True)[0])

    result = evaluate(
        policy,
        lambda: make_env(env_id, train=False, frame_stack=config.frame_stack, **config.env_kwargs),
        config.eval_episodes,
        seed=rngs.eval_seed,
    )
    return {"eval/mean_return": result.mean, "eval/std_return": result.std, "train_s": train_s}
