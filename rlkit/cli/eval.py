"""``rlkit eval <run-dir|checkpoint> [--episodes N] [--seed N]``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rlkit.checkpoint import load_checkpoint, load_run_checkpoint
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
    p.add_argument(
        "--stochastic",
        action="store_true",
        help="sample actions (default: the greedy / mean action)",
    )
    p.add_argument("--device", default="auto", choices=DEVICES, help="where the policy runs")
    p.set_defaults(func=main)


def find_checkpoint(target: Path, best: bool = False) -> Path:
    """The checkpoint of a run dir (latest.pt, or best.pt) or ``target`` itself."""
    if target.is_dir():
        path = target / "checkpoints" / ("best.pt" if best else "latest.pt")
        fallback = not best and (target / "checkpoints" / "previous.pt").is_file()
        if not path.is_file() and not fallback:
            raise BadInput(
                f"{target} has no {path.relative_to(target)}; is it a finished run directory?"
            )
        return path
    if not target.exists():
        raise BadInput(f"no such run dir or checkpoint: {target}")
    return target


@dataclass
class Loaded:
    """A checkpoint's evaluation policy and what is needed to play it."""

    policy: Any
    path: Path
    algo: str
    implementation: str
    env_id: str
    seed: int
    config: dict[str, Any]
    make: Callable[..., Any]


def load_target(
    target: Path, best: bool, seed: int | None, device_name: str, stochastic: bool
) -> Loaded:
    """The policy of a run dir or checkpoint (rlkit's or ``rlkit baseline``'s), ``BadInput`` if unusable.

    Deterministic unless ``stochastic``; sampling and DQN's ``eval_epsilon`` draw from the
    eval generator of ``seed`` (default: the run's), as training-time evaluation does.
    """
    path = find_checkpoint(target, best)
    if path.parent.name == "checkpoints":  # a run's checkpoint: fall back to previous.pt if damaged
        checkpoint, path = load_run_checkpoint(path.parent, path.name)
    else:
        checkpoint = load_checkpoint(path)
    if "algo" not in checkpoint or "env_id" not in checkpoint or "config" not in checkpoint:
        raise BadInput(f"{path} is not an rlkit checkpoint (no algo / env_id / config)")
    algo = str(checkpoint["algo"])
    agent = load_agent(algo)
    config = {**checkpoint["config"], "deterministic": not stochastic}
    checkpoint = {**checkpoint, "config": config}
    env_id = str(checkpoint["env_id"])
    seed = seed if seed is not None else int(checkpoint.get("seed", 0))
    if seed < 0:
        raise BadInput(f"bad value --seed {seed}; allowed: an integer >= 0")
    device = resolve_device(device_name)
    make = env_factory(
        env_id, config.get("env_kwargs", {}) or {}, frame_stack=int(config.get("frame_stack", 4))
    )
    implementation = str(checkpoint.get("implementation", "rlkit"))
    env = make()
    try:
        if implementation == "sb3":
            from rlkit.cli import baseline

            policy = baseline.load_policy(checkpoint, env, device=str(device), seed=seed)
        else:
            policy = agent.load_policy(checkpoint, env, device=str(device), seed=seed)
    except (KeyError, RuntimeError) as e:
        raise BadInput(f"{path} does not fit {algo} on {env_id}: {e}") from None
    finally:
        env.close()
    return Loaded(policy, path, agent.ALGO, implementation, env_id, seed, config, make)


def main(args: argparse.Namespace) -> int:
    """Evaluate and write ``eval.json`` next to the run."""
    try:
        loaded = load_target(args.target, args.best, args.seed, args.device, args.stochastic)
        episodes = (
            args.episodes
            if args.episodes is not None
            else int(loaded.config.get("eval_episodes", 10))
        )
        if episodes < 1:
            raise BadInput(f"bad value --episodes {episodes}; allowed: an integer >= 1")
    except BadInput as e:
        return fail(str(e), 2)
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
        **result.metrics(),
        "returns": list(result.returns),
        "lengths": list(result.lengths),
    }
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    atomic_write_json(run_dir / "eval.json", out)
    mode = "sampled" if args.stochastic else "deterministic"
    print(
        f"{loaded.algo} ({loaded.implementation}) on {loaded.env_id}: mean return {result.mean:.4g} "
        f"+- {result.std:.4g} over {episodes} episodes ({mode}, seed {loaded.seed}); wrote {run_dir / 'eval.json'}"
    )
    return 0
