"""The run directory (docs/design.md, "Run directory") and the context an agent trains in.

::

    runs/<algo>-<env-id>-s<seed>-<YYYYmmdd-HHMMSS>/
        config.yaml     the full resolved config (algo, env_id, seed, device, versions)
        metrics.jsonl   one JSON object per log event
        checkpoints/    latest.pt (and best.pt), written atomically
        summary.json    written at the end
        tb/             TensorBoard event files
        wandb/          the W&B run (offline unless configured online)
        videos/         mp4s
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rlkit.checkpoint import save_checkpoint
from rlkit.config import read_yaml
from rlkit.distributed import SINGLE, Ranks
from rlkit.errors import BadInput, one_line
from rlkit.io import atomic_write_json, atomic_write_yaml
from rlkit.logging import Logger
from rlkit.seeding import Rngs

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def safe_name(text: str) -> str:
    """An env id or algo as a file name: ``ALE/Pong-v5`` -> ``ALE-Pong-v5``.

    Refuses anything that could leave the runs folder (``..``, absolute paths, odd
    characters).
    """
    name = text.replace("/", "-")
    if not _SAFE.match(name) or ".." in name:
        raise BadInput(f"{text!r} cannot be used in a file name")
    return name


def default_run_dir(
    algo: str,
    env_id: str,
    seed: int,
    root: str | os.PathLike = "runs",
    now: _dt.datetime | None = None,
) -> Path:
    """``runs/<algo>-<env-id>-s<seed>-<YYYYmmdd-HHMMSS>``."""
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{safe_name(algo)}-{safe_name(env_id)}-s{seed}-{stamp}"


@dataclass(frozen=True)
class RunDir:
    """Paths of one run directory."""

    path: Path

    @property
    def config(self) -> Path:
        """``config.yaml``."""
        return self.path / "config.yaml"

    @property
    def metrics(self) -> Path:
        """``metrics.jsonl``."""
        return self.path / "metrics.jsonl"

    @property
    def summary(self) -> Path:
        """``summary.json``."""
        return self.path / "summary.json"

    @property
    def checkpoints(self) -> Path:
        """``checkpoints/``."""
        return self.path / "checkpoints"

    @property
    def latest(self) -> Path:
        """``checkpoints/latest.pt``."""
        return self.checkpoints / "latest.pt"

    @property
    def best(self) -> Path:
        """``checkpoints/best.pt``."""
        return self.checkpoints / "best.pt"

    def check_new(self) -> None:
        """Refuse a path that exists and is not an empty folder (nothing is written)."""
        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise BadInput(
                f"run dir {self.path} already exists; continue it with --resume or choose another --run-dir"
            )
        parent = next((p for p in [self.path, *self.path.parents] if p.exists()), Path("."))
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(
                f"cannot create the run dir {self.path}: {parent} is not writable"
            )

    def create(self) -> None:
        """Make the folder and ``checkpoints/``."""
        self.checkpoints.mkdir(parents=True, exist_ok=True)

    def write_config(self, resolved: dict[str, Any]) -> None:
        """Write ``config.yaml`` atomically."""
        atomic_write_yaml(self.config, resolved)

    def read_config(self) -> dict[str, Any]:
        """Read ``config.yaml`` (``safe_load``)."""
        if not self.config.is_file():
            raise BadInput(f"{self.path} is not a run directory (no config.yaml)")
        return read_yaml(self.config)

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Write ``summary.json`` atomically."""
        atomic_write_json(self.summary, summary)

    def read_summary(self, max_bytes: int | None = None) -> dict[str, Any]:
        """Read ``summary.json`` (a JSON object, else ``BadInput``: a run dir handed to
        ``rlkit.load`` or ``rlkit compare`` is a user's file; with ``max_bytes``, a larger
        file is refused unread)."""
        try:
            if max_bytes is not None and self.summary.stat().st_size > max_bytes:
                raise BadInput(
                    f"{self.summary} is larger than {max_bytes} bytes: not a run's summary"
                )
            summary = json.loads(self.summary.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BadInput(f"{self.summary} is not valid JSON: {one_line(str(e))}") from None
        if not isinstance(summary, dict):
            raise BadInput(f"{self.summary} must hold a JSON object, got {type(summary).__name__}")
        return summary


class StopRequest:
    """A stop asked for by a signal (``signum``) or by a callback (``by_callback``)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.by_callback = False
        self.on_save_point: Callable[[], None] | None = None
        """Called when the run reaches the point where it saves and stops: the signal
        handler's grace timer is disarmed there, so that a checkpoint of any size (a DQN
        replay of gigabytes) is written whole (``rlkit.launch.stop_on_signals``)."""

    @property
    def asked(self) -> bool:
        """True once anything asked the run to stop."""
        return self.signum is not None or self.by_callback


@dataclass
class Run:
    """Everything an agent's ``train`` needs from the outside world.

    The library layer (``rlkit.launch``) builds it and passes the env factory in, so the
    foundation never imports ``rlkit.envs``. A run without a directory (``dir=None``, the
    Python API's ``run_dir=None``) writes nothing: its checkpoints stay in memory
    (``last_checkpoint``) and videos are skipped.
    """

    algo: str
    """Algorithm name (``value-iteration``, ``dqn``, ...)."""
    env_id: str
    """Gymnasium id."""
    seed: int
    """Run seed."""
    device: torch.device
    """Where tensors live."""
    dir: RunDir | None
    """The run directory (None: nothing is written to disk)."""
    logger: Logger
    """Metrics sink."""
    rngs: Rngs
    """Every generator of the run."""
    make_env: Callable[..., Any]
    """``make_env(seed=None, **kwargs) -> gymnasium.Env`` for this run's env id."""
    resolved_config: dict[str, Any]
    """``config.yaml`` as written (stored in checkpoints so a lone .pt is usable)."""
    resume: dict[str, Any] | None = None
    """The checkpoint a resumed run continues from (None for a new run)."""
    stop: StopRequest = field(default_factory=lambda: StopRequest())
    """Set by a SIGINT / SIGTERM handler or an API callback; agents finish the step, save and
    raise ``Stopped``."""
    make_vector_env: Callable[..., Any] | None = None
    """``make_vector_env(n_envs, backend="sync", train=True, frame_stack=4, device="cpu",
    parts=1)`` for this run's env (backends: sync, async, ale, torch; see
    ``rlkit.envs.vector.BACKENDS``; ``parts``: ale's games in parts, ``rlkit.envs.ale_vector``)."""
    last_checkpoint: dict[str, Any] | None = None
    """The state of the last ``save_checkpoint`` (what the Python API keeps in memory)."""
    ranks: Ranks = SINGLE
    """This process's place in a data-parallel group (``rlkit.distributed``); one process
    by default."""

    def stop_if_requested(self, step: int, save: Callable[[int], Any]) -> None:
        """When a stop was requested: ``save(step)``, then raise ``rlkit.errors.Stopped``."""
        if self.stop.asked:
            from rlkit.errors import Stopped

            if self.stop.on_save_point is not None:
                self.stop.on_save_point()  # reached in time: the save may take what it takes
            save(step)
            raise Stopped(self.stop.signum, step)

    def record_eval_video(
        self,
        policy: Callable[[Any], Any],
        step: int,
        cancel: Callable[[], bool] | None = None,
        **env_kwargs: Any,
    ) -> Path | None:
        """One evaluation episode of ``policy`` (eval seed, fresh env) to
        ``videos/eval-step<step>-episode-0.mp4``, logged as ``eval/video`` (W&B shows it).
        Returns None (and records nothing) for a run without a directory. ``cancel`` as in
        ``rlkit.evaluation.record_video``."""
        from rlkit.evaluation import record_video

        if self.dir is None:
            return None
        _, files = record_video(
            policy,
            lambda: self.make_env(train=False, render_mode="rgb_array", **env_kwargs),
            self.dir.path / "videos",
            f"eval-step{step}",
            seed=self.rngs.eval_seed,
            cancel=cancel,
        )
        self.logger.video(step, files[0])
        return files[0]

    def save_checkpoint(self, state: dict[str, Any], best: bool = False) -> Path | None:
        """Write ``latest.pt`` (and ``best.pt``) with the run identity added; keep it in
        ``last_checkpoint`` too (the only copy for a run without a directory)."""
        # the previous state goes first: a DQN checkpoint with its replay is gigabytes,
        # and two of them beside the live buffer would not fit where one run does
        self.last_checkpoint = None
        full = {
            **state,
            "algo": self.algo,
            "env_id": self.env_id,
            "seed": self.seed,
            "config": self.resolved_config,
        }
        self.last_checkpoint = full
        if self.dir is None:
            return None
        path = save_checkpoint(self.dir.latest, full, keep_previous=True)
        if best:
            save_checkpoint(self.dir.best, full)
        return path
