"""``rlkit compare <run-dir|parent> ... [--out FILE.png] [--json FILE]``: the table and
learning curves of ``rlkit.compare``, printed and written."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rlkit.cli.common import report
from rlkit.compare import (
    atari_aggregates,
    find_runs,
    format_aggregates,
    format_improvements,
    format_table,
    group_runs,
    improvements,
    plot,
    read_run,
    summarize,
)
from rlkit.errors import BadInput
from rlkit.sweep.gather import gathered_runs


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``compare``."""
    p = sub.add_parser(
        "compare",
        help="compare runs: a table with confidence intervals and a learning-curve figure",
        description="Group runs (run dirs, or parents of run dirs such as a --seeds folder) by "
        "implementation, algorithm and env; print a table; with --out, plot learning curves.",
    )
    p.add_argument("targets", nargs="*", type=Path, help="run directories or their parents")
    p.add_argument(
        "--study",
        default=None,
        help="also the finished runs of this study (--seeds --study or a sweep), gathered from "
        "its artifact store: no worker's disk needed",
    )
    p.add_argument("--storage", default=None, metavar="URL", help="with --study: its storage")
    p.add_argument(
        "--artifacts",
        default=None,
        metavar="DIR",
        help="with --study: where its artifact store is on this machine (default: as recorded)",
    )
    p.add_argument(
        "--into",
        type=Path,
        default=None,
        metavar="DIR",
        help="with --study: keep the gathered run dirs here (default: a temporary folder)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="write the learning-curve figure here (.png)"
    )
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write the table as JSON (a list of rows; after them the rlkit-over-SB3 "
        'entries, each with "comparison", and the Atari aggregates, each with "aggregate")',
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Print the table (and write the figure / JSON when asked)."""
    with tempfile.TemporaryDirectory(prefix="rlkit-gathered-") as tmp:
        return compare(args, Path(tmp))


def compare(args: argparse.Namespace, tmp: Path) -> int:
    """``main``, with ``tmp`` for a study's gathered runs."""
    from rlkit.sweep.study import StorageError, load_existing_study

    try:
        if args.out is not None and args.out.suffix.lower() not in (".png", ".pdf", ".svg"):
            raise BadInput(f"--out must be a .png, .pdf or .svg file, got {args.out}")
        if args.study is None and (args.storage or args.artifacts or args.into):
            raise BadInput("--storage, --artifacts and --into go with --study NAME")
        if args.study is None and not args.targets:
            raise BadInput("rlkit compare needs run dirs (or their parents), or --study NAME")
        targets = list(args.targets)
        if args.study is not None:
            into = args.into if args.into is not None else tmp
            study = load_existing_study(args.study, args.storage, None, heartbeat=60)
            gathered, where = gathered_runs(study, args.artifacts, into)
            print(f"study {args.study}: {len(gathered)} finished runs gathered from {where}")
            targets += gathered
        paths, skipped = find_runs(targets)
        groups = group_runs([read_run(p) for p in paths])
    except (BadInput, StorageError) as e:
        return report(e)
    for line in skipped:
        print(f"rlkit compare: {line}")
    rows = [summarize(g) for g in groups]
    print(format_table(rows))
    pairs = improvements(groups)
    if pairs:
        print()
        print(format_improvements(pairs))
    aggregates = atari_aggregates(groups)
    if aggregates:
        print()
        print(format_aggregates(aggregates))
    if args.json is not None:
        from rlkit.io import atomic_write_json

        atomic_write_json(args.json, rows + pairs + aggregates)
        print(f"wrote {args.json}")
    if args.out is not None:
        plot(groups, args.out)
        print(f"wrote {args.out}")
    return 0
