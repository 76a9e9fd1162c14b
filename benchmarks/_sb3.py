"""Run Stable-Baselines3 (and sb3-contrib) agents from rlkit configs, with rlkit's envs and evaluation.

Used by the benchmarks so that both sides get the same hyperparameters, the same env
construction (``envs.make_env``), the same seeds and the same evaluation protocol.
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


# ------------------------------------------------------------------ on-policy


def _remaining(value: float | str, key: str) -> Any:
    """An rlkit schedule as SB3 takes it: a float, or a function of the progress remaining."""
    f = schedule(value, key)
    return f(0.0) if not isinstance(value, str) else (lambda rem: f(1.0 - rem))


def _activation(name: str) -> Any:
    from torch import nn

    table = {"tanh": nn.Tanh, "relu": nn.ReLU}
    if name not in table:
        raise ValueError(f"SB3 mapping knows activations {sorted(table)}, got {name!r}")
    return table[name]


def sb3_onpolicy_kwargs(algo: str, config: Any) -> dict[str, Any]:
    """SB3 ``PPO`` / ``A2C`` / sb3-contrib ``RecurrentPPO`` keyword arguments for an rlkit config."""
    kwargs: dict[str, Any] = {
        "learning_rate": _remaining(config.learning_rate, "learning_rate"), "n_steps": config.n_steps,
        "gamma": config.gamma, "gae_lambda": config.gae_lambda, "ent_coef": config.ent_coef,
        "vf_coef": config.vf_coef, "max_grad_norm": config.max_grad_norm,
        "normalize_advantage": config.normalize_advantage,
    }  # fmt: skip
    policy_kwargs: dict[str, Any] = {
        "activation_fn": _activation(config.activation), "ortho_init": config.ortho_init,
        "log_std_init": config.log_std_init,
    }  # fmt: skip
    if algo in ("ppo", "recurrent-ppo"):
        kwargs.update(batch_size=config.batch_size, n_epochs=config.n_epochs,
                      clip_range=_remaining(config.clip_range, "clip_range"),
                      clip_range_vf=config.clip_range_vf, target_kl=config.target_kl)  # fmt: skip
        if config.optimizer != "adam":
            raise ValueError(f"SB3's {algo} uses Adam; cannot honour optimizer={config.optimizer}")
        policy_kwargs["optimizer_kwargs"] = {"eps": config.optimizer_eps}
    elif algo == "a2c":
        if config.optimizer not in ("adam", "rmsprop"):
            raise ValueError(
                f"SB3's a2c uses RMSprop or Adam; cannot honour optimizer={config.optimizer}"
            )
        kwargs["use_rms_prop"] = config.optimizer == "rmsprop"
        kwargs["rms_prop_eps"] = config.optimizer_eps
        if config.optimizer == "rmsprop":
            policy_kwargs["optimizer_kwargs"] = {"alpha": config.rms_alpha, "eps": config.optimizer_eps,
                                                 "weight_decay": 0.0}  # fmt: skip
        else:
            policy_kwargs["optimizer_kwargs"] = {"eps": config.optimizer_eps}
    if algo == "recurrent-ppo":
        policy_kwargs.update(lstm_hidden_size=config.lstm_hidden_size, shared_lstm=config.shared_lstm,
                             enable_critic_lstm=not config.shared_lstm, net_arch=list(config.net_arch))  # fmt: skip
    else:
        policy_kwargs["net_arch"] = {"pi": list(config.net_arch), "vf": list(config.net_arch)}
    kwargs["policy_kwargs"] = policy_kwargs
    return kwargs


def sb3_onpolicy_model(algo: str, env_id: str, config: Any, seed: int, device: str = "cpu") -> Any:
    """An SB3 / sb3-contrib model on ``n_envs`` rlkit envs (``DummyVecEnv``), not yet trained."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    rngs = make_rngs(seed)
    frame_stack = getattr(config, "frame_stack", 4)

    def make_one() -> Any:
        return make_env(env_id, train=True, frame_stack=frame_stack, **config.env_kwargs)

    venv = DummyVecEnv([make_one] * config.n_envs)
    venv.seed(rngs.env_seed)
    image = len(venv.observation_space.shape) == 3
    kwargs = sb3_onpolicy_kwargs(algo, config)
    if image:
        kwargs["policy_kwargs"].pop("net_arch")
    if algo == "recurrent-ppo":
        from sb3_contrib import RecurrentPPO as cls

        policy = "CnnLstmPolicy" if image else "MlpLstmPolicy"
    else:
        from stable_baselines3 import A2C, PPO

        cls = {"ppo": PPO, "a2c": A2C}[algo]
        policy = "CnnPolicy" if image else "MlpPolicy"
    return cls(policy, venv, seed=seed, device=device, verbose=0, **kwargs)


def run_sb3_onpolicy(
    algo: str, env_id: str, config: Any, seed: int, device: str = "cpu"
) -> dict[str, float]:
    """Train an SB3 on-policy agent for ``config.total_steps`` and evaluate it as rlkit does."""
    rngs = make_rngs(seed)
    start = time.perf_counter()
    model = sb3_onpolicy_model(algo, env_id, config, seed, device)
    model.learn(config.total_steps)
    train_s = time.perf_counter() - start
    frame_stack = getattr(config, "frame_stack", 4)
    recurrent = algo == "recurrent-ppo"

    class Policy:
        def __init__(self) -> None:
            self.reset()

        def reset(self) -> None:
            self.state, self.start = None, np.ones((1,), dtype=bool)

        def __call__(self, obs: Any) -> Any:
            if recurrent:
                action, self.state = model.predict(np.asarray(obs), state=self.state, episode_start=self.start,
                                                   deterministic=config.deterministic)  # fmt: skip
                self.start = np.zeros((1,), dtype=bool)
            else:
                action, _ = model.predict(np.asarray(obs), deterministic=config.deterministic)
            return int(action) if np.ndim(action) == 0 else action

    result = evaluate(Policy(), lambda: make_env(env_id, train=False, frame_stack=frame_stack, **config.env_kwargs),
                      config.eval_episodes, seed=rngs.eval_seed)  # fmt: skip
    return {"eval/mean_return": result.mean, "eval/std_return": result.std, "train_s": train_s}
