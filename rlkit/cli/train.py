"""``rlkit train <algo> <env-id> [options] [key=value ...]`` (and ``--resume``, ``--seeds``).

Parsing and printing only: ``rlkit.launch`` plans and runs, ``rlkit.seeds`` runs seeds in
parallel processes.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
from pathlib import Path
from typing import Any

from rlkit import distributed
from rlkit.agents import ALGORITHMS
from rlkit.cli.common import exit_code, fail, report
from rlkit.config import describe_fields, limit_text
from rlkit.errors import BadInput, RunFailed, Stopped
from rlkit.launch import (
    DEFAULT_RUN_DIR,
    DEVICES,
    STOP_GRACE_S,
    RunSpec,
    check_ranks,
    execute,
    load_agent,
    plan_resume,
    plan_run,
    resolve_device,
)
from rlkit.logging import WANDB_MODES


def algorithms_help() -> str:
    """One line per algorithm: its name and the envs it fits."""
    lines = ["algorithms (and the envs they fit):"]
    for name in ALGORITHMS:
        lines.append(f"  {name:<18} {load_agent(name).FITS}")
    lines.append("")
    lines.append("fields of an algorithm's config: rlkit train <algo> --help-config")
    return "\n".join(lines)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``train``."""
    p = sub.add_parser(
        "train",
        help="train an agent (writes a run directory)",
        description="Train <algo> on <env-id>; key=value overrides any config field.",
        epilog=algorithms_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(p, tuple(ALGORITHMS))
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue an interrupted run from its last checkpoint (algo, env and config from "
        "the run dir)",
    )
    p.add_argument(
        "--nproc",
        type=int,
        default=None,
        metavar="N",
        help="one run, data-parallel over N processes on this machine (torch.distributed: "
        "gloo on the CPU, NCCL on CUDA; ppo, a2c, recurrent-ppo); on many machines start it with torchrun "
        "--nnodes M --nproc-per-node N ... -m rlkit train ...",
    )
    p.set_defaults(func=main)


def add_common_arguments(p: argparse.ArgumentParser, algos: tuple[str, ...]) -> None:
    """The arguments ``train`` and ``baseline`` share."""
    p.add_argument("algo", nargs="?", help="algorithm: " + ", ".join(algos))
    p.add_argument("env_id", nargs="?", help="a registered Gymnasium id, e.g. CartPole-v1")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override config fields")
    p.add_argument(
        "--config", type=Path, help="YAML config (default: configs/<algo>/<env-id>.yaml)"
    )
    p.add_argument("--seed", type=int, default=None, help="run seed (default 0)")
    p.add_argument(
        "--seeds",
        default=None,
        metavar="SPEC",
        help="several seeds in parallel processes, one run dir each under a common parent: "
        "0-9 or 0,3,7",
    )
    p.add_argument(
        "--batched",
        action="store_true",
        help="with --seeds: train the seeds as one batched computation in this process "
        "(stacked weights, the batched torch envs; ppo)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="with --seeds: processes at once (default: the core count)",
    )
    p.add_argument(
        "--study",
        default=None,
        help="with --seeds: take the seeds from this Optuna study, shared by workers on any "
        "machines (with --storage)",
    )
    p.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="with --study: the study's storage, postgresql://user:password@host/db for many "
        "machines (default: sqlite:///<run-dir parent>/study.db)",
    )
    p.add_argument(
        "--artifacts",
        default=None,
        metavar="DIR",
        help="with --study: where finished runs upload their results (a directory every "
        "worker can write, or s3://bucket; default: the study's own, else <parent>/artifacts)",
    )
    p.add_argument(
        "--heartbeat",
        type=int,
        default=60,
        metavar="S",
        help="with --study: seconds between a worker's heartbeats; a seed whose worker "
        "missed two goes back to the queue (default 60)",
    )
    p.add_argument(
        "--run-dir",
        type=Path,
        help="run directory (default runs/<algo>-<env>-s<seed>-<time>; with --seeds, the parent)",
    )
    p.add_argument(
        "--device", default="auto", choices=DEVICES, help="where tensors live (default auto)"
    )
    p.add_argument(
        "--wandb", default="offline", choices=WANDB_MODES, help="W&B mode (default offline)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument(
        "--help-config", action="store_true", help="list the algorithm's config fields and exit"
    )


