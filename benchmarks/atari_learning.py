"""Atari learning on this CPU: PPO and DQN on PongNoFrameskip-v4 (long runs, not in CI).

    python benchmarks/atari_learning.py ppo [--run-dir runs/atari-ppo-pong] [--total-steps 4000000]
    python benchmarks/atari_learning.py dqn [--run-dir runs/atari-dqn-pong] [--total-steps 2000000]
    python benchmarks/atari_learning.py ppo --report-only      # the record of a run so far
    python benchmarks/atari_learning.py ppo --report-only --eval   # ... with the final eval
    python benchmarks/atari_learning.py ppo --run-dir runs/ppo-pong-3 --report-only --eval \
        --name atari-ppo-pong-3    # a further run's record beside the first

The run is ``rlkit train <algo> PongNoFrameskip-v4`` with the config file of
``configs/<algo>/`` (CleanRL / rl-zoo values) and ``vec_env: ale`` (DQN's epsilon decays
over the config's 1M env steps whatever the run's length, as in CleanRL's 10M run; runs
started before 2026-12-04 decayed it over 10% of their own length); a run dir that holds
an unfinished run is continued with ``--resume`` (a run longer than a sitting goes on in
the next). Then the record is written from ``metrics.jsonl``:

* ``docs/atari-<algo>-pong.json``: the curve of ``rollout/ep_return_20`` (the mean score
  of the last 20 training games, whole games, real score) against env steps and wall
  time; the first step and wall time where it reaches +18; the periodic evaluations; and
  a final ``rlkit eval`` of 10 whole games of the last checkpoint;
* ``docs/atari-<algo>-pong.png``: the curve, with CleanRL's published points beside it
  (ppo_atari: about +18 near 3.5M steps, 20.36 at 10M; dqn_atari: about +18 near 3.2M
  steps, 20.25 at 10M).

``--name`` writes them as ``docs/<name>.json`` and ``.png`` instead (a second run's
record beside the first).

The last line is the JSON object of the record (``ours``: steps to +18, or None).

A run outlives the machine it ran on through the repository: ``--carry`` copies what
``--resume`` needs (``config.yaml``, ``metrics.jsonl``, ``checkpoints/latest.pt`` and its
digest) to ``docs/records/atari-<algo>-pong-run/`` to be committed, and a machine without
the run dir starts from that copy (stop the run first: a stopped run saves its state).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script
from benchmarks._records import ROOT, read_rows, rlkit, train_or_resume, training_wall  # noqa: E402

ENV_ID = "PongNoFrameskip-v4"
TARGET = 18.0
CLEANRL = {  # published reference points: (env steps, mean episodic return)
    "ppo": [(3_500_000, 18.0), (10_000_000, 20.36)],
    "dqn": [(3_200_000, 18.0), (10_000_000, 20.25)],
}


CARRIED = ("config.yaml", "metrics.jsonl", "checkpoints/latest.pt", "checkpoints/latest.pt.sha256")


def carried(algo: str) -> Path:
    """Where ``--carry`` keeps a run between machines."""
    return ROOT / "docs" / "records" / f"atari-{algo}-pong-run"


def copy_run(source: Path, target: Path) -> None:
    """Copy the files ``--resume`` needs from one run dir to another."""
    for name in CARRIED:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target / name)


def exploration(algo: str, config_path: Path, total_steps: int) -> list[str]:
    """DQN's epsilon schedule kept in env steps for a run shorter than its config: the
    config (CleanRL's) decays epsilon over 10% of 10M steps, 1M, and the same fraction of a
    2M run would end it at 200k, so the curve would not compare with CleanRL's at the same
    steps. PPO keeps its fractions (its learning rate and clip range anneal over the run)."""
    if algo != "dqn":
        return []
    from rlkit.agents.dqn import Config
    from rlkit.config import load_config

    config, _ = load_config(Config, config_path)
    steps = config.exploration_fraction * config.total_steps
    return [f"exploration_fraction={min(1.0, steps / total_steps)!r}"]


def train(algo: str, run_dir: Path, total_steps: int) -> None:
    """Start the run, or continue it when its run dir (or the carried copy) holds an
    unfinished one."""
    if not run_dir.exists() and (carried(algo) / "config.yaml").is_file():
        copy_run(carried(algo), run_dir)
        print(f"continuing the carried run {carried(algo)} in {run_dir}", flush=True)
    config = ROOT / "configs" / algo / f"{ENV_ID}.yaml"
    start = [algo, ENV_ID, "--config", str(config), "--run-dir", str(run_dir)]
    train_or_resume(
        run_dir,
        [
            *start,
            "--wandb",
            "disabled",
            "vec_env=ale",
            f"total_steps={total_steps}",
            *exploration(algo, config, total_steps),
            "checkpoint_interval=100000",  # the end of a sitting costs at most 100k steps
            # DQN continues exactly only with its replay in the checkpoint (up to 7 GB of frames)
            *(["save_replay=true"] if algo == "dqn" else []),
        ],
    )


def record(algo: str, run_dir: Path, final_eval: bool) -> dict:
    """The learning record of ``run_dir`` (see the module doc)."""
    rows = read_rows(run_dir)
    wall = training_wall(rows)  # less the pauses between sittings
    curve = [
        (r["step"], r["rollout/ep_return_20"], t)
        for r, t in zip(rows, wall, strict=True)
        if "rollout/ep_return_20" in r
    ]
    evals = [(r["step"], r["eval/mean_return"]) for r in rows if "eval/mean_return" in r]
    reached = next(((s, t) for s, value, t in curve if value >= TARGET), None)
    out = {
        "bench": "atari_learning",
        "work": f"{algo} {ENV_ID}, {curve[-1][0] if curve else 0:,} env steps, vec_env ale, 2 CPU cores",
        "ours": reached[0] if reached else None,
        "peer": {"ppo": 3_500_000, "dqn": 3_200_000}[algo],
        "unit": "env steps to a 20-game mean of +18 (peer: CleanRL's published curve)",
        "ratio": (({"ppo": 3_500_000, "dqn": 3_200_000}[algo] / reached[0]) if reached else None),
        "wall_s_to_target": round(reached[1]) if reached else None,
        "wall_s": round(wall[-1]) if wall else 0,
        "steps": curve[-1][0] if curve else 0,
        "last_mean_20": curve[-1][1] if curve else None,
        "best_mean_20": max((v for _, v, _ in curve), default=None),
        "evaluations": evals,
        "curve": [(s, round(v, 2)) for s, v, _ in curve],
    }
    if algo == "dqn" and (run_dir / "config.yaml").is_file():  # CleanRL's: 1M steps
        from rlkit.yaml_loader import read_yaml_file

        config = read_yaml_file(run_dir / "config.yaml")
        out["epsilon_decay_steps"] = round(config["exploration_fraction"] * config["total_steps"])
    if final_eval and any((run_dir / "checkpoints").glob("latest.pt")):
        rlkit("eval", str(run_dir), "--episodes", "10")
        result = json.loads((run_dir / "eval.json").read_text())
        out["final_eval"] = {
            "mean": result["eval/mean_return"],
            "std": result["eval/std_return"],
            "human_normalized": result["eval/human_normalized"],
            "games": 10,
            "returns": result["returns"],
        }
    return out


def plot(algo: str, data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlkit.io import save_figure

    fig, ax = plt.subplots(figsize=(7, 4))
    if data["curve"]:
        steps, values = zip(*data["curve"], strict=True)
        ax.plot(steps, values, label=f"rlkit {algo} (mean of the last 20 training games)")
    if data["evaluations"]:
        steps, values = zip(*data["evaluations"], strict=True)
        ax.plot(steps, values, "o", label="rlkit evaluations (whole games)")
    ref_steps, ref_values = zip(*CLEANRL[algo], strict=True)
    ax.plot(ref_steps, ref_values, "k^--", label=f"CleanRL {algo}_atari (published points)")
    ax.axhline(TARGET, color="grey", linewidth=0.8)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("score")
    ax.set_title(f"{algo} on {ENV_ID}, 2 CPU cores")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("algo", choices=("ppo", "dqn"))
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--total-steps", type=int, default=None)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument(
        "--carry", action="store_true", help="also copy the run's state to docs/records/"
    )
    parser.add_argument(
        "--eval",
        action="store_true",
        help="with --report-only: evaluate the last checkpoint (10 games) for the record "
        "(a run stopped once it passed the target)",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="the record's file name under docs/ (default atari-<algo>-pong)",
    )
    args = parser.parse_args()
    name = args.name or f"atari-{args.algo}-pong"
    if Path(name).name != name or name.startswith("."):
        parser.error(f"--name {name!r}: a file name, without folders")
    run_dir = args.run_dir or ROOT / "runs" / f"atari-{args.algo}-pong"
    total = args.total_steps or {"ppo": 4_000_000, "dqn": 2_000_000}[args.algo]
    if not args.report_only:
        train(args.algo, run_dir, total)
    data = record(args.algo, run_dir, final_eval=not args.report_only or args.eval)
    docs = ROOT / "docs"
    from rlkit.io import atomic_write_json

    atomic_write_json(docs / f"{name}.json", data)
    plot(args.algo, data, docs / f"{name}.png")
    if args.carry:
        copy_run(run_dir, carried(args.algo))
    print(json.dumps({k: v for k, v in data.items() if k not in ("curve", "evaluations")}))


if __name__ == "__main__":
    main()
