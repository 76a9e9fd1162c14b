"""PPO CartPole on the batched torch envs against SB3's PPO with the rl-zoo config.

    python benchmarks/ppo_batched.py [--seeds 10] [--peer-seeds 3] [--device cpu]

* ours: ``rlkit.train("ppo", "CartPole-v1", config="configs/ppo/CartPole-v1.batched.yaml")``
  (``vec_env: torch``), one process per seed; the time counted is the ``rlkit.train`` call
  (set-up, training and the final evaluation of 10 episodes on the device), without the
  interpreter's start and the imports (torch, rlkit's API, agents and envs are imported
  before the clock starts: ``import rlkit`` alone is lazy, and until this was said here
  the first call paid 1-2 s of imports); the whole process is timed beside it.
* peer: SB3's PPO with rl-zoo's CartPole-v1 values (``configs/ppo/CartPole-v1.yaml``,
  100k steps), one process per seed; the time counted is ``model.learn()`` (the model's
  construction and SB3's imports before it are not); its final evaluation (10 episodes)
  is rlkit's, outside the timing.

* ours batched: ``rlkit train ppo CartPole-v1 --seeds 0-<N-1> --batched`` with the same
  config, the seeds as one batched computation in one process; its whole process is timed
  against one SB3 run's whole process (target: less).

Process runs alternate ours / peer while both have seeds left. A seed is solved when the
final evaluation's mean is 500. The last line is the JSON result: ``ratio`` is the peer's
median ``learn()`` time over ours (target >= 8), ``solved`` counts seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

OURS = """
import json, sys, time
import rlkit
import rlkit.agents.ppo, rlkit.api, rlkit.envs  # the imports, outside the timing (rlkit is lazy)
rows = []
start = time.perf_counter()
agent = rlkit.train("ppo", "CartPole-v1", seed=int(sys.argv[2]), run_dir=None,
                    config=sys.argv[1], device=sys.argv[3], callback=rows.append)
train_s = time.perf_counter() - start
final = [r["eval/mean_return"] for r in rows if "eval/mean_return" in r][-1]
print(json.dumps({"train_s": train_s, "final": final}))
"""

PEER = """
import json, sys
from rlkit.agents.ppo import Config
from rlkit.config import load_config
from benchmarks._sb3 import run_sb3_onpolicy
config, _ = load_config(Config, sys.argv[1], ["eval_episodes=10"])
result = run_sb3_onpolicy("ppo", "CartPole-v1", config, int(sys.argv[2]), sys.argv[3])
print(json.dumps({"train_s": result["train_s"], "final": result["eval/mean_return"]}))
"""


def process(script: str, config: Path, seed: int, device: str) -> dict:
    """Run ``script`` in a fresh interpreter; its JSON line plus the whole-process time."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", script, str(config), str(seed), device],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - start
    return result


def batched(config: Path, seeds: int, device: str) -> dict:
    """The whole process of ``--seeds 0-<seeds-1> --batched``; its time and final evaluations."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"}
    with tempfile.TemporaryDirectory() as tmp:
        parent = Path(tmp) / "group"
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "rlkit.cli.main",
                "train",
                "ppo",
                "CartPole-v1",
                "--config",
                str(config),
                "--seeds",
                f"0-{seeds - 1}",
                "--batched",
                "--run-dir",
                str(parent),
                "--wandb",
                "disabled",
                "--quiet",
                "--device",
                device,
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        process_s = time.perf_counter() - start
        finals = [
            json.loads((parent / f"s{seed}" / "summary.json").read_text())["eval/mean_return"]
            for seed in range(seeds)
        ]
    return {"process_s": process_s, "finals": finals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--peer-seeds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    ours_config = ROOT / "configs" / "ppo" / "CartPole-v1.batched.yaml"
    peer_config = ROOT / "configs" / "ppo" / "CartPole-v1.yaml"
    ours, peer = [], []
    for seed in range(max(args.seeds, args.peer_seeds)):
        if seed < args.seeds:
            ours.append(process(OURS, ours_config, seed, args.device))
            print("ours", seed, ours[-1], flush=True)
        if seed < args.peer_seeds:
            peer.append(process(PEER, peer_config, seed, args.device))
            print("peer", seed, peer[-1], flush=True)
    group = batched(ours_config, args.seeds, args.device)
    print("ours batched", group, flush=True)

    def median(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    ratio = median(peer, "train_s") / median(ours, "train_s")
    solved = sum(r["final"] >= 500 for r in ours)
    print(
        json.dumps(
            {
                "bench": "ppo_batched",
                "work": f"PPO CartPole-v1: batched config ({args.seeds} seeds) vs SB3 rl-zoo "
                f"config ({args.peer_seeds} seeds), {args.device}",
                "ours": round(median(ours, "train_s"), 2),
                "peer": round(median(peer, "train_s"), 2),
                "unit": "s from the start of training to the final evaluation (median seed)",
                "ratio": round(ratio, 2),
                "target": 8.0,
                "target_met": ratio >= 8 and solved == args.seeds,
                "solved": f"{solved}/{args.seeds}",
                "peer_solved": f"{sum(r['final'] >= 500 for r in peer)}/{args.peer_seeds}",
                "ours_finals": [round(r["final"], 1) for r in ours],
                "peer_finals": [round(r["final"], 1) for r in peer],
                "ours_process_s": round(median(ours, "process_s"), 2),
                "peer_process_s": round(median(peer, "process_s"), 2),
                "batched_seeds_s": round(group["process_s"], 2),
                "batched_solved": f"{sum(f >= 500 for f in group['finals'])}/{args.seeds}",
                "batched_target_met": group["process_s"] < median(peer, "process_s"),
            }
        )
    )


if __name__ == "__main__":
    main()
