"""``rlkit sync <run-dir|parent> ...``: upload offline W&B runs later.

Runs log to W&B offline by default (nothing needs a network). With an account set up
(``wandb login`` or ``WANDB_API_KEY``), this uploads each run's ``wandb/offline-run-*``
folder with W&B's own ``wandb sync``; ``--dry-run`` only lists what would be uploaded.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from rlkit.cli.common import fail, report
from rlkit.compare import run_dirs_in
from rlkit.errors import BadInput
from rlkit.wandb_offline import offline_runs


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``sync``."""
    p = sub.add_parser(
        "sync",
        help="upload offline W&B runs (wandb sync)",
        description="Upload the offline W&B runs of run directories (or of every run under a parent).",
    )
    p.add_argument(
        "targets", nargs="+", type=Path, help="run directories or parents of run directories"
    )
    p.add_argument("--dry-run", action="store_true", help="list the W&B runs, upload nothing")
    p.set_defaults(func=main)


def wandb_folders(targets: list[Path]) -> list[Path]:
    """The W&B run folders of run dirs (a dir without ``config.yaml`` counts as a parent of runs)."""
    found = [folder for t in targets for run in run_dirs_in(t) for folder in offline_runs(run)]
    if not found:
        raise BadInput(
            f"no W&B runs under {', '.join(map(str, targets))} (were they run with --wandb disabled?)"
        )
    return found


def main(args: argparse.Namespace) -> int:
    """Run ``wandb sync`` on every W&B run folder found."""
    try:
        folders = wandb_folders(args.targets)
    except BadInput as e:
        return report(e)
    command = [sys.executable, "-m", "wandb", "sync", *map(str, folders)]
    if args.dry_run:
        print("would run: " + " ".join(command))
        return 0
    code = subprocess.call(command)
    if code != 0:
        return fail(
            f"wandb sync exited with {code} (is W&B set up? wandb login, or WANDB_API_KEY)", 1
        )
    return 0
