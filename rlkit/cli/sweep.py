"""``rlkit sweep <algo> <env-id> --space FILE``: hyperparameter search on Optuna.

Every trial is an ordinary run directory (``<study-dir>/trial-NNNN``) trained by the same
code as ``rlkit train``; its periodic ``eval/mean_return`` feeds the pruner, its
``summary.json`` gives the trial's value (``eval/auc`` or the final eval mean). The study
lives in Optuna's storage: a SQLite file by default (``sqlite:///runs/<study>/study.db``,
nothing to start), or a PostgreSQL server that workers on many machines share. A worker
runs trials until the study holds ``--trials`` trials that did not fail; the trial number
the storage hands out decides who is over the budget, so workers never repeat or exceed
it. Heartbeats mark the trial of a worker that died as failed, and another trial replaces
it. ``--jobs K`` starts K worker processes. ``--report`` summarizes a study: best value and
parameters, the trials, parameter importances, two plots and the best config as YAML.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import socket
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents import ALGORITHMS
from rlkit.cli.common import DEVICES, fail, load_agent
from rlkit.config import build_config, config_dict, merge, parse_overrides
from rlkit.errors import BadInput
from rlkit.logging import WANDB_MODES
from rlkit.rundir import safe_name
from rlkit.sweep import (
    OBJECTIVES,
    PRUNERS,
    SAMPLERS,
    Space,
    TrialReporter,
    check_space,
    decode_choice,
    make_pruner,
    make_sampler,
    nest,
    read_space,
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
    p.add_argument("--trials", metavar="N", type=int, help="trials that do not fail, in the whole study "
                   "(default: the W&B file's run_cap, the grid's size, else 20)")  # fmt: skip
    p.add_argument(
        "--jobs",
        metavar="K",
        type=int,
        default=1,
        help="worker processes on this machine (default 1)",
    )
    p.add_argument("--study", metavar="NAME", help="study name (default <algo>-<env-id>); workers with the same "
                   "name and storage share one study")  # fmt: skip
    p.add_argument("--storage", metavar="URL", help="Optuna storage URL (default sqlite:///<dir>/study.db); "
                   "postgresql://user@host/db for many machines")  # fmt: skip
    p.add_argument("--dir", metavar="DIR", type=Path, help="the study's folder for trial run dirs and the "
                   "report (default runs/<study>)")  # fmt: skip
    p.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="base YAML config (default configs/<algo>/<env-id>.yaml)",
    )
    p.add_argument("--objective", choices=tuple(OBJECTIVES), help="auc: eval/auc (default); "
                   "final: the final eval mean")  # fmt: skip
    p.add_argument("--sampler", choices=SAMPLERS, help="default tpe (a W&B file's method decides)")
    p.add_argument("--pruner", choices=PRUNERS, help="default median (W&B hyperband: hyperband)")
    p.add_argument("--startup-trials", metavar="N", type=int, default=5, help="trials drawn at random and "
                   "never pruned before TPE and the median pruner start (default 5)")  # fmt: skip
    p.add_argument("--warmup-steps", metavar="N", type=int, help="no pruning before this env step "
                   "(default a third of total_steps)")  # fmt: skip
    p.add_argument(
        "--seed",
        metavar="N",
        type=int,
        default=0,
        help="the seed every trial trains with (default 0)",
    )
    p.add_argument("--sampler-seed", metavar="N", type=int, help="seed of the sampler (default fresh per "
                   "worker; worker i of --jobs uses seed+i)")  # fmt: skip
    p.add_argument("--heartbeat", metavar="S", type=int, default=60, help="seconds between a worker's "
                   "heartbeats; a trial silent for twice that is failed (default 60)")  # fmt: skip
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


class TrialFailed(Exception):
    """A trial whose run exited with an error (the study goes on)."""


class OverBudget(Exception):
    """A trial created after the study already held its budget (never run)."""


@dataclass
class Plan:
    """A checked sweep: everything a worker needs."""

    algo: str
    env_id: str
    space: Space
    trials: int
    study: str
    storage: str
    dir: Path
    objective: str
    direction: str
    sampler: str
    pruner: str
    base: dict[str, Any]
    """A trial's config before the draws: file, overrides and the space's fixed fields."""
    identity: dict[str, Any]
    """What every worker of the study must agree on (stored with the study)."""
    device: str = "cpu"
    """Where trials train (``cpu`` or ``cuda``)."""


def main(args: argparse.Namespace) -> int:
    """Run trials (or ``--report``); exit 2 on bad input before anything starts."""
    if args.report:
        return report(args)
    try:
        plan = make_plan(args)
    except BadInput as e:
        return fail(str(e), 2)
    try:
        study = open_study(plan, args, seed=args.sampler_seed)
    except BadInput as e:
        return fail(str(e), 2)
    except StorageError as e:
        return fail(str(e), 1)
    if args.jobs > 1 and args.worker is None:
        return spawn_workers(args, plan, study)
    return work(study, plan, args)


# ---------------------------------------------------------------- planning


def make_plan(args: argparse.Namespace) -> Plan:
    """Every check that can fail on bad input: algo, env, config, space, options."""
    from rlkit.cli.train import prepare

    if args.algo is None or args.env_id is None:
        raise BadInput(
            "rlkit sweep needs an algorithm and an env id, e.g. rlkit sweep ppo CartPole-v1 --space FILE"
        )
    if args.space is None:
        raise BadInput("rlkit sweep needs --space FILE (rl-zoo style or a W&B sweep file)")
    for name in ("trials", "jobs", "startup_trials", "heartbeat"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "startup_trials" else 1):
            raise BadInput(f"bad value --{name.replace('_', '-')} {value}; allowed: an integer >= "
                           f"{0 if name == 'startup_trials' else 1}")  # fmt: skip
    if args.warmup_steps is not None and args.warmup_steps < 0:
        raise BadInput(f"bad value --warmup-steps {args.warmup_steps}; allowed: an integer >= 0")
    if args.seed < 0:
        raise BadInput(f"bad value --seed {args.seed}; allowed: an integer >= 0")
    agent = load_agent(args.algo)
    if agent.ALGO in ("value-iteration", "policy-iteration"):
        raise BadInput(
            f"{agent.ALGO} is exact planning with nothing to tune by evaluation; sweep a learning agent"
        )
    space = read_space(args.space)
    given = parse_overrides(args.overrides)
    for name in [*space.fixed, *(p.name for p in space.params)]:
        node: Any = given
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            raise BadInput(f"{name} is set both by the space {args.space} and by {name}=... on the "
                           "command line; keep one")  # fmt: skip
    study = args.study or f"{agent.ALGO}-{safe_name(args.env_id)}"
    safe_name(study)
    folder = args.dir if args.dir is not None else Path("runs") / study
    probe = argparse.Namespace(
        algo=args.algo, env_id=args.env_id, overrides=list(args.overrides), config=args.config,
        seed=args.seed, run_dir=folder / "trial-check", device=args.device, wandb=args.wandb,
        help_config=False,
    )  # fmt: skip
    prepared = prepare(probe)
    config, env_id = prepared[1], prepared[2]
    for clash in check_space(space, agent.Config, config_dict(config)):
        print(f"rlkit sweep: warning: {clash}; trials that draw it will fail", file=sys.stderr)
    base = config_dict(build_config(agent.Config, merge(config_dict(config), nest(space.fixed))))
    sampler = args.sampler or space.sampler
    if sampler == "grid":
        grid_size = 1
        for values in space.grid().values():
            grid_size *= len(values)
    trials = args.trials or space.trials or (grid_size if sampler == "grid" else 20)
    if sampler == "grid" and trials > grid_size:
        print(f"rlkit sweep: the grid has {grid_size} points; running {grid_size} trials, not {trials}",
              file=sys.stderr)  # fmt: skip
        trials = grid_size
    objective = args.objective or space.objective or "auc"
    storage = args.storage or f"sqlite:///{folder.as_posix()}/study.db"
    identity = {
        "algo": agent.ALGO,
        "env_id": env_id,
        "space": space.to_dict(),
        "objective": objective,
        "base": json.loads(json.dumps(base)),
        "seed": args.seed,
    }
    return Plan(agent.ALGO, env_id, space, trials, study, storage, folder, objective,
                space.direction, sampler, args.pruner or space.pruner or "median", base, identity,
                prepared[4].type)  # fmt: skip


# ---------------------------------------------------------------- storage


class StorageError(Exception):
    """The storage could not be reached or opened (exit 1)."""


def open_storage(url: str, heartbeat: int | None = None, create: bool = True) -> Any:
    """Optuna's RDB storage for ``url`` with heartbeats; a SQLite file's folder is made
    (unless ``create`` is false, when a missing file is ``BadInput``)."""
    import optuna
    import sqlalchemy.exc

    engine: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        if not create and not path.is_file():
            raise BadInput(
                f"no study storage at {path} (give --storage, or --study of a sweep run here)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = {"connect_args": {"timeout": 60}}
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]  # the driver rlkit installs
    elif not url.startswith(("postgresql", "mysql", "sqlite")):
        raise BadInput(
            f"bad --storage {url!r}; expected sqlite:///FILE or postgresql://user@host/db"
        )
    kwargs: dict[str, Any] = {}
    if heartbeat is not None:
        kwargs = {"heartbeat_interval": heartbeat, "grace_period": 2 * heartbeat}
    for attempt in range(6):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # heartbeat arguments are marked experimental
                return optuna.storages.RDBStorage(url, engine_kwargs=engine, **kwargs)
        except sqlalchemy.exc.ArgumentError as e:
            raise BadInput(f"bad --storage {url!r}: {e}") from None
        except (sqlalchemy.exc.DBAPIError, ModuleNotFoundError) as e:
            first = str(e).strip().splitlines()[0]
            # workers started together race to create the tables: the loser tries again
            if attempt < 5 and any(
                w in first.lower() for w in ("already exists", "duplicate", "unique", "locked")
            ):
                time.sleep(0.5 + attempt)
                continue
            raise StorageError(f"cannot open the study storage {_redact(url)}: {first}") from None
    raise AssertionError("unreachable")


def _redact(url: str) -> str:
    """A storage URL without its password."""
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, cred = head.partition("//")
    return f"{scheme}//{cred.split(':', 1)[0]}:***@{tail}"


def open_study(plan: Plan, args: argparse.Namespace, seed: int | None) -> Any:
    """Create or join the study; refuse one that holds another sweep."""
    import optuna

    # Optuna would log each failed trial with a traceback; the worker prints one line instead
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = open_storage(plan.storage, args.heartbeat)
    total = int(plan.base.get("total_steps", 1))
    warmup = args.warmup_steps if args.warmup_steps is not None else total // 3
    interval = int(plan.base.get("eval_interval", 0)) or total
    study = optuna.create_study(
        study_name=plan.study,
        storage=storage,
        sampler=make_sampler(plan.sampler, plan.space, seed, args.startup_trials),
        pruner=make_pruner(plan.pruner, args.startup_trials, warmup, interval, total),
        direction=plan.direction,
        load_if_exists=True,
    )
    held = study.user_attrs.get("rlkit")
    if held is None:
        study.set_user_attr("rlkit", plan.identity)
    else:
        for key, value in plan.identity.items():
            if held.get(key) != value:
                raise BadInput(f"study {plan.study!r} in {_redact(plan.storage)} holds another sweep "
                               f"({key} differs: {_short(held.get(key))} there, {_short(value)} here); "
                               "use another --study")  # fmt: skip
    return study


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------- running trials


def fail_stale(study: Any) -> None:
    """Mark failed the running trials whose worker stopped sending heartbeats."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _live(trial: Any) -> bool:
    import optuna

    return trial.state != optuna.trial.TrialState.FAIL


