"""Search spaces and the Optuna pieces of ``rlkit sweep``.

A search space names config fields and how to draw each. Two file formats are read
(both with ``yaml.safe_load``):

* the rl-zoo style, one entry per config field (dotted for nested ones)::

      learning_rate: {type: float, low: 1.0e-5, high: 1.0e-2, log: true}
      n_epochs: {type: int, low: 1, high: 20}
      clip_range: {type: float, low: 0.1, high: 0.4, step: 0.05}
      net_arch: {type: categorical, choices: [[64, 64], [256, 256]]}
      gamma: [0.98, 0.99, 0.995]       # a list is a categorical
      total_steps: 50000               # a plain value is fixed for every trial

* a W&B sweep file (``method``, ``metric``, ``parameters`` with ``values`` / ``value`` /
  ``min`` / ``max`` / ``distribution``, ``early_terminate``, ``run_cap``), so an existing W&B
  sweep runs on Optuna, locally and offline.

:func:`check_space` proves every bound and choice makes a valid config before any trial
starts; :class:`TrialReporter` feeds each periodic ``eval/mean_return`` to the trial so the
pruner can stop it. Nothing here knows about a particular algorithm.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from rlkit.config import build_config, merge, read_yaml
from rlkit.errors import BadInput, unknown

Kind = Literal["float", "int", "categorical"]
OBJECTIVES = {"auc": "eval/auc", "final": "eval/mean_return"}
"""``--objective`` name -> the summary.json key a trial's value comes from."""
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "halving", "hyperband", "none")


@dataclass(frozen=True)
class Param:
    """One searched config field."""

    name: str
    """Config field, dotted for a key inside a mapping field (``env_kwargs.is_slippery``)."""
    kind: Kind
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """Draw this parameter from an Optuna trial; categorical lists come back as lists."""
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), log=self.log, step=int(self.step or 1)
            )
        return decode_choice(trial.suggest_categorical(self.name, self.optuna_choices()))

    def optuna_choices(self) -> list[Any]:
        """The choices as Optuna stores them (lists and mappings as JSON text)."""
        return [encode_choice(c) for c in self.choices]

    def candidates(self) -> list[Any]:
        """The values that bound this parameter: low and high, or every choice."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [self.low, self.high]

    def grid(self) -> list[Any]:
        """Every value for a grid search (refused for continuous floats)."""
        if self.kind == "categorical":
            return self.optuna_choices()
        if self.kind == "int" and not self.log:
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.kind == "float" and self.step:
            count = int(round((self.high - self.low) / self.step))
            return [round(self.low + i * self.step, 12) for i in range(count + 1)]
        raise BadInput(
            f"grid search needs a list of values for {self.name} (it is a continuous {self.kind})"
        )


def encode_choice(value: Any) -> Any:
    """Optuna's categorical choices are None / bool / int / float / str: others go as JSON."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value)


