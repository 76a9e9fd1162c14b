"""The ``rlkit`` console script."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rlkit import __version__
from rlkit.cli import baseline as baseline_cmd
from rlkit.cli import compare as compare_cmd
from rlkit.cli import eval as eval_cmd
from rlkit.cli import render as render_cmd
from rlkit.cli import sweep as sweep_cmd
from rlkit.cli import sync as sync_cmd
from rlkit.cli import train as train_cmd
from rlkit.cli.common import ArgumentParser


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-command per module."""
    parser = ArgumentParser(
        prog="rlkit",
        description="rlkit: reinforcement-learning agents, with Stable-Baselines3 as the baseline.",
        epilog=train_cmd.algorithms_help() + "\n\nexamples:\n"
        "  rlkit train value-iteration FrozenLake8x8-v1 gamma=0.99\n"
        "  rlkit train q-learning FrozenLake-v1 env_kwargs.is_slippery=false total_steps=20000\n"
        "  rlkit train ppo CartPole-v1 --seeds 0-4\n"
        "  rlkit baseline ppo CartPole-v1 --seeds 0-4\n"
        "  rlkit compare runs/ppo-CartPole-v1-seeds0-4-* runs/sb3-ppo-CartPole-v1-seeds0-4-* --out compare.png\n"
        "  rlkit eval runs/<run-dir> --episodes 100\n"
        "  rlkit render runs/<run-dir> --out agent.mp4\n"
        "  rlkit sweep ppo CartPole-v1 --space spaces/ppo-CartPole-v1.yaml --trials 20 --jobs 2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rlkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=ArgumentParser)
    train_cmd.add_parser(sub)
    baseline_cmd.add_parser(sub)
    eval_cmd.add_parser(sub)
    render_cmd.add_parser(sub)
    compare_cmd.add_parser(sub)
    sweep_cmd.add_parser(sub)
    sync_cmd.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may also come after the options: `... --seed 1 gamma=0.9`
    if (
        extra
        and hasattr(args, "overrides")
        and all("=" in e and not e.startswith("-") for e in extra)
    ):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error("unrecognized arguments: " + " ".join(extra))
    if not getattr(args, "func", None):
        parser.print_help()
        print(
            "rlkit: error: give a command: train, baseline, eval, render, compare, sweep or sync",
            file=sys.stderr,
        )
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:  # Ctrl-C before a run's own handler is in place (planning)
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (rlkit ... | head): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