def work(study: Any, plan: Plan, args: argparse.Namespace) -> int:
    """Run trials until the study holds ``plan.trials`` trials that did not fail."""
    import optuna

    failures: list[str] = []
    tag = f"worker {args.worker}: " if args.worker is not None else ""
    start = time.perf_counter()

    def objective(trial: optuna.Trial) -> float:
        ahead = [
            t for t in study.get_trials(deepcopy=False) if t.number < trial.number and _live(t)
        ]
        if len(ahead) >= plan.trials:
            trial.set_user_attr("skipped", "the study already held its trial budget")
            raise OverBudget
        return run_trial(trial, plan, args)

    def report_line(_study: Any, trial: optuna.trial.FrozenTrial) -> None:
        if trial.user_attrs.get("skipped"):
            return
        params = ", ".join(f"{k}={_fmt(decode_choice(v))}" for k, v in trial.params.items())
        wall = f"{trial.duration.total_seconds():.0f}s" if trial.duration else ""
        if trial.state == optuna.trial.TrialState.COMPLETE:
            what = f"{plan.objective} {trial.value:.6g}"
        elif trial.state == optuna.trial.TrialState.PRUNED:
            step = max(trial.intermediate_values) if trial.intermediate_values else 0
            what = f"pruned at step {step:,}"
        else:
            what = f"FAILED: {trial.user_attrs.get('error', 'see its run dir')}"
            failures.append(what)
        print(f"{tag}trial {trial.number}: {what} ({params}) {wall}", file=sys.stderr)

    while True:
        fail_stale(study)
        trials = study.get_trials(deepcopy=False)
        if sum(_live(t) for t in trials) >= plan.trials:
            break
        if len(failures) >= max(3, plan.trials):
            return fail(f"{len(failures)} trials failed here; the last: {failures[-1]}", 1)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.optimize(objective, n_trials=1, catch=(TrialFailed, OverBudget),
                               callbacks=[report_line], gc_after_trial=False)  # fmt: skip
        except KeyboardInterrupt:
            print(f"\n{tag}interrupted; the trial was marked failed; rerun the same command to "
                  "continue the study", file=sys.stderr)  # fmt: skip
            return 130
    if args.worker is None:
        print(summary_line(study, plan, time.perf_counter() - start))
    return 0


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def run_trial(trial: Any, plan: Plan, args: argparse.Namespace) -> float:
    """Train one trial's run dir; its value from ``summary.json``."""
    import optuna

    from rlkit.cli.train import execute, prepare

    params = plan.space.suggest(trial)
    run_dir = plan.dir / f"trial-{trial.number:04d}"
    trial.set_user_attr("run_dir", str(run_dir.resolve()))
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    trial_args = argparse.Namespace(
        algo=plan.algo, env_id=plan.env_id, config=args.config, seed=args.seed, run_dir=run_dir,
        device=args.device, wandb=args.wandb, help_config=False,
        overrides=merge(parse_overrides(args.overrides), nest(params)),
    )  # fmt: skip
    try:
        prepared = prepare(trial_args)
    except BadInput as e:
        trial.set_user_attr("error", str(e))
        raise TrialFailed(str(e)) from None
    with contextlib.redirect_stdout(io.StringIO()):  # the trial line below says it all
        code = execute(
            *prepared,
            quiet=args.quiet or args.worker is not None,
            group=plan.study,
            tags=("sweep", plan.study),
            listeners=[TrialReporter(trial)],
            reraise=(optuna.TrialPruned,),
        )
    if code in (130, 143):
        trial.set_user_attr("error", "interrupted")
        raise KeyboardInterrupt
    summary_path = run_dir / "summary.json"
    if code != 0 or not summary_path.is_file():
        trial.set_user_attr("error", f"the run exited {code}; see {run_dir}")
        raise TrialFailed(f"exit {code}")
    summary = json.loads(summary_path.read_text())
    key = OBJECTIVES[plan.objective]
    for name in ("eval/mean_return", "eval/auc", "wall_time_s"):
        if name in summary:
            trial.set_user_attr(name, summary[name])
    return float(summary[key])


