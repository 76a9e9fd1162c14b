"""Where a training loop's wall time goes: named phases, timed inside the run.

A benchmark that times the network or the env alone measures them on a quiet, warm
cache; inside a run they share the cores, the caches and the interpreter with everything
else. ``PHASES`` times the phases of the agents' own loops (act, env, store, sample,
target, update, rollout bookkeeping, log/eval/checkpoint) where they run, so a profile
says how much of a run is the compute it cannot avoid and how much is overhead.

It is off unless the environment variable ``RLKIT_PROFILE`` is set (to anything but
``0``) when the run starts; off, a phase costs a call that returns a do-nothing context
manager (about 0.5 us here, a few per env step). On, each phase adds two ``perf_counter``
calls (about 1.3 us in all), and on CUDA a synchronize at its end so the time is the
GPU's as well. The
run writes ``profile.json`` into its run dir at the end (``Periodic.finish``)::

    RLKIT_PROFILE=1 rlkit train dqn PongNoFrameskip-v4 total_steps=20000 --run-dir runs/p
    cat runs/p/profile.json   # {"wall_s": ..., "phases": {"env": {"s": ..., "calls": ...}, ...}}

Phases do not nest: each is a stretch of the loop that no other phase covers, so their
sum over the wall time is the share of the run they explain; the rest (``other``) is
the loop's own Python.
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch

__all__ = ["PHASES", "Phases"]


class _Null:
    """The context manager of a disabled profile: does nothing."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


_NULL = _Null()


class _Phase:
    """One named phase: its summed seconds and the number of times it ran."""

    __slots__ = ("seconds", "calls", "_start", "_sync")

    def __init__(self, sync: Any) -> None:
        self.seconds, self.calls, self._start, self._sync = 0.0, 0, 0.0, sync

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        if self._sync is not None:
            self._sync()
        self.seconds += time.perf_counter() - self._start
        self.calls += 1


class Phases:
    """Named wall-time phases of a loop: ``with PHASES("env"): env.step(a)``.

    ``enabled`` turns timing on (``start`` does so from ``RLKIT_PROFILE``); ``summary``
    gives seconds and calls per phase and the wall time since ``start``.
    """

    def __init__(self) -> None:
        self.enabled = False
        self._phases: dict[str, _Phase] = {}
        self._sync: Any = None
        self._start = time.perf_counter()

    def start(self, device: torch.device | str = "cpu", enabled: bool | None = None) -> None:
        """Reset the phases and start the wall clock; on when ``enabled`` (default: the
        ``RLKIT_PROFILE`` environment variable is set and not ``0``)."""
        if enabled is None:
            enabled = os.environ.get("RLKIT_PROFILE", "0") not in ("", "0")
        self.enabled = bool(enabled)
        device = torch.device(device)
        self._sync = torch.cuda.synchronize if device.type == "cuda" else None
        self._phases = {}
        self._start = time.perf_counter()

    def __call__(self, name: str) -> _Phase | _Null:
        """The context manager that times phase ``name`` (a no-op when disabled)."""
        if not self.enabled:
            return _NULL
        phase = self._phases.get(name)
        if phase is None:
            phase = self._phases[name] = _Phase(self._sync)
        return phase

    def summary(self) -> dict[str, Any]:
        """``{"wall_s", "phases": {name: {"s", "calls", "share"}}, "other_s"}`` so far."""
        wall = time.perf_counter() - self._start
        timed = sum(p.seconds for p in self._phases.values())
        return {
            "wall_s": round(wall, 4),
            "phases": {
                name: {
                    "s": round(p.seconds, 4),
                    "calls": p.calls,
                    "share": round(p.seconds / wall, 4) if wall > 0 else 0.0,
                }
                for name, p in sorted(self._phases.items(), key=lambda kv: -kv[1].seconds)
            },
            "other_s": round(wall - timed, 4),
        }


PHASES = Phases()
"""The process's profile (one training loop runs per process)."""
