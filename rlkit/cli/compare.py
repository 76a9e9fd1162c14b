"""``rlkit compare <run-dir|parent> ... [--out FILE.png] [--json FILE]``: the table and
learning curves of ``rlkit.compare``, printed and written."""

from __future__ import annotations

import argparse
from pathlib import Path

from rlkit.cli.common import report
from rlkit.compare import find_runs, format_table, group_runs, plot, read_run, summarize
from rlkit.errors import BadInput


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``compare``."""
    p = sub.add_parser(
        "compare",
        help="compare runs: a table with confidence intervals and a learning-curve figure",
        description="Group runs (run dirs, or parents of run dirs such as a --seeds folder) by "
        "implementation, algorithm and env; print a table; with --out, plot learning curves.",
    )
    p.add_argument("targets", nargs="+", type=Path, help="run directories or their parents")
    p.add_argument(
        "--out", type=Path, default=None, help="write the learning-curve figure here (.png)"
    )
    p.add_argument("--json", type=Path, default=None, help="also write the table as JSON")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Print the table (and write the figure / JSON when asked)."""
    try:
        if args.out is not None and args.out.suffix.lower() not in (".png", ".pdf", ".svg"):
            raise BadInput(f"--out must be a .png, .pdf or .svg file, got {args.out}")
        paths, skipped = find_runs(args.targets)
        groups = group_runs([read_run(p) for p in paths])
    except BadInput as e:
        return report(e)
    for line in skipped:
        print(f"rlkit compare: {line}")
    rows = [summarize(g) for g in groups]
    print(format_table(rows))
    if args.json is not None:
        from rlkit.io import atomic_write_json

        atomic_write_json(args.json, rows)
    if args.out is not None:
        plot(groups, args.out)
        print(f"wrote {args.out}")
    return 0