def spawn_workers(args: argparse.Namespace, plan: Plan, study: Any) -> int:
    """``--jobs K``: K worker processes on the same study, each with cores/K threads.

    On the CPU the workers are forked from this process, which has imported and checked
    everything already, so they start at once; with CUDA (which must not be forked once
    initialized) they start fresh (``spawn``)."""
    import multiprocessing

    jobs = args.jobs
    threads = max(1, (os.cpu_count() or 1) // jobs)
    logs = plan.dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"study {plan.study}: {plan.trials} trials of {plan.algo} on {plan.env_id}, {jobs} workers; "
          f"storage {_redact(plan.storage)}; run dirs under {plan.dir}", file=sys.stderr)  # fmt: skip
    _close_storage(study)  # a database connection must not cross a fork
    method = (
        "fork"
        if "fork" in multiprocessing.get_all_start_methods() and plan.device == "cpu"
        else "spawn"
    )
    context = multiprocessing.get_context(method)
    procs = []
    start = time.perf_counter()
    for i in range(jobs):
        child = copy.copy(args)
        child.worker = i
        if args.sampler_seed is not None:
            child.sampler_seed = args.sampler_seed + i
        proc = context.Process(target=_worker_main, args=(child, plan, logs / f"worker-{i}.log", threads),
                               name=f"rlkit-sweep-worker-{i}")  # fmt: skip
        proc.start()
        procs.append(proc)
    try:
        for proc in procs:
            proc.join()
    except KeyboardInterrupt:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join()
        print(
            f"\ninterrupted; rerun the same command to continue study {plan.study}", file=sys.stderr
        )
        return 130
    import optuna

    study = optuna.load_study(
        study_name=plan.study, storage=open_storage(plan.storage, args.heartbeat)
    )
    print(summary_line(study, plan, time.perf_counter() - start))
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    return bad[0] if bad else 0