def print_config_help(agent: Any) -> None:
    """The config fields of an agent with their types, defaults and docs."""
    print(f"{agent.ALGO} config fields (set in a YAML file or as key=value):")
    for name, type_name, default, doc in describe_fields(agent.Config):
        limits = limit_text(name)
        limits = f", {limits}" if limits else ""
        print(f"  {name} ({type_name}, default {default!r}{limits}): {doc}")


def main(args: argparse.Namespace) -> int:
    """Validate everything, then create the run dir, train and write summary.json."""
    return run_command(args, implementation="rlkit")


def plan_from_args(args: argparse.Namespace, implementation: str) -> RunSpec:
    """The ``RunSpec`` of a ``train`` / ``baseline`` command line (``BadInput`` if bad)."""
    if args.env_id is None:
        fits = load_agent(args.algo).FITS.split(": ")[-1].split(",")[0]
        raise BadInput(f"rlkit train {args.algo} needs an env id, e.g. {fits}")
    run_dir = args.run_dir if args.run_dir is not None else DEFAULT_RUN_DIR
    return plan_run(
        args.algo,
        args.env_id,
        config=args.config,
        overrides=args.overrides,
        seed=args.seed,
        device=args.device,
        run_dir=run_dir,
        wandb=args.wandb,
        implementation=implementation,
    )


def run_command(args: argparse.Namespace, implementation: str) -> int:
    """``train`` (``implementation="rlkit"``) or ``baseline`` (``"sb3"``): one seed, or
    ``--seeds`` in parallel processes."""
    command = "train" if implementation == "rlkit" else "baseline"
    if implementation == "rlkit" and distributed.from_environment() > 1:
        return run_rank(args)  # one rank of a group torch's launcher started
    nproc = getattr(args, "nproc", None)
    try:
        if getattr(args, "resume", None) is not None:
            if args.algo or args.env_id or args.overrides or args.config is not None:
                raise BadInput(
                    "--resume takes the algo, env and config from the run dir; give only "
                    "--resume RUN_DIR"
                )
            if args.seed is not None or args.seeds is not None or args.run_dir is not None:
                raise BadInput(
                    "--resume continues the run dir's own seed; --seed, --seeds and --run-dir "
                    "do not apply"
                )
            spec = plan_resume(args.resume, args.device, args.wandb)
            saved = int(spec.resolved.get("nproc", 1))
            if nproc is not None and nproc != saved:
                raise BadInput(
                    f"{args.resume} was trained by {saved} ranks; it resumes with as many "
                    f"(--nproc {saved}, or no --nproc)"
                )
            if saved > 1:
                return run_ranks_command(args, spec, saved)
        else:
            if args.algo is None:
                raise BadInput(f"rlkit {command} needs an algorithm: " + ", ".join(ALGORITHMS))
            if args.help_config and args.seeds is None:
                print_config_help(load_agent(args.algo))
                return 0
            if args.batched:
                if implementation != "rlkit":
                    raise BadInput(
                        "--batched is rlkit's: SB3 trains one seed per process (drop --batched)"
                    )
                if args.seeds is None:
                    raise BadInput("--batched trains the seeds of --seeds together; give --seeds")
                return run_batched_command(args)
            if nproc is not None and args.seeds is not None:
                raise BadInput(
                    "--nproc splits one run over processes, --seeds runs many: give one of them"
                )
            if args.seeds is not None:
                return run_seeds_command(args, implementation)
            spec = plan_from_args(args, implementation)
            if nproc is not None:
                check_ranks(spec, nproc)
                if nproc > 1:
                    return run_ranks_command(args, spec, nproc)
    except (BadInput, PermissionError) as e:
        return report(e)
    for note in spec.notes:
        print(note, file=sys.stderr)
    return run_and_report(spec, quiet=args.quiet)


