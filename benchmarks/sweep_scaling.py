"""Sweep scaling: trials per minute with 1 and 2 workers on a short CartPole PPO study.

Ours: ``rlkit sweep ppo CartPole-v1 --jobs 1`` and ``--jobs 2`` (worker processes on one
SQLite study), timed from the command's start to its end, process start-up included. The
peer is what rl-zoo's ``--n-jobs`` does: Optuna's ``study.optimize(n_jobs=2)``, threads in
one process, running the very same trial code (rlkit's trial runner), so the comparison is
processes against threads and nothing else. Every trial trains the same budget; the space
only searches fields that do not change a trial's cost (learning rate, GAE lambda,
entropy coefficient) and the pruner is off, so trials per minute measure parallelism.

The last line is the JSON result: ``ours`` / ``peer`` = trials per minute with 2 workers
divided by trials per minute with 1 (target for ours: >= 1.7 on a 2-core machine);
``ratio`` = ours / peer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SPACE = """
learning_rate: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}
gae_lambda: {type: float, low: 0.8, high: 0.99}
ent_coef: {type: float, low: 0.0, high: 0.01}
total_steps: %d
eval_interval: %d
eval_episodes: 5
checkpoint_interval: 0
"""

THREADS = """
import argparse, sys, time
import optuna
from rlkit.cli.main import build_parser
from rlkit.cli.sweep import options
from rlkit.sweep.study import OverBudget, TrialFailed, make_plan, open_study, run_trial
opts = options(build_parser().parse_args(sys.argv[2:]))
jobs = int(sys.argv[1])
plan = make_plan(opts)
study = open_study(plan, opts, seed=opts.sampler_seed)
start = time.perf_counter()
study.optimize(lambda t: run_trial(t, plan, opts), n_trials=plan.trials, n_jobs=jobs,
               catch=(TrialFailed, OverBudget))
print(time.perf_counter() - start, len(study.trials))
"""


def sweep_argv(folder: Path, name: str, trials: int) -> list[str]:
    return [
        "sweep",
        "ppo",
        "CartPole-v1",
        "--space",
        str(folder / "space.yaml"),
        "--trials",
        str(trials),
        "--study",
        name,
        "--storage",
        f"sqlite:///{folder}/{name}.db",
        "--dir",
        str(folder / name),
        "--pruner",
        "none",
        "--sampler-seed",
        "0",
        "--wandb",
        "disabled",
        "--quiet",
    ]


def count_complete(db: Path, name: str) -> int:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    return sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def timed(
    argv: list[str], what: str, folder: Path, name: str, trials: int, env: dict[str, str]
) -> float:
    """Trials per minute of the command ``argv`` (start-up included) that runs study ``name``."""
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed: {proc.stderr.strip()[-500:]}")
    done = count_complete(folder / f"{name}.db", name)
    if done != trials:
        raise SystemExit(f"{what} completed {done} of {trials} trials")
    return 60.0 * trials / wall


def ours(folder: Path, jobs: int, trials: int, env: dict[str, str]) -> float:
    """Trials per minute of ``rlkit sweep --jobs <jobs>`` (worker processes)."""
    name = f"processes{jobs}"
    argv = [sys.executable, "-m", "rlkit.cli.main", *sweep_argv(folder, name, trials)]
    argv += ["--jobs", str(jobs)]
    return timed(argv, f"rlkit sweep --jobs {jobs}", folder, name, trials, env)


def peer(folder: Path, jobs: int, trials: int, env: dict[str, str]) -> float:
    """Trials per minute of Optuna's ``n_jobs`` threads in one process."""
    name = f"threads{jobs}"
    argv = [sys.executable, "-c", THREADS, str(jobs), *sweep_argv(folder, name, trials)]
    return timed(argv, f"optuna n_jobs={jobs}", folder, name, trials, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 trials of 4k steps")
    parser.add_argument("--trials", type=int, default=None, help="trials per study (default 16)")
    args = parser.parse_args()
    trials = args.trials or (4 if args.quick else 16)
    steps = 4_096 if args.quick else 49_152
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_SILENT": "true"}
    results: dict[str, dict[int, float]] = {"ours": {}, "peer": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "space.yaml").write_text(SPACE % (steps, steps // 2))
        for jobs in (1, 2):
            results["ours"][jobs] = ours(folder, jobs, trials, env)
            print(
                f"rlkit sweep --jobs {jobs}: {results['ours'][jobs]:.2f} trials/min",
                file=sys.stderr,
            )
            results["peer"][jobs] = peer(folder, jobs, trials, env)
            print(
                f"optuna n_jobs={jobs} (threads): {results['peer'][jobs]:.2f} trials/min",
                file=sys.stderr,
            )
    speedup = {k: v[2] / v[1] for k, v in results.items()}
    print(
        json.dumps(
            {
                "bench": "sweep_scaling",
                "work": f"ppo CartPole-v1 study, {trials} trials x {steps:,} steps, pruner off, {os.cpu_count()} cores",
                "ours": round(speedup["ours"], 3),
                "peer": round(speedup["peer"], 3),
                "unit": "x trials/min, 2 workers vs 1 (ours: processes; peer: Optuna n_jobs threads, rl-zoo's way)",
                "ratio": round(speedup["ours"] / speedup["peer"], 3),
                "target_met": speedup["ours"] >= 1.7,
                "trials_per_min": {
                    k: {str(j): round(v, 2) for j, v in r.items()} for k, r in results.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
