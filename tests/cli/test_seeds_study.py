"""``rlkit train --seeds --study NAME --storage URL``: workers in separate folders (as on
separate machines) take the seeds of one Optuna study, each seed once; a dead worker's seed
is taken again once its heartbeat lapses; the finished runs' results are gathered in the
study's artifact store, and ``rlkit compare --study`` works from a folder that never saw
the workers' disks. SQLite here; ``test_sweep_postgres.py`` runs the same on PostgreSQL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from rlkit.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
COMMON = [
    "train",
    "q-learning",
    "FrozenLake-v1",
    "eval_episodes=20",
    "--wandb",
    "disabled",
    "--quiet",
]


def worker(cwd: Path, *argv: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "rlkit.cli.main", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def trials_of(storage: str, name: str) -> list:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=storage).trials


def test_two_workers_share_the_seeds_and_compare_gathers_them(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    shared = tmp_path / "shared"
    machines = [tmp_path / "m0", tmp_path / "m1", tmp_path / "elsewhere"]
    for m in machines:
        m.mkdir()
    study = ["--seeds", "0-5", "--study", "qs", "--storage", storage, "--artifacts", str(shared)]
    procs = [worker(m, *COMMON, "total_steps=2000", *study) for m in machines[:2]]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert "6 of 6 seeds finished" in outputs[0][0] + outputs[1][0]
    ran = [t for t in trials_of(storage, "qs") if not t.user_attrs.get("skipped")]
    done = [t for t in ran if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.params["seed"] for t in done) == list(range(6))  # each seed once
    # each seed's run dir is on the machine that ran it, and on no other
    for seed in range(6):
        where = [
            m for m in machines[:2] if (m / "runs" / "qs" / f"s{seed}" / "summary.json").is_file()
        ]
        assert len(where) == 1, seed
    # a third folder with the storage and the store alone: the table of all six seeds
    out = machines[2] / "gathered"
    code = main(["compare", "--study", "qs", "--storage", storage, "--into", str(out)])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [f"s{s}" for s in range(6)]
    for seed in range(6):  # the gathered summaries are the workers' own
        mine = next(
            m / "runs" / "qs" / f"s{seed}" / "summary.json"
            for m in machines[:2]
            if (m / "runs" / "qs" / f"s{seed}").is_dir()
        )
        assert json.loads((out / f"s{seed}" / "summary.json").read_text()) == json.loads(
            mine.read_text()
        )
    # a gathered checkpoint plays like any other
    assert main(["eval", str(out / "s3"), "--episodes", "5"]) == 0


@pytest.mark.slow  # two workers and a heartbeat to lapse (about 18 s): .ci/run's slow pass
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="SIGKILL of a worker mid-run")
def test_a_dead_workers_seed_is_taken_again(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    argv = [
        *COMMON,
        "total_steps=150000",
        "--seeds",
        "0-1",
        "--study",
        "dead",
        "--storage",
        storage,
        "--heartbeat",
        "1",
    ]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = worker(tmp_path / "a", *argv)
    metrics = tmp_path / "a" / "runs" / "dead" / "s0" / "metrics.jsonl"
    deadline = time.time() + 120
    while not (metrics.is_file() and metrics.stat().st_size > 0):
        assert time.time() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = worker(tmp_path / "b", *argv)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert "2 of 2 seeds finished" in out
    trials = trials_of(storage, "dead")
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert [t.params.get("seed", t.user_attrs.get("seed")) for t in failed] == [0]
    redone = [
        t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and t.params["seed"] == 0
    ]
    assert len(redone) == 1 and redone[0].user_attrs["worker"] != failed[0].user_attrs["worker"]
    assert (tmp_path / "b" / "runs" / "dead" / "s0" / "summary.json").is_file()


def test_bad_input(tmp_path, capsys):
    storage = f"sqlite:///{tmp_path / 'study.db'}"

    def run(*argv):
        code = main([*COMMON, "total_steps=2000", *argv, "--run-dir", str(tmp_path / "runs")])
        return code, capsys.readouterr().err.strip().splitlines()

    code, lines = run("--seeds", "0-1", "--storage", storage)
    assert code == 2 and "go with --study NAME" in lines[-1]
    code, lines = run("--seeds", "0-1", "--study", "x", "--jobs", "2")
    assert code == 2 and "start the command once per worker" in lines[-1]
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    code, lines = run(
        "--seeds", "0-1", "--study", "x", "--storage", storage, "--artifacts", str(blocked)
    )
    assert code == 2 and "cannot be written" in lines[-1]
    code, lines = run(
        "--seeds", "0-1", "--study", "y", "--storage", "postgresql://me:s3cret@127.0.0.1:1/db"
    )
    assert code == 1 and "cannot open the study storage" in lines[-1]
    assert "s3cret" not in "\n".join(lines)
    assert not (tmp_path / "runs" / "s0").exists()
    # another command on the same study is refused: its workers must agree
    assert (
        main(
            [
                *COMMON,
                "total_steps=2000",
                "--seeds",
                "0-1",
                "--study",
                "z",
                "--storage",
                storage,
                "--run-dir",
                str(tmp_path / "z"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    code, lines = run("--seeds", "0-1", "--study", "z", "--storage", storage, "gamma=0.9")
    assert code == 2 and "holds other runs (config differs)" in lines[-1]


def test_seeds_queued_twice_still_run_once(tmp_path, capsys):
    """Two workers that open a new study at the same moment both queue every seed: each
    seed still runs once (it belongs to its first trial that has not failed)."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    argv = [*COMMON, "total_steps=2000", "--seeds", "0-2", "--study", "twice"]
    argv += ["--storage", storage, "--run-dir", str(tmp_path / "runs")]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="twice", storage=storage, direction="maximize")
    for seed in [0, 0, 1, 1, 2, 2]:  # both workers' queues, interleaved
        study.enqueue_trial({"seed": seed}, user_attrs={"seed": seed, "label": f"s{seed}"})
    from rlkit.launch import plan_run
    from rlkit.sweep.seeds import identity_of

    spec = plan_run(
        "q-learning",
        "FrozenLake-v1",
        overrides=["eval_episodes=20", "total_steps=2000"],
        seed=0,
        run_dir=None,
    )
    study.set_user_attr("rlkit", identity_of(spec, [0, 1, 2]))
    assert main(argv) == 0
    capsys.readouterr()
    trials = trials_of(storage, "twice")
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.params["seed"] for t in done) == [0, 1, 2]  # once each: the
    # duplicates were skipped when taken, or left waiting once every seed was done
    assert all(
        t.user_attrs.get("skipped") or t.state.name == "WAITING" for t in trials if t not in done
    )