def run_ranks_command(args: argparse.Namespace, spec: RunSpec, nproc: int) -> int:
    """``--nproc N`` (or ``--resume`` of a run trained so): the checked run started as ``N``
    ranks on this machine by torch's launcher, each running ``run_rank``; a rank that
    fails ends the group, named in one line."""
    path = spec.run_dir.path
    common = ["--device", args.device, "--wandb", args.wandb, *(["--quiet"] if args.quiet else [])]
    if args.resume is not None:
        argv = ["train", "--resume", str(path), *common]
    else:
        argv = [
            "train",
            args.algo,
            args.env_id,
            *args.overrides,
            "--seed",
            str(spec.seed),
            "--run-dir",
            str(path),
            *(["--config", str(args.config)] if args.config is not None else []),
            *common,
        ]
    for note in spec.notes:
        print(note, file=sys.stderr)
    backend = "NCCL" if spec.device.type == "cuda" else "gloo"
    print(
        f"{spec.algo} on {spec.env_id}, data-parallel over {nproc} ranks ({backend}, "
        f"{spec.config.n_envs // nproc} envs each); run dir {path}",
        file=sys.stderr,
    )
    failure = distributed.launch(argv, nproc)
    if failure is None:
        return 0
    if failure.signal is not None:  # stopped from outside: the ranks said how they stopped
        return failure.exitcode
    print(
        f"rlkit: {failure.describe()}; the group stopped (run dir kept: {path}; continue "
        f"with rlkit train --resume {path})",
        file=sys.stderr,
    )
    return 2 if failure.exitcode == 2 else 1


def run_rank(args: argparse.Namespace) -> int:
    """One rank of a data-parallel run (``WORLD_SIZE`` > 1, set by torch's launcher): join
    the group, plan the run as the command line says (rank 0 with the run dir, the others
    writing nothing), train its share."""
    try:
        ranks = distributed.join(resolve_device(args.device))
    except (RuntimeError, ValueError) as e:
        return report(RunFailed(f"cannot join the process group: {e}"))
    try:
        try:
            if args.resume is not None:
                spec = plan_resume(args.resume, args.device, args.wandb)
                saved = int(spec.resolved.get("nproc", ranks.world))
                if saved != ranks.world:
                    raise BadInput(
                        f"{args.resume} was trained by {saved} ranks; resume it with as many"
                    )
            else:
                if args.algo is None or args.env_id is None:
                    raise BadInput("rlkit train needs an algorithm and an env id")
                spec = plan_run(
                    args.algo,
                    args.env_id,
                    config=args.config,
                    overrides=args.overrides,
                    seed=args.seed,
                    device=args.device,
                    run_dir=(args.run_dir or DEFAULT_RUN_DIR) if ranks.main else None,
                    wandb=args.wandb,
                )
            check_ranks(spec, ranks.world)
        except (BadInput, PermissionError) as e:
            return report(e) if ranks.main else exit_code(e)
        if not ranks.main:
            spec.run_dir = None  # rank 0 writes the run dir
        spec.ranks = ranks
        spec.resolved["nproc"] = ranks.world
        if ranks.main:
            return run_and_report(spec, quiet=args.quiet)
        try:  # the others print only their own failures, named by their rank
            execute(spec, quiet=True, console=io.StringIO())
        except (BadInput, RunFailed) as e:
            return exit_code(e) if distributed.lost_peer(e) else fail(f"rank {ranks.rank}: {e}", 1)
        except (Stopped, KeyboardInterrupt) as e:
            return exit_code(e)
        return 0
    finally:
        distributed.leave()


