"""The Stable-Baselines3 adapter: SB3's agent (sb3-contrib's ``RecurrentPPO`` for
recurrent-ppo, its ``QRDQN`` for dqn with ``distributional: qr``) from an rlkit config file,
behind ``rlkit baseline <algo> <env-id>``.

Everything around the SB3 learner is rlkit's, so the two runs differ only in the learner:
the envs come from ``rlkit.envs.make_env`` (same wrappers, same seeds), evaluation is
``rlkit.evaluation.evaluate`` with the same eval seed and episodes, and metrics go through
the same ``Logger`` under the same names into the same run directory layout (W&B group
``<algo>-<env>``, so ours and SB3's overlay in one chart; tag ``sb3``).

The field mapping (``MAPPING``) is explicit: every field of our dqn, a2c, ppo and
recurrent-ppo configs is either

* ``sb3``: an SB3 constructor argument with the same meaning (name given when it differs),
* ``policy``: an entry of SB3's ``policy_kwargs``,
* ``optimizer``: part of the optimizer (``policy_kwargs`` ``optimizer_class`` / ``optimizer_kwargs``;
  sgd, momentum, adam and rmsprop are torch's own classes; lion has no SB3 counterpart and is refused),
* ``run``: honoured by rlkit around SB3 (budget, evaluation, checkpoints, videos, logging,
  env construction and vector env, ``normalize_obs`` as ``VecNormalize(norm_obs=True, norm_reward=False)``),
* ``speed``: how rlkit computes (fused optimizer, written-out backprop, compile, memory
  layout); it does not change what is learned and SB3 computes its own way,
* ``fixed``: a feature SB3 lacks: allowed only at the value that means "off" (e.g.
  ``double_q: false``, ``precision: float32``); anything else is an error, never dropped.

Checkpoints hold the SB3 policy's ``state_dict`` (and the observation statistics), saved
and loaded like rlkit's (``torch.load(weights_only=True)``), never SB3's pickled zip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import torch

from rlkit.agents import ALGORITHMS
from rlkit.errors import BadInput
from rlkit.nn.cnn import small_frames
from rlkit.schedules import schedule
from rlkit.seeding import make_rngs

SB3_ALGOS = ("dqn", "a2c", "ppo", "recurrent-ppo")
"""Algorithms with an SB3 / sb3-contrib counterpart."""

NO_COUNTERPART = {
    "reinforce": "Stable-Baselines3 has no REINFORCE (a2c with n_steps covering whole episodes is the nearest)",
    "value-iteration": "value iteration is a tabular planner; Stable-Baselines3 has no planners",
    "policy-iteration": "policy iteration is a tabular planner; Stable-Baselines3 has no planners",
    "policy-evaluation": "exact policy evaluation is a tabular planner; Stable-Baselines3 has no planners",
    "q-learning": "Stable-Baselines3 has no tabular Q-learning",
}

# ----------------------------------------------------------------- field mapping

_RUN = {
    "total_steps": "model.learn(total_timesteps)",
    "eval_interval": "rlkit evaluates the SB3 policy at the same steps",
    "eval_episodes": "rlkit evaluation",
    "checkpoint_interval": "rlkit checkpoints (policy state_dict)",
    "video_interval": "rlkit records evaluation videos",
    "deterministic": "predict(deterministic=...) in evaluation",
    "log_interval": "rlkit logs SB3's metrics at the same interval",
    "env_kwargs": "rlkit.envs.make_env(**env_kwargs)",
}
_OPTIMIZER = {
    name: "policy_kwargs optimizer_class / optimizer_kwargs"
    for name in (
        "optimizer",
        "optimizer_betas",
        "optimizer_eps",
        "rms_alpha",
        "rms_centered",
        "momentum",
        "nesterov",
        "weight_decay",
    )
}
_ONPOLICY_SB3 = {
    name: name
    for name in (
        "learning_rate",
        "n_steps",
        "gamma",
        "gae_lambda",
        "ent_coef",
        "vf_coef",
        "max_grad_norm",
        "normalize_advantage",
    )
}
_PPO_SB3 = {
    name: name for name in ("batch_size", "n_epochs", "clip_range", "clip_range_vf", "target_kl")
}
_ONPOLICY_RUN = {
    "n_envs": "DummyVecEnv / SubprocVecEnv of n_envs rlkit.envs.make_env envs",
    "vec_env": "sync, ale or torch: DummyVecEnv (SB3 steps Gymnasium's own envs), async: SubprocVecEnv",
    "frame_stack": "rlkit.envs.make_env(frame_stack=...) (Atari)",
    "normalize_obs": "VecNormalize(norm_obs=True, norm_reward=False, clip_obs=10)",
}
_POLICY = {
    "net_arch": "net_arch (pi and vf)",
    "activation": "activation_fn",
    "ortho_init": "ortho_init",
    "log_std_init": "log_std_init",
}


@dataclass(frozen=True)
class Field:
    """How one rlkit config field reaches SB3."""

    kind: str
    """sb3, policy, optimizer, run, speed or fixed."""
    target: Any = None
    """The SB3 argument (sb3 / policy), what rlkit does (run), or the allowed value (fixed: one
    value, or a tuple of them)."""


def _fields(kind: str, table: dict[str, Any]) -> dict[str, Field]:
    return {name: Field(kind, target) for name, target in table.items()}


MAPPING: dict[str, dict[str, Field]] = {
    "dqn": {
        **_fields(
            "run",
            {
                **_RUN,
                "frame_stack": "rlkit.envs.make_env(frame_stack=...) (Atari)",
                "eval_epsilon": "rlkit's evaluation takes random actions with this probability",
                "vec_env": "sync or ale: SB3 steps the Python pipeline",
            },
        ),
        **_fields("optimizer", _OPTIMIZER),
        **_fields(
            "sb3",
            {
                name: name
                for name in (
                    "learning_rate",
                    "buffer_size",
                    "learning_starts",
                    "batch_size",
                    "tau",
                    "gamma",
                    "train_freq",
                    "gradient_steps",
                    "target_update_interval",
                    "exploration_fraction",
                    "exploration_initial_eps",
                    "exploration_final_eps",
                    "max_grad_norm",
                )
            },
        ),
        "n_step": Field("sb3", "n_steps"),
        **_fields(
            "policy",
            {
                "net_arch": "net_arch",
                "activation": "activation_fn",
                "n_quantiles": "n_quantiles (QR-DQN only)",
            },
        ),
        # qr runs sb3-contrib's QR-DQN; c51 has no SB3 counterpart
        "distributional": Field("fixed", ("none", "qr")),
        # only read with c51 (which is refused)
        **_fields("fixed", {"n_atoms": None, "v_min": None, "v_max": None}),
        # SB3 has no noisy nets
        **_fields("fixed", {"noisy": False, "noisy_sigma0": None}),
        **_fields(
            "fixed",
            {
                "double_q": False,
                "dueling": False,
                "prioritized": False,
                "save_replay": False,
                "precision": ("float32", "auto"),
            },
        ),
        # only read when prioritized is on (which is refused)
        **_fields("fixed", {"priority_alpha": None, "priority_beta0": None}),
        # MinAtar's 10x10 planes: rlkit's MinAtar network as SB3's features extractor
        **_fields(
            "policy",
            {
                "minatar_hidden": "features_extractor_kwargs (MinAtar)",
                "minatar_padding": "features_extractor_kwargs (MinAtar)",
            },
        ),
        **_fields(
            "speed",
            {
                "optimizer_fused": None,
                "channels_last": None,
                "compile": None,
                "written_out_backprop": None,
            },
        ),
    },
    "a2c": {
        **_fields("run", {**_RUN, **_ONPOLICY_RUN}),
        **_fields("optimizer", _OPTIMIZER),
        **_fields("sb3", _ONPOLICY_SB3),
        **_fields("policy", _POLICY),
        **_fields("speed", {"optimizer_fused": None, "written_out_backprop": None}),
    },
    "ppo": {
        **_fields("run", {**_RUN, **_ONPOLICY_RUN}),
        **_fields("optimizer", _OPTIMIZER),
        **_fields("sb3", {**_ONPOLICY_SB3, **_PPO_SB3}),
        **_fields("policy", _POLICY),
        "precision": Field("fixed", ("float32", "auto")),
        **_fields(
            "speed",
            {"optimizer_fused": None, "channels_last": None, "written_out_backprop": None},
        ),
    },
    "recurrent-ppo": {
        **_fields("run", {**_RUN, **_ONPOLICY_RUN}),
        **_fields("optimizer", _OPTIMIZER),
        **_fields("sb3", {**_ONPOLICY_SB3, **_PPO_SB3}),
        **_fields(
            "policy",
            {
                **_POLICY,
                "lstm_hidden_size": "lstm_hidden_size",
                "shared_lstm": "shared_lstm (enable_critic_lstm = not shared_lstm)",
            },
        ),
        **_fields("speed", {"optimizer_fused": None}),
    },
}


def check_algo(algo: str) -> None:
    """``BadInput`` for an algorithm without an SB3 counterpart (or an unknown one)."""
    if algo in NO_COUNTERPART:
        raise BadInput(
            f"rlkit baseline {algo}: {NO_COUNTERPART[algo]}; baseline covers {', '.join(SB3_ALGOS)}"
        )
    if algo not in SB3_ALGOS:
        from rlkit.errors import unknown

        raise unknown("algorithm", algo, ALGORITHMS, show_all=True)


def _remaining(value: float | str, key: str) -> Any:
    """An rlkit schedule as SB3 takes it: a number, or a function of the progress *remaining* (1 -> 0)."""
    f = schedule(value, key)
    return f(0.0) if not isinstance(value, str) else (lambda remaining: f(1.0 - remaining))


def _activation(name: str) -> type:
    from rlkit.nn.activations import activation

    module = activation(name)
    return type(module)


def _optimizer(algo: str, config: Any) -> dict[str, Any]:
    name = config.optimizer
    wd = config.weight_decay
    if name == "lion":
        raise BadInput(
            f"SB3's {algo} cannot honour optimizer=lion (torch has no Lion); use adam, rmsprop, sgd or momentum"
        )
    if name == "adam":
        kwargs: dict[str, Any] = {"eps": config.optimizer_eps, "weight_decay": wd}
        if config.optimizer_betas is not None:
            kwargs["betas"] = tuple(config.optimizer_betas)
        return {"optimizer_class": torch.optim.Adam, "optimizer_kwargs": kwargs}
    if name == "rmsprop":
        return {
            "optimizer_class": torch.optim.RMSprop,
            "optimizer_kwargs": {
                "alpha": config.rms_alpha,
                "eps": config.optimizer_eps,
                "weight_decay": wd,
                "centered": config.rms_centered,
            },
        }
    momentum = config.momentum if name == "momentum" else 0.0
    return {
        "optimizer_class": torch.optim.SGD,
        "optimizer_kwargs": {"momentum": momentum, "nesterov": config.nesterov, "weight_decay": wd},
    }


@cache
def minatar_extractor() -> type:
    """SB3's features extractor made of ``rlkit.nn.MinAtarCNN`` (``minatar_hidden``,
    ``minatar_padding`` as rlkit's DQN reads them), so that a baseline on MinAtar learns
    with the network rlkit's DQN has; built on first use (SB3 is imported lazily)."""
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    from rlkit.nn import MinAtarCNN

    class MinAtarFeatures(BaseFeaturesExtractor):
        """MinAtar's network in front of SB3's Q-network (0/1 planes, no scaling)."""

        def __init__(self, observation_space: Any, hidden: int = 128, padding: int = 0) -> None:
            shape = observation_space.shape
            net = MinAtarCNN(shape[0], frame_size=shape[-1], features=hidden, padding=padding)
            super().__init__(observation_space, net.features)
            self.net = net

        def forward(self, planes: torch.Tensor) -> torch.Tensor:
            return self.net(planes)

    return MinAtarFeatures


