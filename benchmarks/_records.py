"""What the learning-record scripts share: running ``rlkit`` in a child process, starting a
run or continuing it, and reading its metrics back with the training wall time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITTING_GAP_S = 600.0
"""A gap between two metrics rows longer than this is a pause between sittings, not
training time (rows come every few seconds to minutes while a run trains)."""


def child_env(threads: int | None = None) -> dict[str, str]:
    """A child process's environment: the repository importable and, with ``threads``, its
    torch and BLAS threads capped (without, the child runs with its own default)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def rlkit(
    *argv: str,
    threads: int | None = None,
    quiet: bool = False,
    stop_when: Callable[[], bool] | None = None,
    poll_s: float = 10.0,
) -> int:
    """``python -m rlkit.cli.main *argv`` from the repository root (``threads``: the torch
    and BLAS threads of the child; ``quiet``: its output dropped); its exit status (a run
    stopped by a signal exits non-zero, and what it saved still makes a record). With
    ``stop_when``, asked every ``poll_s`` seconds: SIGTERM once it says so (a run then
    saves its state and stops; ``--resume`` continues it)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "rlkit.cli.main", *argv],
        env=child_env(threads),
        cwd=ROOT,
        stdout=subprocess.DEVNULL if quiet else None,
    )
    while True:
        try:
            return child.wait(timeout=poll_s if stop_when is not None else None)
        except subprocess.TimeoutExpired:
            if stop_when():
                child.send_signal(signal.SIGTERM)
                return child.wait()


def train_or_resume(run_dir: Path, start: list[str], **kwargs) -> int:
    """Start a run with ``rlkit train *start`` (which names ``run_dir``), continue it with
    ``--resume`` when ``run_dir`` holds an unfinished one, or do nothing when it finished;
    the exit status (0 for a finished run)."""
    if (run_dir / "summary.json").is_file():
        return 0
    if (run_dir / "config.yaml").is_file():
        return rlkit("train", "--resume", str(run_dir), "--wandb", "disabled", **kwargs)
    return rlkit("train", *start, **kwargs)


def last_step(run_dir: Path) -> int:
    """The last env step a run has logged (0 before its first row)."""
    rows = read_rows(run_dir)
    return rows[-1]["step"] if rows else 0


def read_rows(run_dir: Path) -> list[dict]:
    """The rows of a run's ``metrics.jsonl`` (none when it has not logged yet)."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def training_wall(rows: list[dict]) -> list[float]:
    """Seconds of training up to each row: the time between consecutive rows, less the
    pauses between sittings (a run resumed later shows a gap of hours between two rows)."""
    wall, elapsed, last = [], 0.0, rows[0]["time"] if rows else 0.0
    for r in rows:
        gap = r["time"] - last
        elapsed += gap if gap < SITTING_GAP_S else 0.0
        wall.append(elapsed)
        last = r["time"]
    return wall
