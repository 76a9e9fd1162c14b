"""Several seeds in parallel processes (``--seeds 0-9`` of ``train`` and ``baseline``).

One process per seed, up to the core count at once, one run dir each under a common parent,
and an aggregate table at the end. The caller checks the command once before the parent
folder is made; each child is an ordinary ``rlkit train|baseline ... --seed N --run-dir
<parent>/s<N>`` whose console output goes to ``<parent>/logs/s<N>.log``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlkit.errors import BadInput
from rlkit.rundir import safe_name


def parse_seeds(spec: str) -> list[int]:
    """``"0-9"`` -> 0..9, ``"0,3,7"`` -> [0, 3, 7], ``"0-2,5"`` -> [0, 1, 2, 5] (no repeats)."""
    seeds: list[int] = []
    try:
        for part in spec.split(","):
            part = part.strip()
            if "-" in part:
                low, high = (int(x) for x in part.split("-", 1))
                if low > high:
                    raise ValueError
                seeds.extend(range(low, high + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise BadInput(
            f"bad value --seeds {spec!r}; allowed: a range like 0-9 or a list like 0,3,7"
        ) from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise BadInput(f"bad value --seeds {spec!r}; allowed: distinct integers >= 0, e.g. 0-9")
    return seeds


def aggregate_table(rows: list[dict[str, Any]]) -> str:
    """The per-seed table and a mean +- std line, as text."""
    lines = [
        f"{'seed':>6} {'eval mean':>10} {'eval std':>9} {'eval auc':>10} {'wall s':>8} {'steps/s':>9}"
    ]
    finals = []
    for row in rows:
        summary = row.get("summary")
        if summary is None:
            lines.append(
                f"{row['seed']:>6} {'failed (exit ' + str(row['code']) + '), see ' + row['log']}"
            )
            continue
        finals.append(summary)
        lines.append(
            f"{row['seed']:>6} {summary.get('eval/mean_return', float('nan')):>10.4g} "
            f"{summary.get('eval/std_return', float('nan')):>9.4g} {summary.get('eval/auc', float('nan')):>10.4g} "
            f"{summary.get('wall_time_s', float('nan')):>8.1f} {summary.get('time/sps', float('nan')):>9.0f}"
        )
    if finals:
        means = np.array([s.get("eval/mean_return", np.nan) for s in finals], dtype=float)
        normalized = [s.get("eval/human_normalized") for s in finals]  # Atari (rlkit.scores)
        human = "" if None in normalized else f"; human-normalized {np.mean(normalized):.3g}"
        lines.append(
            f"{'all':>6} {np.mean(means):>10.4g} {'':>9} {'':>10} {'':>8} {'':>9}   "
            f"(mean over {len(finals)} seeds; std across seeds {np.std(means):.4g}{human})"
        )
    return "\n".join(lines)


@dataclass
class SeedJob:
    """One seed's process: its command line, run dir and console log."""

    seed: int
    argv: list[str]
    run_dir: Path
    log: Path


def parent_dir(label: str, env_id: str, spec: str, run_dir: Path | None) -> Path:
    """The common parent of a ``--seeds`` run (``runs/<label>-<env>-seeds<spec>-<time>``),
    refused when it exists and is not empty."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    parent = run_dir or Path("runs") / (
        f"{safe_name(label)}-{safe_name(env_id)}-seeds{spec.replace(',', '_')}-{stamp}"
    )
    if parent.exists() and (not parent.is_dir() or any(parent.iterdir())):
        raise BadInput(f"run dir {parent} already exists; choose another --run-dir")
    return parent


def run_jobs(
    jobs: list[SeedJob],
    at_once: int,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    stop: Any = None,
    grace: float = 15.0,
) -> list[dict[str, Any]]:
    """Run every job's process, ``at_once`` at a time, each with cores / ``at_once`` threads.

    Returns one row per seed (``seed``, exit ``code``, ``log``, ``summary`` or None), in
    seed order; ``on_done(row)`` is called as each finishes. When ``stop.signum`` is set
    (``rlkit.children.ParentSignals``) no more start, the running ones get SIGTERM and
    ``grace`` seconds to save and exit (``rlkit.children.stop_children``); the rows of
    those that ran are returned.
    """
    from rlkit.children import stop_children

    at_once = max(1, min(len(jobs), at_once))
    threads = max(1, (os.cpu_count() or 1) // at_once)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    pending, running, rows = list(jobs), {}, []

    def finished(seed: int, proc: Any, job: SeedJob) -> None:
        summary_path = job.run_dir / "summary.json"
        code = proc.returncode
        summary = (
            json.loads(summary_path.read_text()) if code == 0 and summary_path.is_file() else None
        )
        row = {"seed": seed, "code": code, "log": str(job.log), "summary": summary}
        rows.append(row)
        if on_done is not None:
            on_done(row)

    while pending or running:
        if stop is not None and stop.signum is not None:
            stop_children([proc for proc, _ in running.values()], grace)
            for seed, (proc, job) in running.items():
                finished(seed, proc, job)
            break
        while pending and len(running) < at_once:
            job = pending.pop(0)
            job.log.parent.mkdir(parents=True, exist_ok=True)
            with open(job.log, "w") as out:
                proc = subprocess.Popen(job.argv, stdout=out, stderr=subprocess.STDOUT, env=env)
            running[job.seed] = (proc, job)
        time.sleep(0.2)
        for seed, (proc, job) in list(running.items()):
            if proc.poll() is not None:
                del running[seed]
                finished(seed, proc, job)
    return sorted(rows, key=lambda r: r["seed"])