def sb3_kwargs(algo: str, config: Any, obs_shape: Sequence[int] = ()) -> dict[str, Any]:
    """The SB3 constructor's keyword arguments for an rlkit config (``policy_kwargs``
    included) and observations of ``obs_shape`` (``()``: not images); ``BadInput`` for a
    field SB3 cannot honour. Images (three axes) take SB3's CNN, so ``net_arch`` is not
    passed; MinAtar's planes (``small_frames``) are read in DQN's baseline by MinAtar's
    network (``minatar_extractor``) and refused by the other algorithms."""
    check_algo(algo)
    image, small = len(obs_shape) == 3, small_frames(obs_shape)
    table = MAPPING[algo]
    fields = set(type(config).__dataclass_fields__)
    if fields != set(table):
        raise RuntimeError(
            f"baseline mapping out of date for {algo}: {sorted(fields ^ set(table))}"
        )
    for name, spec in table.items():
        if spec.kind != "fixed" or spec.target is None:
            continue
        allowed = spec.target if isinstance(spec.target, tuple) else (spec.target,)
        if getattr(config, name) not in allowed:
            shown = " or ".join(repr(value) for value in allowed)
            raise BadInput(
                f"SB3's {algo} cannot honour {name}={getattr(config, name)!r} "
                f"(only {shown}); run it with rlkit train, or set {name}={allowed[0]!r}"
            )
    kwargs: dict[str, Any] = {}
    policy: dict[str, Any] = _optimizer(algo, config)
    for name, spec in table.items():
        value = getattr(config, name)
        if spec.kind == "sb3":
            if name in ("learning_rate", "clip_range"):
                value = _remaining(value, name)
            kwargs[spec.target] = value
        elif spec.kind == "policy":
            if name == "activation":
                policy["activation_fn"] = _activation(value)
            elif name == "net_arch":
                if not image:
                    arch = list(value)
                    policy["net_arch"] = arch if algo == "dqn" else {"pi": arch, "vf": list(arch)}
            elif name == "n_quantiles":
                if config.distributional == "qr":
                    policy[name] = value
            elif name == "shared_lstm":
                policy["shared_lstm"] = value
                policy["enable_critic_lstm"] = not value
            elif name.startswith("minatar_"):
                continue  # (the extractor's, with small frames: below)
            else:
                policy[name] = value
    if small:
        if algo != "dqn":
            raise BadInput(
                f"rlkit baseline {algo}: MinAtar's small planes have a network for dqn only"
            )
        policy["features_extractor_class"] = minatar_extractor()
        policy["features_extractor_kwargs"] = {
            "hidden": config.minatar_hidden,
            "padding": config.minatar_padding,
        }
        policy["net_arch"] = []  # the heads straight on the features, as rlkit's
        policy["normalize_images"] = False
    if algo == "dqn" and config.max_grad_norm == 0:  # rlkit's "no clipping"
        # (SB3's DQN always clips, to inf here; sb3-contrib's QR-DQN skips None)
        kwargs["max_grad_norm"] = None if config.distributional == "qr" else float("inf")
    if algo == "a2c":  # the optimizer comes from policy_kwargs; keep SB3 from choosing its own
        kwargs["use_rms_prop"] = config.optimizer == "rmsprop"
        kwargs["rms_prop_eps"] = config.optimizer_eps
    kwargs["policy_kwargs"] = policy
    return kwargs


