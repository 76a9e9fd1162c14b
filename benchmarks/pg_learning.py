"""Policy-gradient learning targets: ours and SB3 / sb3-contrib on the same configs and seeds.

Targets (issue 6), each over ``--seeds`` seeds (default 10), final evaluation (10 episodes,
deterministic) of every run:

* ``ppo-cartpole``: PPO CartPole-v1, zoo config, 100k steps: eval mean 500 in >= 9 of 10.
* ``a2c-cartpole``: A2C CartPole-v1, zoo config: eval >= 475 in >= 8 of 10.
* ``reinforce-cartpole``: REINFORCE with baseline, CartPole-v1, 200k steps: >= 475 in >= 8 of 10
  (SB3 has no REINFORCE: ours only).
* ``ppo-pendulum``: PPO Pendulum-v1, zoo config: our mean >= SB3's mean - SB3's std.
* ``recurrent-cartpolenovel``: recurrent PPO on rlkit/CartPoleNoVel-v1 (its config: 200k
  steps): eval >= 450 in >= 8 of 10 seeds (the issue gives no seed count for this one;
  8 of 10 is its A2C and REINFORCE rule; the mean is reported too), with plain PPO on the
  same budget and settings (ours) for contrast.

Runs go two at a time (this machine has 2 cores), each its own process with one thread.
The last line is the JSON result for the first target run (``ours`` / ``peer`` = seeds
solved); every target's figures ride along under ``targets``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

TARGETS = {
    # name: (algo, env id, threshold, sb3 peer?, contrast algo)
    "ppo-cartpole": ("ppo", "CartPole-v1", 500.0, True, None),
    "a2c-cartpole": ("a2c", "CartPole-v1", 475.0, True, None),
    "reinforce-cartpole": ("reinforce", "CartPole-v1", 475.0, False, None),
    "ppo-pendulum": ("ppo", "Pendulum-v1", None, True, None),
    "recurrent-cartpolenovel": ("recurrent-ppo", "rlkit/CartPoleNoVel-v1", 450.0, True, "ppo"),
}
AT_LEAST = {
    "ppo-cartpole": 0.9,
    "a2c-cartpole": 0.8,
    "reinforce-cartpole": 0.8,
    "recurrent-cartpolenovel": 0.8,
}
"""Share of the seeds that must reach the threshold (the rest: every seed)."""

SB3 = """
import json, sys
from importlib import import_module
from rlkit.config import load_config
from benchmarks._sb3 import run_sb3_onpolicy
algo, env_id, config_path, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
module = import_module({"ppo": "rlkit.agents.ppo", "a2c": "rlkit.agents.a2c", "recurrent-ppo": "rlkit.agents.recurrent_ppo"}[algo])
config, _ = load_config(module.Config, config_path, sys.argv[5:])
print(json.dumps(run_sb3_onpolicy(algo, env_id, config, seed)))
"""


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def config_path(algo: str, env_id: str) -> str:
    return str(ROOT / "configs" / algo / f"{env_id.replace('/', '-')}.yaml")


def ours(
    algo: str, env_id: str, seed: int, *, tmp: str, config: str, overrides: list[str]
) -> float:
    run = Path(tmp) / f"{algo}-{env_id.replace('/', '-')}-{seed}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "rlkit.cli.main",
            "train",
            algo,
            env_id,
            "--config",
            config,
            "--seed",
            str(seed),
            "--run-dir",
            str(run),
            "--wandb",
            "disabled",
            "--quiet",
            *overrides,
        ],
        check=True,
        env=env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return float(json.loads((run / "summary.json").read_text())["eval/mean_return"])


def sb3(algo: str, env_id: str, seed: int, *, config: str, overrides: list[str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", SB3, algo, env_id, config, str(seed), *overrides],
        check=True,
        env=env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["eval/mean_return"])


def contrast_config(config: str, algo: str, out: Path) -> str:
    """``config`` without the fields ``algo``'s config lacks (e.g. the LSTM's), written to ``out``."""
    from importlib import import_module

    import yaml

    from rlkit.agents import ALGORITHMS

    fields = import_module(ALGORITHMS[algo]).Config.__dataclass_fields__
    data = yaml.safe_load(Path(config).read_text())
    out.write_text(yaml.safe_dump({k: v for k, v in data.items() if k in fields}))
    return str(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 seeds, PPO CartPole only")
    parser.add_argument("--no-peer", action="store_true", help="skip SB3")
    args = parser.parse_args()
    targets, seeds = (["ppo-cartpole"], 3) if args.quick else (args.targets, args.seeds)
    results = {}
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as pool:
        for name in targets:
            algo, env_id, threshold, has_peer, contrast = TARGETS[name]
            config = config_path(algo, env_id)
            run_ours = partial(ours, algo, env_id, tmp=tmp, config=config, overrides=[])
            mine = list(pool.map(run_ours, range(seeds)))
            peer: list[float] = []
            if has_peer and not args.no_peer:
                peer = list(
                    pool.map(partial(sb3, algo, env_id, config=config, overrides=[]), range(seeds))
                )
            other: list[float] = []
            # the other algorithm on the same budget, with the config file's shared values
            if contrast:
                shared = contrast_config(config, contrast, Path(tmp) / f"{contrast}-contrast.yaml")
                other = list(
                    pool.map(
                        partial(
                            ours, contrast, env_id, tmp=tmp + "/c", config=shared, overrides=[]
                        ),
                        range(seeds),
                    )
                )
            if threshold is None:  # relative target: SB3's mean - SB3's std
                threshold = float(np.mean(peer) - np.std(peer)) if peer else float("nan")
                solved = [float(np.mean(mine)) >= threshold]
            else:
                needed = int(np.ceil(AT_LEAST.get(name, 1.0) * len(mine) - 1e-9))
                solved = [sum(r >= threshold for r in mine) >= needed]
            results[name] = {
                "threshold": threshold,
                "ours_solved": sum(r >= threshold for r in mine),
                "peer_solved": sum(r >= threshold for r in peer),
                "ours_returns": mine,
                "ours_mean": float(np.mean(mine)),
                "peer_mean": float(np.mean(peer)) if peer else None,
                "peer_returns": peer,
                "contrast_returns": other,
                "target_met": all(solved),
            }
            print(name, json.dumps(results[name]), file=sys.stderr)
    first = results[targets[0]]
    print(
        json.dumps(
            {
                "bench": "pg_learning",
                "work": f"{targets[0]}, {seeds} seeds, final eval of 10 episodes",
                "ours": first["ours_solved"],
                "peer": first["peer_solved"],
                "unit": "seeds solved",
                "ratio": round(first["ours_solved"] / max(first["peer_solved"], 1), 3),
                "targets": results,
            }
        )
    )


if __name__ == "__main__":
    main()