def run_and_report(spec: RunSpec, quiet: bool = False) -> int:
    """Execute ``spec`` and print how it ended; returns the exit code."""
    try:
        result = execute(spec, quiet=quiet)
    except (BadInput, RunFailed) as e:
        if distributed.lost_peer(e):  # the launcher names the rank that failed
            return exit_code(e)
        return report(e)
    except Stopped as e:
        name = signal.Signals(e.signum).name if e.signum is not None else "request"
        resume = (
            f"; continue with: rlkit train --resume {spec.run_dir.path}"
            if spec.agent.RESUMABLE and spec.implementation == "rlkit"
            else ""
        )
        if e.saved:
            what = f"at step {e.step:,}; checkpoint saved: {spec.run_dir.latest}"
        else:
            last = spec.run_dir.latest
            what = "before it reached a point to save; " + (
                f"the last checkpoint, {last}, is intact"
                if last.is_file()
                else "no checkpoint was written yet"
            )
        print(f"\nstopped by {name} {what}{resume}", file=sys.stderr)
        return exit_code(e)
    except KeyboardInterrupt as e:
        print(f"\ninterrupted; the run so far is in {spec.run_dir.path}", file=sys.stderr)
        return exit_code(e)
    summary = result.summary
    line = ", ".join(
        f"{k} {summary[k]:.6g}"
        for k in ("eval/mean_return", "eval/std_return", "eval/human_normalized", "v_start")
        if k in summary
    )
    print(f"done in {summary['wall_time_s']:.1f}s: {line}\nrun dir: {result.run_dir}")
    return 0


def run_batched_command(args: argparse.Namespace) -> int:
    """``--seeds --batched``: every seed in this process as one batched computation, one run
    dir each under the common parent (as ``--seeds``), then the same table."""
    from rlkit.launch import execute_group, plan_group
    from rlkit.seeds import aggregate_table, parent_dir, parse_seeds

    try:
        seeds = parse_seeds(args.seeds)
        if args.seed is not None:
            raise BadInput("give --seed or --seeds, not both")
        if args.jobs is not None:
            raise BadInput("--jobs is for --seeds in separate processes; --batched runs one")
        if args.env_id is None or args.help_config:
            raise BadInput("rlkit train --seeds --batched needs an algo and an env id")
        parent = parent_dir(args.algo, args.env_id, args.seeds, args.run_dir)
        specs = plan_group(
            args.algo,
            args.env_id,
            seeds,
            parent,
            config=args.config,
            overrides=args.overrides,
            device=args.device,
            wandb=args.wandb,
        )
    except (BadInput, PermissionError) as e:
        return report(e)
    for note in specs[0].notes:
        print(note, file=sys.stderr)
    print(
        f"{len(seeds)} seeds of {args.algo} on {args.env_id} as one batched computation; "
        f"run dirs under {parent}",
        file=sys.stderr,
    )
    try:
        results = execute_group(specs, quiet=args.quiet)
    except (BadInput, RunFailed) as e:
        return report(e)
    except Stopped as e:
        name = signal.Signals(e.signum).name if e.signum is not None else "request"
        print(
            f"\nstopped by {name}: every seed saved its checkpoint; continue one with "
            f"rlkit train --resume {parent}/s<seed>",
            file=sys.stderr,
        )
        return exit_code(e)
    except KeyboardInterrupt as e:
        print(f"\ninterrupted; the runs so far are in {parent}", file=sys.stderr)
        return exit_code(e)
    rows = [
        {"seed": spec.seed, "code": 0, "summary": result.summary}
        for spec, result in zip(specs, results, strict=True)
    ]
    print(aggregate_table(rows))
    print(f"run dirs: {parent}  (rlkit compare {parent})")
    return 0


def run_seeds_study_command(args: argparse.Namespace, implementation: str) -> int:
    """``--seeds --study NAME [--storage URL]``: this process is one worker of the study
    (``rlkit.sweep.seeds``): it trains the seeds no other worker has taken, one at a time,
    until every seed is done."""
    from rlkit.seeds import parse_seeds
    from rlkit.sweep import seeds as seeds_study
    from rlkit.sweep.study import StorageError

    command = "train" if implementation == "rlkit" else "baseline"
    try:
        seeds = parse_seeds(args.seeds)
        if args.study is None:
            raise BadInput("--storage and --artifacts go with --study NAME (and --seeds)")
        if args.seed is not None:
            raise BadInput("give --seed or --seeds, not both")
        if args.batched or (args.jobs is not None and args.jobs != 1):
            raise BadInput(
                "--study runs one seed at a time per worker; start the command once per "
                "worker you want (on this machine or others), without --jobs / --batched"
            )
        if args.env_id is None or args.help_config:
            raise BadInput(f"rlkit {command} --seeds --study needs an algo and an env id")
        parent = args.run_dir if args.run_dir is not None else Path("runs") / args.study
        storage = args.storage or f"sqlite:///{parent.as_posix()}/study.db"
        plan = seeds_study.SeedPlan(
            args.algo,
            args.env_id,
            args.config,
            list(args.overrides),
            args.device,
            args.wandb,
            implementation,
        )
        return seeds_study.run(
            plan, seeds, args.study, storage, args.artifacts, parent, args.heartbeat, args.quiet
        )
    except (BadInput, PermissionError, StorageError) as e:
        return report(e)