def _worker_main(args: argparse.Namespace, plan: Plan, log: Path, threads: int) -> None:
    """One worker process of ``--jobs``: its stdout to ``log``, trials until the budget is met."""
    import torch

    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.close(fd)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    try:
        study = open_study(plan, args, seed=args.sampler_seed)
        code = work(study, plan, args)
    except (BadInput, StorageError) as e:
        code = fail(f"worker {args.worker}: {e}", 1)
    sys.stdout.flush()
    sys.exit(code)


def _close_storage(study: Any) -> None:
    """Close the pooled database connections of ``study``'s storage."""
    storage = getattr(study, "_storage", None)
    engine = getattr(getattr(storage, "_backend", storage), "engine", None)
    if engine is not None:
        engine.dispose()


def summary_line(study: Any, plan: Plan, wall: float) -> str:
    """The end of a sweep: counts, the best trial, where to look next."""
    import optuna

    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("skipped")]
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in optuna.trial.TrialState}
    done = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    lines = [f"study {plan.study}: {done} ({wall:.0f}s here)"]
    try:
        best = study.best_trial
    except ValueError:
        lines.append("no trial completed")
    else:
        params = ", ".join(f"{k}={_fmt(decode_choice(v))}" for k, v in best.params.items())
        lines.append(f"best: trial {best.number}, {plan.objective} {best.value:.6g} ({params})")
    storage = (
        ""
        if plan.storage == f"sqlite:///{plan.dir.as_posix()}/study.db"
        else f" --storage {_redact(plan.storage)}"
    )
    lines.append(f"report: rlkit sweep --report --study {plan.study}{storage}"
                 + (f" --dir {plan.dir}" if plan.dir != Path("runs") / plan.study else ""))  # fmt: skip
    return "\n".join(lines)


