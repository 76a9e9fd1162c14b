"""Seeds across machines: ``rlkit train <algo> <env> --seeds 0-99 --study NAME --storage URL``.

The seeds are the trials of one Optuna study, the same engine as sweeps: the first worker
records what the study runs (algo, env, resolved config, seeds) and puts one waiting trial
per seed in the queue; every worker, on any machine with the storage, takes waiting trials
one at a time (Optuna hands each to exactly one), trains that seed as ``rlkit train``
would into ``<parent>/s<seed>``, uploads its results to the study's artifact store
(``rlkit.sweep.gather``) and reports the final evaluation as the trial's value. Workers
beat a heartbeat while they train; the trial of a worker that died goes back in the queue
once its heartbeat lapses (``RetryFailedTrialCallback``) and the next worker free takes it
(continuing it with ``--resume`` when its run dir is on that machine). A worker stops when
every seed has finished, or nothing is left to take. A seed that fails with an error is
not retried: its trial says why.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from rlkit import launch
from rlkit.config import config_dict
from rlkit.errors import BadInput, RunFailed, Stopped
from rlkit.rundir import RunDir
from rlkit.sweep import gather
from rlkit.sweep.study import _redact, fail_stale, open_storage, record_summary, run_one_trial


class Skipped(Exception):
    """A trial that holds no seed to train (the queue was empty when it was made, or its
    seed was taken by another trial)."""


class SeedFailed(Exception):
    """A seed whose run exited with an error."""


def identity_of(spec: launch.RunSpec, seeds: list[int]) -> dict[str, Any]:
    """What every worker of a seeds study must agree on."""
    return {
        "kind": "seeds",
        "algo": spec.algo,
        "implementation": spec.implementation,
        "env_id": spec.env_id,
        "config": json.loads(json.dumps(config_dict(spec.config))),
        "seeds": list(seeds),
    }


def open_seeds_study(study_name: str, storage_url: str, identity: dict[str, Any], heartbeat: int):
    """Create or join the study; a new one gets one waiting trial per seed. One that holds
    something else is ``BadInput``; a storage out of reach, ``StorageError``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = open_storage(storage_url, heartbeat, retry=True)
    study = optuna.create_study(
        study_name=study_name, storage=storage, direction="maximize", load_if_exists=True
    )
    if storage_url.startswith("sqlite:///"):
        serialize_pops(study, Path(storage_url[len("sqlite:///") :]).with_suffix(".lock"))
    held = study.user_attrs.get("rlkit")
    if held is None:
        study.set_user_attr("rlkit", identity)
        for seed in identity["seeds"]:
            study.enqueue_trial(
                {"seed": seed}, user_attrs={"seed": seed, "label": f"s{seed}"}, skip_if_exists=True
            )
    elif held != identity:
        differs = next((k for k in identity if held.get(k) != identity[k]), "kind")
        raise BadInput(
            f"study {study_name!r} in {_redact(storage_url)} holds other runs ({differs} "
            "differs); give the same command as its other workers, or another --study"
        )
    return study


