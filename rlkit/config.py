"""Configs: YAML (read by ``rlkit.yaml_loader``, bounded and safe) into an algorithm's
frozen dataclass.

An agent's ``Config`` is a frozen, keyword-only dataclass whose every field carries a
one-line docstring (the string literal right below it). ``load_config`` reads an
optional YAML file, applies ``key=value`` overrides with type coercion, and refuses
unknown keys (naming close matches) and wrong types (naming the key, the value and
what is allowed). Nothing here knows about a particular algorithm.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import platform
import sys
import textwrap
import types
import typing
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from rlkit.errors import BadInput, unknown
from rlkit.yaml_loader import MAX_DEPTH, YamlSyntaxError, load_override_value, read_yaml_file

C = TypeVar("C")

#: Keys a config file may hold besides the agent's fields (a saved ``config.yaml``
#: has them); they describe the run, not the agent.
RUN_KEYS = ("algo", "env_id", "seed", "device", "versions", "implementation", "nproc")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunFields:
    """Fields every learning agent shares (docs/design.md, "Config files")."""

    total_steps: int = 100_000
    """Environment steps that bound the run."""
    eval_interval: int = 10_000
    """Evaluate every this many environment steps (0 = only at the end)."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    checkpoint_interval: int = 50_000
    """Save checkpoints/latest.pt every this many environment steps (0 = only at the end)."""
    video_interval: int = 0
    """Record an evaluation video every this many environment steps (0 = never)."""
    deterministic: bool = True
    """Evaluate the greedy / mean action instead of sampling."""
    log_interval: int = 1_000
    """Log training metrics (returns, losses, sps) every this many environment steps."""
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    """Keyword arguments for gymnasium.make, e.g. env_kwargs.is_slippery=false."""

    def __post_init__(self) -> None:
        require("total_steps", self.total_steps, self.total_steps > 0, "an integer > 0")
        require("eval_interval", self.eval_interval, self.eval_interval >= 0, "an integer >= 0")
        require("eval_episodes", self.eval_episodes, self.eval_episodes > 0, "an integer > 0")
        require(
            "checkpoint_interval",
            self.checkpoint_interval,
            self.checkpoint_interval >= 0,
            "an integer >= 0",
        )
        require("video_interval", self.video_interval, self.video_interval >= 0, "an integer >= 0")
        require("log_interval", self.log_interval, self.log_interval > 0, "an integer > 0")


@dataclasses.dataclass(frozen=True, kw_only=True)
class OptimizerFields:
    """The optimizer of a gradient-based agent and its hyperparameters (rlkit.optim)."""

    optimizer: Literal["sgd", "momentum", "adam", "rmsprop", "lion"] = "adam"
    """sgd, momentum (SGD with momentum), adam, rmsprop or lion; the step size is learning_rate."""
    optimizer_betas: tuple[float, float] | None = None
    """Adam / Lion betas, e.g. [0.9, 0.999] (default: 0.9, 0.999 for Adam; 0.9, 0.99 for Lion)."""
    optimizer_eps: float = 1e-8
    """Adam's / RMSprop's epsilon."""
    rms_alpha: float = 0.99
    """RMSprop's smoothing constant for optimizer=rmsprop."""
    rms_centered: bool = False
    """Centered RMSprop (the gradient over its running standard deviation) for optimizer=rmsprop."""
    momentum: float = 0.9
    """Momentum for optimizer=momentum."""
    nesterov: bool = False
    """Nesterov momentum for optimizer=momentum."""
    weight_decay: float = 0.0
    """L2 weight decay (decoupled for Lion)."""
    optimizer_fused: bool = False
    """Fuse the update into one kernel with torch.compile (faster, compiles on first use)."""

    def __post_init__(self) -> None:
        if self.optimizer_betas is not None:
            require(
                "optimizer_betas",
                list(self.optimizer_betas),
                len(self.optimizer_betas) == 2 and all(0 <= b < 1 for b in self.optimizer_betas),
                "two numbers in [0, 1)",
            )
        require("optimizer_eps", self.optimizer_eps, self.optimizer_eps >= 0, "a number >= 0")
        require("momentum", self.momentum, 0 <= self.momentum < 1, "0 <= momentum < 1")
        require("rms_alpha", self.rms_alpha, 0 <= self.rms_alpha < 1, "0 <= rms_alpha < 1")
        require("weight_decay", self.weight_decay, self.weight_decay >= 0, "a number >= 0")
        if self.rms_centered and self.optimizer != "rmsprop":
            raise BadInput(
                f"rms_centered=true needs optimizer=rmsprop, got optimizer={self.optimizer}"
            )
        if self.nesterov and self.optimizer != "momentum":
            raise BadInput(
                f"nesterov=true needs optimizer=momentum, got optimizer={self.optimizer}"
            )