def speed_notes(algo: str, config: Any) -> list[str]:
    """The ``speed`` fields set away from their defaults (they do not apply to SB3)."""
    import dataclasses

    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    return [
        f"{name}={getattr(config, name)!r}"
        for name, spec in MAPPING[algo].items()
        if spec.kind == "speed" and getattr(config, name) != defaults[name]
    ]


def model_class(algo: str, config: Any = None) -> type:
    """The SB3 / sb3-contrib class of ``algo`` (sb3-contrib's QR-DQN for dqn with
    ``distributional: qr``)."""
    if algo == "dqn" and getattr(config, "distributional", "none") == "qr":
        from sb3_contrib import QRDQN

        return QRDQN
    if algo == "recurrent-ppo":
        try:
            from sb3_contrib import RecurrentPPO
        except ImportError as e:  # pragma: no cover - a dependency
            raise BadInput(
                "rlkit baseline recurrent-ppo needs sb3-contrib (pip install sb3-contrib)"
            ) from e
        return RecurrentPPO
    import stable_baselines3 as sb3

    return {"dqn": sb3.DQN, "a2c": sb3.A2C, "ppo": sb3.PPO}[algo]


def policy_name(algo: str, image: bool) -> str:
    """SB3's policy alias: ``MlpPolicy`` / ``CnnPolicy`` (``...LstmPolicy`` for recurrent-ppo)."""
    if algo == "recurrent-ppo":
        return "CnnLstmPolicy" if image else "MlpLstmPolicy"
    return "CnnPolicy" if image else "MlpPolicy"


