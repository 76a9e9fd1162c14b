"""``rlkit eval <run-dir|checkpoint> [--episodes N] [--seed N]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rlkit.checkpoint import load_checkpoint
from rlkit.cli.common import DEVICES, env_factory, fail, load_agent, resolve_device
from rlkit.errors import BadInput
from rlkit.evaluation import evaluate
from rlkit.io import atomic_write_json
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
    p.add_argument("--device", default="auto", choices=DEVICES, help="where the policy runs")
    p.set_defaults(func=main)


def find_checkpoint(target: Path, best: bool = False) -> Path:
    """The checkpoint of a run dir (latest.pt, or best.pt) or ``target`` itself."""
    if target.is_dir():
        path = target / "checkpoints" / ("best.pt" if best else "latest.pt")
        if not path.is_file():
            raise BadInput(
                f"{target} has no {path.relative_to(target)}; is it a finished run directory?"
            )
        return path
    if not target.exists():
        raise BadInput(f"no such run dir or checkpoint: {target}")
    return target


def main(args: argparse.Namespace) -> int:
    """Evaluate and write ``eval.json`` next to the run."""
    try:
        path = find_checkpoint(args.target, args.best)
        checkpoint = load_checkpoint(path)
        agent = load_agent(str(checkpoint.get("algo")))
        config = checkpoint.get("config", {})
        env_id = checkpoint["env_id"]
        episodes = (
            args.episodes if args.episodes is not None else int(config.get("eval_episodes", 10))
        )
        if episodes < 1:
            raise BadInput(f"bad value --episodes {episodes}; allowed: an integer >= 1")
        seed = args.seed if args.seed is not None else int(checkpoint.get("seed", 0))
        device = resolve_device(args.device)
        make = env_factory(
            env_id,
            config.get("env_kwargs", {}) or {},
            frame_stack=int(config.get("frame_stack", 4)),
        )
        env = make()
        policy = agent.load_policy(checkpoint, env, device=str(device), seed=seed)
        env.close()
    except BadInput as e:
        return fail(str(e), 2)
    result = evaluate(policy, make, episodes, seed=make_rngs(seed, seed_globals=False).eval_seed)
    out = {
        "algo": agent.ALGO,
        "env_id": env_id,
        "checkpoint": str(path),
        "seed": seed,
        **result.metrics(),
        "returns": list(result.returns),
        "lengths": list(result.lengths),
    }
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    atomic_write_json(run_dir / "eval.json", out)
    print(
        f"{agent.ALGO} on {env_id}: mean return {result.mean:.4g} +- {result.std:.4g} "
        f"over {episodes} episodes (seed {seed}); wrote {run_dir / 'eval.json'}"
    )
    return 0
