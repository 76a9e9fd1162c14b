"""``rlkit sweep <algo> <env-id> --space FILE``: hyperparameter search on Optuna.

Parsing and printing only; the sweep itself is ``rlkit.sweep`` (spaces, the study and its
workers, the report). ``--jobs K`` starts K worker processes; ``--report`` summarizes a study.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from rlkit.agents import ALGORITHMS
from rlkit.cli.common import report
from rlkit.errors import BadInput, RunFailed
from rlkit.launch import DEVICES
from rlkit.logging import WANDB_MODES
from rlkit.sweep import gather
from rlkit.sweep.space import OBJECTIVES, PRUNERS, SAMPLERS
from rlkit.sweep.study import (
    StorageError,
    SweepOptions,
    fail_stale,
    load_existing_study,
    make_plan,
    open_study,
    spawn_workers,
    work,
)

EXAMPLES = """examples:
  rlkit sweep ppo CartPole-v1 --space spaces/ppo-cartpole.yaml --trials 20 --jobs 2
  rlkit sweep ppo CartPole-v1 --space wandb-sweep.yaml total_steps=50000
  rlkit sweep ppo CartPole-v1 --space s.yaml --study cp --storage postgresql://rlkit@db-host/rlkit
  rlkit sweep --report --study ppo-CartPole-v1
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``sweep``."""
    p = sub.add_parser(
        "sweep",
        help="tune hyperparameters with Optuna (one machine or many)",
        description="Search config fields of <algo> on <env-id> with Optuna; key=value sets "
        "fields for every trial. Each trial is a run dir under the study's folder.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("algo", nargs="?", help="algorithm: " + ", ".join(ALGORITHMS))
    p.add_argument("env_id", nargs="?", help="a registered Gymnasium id, e.g. CartPole-v1")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="fields for every trial")
    p.add_argument(
        "--space",
        metavar="FILE",
        type=Path,
        help="search space YAML: rl-zoo style or a W&B sweep file",
    )
    p.add_argument(
        "--trials",
        metavar="N",
        type=int,
        help="trials that do not fail, in the whole study "
        "(default: the W&B file's run_cap, the grid's size, else 20)",
    )
    p.add_argument(
        "--jobs",
        metavar="K",
        type=int,
        default=1,
        help="worker processes on this machine (default 1)",
    )
    p.add_argument(
        "--study",
        metavar="NAME",
        help="study name (default <algo>-<env-id>); workers with the same "
        "name and storage share one study",
    )
    p.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage URL (default sqlite:///<dir>/study.db); "
        "postgresql://user@host/db for many machines",
    )
    p.add_argument(
        "--dir",
        metavar="DIR",
        type=Path,
        help="the study's folder for trial run dirs and the report (default runs/<study>)",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="base YAML config (default configs/<algo>/<env-id>.yaml)",
    )
    p.add_argument(
        "--objective",
        choices=tuple(OBJECTIVES),
        help="auc: eval/auc (default); final: the final eval mean",
    )
    p.add_argument("--sampler", choices=SAMPLERS, help="default tpe (a W&B file's method decides)")
    p.add_argument("--pruner", choices=PRUNERS, help="default median (W&B hyperband: hyperband)")
    p.add_argument(
        "--startup-trials",
        metavar="N",
        type=int,
        default=5,
        help="trials drawn at random and "
        "never pruned before TPE and the median pruner start (default 5)",
    )
    p.add_argument(
        "--warmup-steps",
        metavar="N",
        type=int,
        help="no pruning before this env step (default a third of total_steps)",
    )
    p.add_argument(
        "--seed",
        metavar="N",
        type=int,
        default=0,
        help="the seed every trial trains with (default 0)",
    )
    p.add_argument(
        "--sampler-seed",
        metavar="N",
        type=int,
        help="seed of the sampler (default fresh per worker; worker i of --jobs uses seed+i)",
    )
    p.add_argument(
        "--artifacts",
        default=None,
        metavar="DIR",
        help="where finished trials upload summary, metrics, config and checkpoint (a "
        "directory every worker can write, or s3://bucket; default: <dir>/artifacts); "
        "rlkit compare --study reads them from any machine",
    )
    p.add_argument(
        "--heartbeat",
        metavar="S",
        type=int,
        default=60,
        help="seconds between a worker's "
        "heartbeats; a trial silent for twice that is failed (default 60)",
    )
    p.add_argument("--device", default="auto", choices=DEVICES, help="where tensors live")
    p.add_argument(
        "--wandb", default="offline", choices=WANDB_MODES, help="W&B mode (default offline)"
    )
    p.add_argument("--quiet", action="store_true", help="no per-run progress line")
    p.add_argument(
        "--report", action="store_true", help="summarize --study instead of running trials"
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        help="with --report: output folder (default <dir>/report)",
    )
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=main)


def options(args: argparse.Namespace) -> SweepOptions:
    """The command line as ``SweepOptions``."""
    names = {f.name for f in dataclasses.fields(SweepOptions)}
    return SweepOptions(**{k: v for k, v in vars(args).items() if k in names})


def main(args: argparse.Namespace) -> int:
    """Run trials (or ``--report``); exit 2 on bad input before anything starts."""
    if args.report:
        return report_command(args)
    opts = options(args)
    try:
        plan = make_plan(opts)
        study = open_study(plan, opts, seed=opts.sampler_seed)
        gather.study_store(study, opts.artifacts, plan.dir / "artifacts")  # writable here
    except (BadInput, StorageError) as e:
        return report(e)
    if opts.jobs > 1 and opts.worker is None:
        return spawn_workers(opts, plan, study)
    try:
        work(study, plan, opts)
    except RunFailed as e:
        return report(e)
    except KeyboardInterrupt:
        return 130
    return 0


def report_command(args: argparse.Namespace) -> int:
    """``--report``: print the study and write plots, report.json and the best config."""
    import optuna

    from rlkit.sweep.report import build_report, write_report_files

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        if args.algo is not None or args.space is not None:
            raise BadInput(
                "--report reads a study: give --study NAME (and --storage URL), not an algo or space"
            )
        if args.study is None:
            raise BadInput("--report needs --study NAME")
        study = load_existing_study(args.study, args.storage, args.dir, args.heartbeat)
    except (BadInput, StorageError) as e:
        return report(e)
    fail_stale(study)
    folder = args.dir if args.dir is not None else Path("runs") / args.study
    out = args.out if args.out is not None else folder / "report"
    result = build_report(study)
    print(result["text"])
    out.mkdir(parents=True, exist_ok=True)
    written = write_report_files(study, result, out)
    print("wrote: " + ", ".join(str(p) for p in written))
    return 0