def serialize_pops(study: Any, lock: Path) -> None:
    """Make taking a queued trial atomic on SQLite. A server database locks the trial's row
    while a worker moves it from waiting to running, so one worker gets it; SQLite has no
    row locks, and two workers could both take the same seed. The workers of a SQLite study
    share its file, so a lock file beside it (``flock``) serializes the move."""
    import fcntl

    pop = study._pop_waiting_trial_id  # where Optuna's ``ask`` takes a queued trial

    def locked_pop() -> int | None:
        with open(lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                return pop()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    study._pop_waiting_trial_id = locked_pop


def train_seed(seed: int, run_dir: Path, make_spec: Any, quiet: bool) -> dict[str, Any]:
    """Train ``seed`` into ``run_dir``: a new run, the rest of one a dead worker left on
    this machine (``--resume``), or nothing when it already finished; its summary.

    A finished run's ``summary.json`` is read as any run dir's is (``RunDir.read_summary``),
    and must hold the final evaluation the study records: a broken one fails the seed
    with one line (``BadInput``) instead of a traceback."""
    existing = RunDir(run_dir)
    if existing.summary.is_file():
        from rlkit.compare import number

        summary = existing.read_summary()
        number(summary.get("eval/mean_return"), f"eval/mean_return in {existing.summary}")
        return summary
    if (run_dir / "config.yaml").is_file():
        spec = launch.plan_resume(run_dir, make_spec.device, make_spec.wandb)
    else:
        spec = make_spec(seed, run_dir)
    with contextlib.redirect_stdout(io.StringIO()):
        return launch.execute(spec, quiet=quiet).summary


def work(
    study: Any,
    seeds: list[int],
    parent: Path,
    store: Any,
    make_spec: Any,
    quiet: bool,
    heartbeat: int,
) -> list[str]:
    """Take seeds from ``study`` until every seed finished or none is left to take;
    returns the failures seen here (one line each)."""
    import optuna

    failures: list[str] = []
    worker = f"{socket.gethostname()}:{os.getpid()}"
    complete, running, waiting = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.RUNNING,
        optuna.trial.TrialState.WAITING,
    )

    def objective(trial: optuna.Trial) -> float:
        if "seed" not in trial.user_attrs:  # a trial Optuna made when the queue ran dry
            trial.set_user_attr("skipped", "no seed was waiting")
            raise Skipped
        seed = int(trial.suggest_categorical("seed", seeds))  # the queued value
        # Two workers that opened a new study at once queue every seed twice: a seed
        # belongs to the first of its trials that has not failed, whatever their states
        owner = min(
            t.number
            for t in study.get_trials(deepcopy=False)
            if t.user_attrs.get("seed") == seed and t.state != optuna.trial.TrialState.FAIL
        )
        if owner != trial.number:
            trial.set_user_attr("skipped", f"seed {seed} is trial {owner}'s")
            raise Skipped
        run_dir = parent / f"s{seed}"
        trial.set_user_attr("label", f"s{seed}")
        trial.set_user_attr("worker", worker)
        trial.set_user_attr("run_dir", str(run_dir.resolve()))
        start = time.perf_counter()
        try:
            summary = train_seed(seed, run_dir, make_spec, quiet)
        except (Stopped, KeyboardInterrupt):
            trial.set_user_attr("error", "interrupted")
            raise KeyboardInterrupt from None
        except (BadInput, RunFailed) as e:
            trial.set_user_attr("error", f"{e}; see {run_dir} on {worker}")
            raise SeedFailed(str(e)) from None
        gather.upload_run(trial, run_dir, store)
        record_summary(trial, summary)
        print(
            f"seed {seed}: eval {summary['eval/mean_return']:.4g} "
            f"({time.perf_counter() - start:.0f}s, {worker})",
            file=sys.stderr,
        )
        return float(summary["eval/mean_return"])

    def note_failure(_study: Any, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state == optuna.trial.TrialState.FAIL and not trial.user_attrs.get("skipped"):
            line = f"seed {trial.params.get('seed')}: FAILED: {trial.user_attrs.get('error')}"
            failures.append(line)
            print(line, file=sys.stderr)

    while True:
        fail_stale(study)  # a dead worker's seed goes back in the queue
        trials = study.get_trials(deepcopy=False)
        if {t.params.get("seed") for t in trials if t.state == complete} >= set(seeds):
            break
        if not any(t.state == waiting for t in trials):
            if not any(t.state == running for t in trials):
                break  # nothing to take and nobody training: the rest failed
            time.sleep(min(heartbeat, 5))  # others train; their seeds return if they die
            continue
        run_one_trial(study, objective, (Skipped, SeedFailed), note_failure)
    return failures


def status(study: Any, seeds: list[int]) -> str:
    """``seeds 0-9: 10 finished`` (and how many failed or are still training elsewhere)."""
    import optuna

    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("skipped")]
    finished = {t.params.get("seed") for t in trials if t.state == optuna.trial.TrialState.COMPLETE}
    running = {t.params.get("seed") for t in trials if t.state == optuna.trial.TrialState.RUNNING}
    failed = set(seeds) - finished - running
    parts = [f"{len(finished)} of {len(seeds)} seeds finished"]
    if running - finished:
        parts.append(f"{len(running - finished)} training elsewhere")
    if failed:
        parts.append(f"{len(failed)} failed ({', '.join(map(str, sorted(failed)))})")
    return ", ".join(parts)


class SeedPlan:
    """How a worker plans the run of one seed: ``plan(seed, run_dir) -> RunSpec``, as
    ``rlkit train`` (or ``baseline``) would with the command line's config."""

    def __init__(
        self,
        algo: str,
        env_id: str,
        config: Path | None,
        overrides: list[str],
        device: str,
        wandb: str,
        implementation: str,
    ) -> None:
        self.algo, self.env_id, self.config, self.overrides = algo, env_id, config, overrides
        self.device, self.wandb, self.implementation = device, wandb, implementation

    def __call__(self, seed: int, run_dir: Path | None) -> launch.RunSpec:
        return launch.plan_run(
            self.algo,
            self.env_id,
            config=self.config,
            overrides=self.overrides,
            seed=seed,
            device=self.device,
            run_dir=run_dir,
            wandb=self.wandb,
            implementation=self.implementation,
        )


def run(
    plan: SeedPlan,
    seeds: list[int],
    study_name: str,
    storage_url: str,
    artifacts: str | None,
    parent: Path,
    heartbeat: int = 60,
    quiet: bool = False,
) -> int:
    """One worker of a seeds study (see the module doc); returns the exit code (1 when a
    seed failed here). Bad input (``BadInput``) and a storage out of reach
    (``StorageError``) are raised before any seed starts."""
    from rlkit.rundir import safe_name

    safe_name(study_name)
    if heartbeat < 1:
        raise BadInput(f"bad value --heartbeat {heartbeat}; allowed: an integer >= 1")
    spec = plan(seeds[0], None)  # every check of the command, nothing written
    study = open_seeds_study(study_name, storage_url, identity_of(spec, seeds), heartbeat)
    store, where = gather.study_store(study, artifacts, parent / "artifacts")
    print(
        f"study {study_name}: seeds {seeds[0]}..{seeds[-1]} of {spec.algo} on {spec.env_id} "
        f"({len(seeds)}); storage {_redact(storage_url)}; run dirs under {parent}; results "
        f"gathered in {where}",
        file=sys.stderr,
    )
    try:
        failures = work(study, seeds, parent, store, plan, quiet, heartbeat)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; the seed in hand goes back to the queue when its heartbeat lapses; "
            f"rerun the command to go on with study {study_name}",
            file=sys.stderr,
        )
        return 130
    print(
        f"study {study_name}: {status(study, seeds)}\ncompare: rlkit compare --study "
        f"{study_name} --storage {_redact(storage_url)}"
    )
    return 1 if failures else 0