def decode_choice(value: Any) -> Any:
    """Inverse of :func:`encode_choice` (only JSON lists and mappings are decoded)."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


@dataclass(frozen=True)
class Space:
    """A parsed search space and what its file says about the sweep."""

    params: tuple[Param, ...]
    fixed: dict[str, Any] = field(default_factory=dict)
    """Fields set to one value in every trial (dotted names)."""
    sampler: str = "tpe"
    objective: str | None = None
    """``auc`` or ``final`` when the file names its metric (W&B ``metric``)."""
    direction: str = "maximize"
    pruner: str | None = None
    """A pruner the file asks for (W&B ``early_terminate``)."""
    trials: int | None = None
    """A trial budget the file gives (W&B ``run_cap``)."""
    source: str = "rlkit"
    """``rlkit`` (rl-zoo style) or ``wandb``."""

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The dotted-name overrides of one trial: the fixed fields and a draw of each param."""
        return {**self.fixed, **{p.name: p.suggest(trial) for p in self.params}}

    def grid(self) -> dict[str, list[Any]]:
        """The grid of a grid search (param name -> values)."""
        return {p.name: p.grid() for p in self.params}

    def to_dict(self) -> dict[str, Any]:
        """Plain data (stored with the study, so workers can check they run the same space)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"env_kwargs.is_slippery": False}`` -> ``{"env_kwargs": {"is_slippery": False}}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        target = out
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return out


# ---------------------------------------------------------------- reading files


def _number(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadInput(f"{where}: {key} must be a finite number, got {value!r}")
    return value


def _range_param(
    where: str, name: str, kind: Kind, low: Any, high: Any, log: Any = False, step: Any = None
) -> Param:
    low, high = _number(where, "low", low), _number(where, "high", high)
    if not isinstance(log, bool):
        raise BadInput(f"{where}: log must be true or false, got {log!r}")
    if kind == "int":
        for key, value in (("low", low), ("high", high), ("step", step)):
            if value is not None and (isinstance(value, float) and not value.is_integer()):
                raise BadInput(f"{where}: an int parameter needs integer {key}, got {value!r}")
    if low >= high:
        raise BadInput(f"{where}: low ({low!r}) must be less than high ({high!r})")
    if log and low <= 0:
        raise BadInput(f"{where}: a log scale needs low > 0, got {low!r}")
    if step is not None:
        step = _number(where, "step", step)
        if step <= 0:
            raise BadInput(f"{where}: step must be > 0, got {step!r}")
        if log:
            raise BadInput(f"{where}: Optuna cannot combine log: true with a step")
    return Param(name, kind, low, high, log, step)


def _categorical(where: str, name: str, choices: Any) -> Param:
    if not isinstance(choices, list) or not choices:
        raise BadInput(f"{where}: choices must be a non-empty list, got {choices!r}")
    encoded = [encode_choice(c) for c in choices]
    if len({json.dumps(c, sort_keys=True) for c in encoded}) != len(encoded):
        raise BadInput(f"{where}: choices repeat a value: {choices!r}")
    return Param(name, "categorical", choices=tuple(choices))


ZOO_KEYS = {"type", "low", "high", "log", "step", "choices"}


def parse_zoo(doc: Mapping[str, Any], path: str) -> Space:
    """The rl-zoo style: ``field: {type: float|int|categorical, ...}``, a list, or a value."""
    params, fixed = [], {}
    for name, spec in doc.items():
        where = f"space {path}: {name}"
        if isinstance(spec, list):
            params.append(_categorical(where, name, spec))
            continue
        if not isinstance(spec, Mapping) or "type" not in spec:
            if isinstance(spec, Mapping) and not (set(spec) & ZOO_KEYS):
                fixed[name] = dict(spec)  # a mapping value for a mapping field
                continue
            if isinstance(spec, Mapping):
                raise BadInput(f"{where}: needs type: float, int or categorical")
            fixed[name] = spec
            continue
        extra = set(spec) - ZOO_KEYS
        if extra:
            raise BadInput(
                f"{where}: unknown key {sorted(extra)[0]!r}; allowed: {', '.join(sorted(ZOO_KEYS))}"
            )
        kind = spec["type"]
        if kind in ("float", "int"):
            missing = [k for k in ("low", "high") if k not in spec]
            if missing:
                raise BadInput(f"{where}: a {kind} parameter needs {' and '.join(missing)}")
            if "choices" in spec:
                raise BadInput(f"{where}: choices belong to type: categorical")
            params.append(
                _range_param(
                    where,
                    name,
                    kind,
                    spec["low"],
                    spec["high"],
                    spec.get("log", False),
                    spec.get("step"),
                )
            )
        elif kind == "categorical":
            if set(spec) - {"type", "choices"}:
                raise BadInput(f"{where}: a categorical parameter takes only choices")
            params.append(_categorical(where, name, spec.get("choices")))
        else:
            raise BadInput(f"{where}: unknown type {kind!r}; allowed: float, int, categorical")
    return Space(tuple(params), fixed)


WANDB_KEYS = {
    "method",
    "metric",
    "parameters",
    "early_terminate",
    "run_cap",
    "name",
    "description",
    "program",
    "command",
    "project",
    "entity",
}
WANDB_METHODS = {"bayes": "tpe", "random": "random", "grid": "grid"}
WANDB_METRICS = {"eval/auc": "auc", "eval/mean_return": "final"}
WANDB_DISTRIBUTIONS = (
    "constant",
    "categorical",
    "int_uniform",
    "uniform",
    "q_uniform",
    "log_uniform",
    "log_uniform_values",
)


def parse_wandb(doc: Mapping[str, Any], path: str) -> Space:
    """A W&B sweep file: ``method``, ``metric``, ``parameters`` (nested ones become dotted)."""
    where = f"W&B sweep {path}"
    extra = set(doc) - WANDB_KEYS
    if extra:
        raise BadInput(
            f"{where}: unknown key {sorted(extra)[0]!r}; allowed: {', '.join(sorted(WANDB_KEYS))}"
        )
    method = doc.get("method")
    if method not in WANDB_METHODS:
        raise BadInput(f"{where}: method must be one of {', '.join(WANDB_METHODS)}, got {method!r}")
    objective, direction = None, "maximize"
    if "metric" in doc:
        metric = doc["metric"]
        if not isinstance(metric, Mapping) or metric.get("name") not in WANDB_METRICS:
            raise BadInput(
                f"{where}: metric.name must be one of {', '.join(WANDB_METRICS)}, got "
                f"{metric.get('name') if isinstance(metric, Mapping) else metric!r}"
            )
        objective = WANDB_METRICS[metric["name"]]
        direction = metric.get("goal", "maximize")
        if direction not in ("maximize", "minimize"):
            raise BadInput(f"{where}: metric.goal must be maximize or minimize, got {direction!r}")
    pruner = None
    if "early_terminate" in doc:
        kind = (
            doc["early_terminate"].get("type")
            if isinstance(doc["early_terminate"], Mapping)
            else None
        )
        if kind != "hyperband":
            raise BadInput(f"{where}: early_terminate.type must be hyperband, got {kind!r}")
        pruner = "hyperband"
    trials = doc.get("run_cap")
    if trials is not None and (
        isinstance(trials, bool) or not isinstance(trials, int) or trials < 1
    ):
        raise BadInput(f"{where}: run_cap must be an integer >= 1, got {trials!r}")
    parameters = doc.get("parameters")
    if not isinstance(parameters, Mapping) or not parameters:
        raise BadInput(f"{where}: parameters must be a non-empty mapping")
    params, fixed = [], {}
    _wandb_parameters(where, parameters, "", params, fixed)
    return Space(
        tuple(params), fixed, WANDB_METHODS[method], objective, direction, pruner, trials, "wandb"
    )


def _wandb_parameters(
    where: str,
    parameters: Mapping[str, Any],
    prefix: str,
    params: list[Param],
    fixed: dict[str, Any],
) -> None:
    for key, spec in parameters.items():
        name = prefix + str(key)
        at = f"{where}: {name}"
        if not isinstance(spec, Mapping):
            raise BadInput(f"{at}: expected a mapping with value, values or min/max, got {spec!r}")
        if "parameters" in spec:
            _wandb_parameters(where, spec["parameters"], name + ".", params, fixed)
            continue
        dist = spec.get("distribution")
        if dist is not None and dist not in WANDB_DISTRIBUTIONS:
            raise BadInput(
                f"{at}: distribution {dist!r} has no Optuna counterpart here; use one of "
                + ", ".join(WANDB_DISTRIBUTIONS)
            )
        if "probabilities" in spec:
            raise BadInput(f"{at}: weighted values (probabilities) have no Optuna counterpart")
        if "value" in spec or dist == "constant":
            fixed[name] = spec.get("value")
        elif "values" in spec or dist == "categorical":
            params.append(_categorical(at, name, spec.get("values")))
        elif "min" in spec and "max" in spec:
            low, high = spec["min"], spec["max"]
            if dist is None:
                both_int = all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high))
                dist = "int_uniform" if both_int else "uniform"
            if dist == "int_uniform":
                params.append(_range_param(at, name, "int", low, high))
            elif dist == "uniform":
                params.append(_range_param(at, name, "float", low, high))
            elif dist == "q_uniform":
                params.append(_range_param(at, name, "float", low, high, step=spec.get("q", 1.0)))
            elif dist == "log_uniform_values":
                params.append(_range_param(at, name, "float", low, high, log=True))
            elif dist == "log_uniform":  # W&B: min and max are natural logs of the bounds
                low, high = _number(at, "min", low), _number(at, "max", high)
                params.append(
                    _range_param(at, name, "float", math.exp(low), math.exp(high), log=True)
                )
            else:
                raise BadInput(f"{at}: distribution {dist} needs values, not min/max")
        else:
            raise BadInput(f"{at}: give value, values, or min and max")


def read_space(path: str | Path) -> Space:
    """Read a search-space file (rl-zoo style or a W&B sweep file); ``BadInput`` on any fault."""
    doc = read_yaml(path)
    if not doc:
        raise BadInput(f"space {path} is empty; name at least one config field to search")
    if "parameters" in doc and "method" in doc:
        space = parse_wandb(doc, str(path))
    else:
        space = parse_zoo(doc, str(path))
    if not space.params:
        raise BadInput(f"space {path} fixes every field; give at least one range or list to search")
    return space


# ---------------------------------------------------------------- checking against a config


def _numeric_kinds(tp: Any) -> set[str]:
    """The searchable numeric kinds a field type takes: int fields take int, float fields both."""
    if get_origin(tp) in (Union, types.UnionType):
        kinds: set[str] = set()
        for option in get_args(tp):
            kinds |= _numeric_kinds(option)
        return kinds
    if tp is int:
        return {"int"}
    if tp is float:
        return {"int", "float"}
    return set()


def check_space(space: Space, config_cls: type, base: Mapping[str, Any]) -> list[str]:
    """Refuse a space that names an unknown field, draws the wrong type for a field, or has
    a bound or choice the config rejects; ``base`` is the trial config before the space
    (file plus overrides, as a mapping). Nothing runs; ``BadInput`` names the parameter.

    Returns the bounds that clash only with another field's value (``n_steps=16`` with the
    base ``batch_size=64``): trials that draw them fail, others run, so they are warnings.
    """
    clashes: list[str] = []
    hints = typing.get_type_hints(config_cls)
    names = [f.name for f in dataclasses.fields(config_cls)]
    fixed_base = merge(dict(base), nest(space.fixed))
    for name in [*space.fixed, *(p.name for p in space.params)]:
        top = name.split(".")[0]
        if top not in names:
            raise unknown("config field in the space", top, names, show_all=True)
        if "." in name and hints[top] is not dict and get_origin(hints[top]) is not dict:
            raise BadInput(f"space: {name}: {top} is not a mapping field")
    try:
        build_config(config_cls, fixed_base)
    except BadInput as e:
        raise BadInput(f"space: the fixed values make a bad config: {e}") from None
    for param in space.params:
        top = param.name.split(".")[0]
        if param.kind != "categorical" and "." not in param.name:
            allowed = _numeric_kinds(hints[top])
            if param.kind not in allowed:
                wanted = "type: int" if allowed == {"int"} else "type: categorical with its values"
                raise BadInput(
                    f"space: {param.name} holds {_type_label(hints[top])}; "
                    f"{'an' if param.kind == 'int' else 'a'} {param.kind} range cannot set it (use {wanted})"
                )
        for value in param.candidates():
            try:
                build_config(config_cls, merge(fixed_base, nest({param.name: value})))
            except BadInput as e:
                if f"{top}=" in str(e) or "config key" in str(e):  # the value itself is bad
                    raise BadInput(
                        f"space: {param.name}={value!r} makes a bad config: {e}"
                    ) from None
                # a clash with another field's base value: other draws may still combine well
                clashes.append(f"{param.name}={value!r} with the base config: {e}")
    return clashes


def _type_label(tp: Any) -> str:
    """What a field holds, for an error message: ``an integer``, ``one of a, b``, ..."""
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(map(str, get_args(tp)))
    labels = {
        int: "an integer",
        float: "a number",
        bool: "true or false",
        str: "a string",
        dict: "a mapping",
        tuple: "a list",
    }
    return labels.get(get_origin(tp) or tp, str(tp))


# ---------------------------------------------------------------- Optuna pieces


def make_sampler(name: str, space: Space, seed: int | None, startup_trials: int = 10) -> Any:
    """TPE (default; its first ``startup_trials`` trials are random), random or grid; ``seed``
    None draws fresh entropy, as parallel workers need (equal seeds would draw equal trials)."""
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(
            seed=seed, constant_liar=True, n_startup_trials=max(1, startup_trials)
        )
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    raise BadInput(f"unknown sampler {name!r}; choose from {', '.join(SAMPLERS)}")


def make_pruner(
    name: str, startup_trials: int, warmup_steps: int, min_resource: int, max_resource: int
) -> Any:
    """median / halving (successive halving) / hyperband / none, over env steps."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=startup_trials, n_warmup_steps=warmup_steps
        )
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, min_resource))
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=max(1, min_resource), max_resource=max(max_resource, min_resource + 1)
        )
    if name == "none":
        return optuna.pruners.NopPruner()
    raise BadInput(f"unknown pruner {name!r}; choose from {', '.join(PRUNERS)}")


class TrialReporter:
    """A Logger listener: each ``eval/mean_return`` row goes to ``trial.report`` at its env
    step; when the pruner says so, ``optuna.TrialPruned`` stops the run."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.steps: set[int] = set()

    def __call__(self, step: int, row: Mapping[str, Any]) -> None:
        """Report one logged row (rows without an eval are ignored)."""
        import optuna

        value = row.get("eval/mean_return")
        if value is None or step in self.steps:  # Optuna keeps the first report of a step
            return
        self.trial.report(float(value), int(step))
        self.steps.add(int(step))
        if self.trial.should_prune():
            raise optuna.TrialPruned(
                f"pruned at step {step:,}: eval/mean_return {float(value):.4g}"
            )