# ----------------------------------------------------------------- building and acting


def make_model(
    algo: str, config: Any, make_env: Callable[..., Any], seed: int, device: str = "cpu"
) -> Any:
    """An untrained SB3 model on rlkit envs (``make_env(train=True, ...)``), seeded with ``seed``."""
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    frame_stack = getattr(config, "frame_stack", 4)

    def make_one() -> Any:
        return make_env(train=True, frame_stack=frame_stack)

    if algo == "dqn":
        venv: Any = DummyVecEnv([make_one])
    else:
        cls = SubprocVecEnv if config.vec_env == "async" else DummyVecEnv
        venv = cls([make_one] * config.n_envs)
        if config.normalize_obs:
            venv = VecNormalize(
                venv, norm_obs=True, norm_reward=False, clip_obs=10.0, gamma=config.gamma
            )
    image = len(venv.observation_space.shape) == 3
    kwargs = sb3_kwargs(algo, config, venv.observation_space.shape)
    return model_class(algo, config)(
        policy_name(algo, image), venv, seed=seed, device=device, verbose=0, **kwargs
    )


class Sb3Policy:
    """``obs -> action`` of an SB3 policy for ``rlkit.evaluation.evaluate``.

    Observations are normalized with frozen statistics when the run used
    ``normalize_obs``; a recurrent policy's memory is reset by ``reset()`` (called at
    each episode start); DQN's ``eval_epsilon`` takes uniform random actions from ``rng``.
    """

    def __init__(
        self,
        policy: Any,
        recurrent: bool,
        deterministic: bool,
        obs_rms: dict[str, np.ndarray] | None = None,
        epsilon: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.policy, self.recurrent, self.deterministic = policy, recurrent, deterministic
        self.obs_rms, self.epsilon = obs_rms, epsilon
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.discrete = hasattr(policy.action_space, "n")
        self.reset()

    @property
    def module(self) -> Any:
        """SB3's policy (a torch module)."""
        return self.policy

    def reset(self) -> None:
        """Forget the memory (a new episode)."""
        self.state, self.start = None, np.ones((1,), dtype=bool)

    def _normalized(self, x: np.ndarray) -> np.ndarray:
        """``x`` through the frozen observation statistics (unchanged without them)."""
        if self.obs_rms is None:
            return x
        rms = self.obs_rms
        return np.clip((x - rms["mean"]) / np.sqrt(rms["var"] + 1e-8), -10.0, 10.0).astype(
            np.float32
        )

    def predict(
        self,
        obs: np.ndarray,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """SB3's ``predict`` on a batch (through the observation statistics)."""
        if self.recurrent:
            return self.policy.predict(
                self._normalized(np.asarray(obs)),
                state=state,
                episode_start=episode_start,
                deterministic=deterministic,
            )
        actions, _ = self.policy.predict(
            self._normalized(np.asarray(obs)), deterministic=deterministic
        )
        return actions, None

    def __call__(self, obs: Any) -> Any:
        x = self._normalized(np.asarray(obs))
        if self.epsilon > 0 and self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.policy.action_space.n))
        if self.recurrent:
            action, self.state = self.policy.predict(
                x, state=self.state, episode_start=self.start, deterministic=self.deterministic
            )
            self.start = np.zeros((1,), dtype=bool)
        else:
            action, _ = self.policy.predict(x, deterministic=self.deterministic)
        return int(action) if self.discrete else np.asarray(action, dtype=np.float32)