def test_a_broken_summary_left_in_a_seeds_folder_fails_that_seed_in_one_line(tmp_path, capsys):
    """A seed whose folder already holds a finished run's ``summary.json`` is not trained
    again; one that is not a JSON object, or lacks the final evaluation, fails that seed
    with one line naming the file, and the other seeds run."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    runs = tmp_path / "runs"
    for seed, text in [(1, "[1, 2]"), (2, '{"eval/mean_return": "high"}')]:
        (runs / f"s{seed}").mkdir(parents=True)
        (runs / f"s{seed}" / "summary.json").write_text(text)
    argv = [*COMMON, "total_steps=2000", "--seeds", "0-2", "--study", "left"]
    code = main([*argv, "--storage", storage, "--run-dir", str(runs)])
    err = capsys.readouterr().err
    assert code == 1
    failed = [line for line in err.splitlines() if "FAILED" in line]
    assert len(failed) == 2, err
    assert "seed 1: FAILED" in failed[0] and "must hold a JSON object, got list" in failed[0]
    assert "seed 2: FAILED" in failed[1] and "eval/mean_return in" in failed[1]
    assert "must be a number, got 'high'" in failed[1]
    assert "Traceback" not in err
    done = [t for t in trials_of(storage, "left") if t.state == optuna.trial.TrialState.COMPLETE]
    assert [t.params["seed"] for t in done] == [0]
    assert (runs / "s0" / "summary.json").is_file()
