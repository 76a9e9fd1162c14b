"""Soak: a long DQN run on Pong watched from outside for memory, file-handle and thread leaks.

``rlkit train dqn PongNoFrameskip-v4`` with a 100k-transition buffer runs for 200k steps
(``--quick``: a 5k buffer for 20k steps) as a child process; every few seconds this
script reads the child's resident memory (``VmRSS``), open file descriptors and threads
from ``/proc`` and its step from ``metrics.jsonl``. Once the buffer is full its memory
should stay flat: target growth < 5% from the first sample after the buffer fills to the
end, and no more file handles or threads at the end than then.

The peer is SB3's DQN on the same config, watched the same way (``--no-peer`` skips it).
The last line is the JSON result: ``ours`` / ``peer`` = memory growth after the buffer
filled, in percent (``ratio`` = peer growth / ours, floored at 0.1% each); the handle and
thread counts ride along.
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

SB3 = """
import sys, json
from pathlib import Path
from rlkit.agents.dqn import Config
from rlkit.config import load_config
from benchmarks._sb3 import sb3_dqn_kwargs
from rlkit.envs import make_env
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback
config, _ = load_config(Config, sys.argv[1], sys.argv[3:])
out = Path(sys.argv[2])
class Steps(BaseCallback):
    def _on_step(self):
        if self.num_timesteps % 1000 == 0:
            out.write_text(str(self.num_timesteps))
        return True
env = make_env("PongNoFrameskip-v4", train=True)
model = DQN("CnnPolicy", env, seed=0, verbose=0, device="cpu",
            optimize_memory_usage=False, **sb3_dqn_kwargs(config, env.observation_space.shape))
model.learn(config.total_steps, callback=Steps())
"""


def proc_stats(pid: int) -> dict[str, int] | None:
    """Resident memory (bytes), open file descriptors and threads of ``pid`` (None once gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss": int(fields["VmRSS"].split()[0]) * 1024,
        "fds": fds,
        "threads": int(fields["Threads"].strip()),
    }


def last_step_from_metrics(path: Path) -> int:
    if not path.is_file():
        return 0
    lines = path.read_text().splitlines()
    for line in reversed(lines):
        try:
            return int(json.loads(line)["step"])
        except (json.JSONDecodeError, KeyError):
            continue
    return 0


def last_step_from_file(path: Path) -> int:
    try:
        return int(path.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def watch(
    cmd: list[str], step_of, buffer_size: int, every_s: float, env: dict[str, str]
) -> dict[str, float]:
    """Run ``cmd`` and sample it until it ends; the leak figures from the buffer filling on."""
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    samples = []
    while proc.poll() is None:
        stats = proc_stats(proc.pid)
        if stats is not None:
            samples.append({**stats, "step": step_of()})
        time.sleep(every_s)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:6]} failed ({proc.returncode}): {err.strip().splitlines()[-1:]}")
    full = [s for s in samples if s["step"] > buffer_size]
    if len(full) < 2:
        raise SystemExit("too few samples after the buffer filled; run longer")
    first, last = full[0], full[-1]
    peak = max(s["rss"] for s in full)
    return {
        "growth_pct": 100.0 * (last["rss"] - first["rss"]) / first["rss"],
        "peak_growth_pct": 100.0 * (peak - first["rss"]) / first["rss"],
        "rss_full_mb": first["rss"] / 2**20,
        "rss_end_mb": last["rss"] / 2**20,
        "fds_full": first["fds"],
        "fds_end": last["fds"],
        "threads_full": first["threads"],
        "threads_end": last["threads"],
        "samples": len(full),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5k buffer, 20k steps")
    parser.add_argument("--no-peer", action="store_true", help="skip SB3")
    args = parser.parse_args()
    buffer_size, total = (5_000, 20_000) if args.quick else (100_000, 200_000)
    overrides = [
        f"buffer_size={buffer_size}",
        f"total_steps={total}",
        f"learning_starts={min(buffer_size, 10_000)}",
        "eval_interval=0",
        "eval_episodes=1",
        "checkpoint_interval=0",
        "log_interval=1000",
    ]
    config = str(ROOT / "configs" / "dqn" / "PongNoFrameskip-v4.yaml")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2"}
    every = 2.0 if args.quick else 10.0
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "ours"
        ours = watch(
            [
                sys.executable,
                "-m",
                "rlkit.cli.main",
                "train",
                "dqn",
                "PongNoFrameskip-v4",
                "--config",
                config,
                "--run-dir",
                str(run),
                "--wandb",
                "disabled",
                "--quiet",
                *overrides,
            ],
            lambda: last_step_from_metrics(run / "metrics.jsonl"),
            buffer_size,
            every,
            env,
        )
        print(f"ours: {json.dumps(ours)}", file=sys.stderr)
        peer = None
        if not args.no_peer:
            steps = Path(tmp) / "sb3-steps"
            # SB3 computes in float32 (the baseline mapping refuses precision=bf16)
            peer = watch(
                [sys.executable, "-c", SB3, config, str(steps), *overrides, "precision=float32"],
                lambda: last_step_from_file(steps),
                buffer_size,
                every,
                env,
            )
            print(f"sb3: {json.dumps(peer)}", file=sys.stderr)
    result = {
        "bench": "soak",
        "work": f"DQN PongNoFrameskip-v4, {buffer_size:,} buffer, {total:,} steps, cpu",
        "ours": round(ours["growth_pct"], 2),
        "peer": None if peer is None else round(peer["growth_pct"], 2),
        "unit": "% RSS growth after the buffer filled",
        "ratio": None
        if peer is None
        else round(max(peer["growth_pct"], 0.1) / max(ours["growth_pct"], 0.1), 3),
        "target_met": ours["growth_pct"] < 5.0
        and ours["fds_end"] <= ours["fds_full"]
        and ours["threads_end"] <= ours["threads_full"],
        "ours_detail": ours,
        "peer_detail": peer,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