LIMITS: dict[str, tuple[int, int]] = {
    "total_steps": (1, 10**12),
    "eval_interval": (0, 10**12),
    "checkpoint_interval": (0, 10**12),
    "video_interval": (0, 10**12),
    "log_interval": (1, 10**12),
    "learning_starts": (0, 10**12),
    "train_freq": (1, 10**12),
    "target_update_interval": (1, 10**12),
    "eval_episodes": (1, 10**6),
    "n_envs": (1, 4096),
    "n_steps": (1, 10**7),
    "batch_size": (1, 10**7),
    "n_epochs": (1, 10**5),
    "gradient_steps": (1, 10**5),
    "buffer_size": (1, 10**10),
    "n_step": (1, 10**4),
    "frame_stack": (1, 64),
    "lstm_hidden_size": (1, 65536),
    "max_episode_steps": (1, 10**9),
    "max_iterations": (1, 10**9),
    "eval_sweeps": (1, 10**6),
    "net_arch": (1, 65536),
}
"""The range of every count a config may hold (``net_arch``: each layer's size, and at
most ``MAX_LAYERS`` layers). Checked before anything else about a value, so an absurd
count (``total_steps=1e100``) is one line, never a run; ``--help-config`` shows them."""
MAX_LAYERS = 64


def check_limits(key: str, value: Any) -> None:
    """``BadInput`` naming the range when ``key``'s count lies outside ``LIMITS``."""
    if key not in LIMITS:
        return
    low, high = LIMITS[key]
    values = list(value) if isinstance(value, (tuple, list)) else [value]
    if key == "net_arch" and len(values) > MAX_LAYERS:
        raise BadInput(
            f"bad value net_arch (with {len(values)} layers); allowed: at most {MAX_LAYERS}"
        )
    for v in values:
        if isinstance(v, int) and not low <= v <= high:
            shown = f"{v:.3g}" if abs(v) >= 10**15 else f"{v:,}"
            raise BadInput(f"bad value {key}={shown}; allowed: {limit_text(key)}")


def limit_text(key: str) -> str:
    """``"1 to 1e12"``: the range of ``key`` as ``--help-config`` shows it ("" when none)."""
    if key not in LIMITS:
        return ""
    low, high = LIMITS[key]
    return f"{low:,} to {high:.0e}".replace("e+", "e") if high >= 10**6 else f"{low:,} to {high:,}"


def require(key: str, value: Any, ok: bool, allowed: str) -> None:
    """Raise ``BadInput`` naming ``key``, ``value`` and what is ``allowed`` unless ``ok``."""
    if not ok:
        raise BadInput(f"bad value {key}={value!r}; allowed: {allowed}")


def require_gamma(gamma: float) -> None:
    """A discount factor must lie in (0, 1]."""
    require("gamma", gamma, 0.0 < gamma <= 1.0, "0 < gamma <= 1")


# ---------------------------------------------------------------- field docs


