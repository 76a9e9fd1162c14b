"""``rlkit eval <run-dir|checkpoint> [--episodes N] [--seed N]``."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from rlkit.cli.common import report
from rlkit.errors import BadInput
from rlkit.evaluation import evaluate
from rlkit.io import atomic_write_json
from rlkit.launch import DEVICES, load_run
from rlkit.scores import with_human_normalized
from rlkit.seeding import make_rngs


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``eval``."""
    p = sub.add_parser(
        "eval",
        help="evaluate a trained run or checkpoint (writes eval.json)",
        description="Play N episodes of a run's policy in a fresh env; print mean +- std.",
    )
    p.add_argument("target", type=Path, help="a run directory or a .pt checkpoint")
    p.add_argument(
        "--episodes", type=int, default=None, help="episodes (default: the run's eval_episodes)"
    )
    p.add_argument("--seed", type=int, default=None, help="seed (default: the run's seed)")
    p.add_argument("--best", action="store_true", help="use checkpoints/best.pt of a run dir")
    p.add_argument(
        "--stochastic",
        action="store_true",
        help="sample actions (default: the greedy / mean action)",
    )
    p.add_argument("--device", default="auto", choices=DEVICES, help="where the policy runs")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Evaluate and write ``eval.json`` next to the run."""
    try:
        loaded = load_run(args.target, args.best, args.seed, args.device, args.stochastic)
        episodes = (
            args.episodes
            if args.episodes is not None
            else int(loaded.config.get("eval_episodes", 10))
        )
        if episodes < 1:
            raise BadInput(f"bad value --episodes {episodes}; allowed: an integer >= 1")
    except BadInput as e:
        return report(e)
    eval_seed = make_rngs(loaded.seed, seed_globals=False).eval_seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(eval_seed)
        result = evaluate(loaded.policy, loaded.make, episodes, seed=eval_seed)
    path = loaded.path
    out = {
        "algo": loaded.algo,
        "implementation": loaded.implementation,
        "env_id": loaded.env_id,
        "checkpoint": str(path),
        "seed": loaded.seed,
        "deterministic": not args.stochastic,
        **with_human_normalized(result.metrics(), loaded.env_id),
        "returns": list(result.returns),
        "lengths": list(result.lengths),
    }
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    atomic_write_json(run_dir / "eval.json", out)
    mode = "sampled" if args.stochastic else "deterministic"
    normalized = out.get("eval/human_normalized")
    human = "" if normalized is None else f" (human-normalized {normalized:.3g})"
    print(
        f"{loaded.algo} ({loaded.implementation}) on {loaded.env_id}: mean return {result.mean:.4g} "
        f"+- {result.std:.4g}{human} over {episodes} episodes ({mode}, seed {loaded.seed}); wrote {run_dir / 'eval.json'}"
    )
    return 0
