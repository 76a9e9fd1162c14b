"""Running a sweep: the plan, Optuna's storage and study, workers and their trials.

Every trial is an ordinary run directory (``<study-dir>/trial-NNNN``) trained by
``rlkit.launch`` exactly as ``rlkit train`` trains; its periodic ``eval/mean_return`` feeds
the pruner, its summary gives the trial's value (``eval/auc`` or the final eval mean). The
study lives in Optuna's storage: a SQLite file by default (``sqlite:///runs/<study>/study.db``,
nothing to start), or a PostgreSQL server that workers on many machines share. A worker runs
trials until the study holds ``trials`` trials that did not fail; the trial number the
storage hands out decides who is over the budget, so workers never repeat or exceed it.
Heartbeats mark the trial of a worker that died as failed, and another trial replaces it.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import signal
import socket
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlkit import launch
from rlkit.children import ParentSignals, stop_children
from rlkit.config import build_config, config_dict, merge, parse_overrides
from rlkit.errors import BadInput, RunFailed, Stopped
from rlkit.launch import STOP_GRACE_S
from rlkit.rundir import safe_name
from rlkit.sweep import gather
from rlkit.sweep.space import (
    OBJECTIVES,
    Space,
    TrialReporter,
    check_space,
    decode_choice,
    make_pruner,
    make_sampler,
    nest,
    read_space,
)


@dataclass
class SweepOptions:
    """What ``rlkit sweep`` was asked (the command line, typed)."""

    algo: str | None
    env_id: str | None
    space: Path | None
    overrides: list[str] = field(default_factory=list)
    """``key=value`` fields for every trial."""
    trials: int | None = None
    jobs: int = 1
    study: str | None = None
    storage: str | None = None
    dir: Path | None = None
    config: Path | None = None
    objective: str | None = None
    sampler: str | None = None
    pruner: str | None = None
    startup_trials: int = 5
    warmup_steps: int | None = None
    seed: int = 0
    sampler_seed: int | None = None
    heartbeat: int = 60
    device: str = "auto"
    wandb: str = "offline"
    quiet: bool = False
    worker: int | None = None
    """The index of this worker among ``jobs`` (None: the command itself)."""
    artifacts: str | None = None
    """Where finished trials upload their results (``rlkit.sweep.gather``; default: the
    study's own store, else ``<dir>/artifacts``)."""


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


# ---------------------------------------------------------------- planning


def make_plan(opts: SweepOptions) -> Plan:
    """Every check that can fail on bad input: algo, env, config, space, options."""
    if opts.algo is None or opts.env_id is None:
        raise BadInput(
            "rlkit sweep needs an algorithm and an env id, e.g. rlkit sweep ppo CartPole-v1 --space FILE"
        )
    if opts.space is None:
        raise BadInput("rlkit sweep needs --space FILE (rl-zoo style or a W&B sweep file)")
    for name in ("trials", "jobs", "startup_trials", "heartbeat"):
        value = getattr(opts, name)
        if value is not None and value < (0 if name == "startup_trials" else 1):
            raise BadInput(
                f"bad value --{name.replace('_', '-')} {value}; allowed: an integer >= "
                f"{0 if name == 'startup_trials' else 1}"
            )
    if opts.warmup_steps is not None and opts.warmup_steps < 0:
        raise BadInput(f"bad value --warmup-steps {opts.warmup_steps}; allowed: an integer >= 0")
    if opts.seed < 0:
        raise BadInput(f"bad value --seed {opts.seed}; allowed: an integer >= 0")
    agent = launch.load_agent(opts.algo)
    if getattr(agent, "PLANNER", False):
        raise BadInput(
            f"{agent.ALGO} is exact planning with nothing to tune by evaluation; sweep a learning agent"
        )
    space = read_space(opts.space)
    given = parse_overrides(opts.overrides)
    for name in [*space.fixed, *(p.name for p in space.params)]:
        node: Any = given
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            raise BadInput(
                f"{name} is set both by the space {opts.space} and by {name}=... on the "
                "command line; keep one"
            )
    study = opts.study or f"{agent.ALGO}-{safe_name(opts.env_id)}"
    safe_name(study)
    folder = opts.dir if opts.dir is not None else Path("runs") / study
    spec = launch.plan_run(
        opts.algo,
        opts.env_id,
        config=opts.config,
        overrides=opts.overrides,
        seed=opts.seed,
        device=opts.device,
        run_dir=folder / "trial-check",
        wandb=opts.wandb,
    )
    config, env_id = spec.config, spec.env_id
    for clash in check_space(space, agent.Config, config_dict(config)):
        print(f"rlkit sweep: warning: {clash}; trials that draw it will fail", file=sys.stderr)
    base = config_dict(build_config(agent.Config, merge(config_dict(config), nest(space.fixed))))
    sampler = opts.sampler or space.sampler
    if sampler == "grid":
        grid_size = 1
        for values in space.grid().values():
            grid_size *= len(values)
    trials = opts.trials or space.trials or (grid_size if sampler == "grid" else 20)
    if sampler == "grid" and trials > grid_size:
        print(
            f"rlkit sweep: the grid has {grid_size} points; running {grid_size} trials, not {trials}",
            file=sys.stderr,
        )
        trials = grid_size
    objective = opts.objective or space.objective or "auc"
    storage = opts.storage or f"sqlite:///{folder.as_posix()}/study.db"
    identity = {
        "algo": agent.ALGO,
        "env_id": env_id,
        "space": space.to_dict(),
        "objective": objective,
        "base": json.loads(json.dumps(base)),
        "seed": opts.seed,
    }
    return Plan(
        agent.ALGO,
        env_id,
        space,
        trials,
        study,
        storage,
        folder,
        objective,
        space.direction,
        sampler,
        opts.pruner or space.pruner or "median",
        base,
        identity,
        spec.device.type,
    )


# ---------------------------------------------------------------- storage


class StorageError(RunFailed):
    """The storage could not be reached or opened (exit 1)."""


def open_storage(
    url: str, heartbeat: int | None = None, create: bool = True, retry: bool = False
) -> Any:
    """Optuna's RDB storage for ``url`` with heartbeats; a SQLite file's folder is made
    (unless ``create`` is false, when a missing file is ``BadInput``). With ``retry``, a
    trial whose worker stopped beating goes back in the queue with its parameters
    (``RetryFailedTrialCallback``) for another worker to take."""
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
        if retry:  # (renamed in Optuna 4.9; both experimental)
            retry_cls = getattr(
                optuna.storages,
                "RetryHeartbeatStaleTrialCallback",
                optuna.storages.RetryFailedTrialCallback,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                kwargs["failed_trial_callback"] = retry_cls()
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


def open_study(plan: Plan, opts: SweepOptions, seed: int | None) -> Any:
    """Create or join the study; refuse one that holds another sweep."""
    import optuna

    # Optuna would log each failed trial with a traceback; the worker prints one line instead
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = open_storage(plan.storage, opts.heartbeat)
    total = int(plan.base.get("total_steps", 1))
    warmup = opts.warmup_steps if opts.warmup_steps is not None else total // 3
    interval = int(plan.base.get("eval_interval", 0)) or total
    study = optuna.create_study(
        study_name=plan.study,
        storage=storage,
        sampler=make_sampler(plan.sampler, plan.space, seed, opts.startup_trials),
        pruner=make_pruner(plan.pruner, opts.startup_trials, warmup, interval, total),
        direction=plan.direction,
        load_if_exists=True,
    )
    held = study.user_attrs.get("rlkit")
    if held is None:
        study.set_user_attr("rlkit", plan.identity)
    else:
        for key, value in plan.identity.items():
            if held.get(key) != value:
                raise BadInput(
                    f"study {plan.study!r} in {_redact(plan.storage)} holds another sweep "
                    f"({key} differs: {_short(held.get(key))} there, {_short(value)} here); "
                    "use another --study"
                )
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


def work(study: Any, plan: Plan, opts: SweepOptions) -> None:
    """Run trials until the study holds ``plan.trials`` trials that did not fail.

    Raises ``RunFailed`` when as many trials failed here as the budget (at least 3), and
    ``KeyboardInterrupt`` (after saying how to continue) when interrupted."""
    import optuna

    failures: list[str] = []
    tag = f"worker {opts.worker}: " if opts.worker is not None else ""
    start = time.perf_counter()
    store, _ = gather.study_store(study, opts.artifacts, plan.dir / "artifacts")

    def objective(trial: optuna.Trial) -> float:
        ahead = [
            t for t in study.get_trials(deepcopy=False) if t.number < trial.number and _live(t)
        ]
        if len(ahead) >= plan.trials:
            trial.set_user_attr("skipped", "the study already held its trial budget")
            raise OverBudget
        return run_trial(trial, plan, opts, store)

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
            raise RunFailed(f"{len(failures)} trials failed here; the last: {failures[-1]}")
        try:
            run_one_trial(study, objective, (TrialFailed, OverBudget), report_line)
        except KeyboardInterrupt:
            print(
                f"\n{tag}interrupted; the trial was marked failed; rerun the same command to "
                "continue the study",
                file=sys.stderr,
            )
            raise
    if opts.worker is None:
        print(summary_line(study, plan, time.perf_counter() - start))


def run_one_trial(study: Any, objective: Any, catch: tuple[type, ...], callback: Any) -> None:
    """One trial of ``study`` (Optuna's ``optimize``, so heartbeats beat while it runs),
    the exceptions in ``catch`` failing it, ``callback`` seeing it end."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.optimize(
            objective, n_trials=1, catch=catch, callbacks=[callback], gc_after_trial=False
        )


def record_summary(trial: Any, summary: dict[str, Any]) -> None:
    """A finished run's final evaluation, AUC and wall time as the trial's attributes."""
    for name in ("eval/mean_return", "eval/auc", "wall_time_s"):
        if name in summary:
            trial.set_user_attr(name, summary[name])


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def run_trial(trial: Any, plan: Plan, opts: SweepOptions, store: Any = None) -> float:
    """Train one trial's run dir; its value from the run's summary. With ``store``, the
    finished run's results are uploaded there (``rlkit.sweep.gather``)."""
    import optuna

    params = plan.space.suggest(trial)
    run_dir = plan.dir / f"trial-{trial.number:04d}"
    trial.set_user_attr("label", run_dir.name)
    trial.set_user_attr("run_dir", str(run_dir.resolve()))
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    try:
        spec = launch.plan_run(
            plan.algo,
            plan.env_id,
            config=opts.config,
            overrides=merge(parse_overrides(opts.overrides), nest(params)),
            seed=opts.seed,
            device=opts.device,
            run_dir=run_dir,
            wandb=opts.wandb,
        )
    except BadInput as e:
        trial.set_user_attr("error", str(e))
        raise TrialFailed(str(e)) from None
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the trial line says it all
            result = launch.execute(
                spec,
                quiet=opts.quiet or opts.worker is not None,
                group=plan.study,
                tags=("sweep", plan.study),
                listeners=[TrialReporter(trial)],
                reraise=(optuna.TrialPruned,),
            )
    except (Stopped, KeyboardInterrupt):
        trial.set_user_attr("error", "interrupted")
        raise KeyboardInterrupt from None
    except (BadInput, RunFailed) as e:
        trial.set_user_attr("error", f"{e}; see {run_dir}")
        raise TrialFailed(str(e)) from None
    summary = result.summary
    if store is not None:
        gather.upload_run(trial, run_dir, store)
    key = OBJECTIVES[plan.objective]
    record_summary(trial, summary)
    return float(summary[key])


def spawn_workers(opts: SweepOptions, plan: Plan, study: Any) -> int:
    """``--jobs K``: K worker processes on the same study, each with cores/K threads.

    On the CPU the workers are forked from this process, which has imported and checked
    everything already, so they start at once; with CUDA (which must not be forked once
    initialized) they start fresh (``spawn``)."""
    import multiprocessing

    jobs = opts.jobs
    threads = max(1, (os.cpu_count() or 1) // jobs)
    logs = plan.dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    print(
        f"study {plan.study}: {plan.trials} trials of {plan.algo} on {plan.env_id}, {jobs} workers; "
        f"storage {_redact(plan.storage)}; run dirs under {plan.dir}",
        file=sys.stderr,
    )
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
        child = copy.copy(opts)
        child.worker = i
        if opts.sampler_seed is not None:
            child.sampler_seed = opts.sampler_seed + i
        proc = context.Process(
            target=_worker_main,
            args=(child, plan, logs / f"worker-{i}.log", threads),
            name=f"rlkit-sweep-worker-{i}",
        )
        proc.start()
        procs.append(proc)
    with ParentSignals() as caught:  # the workers exist: pass a stop on to them
        while any(p.is_alive() for p in procs) and caught.signum is None:
            for proc in procs:
                proc.join(timeout=0.2)
        if caught.signum is not None:
            stop_children(procs, STOP_GRACE_S + 5)
            name = signal.Signals(caught.signum).name
            print(
                f"\nstopped by {name}; the workers' trials were marked failed; rerun the same "
                f"command to continue study {plan.study}",
                file=sys.stderr,
            )
            return 128 + caught.signum
    import optuna

    study = optuna.load_study(
        study_name=plan.study, storage=open_storage(plan.storage, opts.heartbeat)
    )
    print(summary_line(study, plan, time.perf_counter() - start))
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    return bad[0] if bad else 0


def _worker_main(opts: SweepOptions, plan: Plan, log: Path, threads: int) -> None:
    """One worker process of ``--jobs``: its stdout to ``log``, trials until the budget is met."""
    import torch

    signal.signal(signal.SIGINT, signal.default_int_handler)  # not the parent's handlers,
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # if forked from it
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.close(fd)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    code = 0
    try:
        study = open_study(plan, opts, seed=opts.sampler_seed)
        work(study, plan, opts)
    except (BadInput, StorageError, RunFailed) as e:
        print(f"rlkit: error: worker {opts.worker}: {e}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
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
    lines.append(
        f"report: rlkit sweep --report --study {plan.study}{storage}"
        + (f" --dir {plan.dir}" if plan.dir != Path("runs") / plan.study else "")
    )
    return "\n".join(lines)


def load_existing_study(name: str, storage: str | None, folder: Path | None, heartbeat: int) -> Any:
    """The study ``name`` in ``storage`` (default: the SQLite file of ``folder``, itself
    ``runs/<name>`` by default); ``BadInput`` naming the studies there when it is missing."""
    import optuna

    safe_name(name)
    folder = folder if folder is not None else Path("runs") / name
    url = storage or f"sqlite:///{folder.as_posix()}/study.db"
    opened = open_storage(url, heartbeat=heartbeat, create=False)
    try:
        return optuna.load_study(study_name=name, storage=opened)
    except KeyError:
        names = optuna.get_all_study_names(opened)
        raise BadInput(
            f"no study {name!r} in {_redact(url)}; it holds: {', '.join(names) or 'none'}"
        ) from None