@cache
def field_docs(cls: type) -> dict[str, str]:
    """Map each dataclass field of ``cls`` (and its bases) to its one-line docstring."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        for node, after in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def describe_fields(cls: type) -> list[tuple[str, str, Any, str]]:
    """``(name, type, default, doc)`` for each field of a config class, for --help."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        rows.append((f.name, _type_name(hints[f.name]), default, docs.get(f.name, "")))
    return rows


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "|".join(str(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


# ---------------------------------------------------------------- coercion


def coerce(key: str, value: Any, tp: Any) -> Any:
    """Convert ``value`` to the annotated type ``tp`` or raise ``BadInput`` naming ``key``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        choices = get_args(tp)
        if value in choices:
            return value
        raise BadInput(f"bad value {key}={value!r}; allowed: " + ", ".join(str(c) for c in choices))
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(key, value, option)
            except BadInput as e:
                errors.append(str(e))
        raise BadInput(f"bad value {key}={value!r}; expected {_type_name(tp)}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise BadInput(f"bad value {key}={value!r}; expected true or false")
    if tp is int:
        if isinstance(value, bool):
            raise BadInput(f"bad value {key}={value!r}; expected an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                number = float(value.replace("_", ""))
            except ValueError:
                number = math.nan
            if number.is_integer():
                return int(number)
        raise BadInput(f"bad value {key}={value!r}; expected an integer")
    if tp is float:
        if isinstance(value, bool):
            raise BadInput(f"bad value {key}={value!r}; expected a number")
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.replace("_", ""))
            except ValueError:
                raise BadInput(f"bad value {key}={value!r}; expected a number") from None
        else:
            raise BadInput(f"bad value {key}={value!r}; expected a number")
        if not math.isfinite(number):
            raise BadInput(f"bad value {key}={value!r}; expected a finite number")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise BadInput(f"bad value {key}={value!r}; expected a string")
    if tp is dict or origin is dict:
        if isinstance(value, Mapping):
            return dict(value)
        raise BadInput(f"bad value {key}={value!r}; expected a mapping")
    if origin in (tuple, list) or tp in (tuple, list):
        if isinstance(value, Sequence) and not isinstance(value, str):
            args = get_args(tp)
            inner = args[0] if args else Any
            return tuple(coerce(key, v, inner) for v in value)
        raise BadInput(f"bad value {key}={value!r}; expected a list")
    if isinstance(value, tp):
        return value
    raise BadInput(f"bad value {key}={value!r}; expected {_type_name(tp)}")


# ---------------------------------------------------------------- loading


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are read as YAML (bounded as a config file is,
    ``rlkit.yaml_loader``), text that is not YAML stays a string, ``a.b=v`` nests."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInput(f"bad override {item[:80]!r}; expected key=value")
        if len(key) > 200 or key.count(".") > MAX_DEPTH:
            raise BadInput(f"bad override key {key[:80]!r}...; keys are config field names")
        try:
            value = load_override_value(raw, key) if raw.strip() else ""
        except YamlSyntaxError:
            value = raw
        if isinstance(value, (dict, list)) and not raw.strip().startswith(("{", "[")):
            value = raw
        target = out
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                raise BadInput(f"bad override {item[:80]!r}; {parent} is not a mapping")
        if leaf in target:
            raise BadInput(f"the override {key}=... is given twice; keep one")
        target[leaf] = value
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping through rlkit's one bounded safe loader (``rlkit.yaml_loader``:
    python tags, alias bombs, deep nesting, huge files and duplicate keys refused)."""
    path = Path(path)
    data = read_yaml_file(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(f"config {path} must be a mapping of key: value, got {type(data).__name__}")
    return data


def build_config(cls: type[C], values: Mapping[str, Any]) -> C:
    """Make ``cls(**values)`` after refusing unknown keys and coercing types."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise BadInput(f"config keys are field names, got {key!r}")
        if key not in names:
            raise unknown("config key", key, names, show_all=True)
        kwargs[key] = coerce(key, value, hints[key])
        check_limits(key, kwargs[key])
    try:
        return cls(**kwargs)
    except BadInput:
        raise
    except (TypeError, ValueError) as e:
        raise BadInput(f"bad config: {e}") from None


def merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base`` (mappings merge, rest replace)."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def load_config(
    cls: type[C],
    path: str | Path | Mapping[str, Any] | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
) -> tuple[C, dict[str, Any]]:
    """Load ``cls`` from an optional YAML file (or a mapping of the same keys) plus overrides.

    Returns the config and the run keys (``RUN_KEYS``) that the file or the
    overrides held, such as ``seed``; those are not agent fields.
    """
    if path is None:
        data: dict[str, Any] = {}
    else:
        data = dict(path) if isinstance(path, Mapping) else read_yaml(path)
    extra = overrides if isinstance(overrides, Mapping) else parse_overrides(overrides)
    data = merge(data, extra)
    run = {k: data.pop(k) for k in RUN_KEYS if k in data}
    return build_config(cls, data), run


def config_dict(config: Any) -> dict[str, Any]:
    """The config as plain YAML-able data (tuples become lists)."""

    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def package_versions() -> dict[str, str]:
    """Versions of python and the packages that decide a run's numbers."""
    out = {"python": platform.python_version()}
    for name in (
        "rlkit",
        "torch",
        "numpy",
        "gymnasium",
        "ale-py",
        "stable-baselines3",
        "sb3-contrib",
        "wandb",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["platform"] = sys.platform
    return out
