"""Faults, tried: runs killed with SIGKILL at random moments and resumed, and bad input.

* Kills: for dqn and ppo on CartPole, one uninterrupted run, then ``--kills`` trials
  (default 6 per algorithm; ``--quick``: 2) that kill a run with SIGKILL after a random
  number of ``metrics.jsonl`` rows, once or twice, and finish it with
  ``rlkit train --resume``. A trial counts as identical when the resumed run's
  ``metrics.jsonl`` (time fields aside) and final weights equal the uninterrupted run's.
* Bad input: every command of ``BAD`` runs in a folder holding an earlier run and other
  files; it counts as a clear error when it exits 2 (1 for machine faults) with one line
  on stderr, and as a loss when any file that was there changed or went away.

The last line is the JSON result: ``ours`` = runs or files lost (goal 0); the counts
ride along. SB3 has no resume to compare with, so ``peer`` is null.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlkit.checkpoint import load_checkpoint  # noqa: E402

RUNS = {
    "dqn": (
        [
            "CartPole-v1",
            "total_steps=9000",
            "learning_starts=1000",
            "checkpoint_interval=1500",
            "eval_interval=3000",
            "eval_episodes=3",
            "log_interval=250",
        ],
        "q_net",
    ),
    "ppo": (
        [
            "CartPole-v1",
            "total_steps=16384",
            "checkpoint_interval=2048",
            "eval_interval=4096",
            "eval_episodes=3",
            "log_interval=256",
        ],
        "net",
    ),
}

BAD = [
    ["train", "ppo-lstm", "CartPole-v1"],
    ["train", "ppo", "CartPol-v1"],
    ["train", "ppo", "CartPole-v1", "n_epoch=3"],
    ["train", "ppo", "CartPole-v1", "n_steps=0"],
    ["train", "ppo", "CartPole-v1", "gamma=1.5"],
    ["train", "ppo", "CartPole-v1", "batch_size=7"],
    ["train", "dqn", "CartPole-v1", "batch_size=64", "buffer_size=32"],
    ["train", "dqn", "CartPole-v1", "learning_starts=5000", "total_steps=1000"],
    ["train", "dqn", "Pendulum-v1"],
    ["train", "ppo", "FrozenLake-v1"],
    ["train", "ppo", "../x"],
    ["train", "ppo", "CartPole-v1", "--run-dir", "old"],
    ["train", "ppo", "CartPole-v1", "--config", "missing.yaml"],
    ["train", "ppo", "CartPole-v1", "--config", "evil.yaml"],
    ["train", "ppo", "CartPole-v1", "--run-dir", "notes.txt/run"],
    ["eval", "foreign.pt"],
    ["eval", "missing"],
    ["render", "old", "--out", "x.gif"],
    ["baseline", "ppo", "CartPole-v1", "optimizer=lion"],
    ["baseline", "reinforce", "CartPole-v1"],
    ["train", "--resume", "old"],
    ["train", "--resume", "missing"],
    ["train", "--resume", "notes.txt"],
    ["compare", "missing"],
    ["train", "ppo", "CartPole-v1", "--seeds", "3-1"],
]


def rlkit(
    cwd: Path, *argv: str, wait: bool = True
) -> subprocess.CompletedProcess | subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    command = [sys.executable, "-m", "rlkit.cli.main", *argv]
    if wait:
        return subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600
        )
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def metric_rows(path: Path) -> list[dict]:
    return [
        {k: v for k, v in json.loads(x).items() if k not in ("time", "time/sps")}
        for x in path.read_text().splitlines()
    ]


def kill_at(proc: subprocess.Popen, metrics: Path, rows: int) -> bool:
    """SIGKILL once ``metrics`` has ``rows`` rows; False if the run ended first."""
    while proc.poll() is None:
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= rows:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.02)
    return False


def kill_trials(tmp: Path, algo: str, trials: int, rng: np.random.Generator) -> dict[str, int]:
    args, weights = RUNS[algo]
    whole = rlkit(tmp, "train", algo, *args, "--run-dir", f"{algo}-whole", "--quiet")
    if whole.returncode != 0:
        raise SystemExit(whole.stderr)
    reference = metric_rows(tmp / f"{algo}-whole" / "metrics.jsonl")
    final = load_checkpoint(tmp / f"{algo}-whole" / "checkpoints" / "latest.pt")[weights]
    kills = identical = lost = 0
    for trial in range(trials):
        run = f"{algo}-cut{trial}"
        points = sorted(
            rng.choice(np.arange(2, len(reference) - 1), size=1 + trial % 2, replace=False)
        )
        proc = rlkit(tmp, "train", algo, *args, "--run-dir", run, "--quiet", wait=False)
        for i, rows in enumerate(points):
            kills += kill_at(proc, tmp / run / "metrics.jsonl", int(rows))
            if i + 1 < len(points):
                proc = rlkit(tmp, "train", "--resume", run, "--quiet", wait=False)
        done = rlkit(tmp, "train", "--resume", run, "--quiet")
        if done.returncode != 0:
            lost += 1
            print(f"{run}: resume failed: {done.stderr.strip()}", file=sys.stderr)
            continue
        same_rows = metric_rows(tmp / run / "metrics.jsonl") == reference
        got = load_checkpoint(tmp / run / "checkpoints" / "latest.pt")[weights]
        same = same_rows and all(torch.equal(final[k], got[k]) for k in final)
        identical += same
        print(
            f"{run}: killed after rows {list(map(int, points))}, identical: {same}", file=sys.stderr
        )
    return {"kills": kills, "trials": trials, "identical": identical, "lost": lost}


def files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in sorted(root.rglob("*"))
    }


def bad_inputs(tmp: Path) -> dict[str, int]:
    work = tmp / "bad"
    work.mkdir()
    done = rlkit(
        work, "train", "ppo", "CartPole-v1", "total_steps=512", "--run-dir", "old", "--quiet"
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    (work / "notes.txt").write_text("mine")
    (work / "foreign.pt").write_bytes(b"PK\x03\x04 not a checkpoint")
    (work / "evil.yaml").write_text("gamma: !!python/object/apply:os.system ['touch pwned']\n")
    clear = lost = 0
    for argv in BAD:
        before = files(work)
        result = rlkit(work, *argv)
        lines = result.stderr.strip().splitlines()
        ok = (
            result.returncode in (1, 2)
            and len(lines) == 1
            and lines[0].startswith(("rlkit", "usage"))
        )
        clear += ok
        changed = files(work) != before
        lost += changed
        if not ok or changed:
            print(
                f"{' '.join(argv)}: exit {result.returncode}, {len(lines)} lines, files changed: {changed}",
                file=sys.stderr,
            )
    return {"tried": len(BAD), "clear": clear, "lost": lost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=6, help="kill trials per algorithm")
    parser.add_argument("--quick", action="store_true", help="2 kill trials per algorithm")
    args = parser.parse_args()
    trials = 2 if args.quick else args.kills
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        kills = {algo: kill_trials(tmp, algo, trials, rng) for algo in RUNS}
        bad = bad_inputs(tmp)
    lost = sum(k["lost"] for k in kills.values()) + bad["lost"]
    print(
        json.dumps(
            {
                "bench": "faults",
                "work": f"dqn and ppo on CartPole killed with SIGKILL and resumed ({trials} trials each); "
                f"{bad['tried']} bad inputs",
                "ours": lost,
                "peer": None,
                "unit": "runs or files lost",
                "ratio": None,
                "kills_tried": sum(k["kills"] for k in kills.values()),
                "resumes_identical": sum(k["identical"] for k in kills.values()),
                "resume_trials": sum(k["trials"] for k in kills.values()),
                "bad_inputs_tried": bad["tried"],
                "clear_errors": bad["clear"],
                "lost": lost,
                "per_algo": kills,
            }
        )
    )


if __name__ == "__main__":
    main()
