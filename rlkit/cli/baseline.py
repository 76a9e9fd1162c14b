"""``rlkit baseline <algo> <env-id> [same options as train]``: SB3's agent from the same config.

The adapter (field mapping, SB3 model, evaluation policy, training) is ``rlkit.sb3``; this
module registers the command and hands it to ``train``'s runner with ``implementation="sb3"``.
"""

from __future__ import annotations

import argparse

from rlkit.cli import train as train_cmd
from rlkit.cli.common import fail
from rlkit.errors import BadInput
from rlkit.sb3 import SB3_ALGOS, check_algo


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``baseline`` (the options of ``train``)."""
    p = sub.add_parser(
        "baseline",
        help="train the Stable-Baselines3 agent from the same config (writes a run directory)",
        description="Train SB3's <algo> (sb3-contrib for recurrent-ppo) on <env-id> with the config "
        "rlkit train would use; same envs, seeds, evaluation, metric names and run directory. "
        f"Algorithms: {', '.join(SB3_ALGOS)}.",
    )
    train_cmd.add_common_arguments(p, SB3_ALGOS)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Validate (including the SB3 mapping), then train SB3's agent in a run directory."""
    if args.algo is None:
        return fail(f"rlkit baseline needs an algorithm: {', '.join(SB3_ALGOS)}", 2)
    try:
        check_algo(args.algo)
    except BadInput as e:
        return fail(str(e), 2)
    return train_cmd.run_command(args, implementation="sb3")
