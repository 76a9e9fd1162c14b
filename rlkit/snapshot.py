"""Snapshots of what a checkpoint must hold to resume a run exactly, as plain data.

* ``env_state`` / ``load_env_state``: the mutable state of an environment (a gymnasium
  vector env, its sub-envs and every wrapper of each): all plain attributes (numbers,
  strings, arrays, deques, lists, dicts of them) and the state of every numpy
  ``Generator``. That is the whole state of the classic-control and toy-text envs
  (CartPole's ``state``, ``TimeLimit``'s step count, ``RecordEpisodeStatistics``'
  running sums, the envs' random generators), plus the Atari emulator's own state (ALE's
  ``cloneState(include_rng=True)``, bytes), so a resumed run steps them exactly as the
  uninterrupted run would. A layer whose state lives in objects it holds (MinAtar's
  game) gives it through ``extra_state()`` / ``load_extra_state(state)``. Objects it
  cannot see into (a Box2D world) are reported by ``opaque_parts`` so the caller can
  refuse.
* ``rng_state`` / ``load_rng_state``: python's, numpy's and torch's global generators
  and a run's own ``Rngs``.

Everything is encoded as types ``torch.load(weights_only=True)`` accepts: numpy arrays
become tensors (with their dtype), tensors come back on the CPU, deques and tuples are
tagged lists.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Any

import numpy as np
import torch

_PLAIN = (bool, int, float, str, type(None))
_SKIP = {
    "env",
    "envs",
    "env_fns",
    "spec",
    "metadata",
    "_saved_kwargs",
    "_cached_spec",
    "render_mode",
}


def encode(value: Any) -> Any:
    """``value`` as weights-only data (``ValueError`` for anything else)."""
    if isinstance(value, np.generic):  # before the plain types: np.float64 is a float subclass
        return value.item()
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, torch.Tensor):
        return {"__tensor__": value.detach().cpu().clone()}
    if isinstance(value, np.ndarray):
        # strings, bytes, objects: constants of an env (a map), not its state
        if value.dtype.kind not in "biuf":
            raise ValueError(f"{value.dtype} array")
        return {
            "__nd__": torch.from_numpy(np.ascontiguousarray(value).copy()),
            "dtype": str(value.dtype),
        }
    if isinstance(value, deque):
        return {"__deque__": [encode(v) for v in value], "maxlen": value.maxlen}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: encode(v) for k, v in value.items()}}
    raise ValueError(type(value).__name__)


def decode(value: Any) -> Any:
    """The inverse of ``encode``."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "__nd__" in value:
            return value["__nd__"].numpy().astype(value["dtype"], copy=True)
        if "__tensor__" in value:
            return value["__tensor__"].clone()
        if "__deque__" in value:
            return deque((decode(v) for v in value["__deque__"]), maxlen=value["maxlen"])
        if "__tuple__" in value:
            return tuple(decode(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: decode(v) for k, v in value["__dict__"].items()}
    return value


def _layers(env: Any) -> list[Any]:
    """The vector env (if any), then each sub-env's wrappers down to the base env."""
    subs = getattr(env, "envs", None)
    layers: list[Any] = [env] if subs is not None else []
    for sub in subs if subs is not None else [env]:
        while sub is not None:
            layers.append(sub)
            sub = getattr(sub, "env", None)
    return layers


def _attributes(obj: Any) -> dict[str, Any]:
    try:
        return vars(obj)
    except TypeError:
        return {}


def env_state(env: Any) -> list[dict[str, Any]]:
    """Per layer (see ``_layers``): its encodable attributes and generator states; an env
    whose state is tensors (``rlkit.envs.batched``) gives its own ``state_dict()``."""
    if callable(getattr(env, "state_dict", None)):
        return [{"type": type(env).__name__, "state_dict": env.state_dict()}]
    states = []
    for layer in _layers(env):
        plain, generators = {}, {}
        for name, value in _attributes(layer).items():
            if name in _SKIP:
                continue
            if isinstance(value, np.random.Generator):
                generators[name] = encode(value.bit_generator.state)
                continue
            try:
                plain[name] = encode(value)
            except ValueError:
                continue
        state = {"type": type(layer).__name__, "plain": plain, "generators": generators}
        if callable(getattr(layer, "extra_state", None)):
            state["extra"] = layer.extra_state()
        ale = _ale(layer)
        if ale is not None:  # the Atari emulator: RAM, CPU, TIA and its random generator
            raw = ale.cloneState(include_rng=True).__getstate__()
            state["ale"] = torch.frombuffer(bytearray(raw), dtype=torch.uint8).clone()
        states.append(state)
    return states


def _ale(layer: Any) -> Any:
    ale = vars(layer).get("ale") if hasattr(layer, "__dict__") else None
    return ale if ale is not None and hasattr(ale, "cloneState") else None


def load_env_state(env: Any, states: list[dict[str, Any]]) -> None:
    """Put ``env_state(env)``'s values back into an env built the same way."""
    if callable(getattr(env, "load_state_dict", None)):
        if len(states) != 1 or states[0].get("type") != type(env).__name__:
            raise ValueError("the env is not built like the one in the checkpoint")
        env.load_state_dict(states[0]["state_dict"])
        return
    layers = _layers(env)
    if [type(layer).__name__ for layer in layers] != [s["type"] for s in states]:
        raise ValueError("the env is not built like the one in the checkpoint")
    for layer, state in zip(layers, states, strict=True):
        for name, value in state["plain"].items():
            setattr(layer, name, decode(value))
        for name, value in state["generators"].items():
            generator = getattr(layer, name)
            generator.bit_generator.state = decode(value)
        if callable(getattr(layer, "load_extra_state", None)):
            layer.load_extra_state(state.get("extra"))  # None: a checkpoint made without it
        if "ale" in state:
            from ale_py import ALEState

            emulator = ALEState.__new__(ALEState)
            emulator.__setstate__(state["ale"].numpy().tobytes())
            _ale(layer).restoreState(emulator)


def opaque_parts(env: Any) -> list[str]:
    """Names of base envs whose state lives outside Python attributes that a snapshot does
    not capture (Box2D's world); Atari's emulator is captured through ALE's own state."""
    names = []
    for layer in _layers(env):
        if getattr(layer, "env", None) is None and "world" in _attributes(layer):
            names.append(type(layer).__name__)
    return names


def rng_state(rngs: Any) -> dict[str, Any]:
    """The global generators (python, numpy, torch) and a run's own ``Rngs``."""
    return {
        "python": encode(random.getstate()),
        "numpy_global": encode(np.random.get_state(legacy=False)),
        "torch_global": torch.get_rng_state(),
        "numpy": encode(rngs.numpy.bit_generator.state),
        "torch": rngs.torch.get_state(),
    }


def load_rng_state(rngs: Any, state: dict[str, Any]) -> None:
    """Restore ``rng_state``."""
    random.setstate(decode(state["python"]))
    np.random.set_state(decode(state["numpy_global"]))
    torch.set_rng_state(state["torch_global"])
    rngs.numpy.bit_generator.state = decode(state["numpy"])
    rngs.torch.set_state(state["torch"])
