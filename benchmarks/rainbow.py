"""Rainbow's parts on the DQN agent against their targets, side by side in one run.

    python benchmarks/rainbow.py [--quick] [--seeds 10] [--first-seed 0] [--only update|qr|rainbow]
    python benchmarks/rainbow.py --only qr --qr-preset qr-nstep   # another QR-DQN preset

Three parts:

* ``update``: one gradient step of the Nature CNN on Pong frames (batch 32, bf16 autocast
  where the CPU computes it natively, as DQN's Atari config runs) for ``distributional``
  none (DQN), c51 and qr (the agent's default atoms and quantiles), target pass included; rounds
  alternate and the median is kept. Target: C51 and QR at most 1.2x DQN.
* ``qr``: QR-DQN on CartPole-v1 with rl-zoo's values (``configs/dqn/CartPole-v1.qr.yaml``),
  ours (``rlkit train``) and sb3-contrib's QRDQN (``rlkit baseline``: the same file, the
  same seeds, envs and final evaluation), one process per seed, ours and theirs
  alternating; a seed is solved at a final evaluation >= 475. Targets: >= 9/10 of ours
  solved; whole process >= 2.5x faster (median seed). ``--qr-preset NAME`` runs
  ``configs/dqn/CartPole-v1.NAME.yaml`` instead (``qr-nstep``: the zoo's values with the two
  settings DQN's CartPole config adds, 3-step returns and a linearly decaying learning rate).
  Each process runs on one torch/BLAS thread; ``--threads 0`` leaves both sides their own
  defaults (what a user gets, as ``benchmarks/dqn_speed.py`` times DQN's CartPole process).
* ``rainbow``: the Rainbow preset (``configs/dqn/CartPole-v1.rainbow.yaml``: C51, noisy
  nets, double, dueling, 3-step, prioritized) beside DQN's config on the same seeds; the
  first evaluation at >= 475 and the final one. Target: >= 9/10 seeds solved, in no more
  env steps than DQN needs (its budget, and the medians of the first solving evaluation).

The last line is the JSON object of the benchmark convention (``ours``/``peer``: the QR
part's median whole-process seconds, ``ratio`` theirs / ours), every figure in extra keys.
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
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))
from benchmarks._records import child_env  # noqa: E402

CONFIGS = ROOT / "configs" / "dqn"
SOLVED = 475.0


def run_seed(
    command: str, config: Path, seed: int, folder: Path, extra: list[str], threads: int | None = 1
) -> dict:
    """One seed as its own process: whole-process seconds, final and first-solving eval."""
    run_dir = folder / f"{command}-{config.stem}-s{seed}"
    argv = [sys.executable, "-m", "rlkit.cli.main", command, "dqn", "CartPole-v1", *extra]
    argv += ["--config", str(config), "--seed", str(seed), "--run-dir", str(run_dir)]
    argv += ["--device", "cpu", "--wandb", "disabled", "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(argv, env=child_env(threads), cwd=ROOT, capture_output=True, text=True)
    process_s = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[3:])} failed:\n{done.stderr[-2000:]}")
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [(r["step"], r["eval/mean_return"]) for r in rows if "eval/mean_return" in r]
    first = next((step for step, value in evals if value >= SOLVED), None)
    return {"process_s": process_s, "final": evals[-1][1], "first_solved_step": first}


def update_costs(rounds: int) -> dict[str, float]:
    """Median seconds of one gradient step (target pass, forward, loss, backward, Adam) of
    the Nature CNN on a batch of 32 Pong frame stacks, for each ``distributional``, through
    the DQN agent's own pieces (``bellman_targets``, ``q_model``, ``loss_of``) and its
    Atari config (precision auto: bf16 autocast where the CPU computes it natively)."""
    import torch

    from rlkit.agents import dqn
    from rlkit.config import load_config
    from rlkit.data.device import use_bf16
    from rlkit.data.replay import Batch
    from rlkit.optim import optimizer_from_config

    torch.set_num_threads(os.cpu_count() or 1)
    base = ROOT / "configs" / "dqn" / "PongNoFrameskip-v4.yaml"
    g = torch.Generator().manual_seed(0)
    batch = Batch(
        obs=torch.randint(0, 255, (32, 4, 84, 84), dtype=torch.uint8, generator=g),
        actions=torch.randint(0, 6, (32,), generator=g),
        rewards=torch.randn(32, generator=g),
        next_obs=torch.randint(0, 255, (32, 4, 84, 84), dtype=torch.uint8, generator=g),
        dones=torch.zeros(32),
        discounts=torch.full((32,), 0.99),
        weights=torch.ones(32),
        indices=torch.arange(32).numpy(),
    )
    steps = {}
    for kind in ("none", "c51", "qr"):
        config, _ = load_config(dqn.Config, base, [f"distributional={kind}"])
        q_net = dqn.QNetwork((4, 84, 84), 6, config, torch.Generator().manual_seed(0))
        target = dqn.QNetwork((4, 84, 84), 6, config, torch.Generator().manual_seed(1))
        model = dqn.q_model(q_net, config)
        adam = optimizer_from_config(config, model.parameters(), lr=1e-4)
        bf16 = use_bf16(config.precision, "cpu")

        def step(config=config, q_net=q_net, target=target, model=model, adam=adam, bf16=bf16):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                targets = dqn.bellman_targets(q_net, target, batch, config.double_q)
                out = model(batch.obs, batch.actions)
                loss = dqn.loss_of(config, q_net, out, targets, None, True)
                model.backward(loss)
            adam.step()

        steps[kind] = step
    times: dict[str, list[float]] = {kind: [] for kind in steps}
    for r in range(rounds):
        for kind in steps if r % 2 == 0 else reversed(list(steps)):
            steps[kind]()  # warm
            start = time.perf_counter()
            for _ in range(5):
                steps[kind]()
            times[kind].append((time.perf_counter() - start) / 5)
    return {kind: statistics.median(t) for kind, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, shorter runs")
    parser.add_argument("--seeds", type=int, default=10, help="how many seeds")
    parser.add_argument(
        "--first-seed", type=int, default=0, help="the first of them (more seeds after a run)"
    )
    parser.add_argument("--only", choices=("update", "qr", "rainbow"), default=None)
    parser.add_argument(
        "--qr-preset", default="qr", help="the QR-DQN preset: configs/dqn/CartPole-v1.<NAME>.yaml"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch/BLAS threads of each QR-DQN process (0: each side's own default)",
    )
    args = parser.parse_args()
    threads = args.threads or None
    seeds = list(range(args.first_seed, args.first_seed + (2 if args.quick else args.seeds)))
    extra = ["total_steps=5000", "eval_interval=2500"] if args.quick else []
    result: dict = {}
    if args.only in (None, "update"):
        costs = update_costs(5 if args.quick else 21)
        result["update_s"] = {k: round(v, 5) for k, v in costs.items()}
        result["update_over_dqn"] = {k: round(costs[k] / costs["none"], 3) for k in ("c51", "qr")}
        result["update_target_met"] = max(result["update_over_dqn"].values()) <= 1.2
        print(f"update: {result['update_s']} -> {result['update_over_dqn']}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.only in (None, "qr"):
            qr = CONFIGS / f"CartPole-v1.{args.qr_preset}.yaml"
            if not qr.is_file():
                parser.error(f"no preset {qr}")
            ours, theirs = [], []
            for seed in seeds:
                pair = [("train", ours), ("baseline", theirs)]
                for command, into in pair if seed % 2 == 0 else pair[::-1]:
                    into.append(run_seed(command, qr, seed, folder, extra, threads))
                    print(f"qr {command} seed {seed}: {into[-1]}", flush=True)
            ours_s = statistics.median(r["process_s"] for r in ours)
            theirs_s = statistics.median(r["process_s"] for r in theirs)
            result["qr"] = {
                "preset": qr.name,
                "threads": threads or "default",
                "ours_solved": sum(r["final"] >= SOLVED for r in ours),
                "peer_solved": sum(r["final"] >= SOLVED for r in theirs),
                "seeds": seeds,
                "ours_finals": [r["final"] for r in ours],
                "peer_finals": [r["final"] for r in theirs],
                "ours_process_s": round(ours_s, 2),
                "peer_process_s": round(theirs_s, 2),
                "speedup": round(theirs_s / ours_s, 3),
            }
        if args.only in (None, "rainbow"):
            runs = {"rainbow": [], "dqn": []}
            files = {
                "rainbow": CONFIGS / "CartPole-v1.rainbow.yaml",
                "dqn": CONFIGS / "CartPole-v1.yaml",
            }
            for seed in seeds:
                for name in runs:
                    runs[name].append(run_seed("train", files[name], seed, folder, extra))
                    print(f"{name} seed {seed}: {runs[name][-1]}", flush=True)
            result["rainbow"] = {
                name: {
                    "solved": sum(r["final"] >= SOLVED for r in rs),
                    "finals": [r["final"] for r in rs],
                    "first_solved_steps": [r["first_solved_step"] for r in rs],
                }
                for name, rs in runs.items()
            }
    qr_part = result.get("qr", {})
    print(
        json.dumps(
            {
                "bench": "rainbow",
                "work": f"QR-DQN / Rainbow / DQN on CartPole-v1 (seeds {seeds[0]}-{seeds[-1]}), the "
                "Nature CNN update of DQN, C51, QR; cpu",
                "ours": qr_part.get("ours_process_s"),
                "peer": qr_part.get("peer_process_s"),
                "unit": "s per QR-DQN seed, whole process (median)",
                "ratio": qr_part.get("speedup"),
                **result,
            }
        )
    )


if __name__ == "__main__":
    main()
