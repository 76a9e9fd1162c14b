"""One Logger: the same metric names to the console, metrics.jsonl, TensorBoard and W&B.

Metric names are namespaced with a slash (``train/loss``, ``rollout/ep_return``,
``eval/mean_return``, ``time/sps``); the x-axis everywhere is the environment step.

* Console: a live progress line (steps, steps/s, ETA, latest returns), rewritten in
  place on a terminal and printed every ``print_every_s`` seconds otherwise.
* ``metrics.jsonl``: one JSON object per ``log`` call, ``{"step", "time", ...}``,
  flushed at once so a crash loses at most the line being written.
* TensorBoard: event files under ``<run>/tb`` (``tensorboard --logdir runs``).
* W&B: imported only when enabled; ``offline`` by default so nothing needs a network
  or blocks; ``online`` when the user has configured an account.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TextIO

WandbMode = Literal["online", "offline", "disabled"]
WANDB_MODES: tuple[str, ...] = ("online", "offline", "disabled")


def format_duration(seconds: float) -> str:
    """``3725`` -> ``'1h02m'``, ``75`` -> ``'1m15s'``, ``9.4`` -> ``'9s'``."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class Logger:
    """Send metrics to the console, ``metrics.jsonl``, TensorBoard and W&B.

    Args:
        run_dir: the run directory (``metrics.jsonl``, ``tb/`` and ``wandb/`` go there); None
            writes no file (the console line and the listeners still see every row).
        total_steps: the step budget, for the progress line's percentage and ETA
            (0 when unknown, e.g. a planner's sweeps).
        config: the full resolved config, given to W&B.
        wandb_mode: ``offline`` (default), ``online`` or ``disabled``.
        project, group, name, tags: the W&B run's identity; ``group`` is ``algo-env``.
        console: where the progress line goes (``None`` for silence).
        tensorboard: write TensorBoard event files.
        print_every_s: on a non-terminal console, print a progress line this often.
        start_step: the step a resumed run continues from (for steps/s).
        resume_rows: for a resumed run, the number of ``metrics.jsonl`` rows its checkpoint
            saw: later rows (written after that checkpoint, before the crash) are dropped,
            so the resumed run writes each row once; TensorBoard purges its events from
            ``start_step`` on likewise.
        listeners: called as ``listener(step, row)`` after each row is recorded (a sweep's
            pruner listens for ``eval/mean_return`` this way); an exception a listener
            raises goes up through ``log`` to the agent's caller.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike | None,
        total_steps: int,
        config: Mapping[str, Any] | None = None,
        wandb_mode: WandbMode = "offline",
        project: str = "rlkit",
        group: str | None = None,
        name: str | None = None,
        tags: list[str] | None = None,
        console: TextIO | None = sys.stderr,
        tensorboard: bool = True,
        print_every_s: float = 10.0,
        start_step: int = 0,
        resume_rows: int | None = None,
        listeners: Sequence[Callable[[int, Mapping[str, Any]], None]] = (),
    ) -> None:
        if wandb_mode not in WANDB_MODES:
            raise ValueError(f"wandb_mode must be one of {WANDB_MODES}, got {wandb_mode!r}")
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.listeners = list(listeners)
        self.total_steps = int(total_steps)
        self.console = console
        self.print_every_s = print_every_s
        self._tty = bool(console is not None and hasattr(console, "isatty") and console.isatty())
        self.rows = 0
        self._metrics: TextIO | None = None
        self._start = time.perf_counter()
        self._start_step = start_step
        self._last_print = -math.inf
        self._printed: tuple[int, int] | None = None  # (step, rows) of the last line shown
        self._latest: dict[str, float] = {}
        self._tb = None
        self._wandb = None
        if self.run_dir is None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        metrics = self.run_dir / "metrics.jsonl"
        if resume_rows is not None:
            from rlkit.io import atomic_write_text

            kept = metrics.read_text().splitlines()[:resume_rows] if metrics.is_file() else []
            atomic_write_text(metrics, "".join(line + "\n" for line in kept))
            self.rows = len(kept)
        self._metrics = open(metrics, "a", encoding="utf-8")  # noqa: SIM115
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = {"purge_step": start_step} if resume_rows is not None else {}
            self._tb = SummaryWriter(log_dir=str(self.run_dir / "tb"), **purge)
        if wandb_mode != "disabled":
            self._wandb = _start_wandb_or_warn(
                self.run_dir, wandb_mode, project, group, name or self.run_dir.name, tags, config
            )

    # ------------------------------------------------------------------ logging

    @property
    def elapsed_s(self) -> float:
        """Seconds since the Logger started."""
        return time.perf_counter() - self._start

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Record ``metrics`` at env ``step`` everywhere; refresh the progress line."""
        row: dict[str, Any] = {"step": int(step), "time": round(time.time(), 3)}
        for key, value in metrics.items():
            row[key] = _plain(value)
        if self._metrics is not None:
            self._metrics.write(json.dumps(row) + "\n")
            self._metrics.flush()
        self.rows += 1
        scalars = {k: v for k, v in row.items() if k not in ("step", "time") and _is_number(v)}
        self._latest.update(scalars)
        if self._tb is not None:
            for key, value in scalars.items():
                self._tb.add_scalar(key, value, global_step=int(step))
        if self._wandb is not None:
            self._wandb.log({**scalars, "global_step": int(step)})
        self.progress(step)
        for listener in self.listeners:
            listener(int(step), row)

    def video(self, step: int, path: str | os.PathLike, key: str = "eval/video") -> None:
        """Record an mp4 at ``step``: its path (relative to the run dir) in
        ``metrics.jsonl``, the video itself in W&B (``wandb.Video``)."""
        if self._metrics is None or self.run_dir is None:
            return
        path = Path(path)
        try:
            shown = str(path.resolve().relative_to(self.run_dir.resolve()))
        except ValueError:
            shown = str(path)
        self._metrics.write(
            json.dumps({"step": int(step), "time": round(time.time(), 3), key: shown}) + "\n"
        )
        self._metrics.flush()
        self.rows += 1
        if self._wandb is not None:
            import wandb

            self._wandb.log({key: wandb.Video(str(path), format="mp4"), "global_step": int(step)})

    def progress(self, step: int, force: bool = False) -> None:
        """Show the progress line for ``step`` (rate-limited unless ``force``)."""
        if self.console is None:
            return
        now = time.perf_counter()
        if not force and not self._tty and now - self._last_print < self.print_every_s:
            return
        if not force and self._tty and now - self._last_print < 0.2:
            return
        self._last_print = now
        self._printed = (int(step), self.rows)
        line = self.progress_line(step)
        if self._tty:
            self.console.write("\r\033[K" + line)
        else:
            self.console.write(line + "\n")
        self.console.flush()

    def progress_line(self, step: int) -> str:
        """``step 12,000/100,000 (12%) | 1,234 sps | ETA 1m11s | return 35.2 | eval 120.0``."""
        elapsed = self.elapsed_s
        done = max(step - self._start_step, 0)
        sps = done / elapsed if elapsed > 0 else 0.0
        if self.total_steps > 0:
            parts = [f"step {step:,}/{self.total_steps:,} ({100 * step / self.total_steps:.0f}%)"]
            left = max(self.total_steps - step, 0)  # a last rollout may overshoot the budget
            if done > 0 or left == 0:  # (a resumed run's first rows, before a step: no rate yet)
                parts.append(f"{sps:,.0f} sps")
                remaining = left / sps if sps > 0 else (0.0 if left == 0 else math.inf)
                parts.append(f"ETA {format_duration(remaining)}")
        else:  # open-ended (planners): no percentage or ETA
            parts = [f"step {step:,}", f"{sps:,.0f} sps"]
        for key, label in (
            ("rollout/ep_return", "return"),
            ("eval/mean_return", "eval"),
            ("train/loss", "loss"),
        ):
            if key in self._latest:
                parts.append(f"{label} {self._latest[key]:.4g}")
        return " | ".join(parts)

    def close(self, step: int | None = None) -> None:
        """Flush and close every sink; end the progress line. A console that is not a
        terminal gets a last line for ``step`` unless its last line already showed that
        step with every row logged (a log's lines are kept there, not rewritten)."""
        if step is not None and (self._tty or self._printed != (int(step), self.rows)):
            self.progress(step, force=True)
        if self.console is not None and self._tty:
            self.console.write("\n")
            self.console.flush()
        if self._metrics is not None and not self._metrics.closed:
            self._metrics.close()
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None

    def summary(self, values: Mapping[str, Any]) -> None:
        """Put final values in the W&B run summary (summary.json is the caller's)."""
        if self._wandb is not None:
            for key, value in values.items():
                if _is_number(_plain(value)):
                    self._wandb.summary[key] = _plain(value)

    def __enter__(self) -> Logger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _start_wandb_or_warn(run_dir: Path, mode: str, *args: Any) -> Any:
    """``_start_wandb``, retried while a killed predecessor still holds the run id (its W&B
    service notices the kill within seconds); W&B never stops a run: after that, a warning
    and no W&B."""
    deadline = time.monotonic() + 30.0
    while True:
        try:
            return _start_wandb(run_dir, mode, *args)
        except Exception as e:  # noqa: BLE001 - any W&B failure is reported the same way
            if "in use" in str(e) and time.monotonic() < deadline:
                time.sleep(1.0)
                continue
            print(
                f"rlkit: warning: W&B could not start ({type(e).__name__}: {e}); continuing without it",
                file=sys.stderr,
            )
            return None


def _start_wandb(
    run_dir: Path,
    mode: str,
    project: str,
    group: str | None,
    name: str,
    tags: list[str] | None,
    config: Mapping[str, Any] | None,
) -> Any:
    """Start (or resume) the W&B run of ``run_dir``; its id is kept in ``wandb_id``."""
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    id_file = run_dir / "wandb_id"
    run_id = id_file.read_text().strip() if id_file.exists() else secrets.token_hex(4)
    if not id_file.exists():
        from rlkit.io import atomic_write_text

        atomic_write_text(id_file, run_id + "\n")
    run = wandb.init(
        project=project,
        group=group,
        name=name,
        tags=tags,
        config=dict(config or {}),
        dir=str(run_dir.resolve()),  # absolute: the W&B service process has its own working dir
        mode=mode,
        id=run_id,
        resume="allow",
        reinit="create_new",
        settings=wandb.Settings(silent=True, console="off", init_timeout=90),
    )
    run.define_metric("global_step")
    run.define_metric("*", step_metric="global_step")
    return run