def obs_stats(model: Any) -> dict[str, np.ndarray] | None:
    """A copy of the ``VecNormalize`` observation statistics of ``model`` (None without)."""
    from stable_baselines3.common.vec_env import VecNormalize

    venv = model.get_env()
    if not isinstance(venv, VecNormalize):
        return None
    rms = venv.obs_rms
    return {
        "mean": np.array(rms.mean, dtype=np.float64),
        "var": np.array(rms.var, dtype=np.float64),
        "count": np.array(rms.count, dtype=np.float64),
    }


def eval_policy(
    algo: str,
    config: Any,
    policy: Any,
    obs_rms: dict | None,
    eval_seed: int,
    deterministic: bool | None = None,
) -> Sb3Policy:
    """The evaluation policy of a trained SB3 policy, as rlkit's training-time evaluation uses it."""
    epsilon = config.eval_epsilon if algo == "dqn" else 0.0
    det = config.deterministic if deterministic is None else deterministic
    return Sb3Policy(
        policy, algo == "recurrent-ppo", det, obs_rms, epsilon, np.random.default_rng(eval_seed)
    )


def load_policy(
    checkpoint: dict[str, Any],
    env: Any,
    device: str = "cpu",
    seed: int | None = None,
    deterministic: bool | None = None,
) -> Sb3Policy:
    """The evaluation policy of an ``rlkit baseline`` checkpoint (the policy rebuilt from the
    config and loaded with its ``state_dict``; no SB3 zip, no pickle)."""
    import importlib

    from rlkit.config import build_config

    algo = str(checkpoint["algo"])
    check_algo(algo)
    agent = importlib.import_module(ALGORITHMS[algo])
    fields = {
        f: v for f, v in checkpoint["config"].items() if f in agent.Config.__dataclass_fields__
    }
    config = build_config(agent.Config, fields)
    image = len(env.observation_space.shape) == 3
    kwargs = sb3_kwargs(algo, config, env.observation_space.shape)
    cls = model_class(algo, config)
    policy_cls = cls.policy_aliases[policy_name(algo, image)]
    lr = schedule(config.learning_rate, "learning_rate")(0.0)
    policy = policy_cls(
        env.observation_space, env.action_space, lambda _: lr, **kwargs["policy_kwargs"]
    )
    policy.load_state_dict(checkpoint["policy"])
    policy.to(torch.device(device))
    policy.set_training_mode(False)
    obs_rms = checkpoint.get("obs_rms")
    if obs_rms is not None:
        obs_rms = {
            k: np.asarray(v.numpy() if torch.is_tensor(v) else v) for k, v in obs_rms.items()
        }
    rngs = make_rngs(int(checkpoint.get("seed", 0)) if seed is None else seed, seed_globals=False)
    return eval_policy(algo, config, policy, obs_rms, rngs.eval_seed, deterministic)


