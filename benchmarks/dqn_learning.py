"""DQN learning target: CartPole-v1, rl-zoo config, 50k steps, 10 seeds, ours and SB3 side by side.

Each seed runs as its own process (``--jobs`` at a time, one thread each): ours through
``rlkit train dqn CartPole-v1`` with ``configs/dqn/CartPole-v1.yaml``, SB3's DQN with the
same config mapped to its arguments (``benchmarks/_sb3.py``), the same env construction,
seed and final evaluation (10 greedy episodes on the evaluation seed). A seed counts as
solved when the final evaluation mean is >= 475.

The last line is the JSON result: ``ours`` / ``peer`` are the solved seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "dqn" / "CartPole-v1.yaml"
SOLVED = 475.0


def env_one_thread() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def run_ours(seed: int, total_steps: int, folder: Path) -> float:
    run_dir = folder / f"ours-s{seed}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "rlkit.cli.main",
            "train",
            "dqn",
            "CartPole-v1",
            "--config",
            str(CONFIG),
            "--seed",
            str(seed),
            "--run-dir",
            str(run_dir),
            "--wandb",
            "disabled",
            "--quiet",
            f"total_steps={total_steps}",
        ],
        check=True,
        env=env_one_thread(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return json.loads((run_dir / "summary.json").read_text())["eval/mean_return"]


def run_sb3(seed: int, total_steps: int) -> float:
    code = (
        "import json; from rlkit.agents.dqn import Config; from rlkit.config import load_config;"
        "from benchmarks._sb3 import run_sb3_dqn;"
        f"config, _ = load_config(Config, {str(CONFIG)!r}, ['total_steps={total_steps}']);"
        f"print(json.dumps(run_sb3_dqn('CartPole-v1', config, {seed})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        env=env_one_thread(),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["eval/mean_return"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 10)")
    parser.add_argument("--jobs", type=int, default=2, help="processes at a time")
    parser.add_argument("--total-steps", type=int, default=50_000)
    args = parser.parse_args()
    seeds = list(range(args.seeds or (3 if args.quick else 10)))
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        ours = list(pool.map(lambda s: run_ours(s, args.total_steps, Path(tmp)), seeds))
        peer = list(pool.map(lambda s: run_sb3(s, args.total_steps), seeds))
    for seed, a, b in zip(seeds, ours, peer, strict=True):
        print(f"seed {seed}: ours {a:7.1f}   sb3 {b:7.1f}", file=sys.stderr)
    solved_ours = sum(r >= SOLVED for r in ours)
    solved_peer = sum(r >= SOLVED for r in peer)
    print(
        json.dumps(
            {
                "bench": "dqn_learning",
                "work": f"DQN CartPole-v1 zoo config, {args.total_steps} steps, {len(seeds)} seeds, solved = final eval >= {SOLVED}",
                "ours": solved_ours,
                "peer": solved_peer,
                "unit": "seeds solved",
                "ratio": round(solved_ours / max(solved_peer, 1), 3),
                "ours_returns": ours,
                "peer_returns": peer,
            }
        )
    )


if __name__ == "__main__":
    main()