# ---------------------------------------------------------------- report


def report(args: argparse.Namespace) -> int:
    """``--report``: print the study and write plots, report.json and the best config."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        if args.algo is not None or args.space is not None:
            raise BadInput(
                "--report reads a study: give --study NAME (and --storage URL), not an algo or space"
            )
        if args.study is None:
            raise BadInput("--report needs --study NAME")
        safe_name(args.study)
        folder = args.dir if args.dir is not None else Path("runs") / args.study
        url = args.storage or f"sqlite:///{folder.as_posix()}/study.db"
        storage = open_storage(url, heartbeat=args.heartbeat, create=False)
        try:
            study = optuna.load_study(study_name=args.study, storage=storage)
        except KeyError:
            names = optuna.get_all_study_names(storage)
            raise BadInput(f"no study {args.study!r} in {_redact(url)}; it holds: "
                           f"{', '.join(names) or 'none'}") from None  # fmt: skip
    except BadInput as e:
        return fail(str(e), 2)
    except StorageError as e:
        return fail(str(e), 1)
    fail_stale(study)
    out = args.out if args.out is not None else folder / "report"
    result = build_report(study)
    print(result["text"])
    out.mkdir(parents=True, exist_ok=True)
    written = write_report_files(study, result, out)
    print("wrote: " + ", ".join(str(p) for p in written))
    return 0


def build_report(study: Any) -> dict[str, Any]:
    """Best trial, table, importances: as data and as text."""
    import optuna

    identity = study.user_attrs.get("rlkit", {})
    objective = identity.get("objective", "value")
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("skipped")]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in optuna.trial.TrialState}
    what = (
        f"{identity.get('algo', '?')} on {identity.get('env_id', '?')}"
        if identity
        else "not an rlkit sweep"
    )
    lines = [f"study {study.study_name}: {what}; objective {OBJECTIVES.get(objective, objective)} "
             f"({study.direction.name.lower()}); {len(trials)} trials: "
             + ", ".join(f"{n} {name}" for name, n in counts.items() if n)]  # fmt: skip
    data: dict[str, Any] = {"study": study.study_name, "objective": objective, "counts": counts,
                            "best": None, "importances": {}, "trials": []}  # fmt: skip
    if complete:
        best = study.best_trial
        params = {k: decode_choice(v) for k, v in best.params.items()}
        data["best"] = {"number": best.number, "value": best.value, "params": params,
                        "run_dir": best.user_attrs.get("run_dir")}  # fmt: skip
        lines.append(f"best: trial {best.number}, value {best.value:.6g}")
        lines += [f"  {k} = {_fmt(v)}" for k, v in params.items()]
        if best.user_attrs.get("run_dir"):
            lines.append(f"  run dir: {best.user_attrs['run_dir']}")
    else:
        lines.append("best: none yet (no trial completed)")
    names = sorted({k for t in trials for k in t.params})
    params = {t.number: {k: decode_choice(v) for k, v in t.params.items()} for t in trials}
    # each parameter's column as wide as its name or its widest value
    cells = {n: {k: _fmt(v) for k, v in p.items()} for n, p in params.items()}
    widths = {k: max([len(k), *(len(c.get(k, "-")) for c in cells.values())]) for k in names}
    header = (
        f"{'trial':>5} {'state':<8} {'value':>10} {'last eval':>10} {'step':>9} {'wall s':>7}  "
        + "  ".join(f"{k:<{widths[k]}}" for k in names)
    ).rstrip()
    lines += ["", header]
    for t in sorted(trials, key=lambda t: t.number):
        step = max(t.intermediate_values) if t.intermediate_values else None
        last = t.intermediate_values[step] if step is not None else None
        wall = t.duration.total_seconds() if t.duration else None
        # Optuna gives a pruned trial its last eval as value: only a finished trial has one
        value = t.value if t.state == optuna.trial.TrialState.COMPLETE else None
        row = {"number": t.number, "state": t.state.name.lower(), "value": value, "last_eval": last,
               "step": step, "wall_s": wall, "params": params[t.number],
               "error": t.user_attrs.get("error"),
               "run_dir": t.user_attrs.get("run_dir"), "worker": t.user_attrs.get("worker")}  # fmt: skip
        data["trials"].append(row)
        line = (f"{t.number:>5} {row['state']:<8} {_cell(value):>10} {_cell(last):>10} "
                f"{'' if step is None else f'{step:,}':>9} {_cell(wall, '.0f'):>7}  "
                + "  ".join(f"{cells[t.number].get(k, '-'):<{widths[k]}}" for k in names))  # fmt: skip
        lines.append(line.rstrip())
    if len(complete) >= 2 and names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                imp = optuna.importance.get_param_importances(
                    study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
                )
        except (ValueError, RuntimeError) as e:
            lines += ["", f"parameter importances: not available ({e})"]
        else:
            data["importances"] = dict(imp)
            lines += ["", "parameter importances (fANOVA):"]
            lines += [f"  {k:<24} {v:.3f}" for k, v in imp.items()]
    else:
        lines += ["", "parameter importances: need at least two completed trials"]
    data["text"] = "\n".join(lines)
    return data


def _cell(value: Any, spec: str = ".5g") -> str:
    return "" if value is None else format(value, spec)


def write_report_files(study: Any, result: dict[str, Any], out: Path) -> list[Path]:
    """history.png, importance.png, report.json and best-config.yaml (when there is a best)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna

    from rlkit.io import atomic_write_json, atomic_write_text, atomic_write_yaml

    written = []
    plots = [("history.png", optuna.visualization.matplotlib.plot_optimization_history, {})]
    if result["importances"]:
        plots.append(("importance.png", optuna.visualization.matplotlib.plot_param_importances,
                      {"evaluator": optuna.importance.FanovaImportanceEvaluator(seed=0)}))  # fmt: skip
    for name, plot, kwargs in plots:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ax = plot(study, **kwargs)
        fig = ax.figure
        for loc in ("left", "right"):  # Optuna titles some plots on the left: one title only
            ax.set_title("", loc=loc)
        if name == "history.png":
            ax.set_title(
                f"study {study.study_name}: {OBJECTIVES.get(result['objective'], 'value')} by trial"
            )
            ax.set_ylabel(OBJECTIVES.get(result["objective"], "objective value"))
        else:
            ax.set_title(f"study {study.study_name}: parameter importances (fANOVA)")
            if ax.get_legend() is not None:  # one series, named after the objective: no legend
                ax.get_legend().remove()
        fig.set_size_inches(8, 4.5)
        fig.tight_layout()
        tmp = out / f".{name}.tmp.png"
        fig.savefig(tmp, dpi=110)
        plt.close(fig)
        os.replace(tmp, out / name)
        written.append(out / name)
    data = {k: v for k, v in result.items() if k != "text"}
    atomic_write_json(out / "report.json", data)
    atomic_write_text(out / "report.txt", result["text"] + "\n")
    written += [out / "report.json", out / "report.txt"]
    identity = study.user_attrs.get("rlkit")
    if result["best"] is not None and identity:
        agent = load_agent(identity["algo"])
        space_fixed = identity["space"].get("fixed", {})
        values = merge(merge(identity["base"], nest(space_fixed)), nest(result["best"]["params"]))
        config = build_config(agent.Config, values)
        best = {"algo": identity["algo"], "env_id": identity["env_id"], "seed": identity["seed"],
                **config_dict(config)}  # fmt: skip
        path = out / "best-config.yaml"
        atomic_write_yaml(path, best)
        written.append(path)
        print(f"train it: rlkit train {identity['algo']} {identity['env_id']} --config {path}")
    return written
