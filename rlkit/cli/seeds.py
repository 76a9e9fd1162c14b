"""``--seeds 0-9`` for ``train`` and ``baseline``: one process per seed, up to the core count
at once, one run dir each under a common parent, and an aggregate table at the end.

Everything that can be bad input is checked once, before the parent folder is made;
each child is an ordinary ``rlkit train|baseline ... --seed N --run-dir <parent>/s<N>``
whose console output goes to ``<parent>/logs/s<N>.log``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rlkit.cli.common import fail
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


def _child_argv(args: argparse.Namespace, command: str, seed: int, run_dir: Path) -> list[str]:
    argv = [sys.executable, "-m", "rlkit.cli.main", command, args.algo, args.env_id, *args.overrides,
            "--seed", str(seed), "--run-dir", str(run_dir), "--device", args.device,
            "--wandb", args.wandb, "--quiet"]  # fmt: skip
    if args.config is not None:
        argv += ["--config", str(args.config)]
    return argv


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
        lines.append(f"{row['seed']:>6} {summary.get('eval/mean_return', float('nan')):>10.4g} "
                     f"{summary.get('eval/std_return', float('nan')):>9.4g} {summary.get('eval/auc', float('nan')):>10.4g} "
                     f"{summary.get('wall_time_s', float('nan')):>8.1f} {summary.get('time/sps', float('nan')):>9.0f}")  # fmt: skip
    if finals:
        means = np.array([s.get("eval/mean_return", np.nan) for s in finals], dtype=float)
        lines.append(f"{'all':>6} {np.mean(means):>10.4g} {'':>9} {'':>10} {'':>8} {'':>9}   "
                     f"(mean over {len(finals)} seeds; std across seeds {np.std(means):.4g})")  # fmt: skip
    return "\n".join(lines)


def run_seeds(args: argparse.Namespace, implementation: str) -> int:
    """Check the command once, then run every seed in its own process; print the table."""
    from rlkit.cli.train import prepare

    command = "train" if implementation == "rlkit" else "baseline"
    try:
        seeds = parse_seeds(args.seeds)
        if args.seed is not None:
            raise BadInput("give --seed or --seeds, not both")
        if args.jobs is not None and args.jobs < 1:
            raise BadInput(f"bad value --jobs {args.jobs}; allowed: an integer >= 1")
        if args.env_id is None or args.help_config:
            raise BadInput(f"rlkit {command} --seeds needs an algo and an env id")
        label = args.algo if implementation == "rlkit" else f"sb3-{args.algo}"
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        parent = args.run_dir or Path("runs") / (
            f"{safe_name(label)}-{safe_name(args.env_id)}-seeds{args.seeds.replace(',', '_')}-{stamp}"
        )
        if parent.exists() and (not parent.is_dir() or any(parent.iterdir())):
            raise BadInput(f"run dir {parent} already exists; choose another --run-dir")
        probe = copy.copy(args)
        probe.seed, probe.seeds, probe.run_dir = seeds[0], None, parent / f"s{seeds[0]}"
        prepare(probe, implementation)
    except BadInput as e:
        return fail(str(e), 2)
    except PermissionError as e:
        return fail(str(e), 1)
    jobs = min(len(seeds), args.jobs or os.cpu_count() or 1)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    (parent / "logs").mkdir(parents=True, exist_ok=True)
    print(f"{len(seeds)} seeds of {label} on {args.env_id}, {jobs} at a time; run dirs under {parent}",
          file=sys.stderr)  # fmt: skip
    pending, running, rows = list(seeds), {}, []
    start = time.perf_counter()
    try:
        while pending or running:
            while pending and len(running) < jobs:
                seed = pending.pop(0)
                log = parent / "logs" / f"s{seed}.log"
                with open(log, "w") as out:
                    proc = subprocess.Popen(_child_argv(args, command, seed, parent / f"s{seed}"),
                                            stdout=out, stderr=subprocess.STDOUT, env=env)  # fmt: skip
                running[seed] = (proc, log)
            time.sleep(0.2)
            for seed, (proc, log) in list(running.items()):
                code = proc.poll()
                if code is None:
                    continue
                del running[seed]
                summary_path = parent / f"s{seed}" / "summary.json"
                summary = (
                    json.loads(summary_path.read_text())
                    if code == 0 and summary_path.is_file()
                    else None
                )
                rows.append({"seed": seed, "code": code, "log": str(log), "summary": summary})
                done = (
                    f"eval {summary['eval/mean_return']:.4g}"
                    if summary
                    else f"FAILED (exit {code}), see {log}"
                )
                print(f"seed {seed}: {done} ({len(rows)}/{len(seeds)}, {time.perf_counter() - start:.0f}s)",
                      file=sys.stderr)  # fmt: skip
    except KeyboardInterrupt:
        for proc, _ in running.values():
            proc.terminate()
        print(f"\ninterrupted; finished runs are in {parent}", file=sys.stderr)
        return 130
    rows.sort(key=lambda r: r["seed"])
    print(aggregate_table(rows))
    print(f"run dirs: {parent}  (rlkit compare {parent})")
    codes = [r["code"] for r in rows if r["code"] != 0]
    return codes[0] if codes else 0