def run_seeds_command(args: argparse.Namespace, implementation: str) -> int:
    """``--seeds``: check the command once, run each seed in its own process, print a table."""
    import copy
    import time

    from rlkit.children import ParentSignals
    from rlkit.seeds import SeedJob, aggregate_table, parent_dir, parse_seeds, run_jobs

    command = "train" if implementation == "rlkit" else "baseline"
    if args.study is not None or args.storage is not None or args.artifacts is not None:
        return run_seeds_study_command(args, implementation)
    try:
        seeds = parse_seeds(args.seeds)
        if args.seed is not None:
            raise BadInput("give --seed or --seeds, not both")
        if args.jobs is not None and args.jobs < 1:
            raise BadInput(f"bad value --jobs {args.jobs}; allowed: an integer >= 1")
        if args.env_id is None or args.help_config:
            raise BadInput(f"rlkit {command} --seeds needs an algo and an env id")
        label = args.algo if implementation == "rlkit" else f"sb3-{args.algo}"
        parent = parent_dir(label, args.env_id, args.seeds, args.run_dir)
        probe = copy.copy(args)
        probe.seed, probe.seeds, probe.run_dir = seeds[0], None, parent / f"s{seeds[0]}"
        plan_from_args(probe, implementation)
    except (BadInput, PermissionError) as e:
        return report(e)
    jobs = []
    for seed in seeds:
        argv = [
            sys.executable,
            "-m",
            "rlkit.cli.main",
            command,
            args.algo,
            args.env_id,
            *args.overrides,
            "--seed",
            str(seed),
            "--run-dir",
            str(parent / f"s{seed}"),
            "--device",
            args.device,
            "--wandb",
            args.wandb,
            "--quiet",
        ]
        if args.config is not None:
            argv += ["--config", str(args.config)]
        jobs.append(SeedJob(seed, argv, parent / f"s{seed}", parent / "logs" / f"s{seed}.log"))
    at_once = min(len(seeds), args.jobs or os.cpu_count() or 1)
    print(
        f"{len(seeds)} seeds of {label} on {args.env_id}, {at_once} at a time; run dirs under "
        f"{parent}",
        file=sys.stderr,
    )
    start = time.perf_counter()
    finished = []

    def done(row: dict[str, Any]) -> None:
        finished.append(row)
        summary = row["summary"]
        what = (
            f"eval {summary['eval/mean_return']:.4g}"
            if summary
            else f"FAILED (exit {row['code']}), see {row['log']}"
        )
        print(
            f"seed {row['seed']}: {what} ({len(finished)}/{len(seeds)}, "
            f"{time.perf_counter() - start:.0f}s)",
            file=sys.stderr,
        )

    with ParentSignals() as caught:
        rows = run_jobs(jobs, at_once, done, stop=caught, grace=STOP_GRACE_S + 5)
    if caught.signum is not None:
        name = signal.Signals(caught.signum).name
        print(
            f"\nstopped by {name}: each running seed saved what it could and stopped; "
            f"continue one with rlkit train --resume {parent}/s<seed>",
            file=sys.stderr,
        )
        return 128 + caught.signum
    print(aggregate_table(rows))
    print(f"run dirs: {parent}  (rlkit compare {parent})")
    codes = [r["code"] for r in rows if r["code"] != 0]
    return codes[0] if codes else 0
