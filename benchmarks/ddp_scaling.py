"""Data-parallel scaling: training steps/s of one run on N = 1 and N = 2 ranks
(``rlkit train ppo <env> --nproc N``), side by side in one run.

    python benchmarks/ddp_scaling.py [--quick] [--rounds 3] [--device cpu]

Workloads (the config files' settings, the same env steps on both sides):

* ``cartpole``: PPO CartPole-v1 (rl-zoo: 8 envs x 32 steps, 20 epochs of 256-row
  minibatches), 40,960 env steps;
* ``pong``: PPO PongNoFrameskip-v4 (CleanRL / zoo: 8 envs x 128 steps on ale-py's C++ env,
  4 epochs of 256-row minibatches), 20,480 env steps (``--quick``: 8,192).

N = 1 is the plain single-process run; N = 2 splits the 8 envs over two ranks (gloo on the
CPU, NCCL on CUDA), each with half the host's cores. A rank's throughput is the run's
``time/sps`` at its last training log (set-up and the final evaluation left out); rounds
alternate N = 1 and N = 2 and the median is reported. On a 2-core host two ranks share
the cores one process already uses, so the ratio shows the cost of the split (the
all-reduce per minibatch, the gathered statistics) more than a gain: the gain needs cores
or GPUs to add.

The last line is the JSON object of the benchmark convention: ``ours`` is Pong's steps/s
with 2 ranks, ``peer`` with 1, ``ratio`` ours / peer; ``workloads`` has every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = {
    "cartpole": ("CartPole-v1", 40_960, ["log_interval=2048"]),
    "pong": ("PongNoFrameskip-v4", 20_480, ["log_interval=2048", "vec_env=ale"]),
}


def train_sps(env_id: str, steps: int, extra: list[str], nproc: int, device: str) -> float:
    """One run's training steps/s (its last training log's ``time/sps``)."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        argv = [
            sys.executable,
            "-m",
            "rlkit.cli.main",
            "train",
            "ppo",
            env_id,
            f"total_steps={steps}",
            "eval_interval=0",
            "eval_episodes=1",
            "checkpoint_interval=0",
            *extra,
            "--run-dir",
            str(run_dir),
            "--device",
            device,
            "--wandb",
            "disabled",
            "--quiet",
        ]
        if nproc > 1:
            argv += ["--nproc", str(nproc)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[3:])} failed:\n{done.stderr[-2000:]}")
        rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
        return float([r for r in rows if "train/policy_loss" in r][-1]["time/sps"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--only", choices=tuple(WORKLOADS), default=None)
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    results = {}
    for name, (env_id, steps, extra) in WORKLOADS.items():
        if args.only and name != args.only:
            continue
        steps = steps // 5 if args.quick else steps
        sps: dict[int, list[float]] = {1: [], 2: []}
        for r in range(rounds):
            for nproc in (1, 2) if r % 2 == 0 else (2, 1):
                sps[nproc].append(train_sps(env_id, steps, extra, nproc, args.device))
                print(f"{name} round {r} nproc {nproc}: {sps[nproc][-1]:.0f} sps", flush=True)
        one, two = statistics.median(sps[1]), statistics.median(sps[2])
        results[name] = {
            "env_id": env_id,
            "steps": steps,
            "sps_1": round(one, 1),
            "sps_2": round(two, 1),
            "ratio": round(two / one, 3),
            "rounds": rounds,
        }
    main_name = "pong" if "pong" in results else next(iter(results))
    print(
        json.dumps(
            {
                "bench": "ddp_scaling",
                "work": f"PPO, one run on 1 and 2 data-parallel ranks, {args.device}, "
                f"{os.cpu_count()} cores",
                "ours": results[main_name]["sps_2"],
                "peer": results[main_name]["sps_1"],
                "unit": "training env steps/s (2 ranks vs 1)",
                "ratio": results[main_name]["ratio"],
                "workloads": results,
            }
        )
    )


if __name__ == "__main__":
    main()