# ----------------------------------------------------------------- training

_TRAIN_NAMES = {
    "train/policy_gradient_loss": "train/policy_loss",
    "train/n_updates": "train/updates",
    "rollout/exploration_rate": "train/epsilon",
}


def sb3_train_metrics(values: dict[str, Any]) -> dict[str, float]:
    """SB3's logged values under rlkit's names (``entropy_loss`` becomes ``entropy``, negated)."""
    out: dict[str, float] = {}
    for key, value in values.items():
        if not isinstance(value, (int, float, np.floating, np.integer)):
            continue
        if key == "train/entropy_loss":
            out["train/entropy"] = -float(value)
        elif key in _TRAIN_NAMES:
            out[_TRAIN_NAMES[key]] = float(value)
        elif key.startswith("train/"):
            out[key] = float(value)
    return out


class Sb3State:
    """What a baseline checkpoint holds: the SB3 policy's ``state_dict`` and the observation
    statistics (never SB3's pickled zip). Baseline runs do not resume."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint data."""
        stats = obs_stats(self.model)
        rms = None if stats is None else {k: torch.from_numpy(v) for k, v in stats.items()}
        return {"implementation": "sb3", "policy": self.model.policy.state_dict(), "obs_rms": rms}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Refused: resuming SB3 runs is not supported."""
        raise BadInput("resuming SB3 runs is not supported")


def train(algo: str, config: Any, run: Any) -> dict[str, Any]:
    """Train SB3's ``algo`` with rlkit's logging, evaluation, checkpoints and videos
    (``rlkit.periodic.Periodic``, as rlkit's agents); returns the summary."""
    from stable_baselines3.common.callbacks import BaseCallback

    from rlkit.periodic import Periodic

    model = make_model(algo, config, run.make_env, run.seed, str(run.device))
    periodic = Periodic(
        config,
        run,
        lambda: eval_policy(algo, config, model.policy, obs_stats(model), run.rngs.eval_seed),
        Sb3State(model),
        getattr(config, "frame_stack", 4),
    )
    last = {"step": 0}

    def tick(step: int) -> None:
        before, last["step"] = last["step"], step
        periodic.after(before, step, lambda: sb3_train_metrics(model.logger.name_to_value))

    class Callback(BaseCallback):
        """Episode statistics every step; the periodic work at the steps rlkit's agents use
        (after each update for on-policy algorithms)."""

        def _on_step(self) -> bool:
            for info in self.locals.get("infos", ()):
                periodic.stats.record(info)
            if algo == "dqn":
                tick(self.num_timesteps)
            return not run.stop.asked  # SIGINT / SIGTERM: SB3 ends learn(); saved below

        def _on_rollout_start(self) -> None:
            if algo != "dqn":
                tick(self.num_timesteps)

    model.learn(config.total_steps, callback=Callback(), progress_bar=False)
    step = int(model.num_timesteps)
    run.stop_if_requested(step, periodic.save)
    if algo != "dqn":
        tick(step)  # the last update's metrics
    summary = periodic.finish(step)
    model.get_env().close()
    return summary
