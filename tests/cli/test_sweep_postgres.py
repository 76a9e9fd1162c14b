"""``rlkit sweep`` on a real PostgreSQL server: two workers (as on two machines) share
one study. Marked ``integration``: it starts the server from Debian's ``postgresql``
package, which ``.ci/run`` installs when it is missing (``pytest -m integration``)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SPACE = """
learning_rate: {type: float, low: 0.05, high: 0.9, log: true}
exploration_fraction: {type: float, low: 0.1, high: 0.6}
env_kwargs: {is_slippery: true}
total_steps: 3000
eval_interval: 1000
checkpoint_interval: 0
"""


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name)]
    if not found[-1]:
        pytest.fail(
            f"PostgreSQL's {name} was not found; install Debian's postgresql package "
            "(.ci/run does) to run the integration tests"
        )
    return found[-1]


def _as_server_user(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the package's postgres user."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@pytest.fixture(scope="module")
def postgres_url():
    """A fresh PostgreSQL cluster on a free localhost port with a database ``rlkit``."""
    import psycopg

    folder = Path(tempfile.mkdtemp(prefix="rlkit-pg-"))
    folder.chmod(0o755)
    data, log = folder / "data", folder / "server.log"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(
        _as_server_user([_pg_bin("initdb"), "-D", str(data), "-U", "rlkit", "-A", "trust"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_server_user(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        with psycopg.connect(
            host="127.0.0.1", port=port, user="rlkit", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute("CREATE DATABASE rlkit")
        yield f"postgresql://rlkit@127.0.0.1:{port}/rlkit"
    finally:
        subprocess.run(
            _as_server_user([_pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def _sweep(tmp_path: Path, url: str, study: str, *extra: str) -> list[str]:
    (tmp_path / "space.yaml").write_text(SPACE)
    return [
        sys.executable,
        "-m",
        "rlkit.cli.main",
        "sweep",
        "q-learning",
        "FrozenLake-v1",
        "--space",
        str(tmp_path / "space.yaml"),
        "--study",
        study,
        "--storage",
        url,
        "--wandb",
        "disabled",
        "--quiet",
        "--pruner",
        "none",
        *extra,
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def test_two_workers_share_one_study_on_postgresql(postgres_url, tmp_path):
    # two commands with their own folders, as on two machines
    procs = [
        subprocess.Popen(
            _sweep(tmp_path, postgres_url, "pg", "--trials", "8", "--dir", str(tmp_path / f"m{i}")),
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name="pg", storage=postgres_url.replace("postgresql", "postgresql+psycopg")
    )
    ran = [t for t in study.trials if not t.user_attrs.get("skipped")]
    assert sorted(t.number for t in ran) == list(range(8))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in ran)
    assert len({t.user_attrs["run_dir"] for t in ran}) == 8  # no trial ran twice
    assert len({t.user_attrs["worker"] for t in ran}) == 2  # both machines ran trials
    for t in ran:  # each trial's run dir is on the machine that ran it, its value shared here
        assert (Path(t.user_attrs["run_dir"]) / "summary.json").is_file()
    assert study.user_attrs["rlkit"]["algo"] == "q-learning"
    # the report reads the shared study from the server
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlkit.cli.main",
            "sweep",
            "--report",
            "--study",
            "pg",
            "--storage",
            postgres_url,
            "--out",
            str(tmp_path / "report"),
        ],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    assert (
        f"best: trial {study.best_trial.number}, value {study.best_trial.value:.6g}"
        in report.stdout
    )
    assert (tmp_path / "report" / "best-config.yaml").is_file()
    # every trial's results were gathered: compare them from a folder no worker wrote in
    (tmp_path / "third").mkdir()
    compare = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlkit.cli.main",
            "compare",
            "--study",
            "pg",
            "--storage",
            postgres_url,
        ],
        cwd=tmp_path / "third",
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert compare.returncode == 0, compare.stderr
    assert "8 finished runs gathered" in compare.stdout


def test_a_dead_worker_on_postgresql_leaves_its_trial_failed(postgres_url, tmp_path):
    long_run = SPACE.replace("total_steps: 3000", "total_steps: 5000000")
    (tmp_path / "long.yaml").write_text(long_run)
    cmd = _sweep(
        tmp_path,
        postgres_url,
        "dead",
        "--trials",
        "1",
        "--heartbeat",
        "1",
        "--dir",
        str(tmp_path / "a"),
    )
    cmd[cmd.index("--space") + 1] = str(tmp_path / "long.yaml")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "a" / "trial-0000" / "metrics.jsonl"
    deadline = time.time() + 120
    while not (metrics.is_file() and metrics.stat().st_size > 0) and time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(3)
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlkit.cli.main",
            "sweep",
            "--report",
            "--study",
            "dead",
            "--storage",
            postgres_url,
            "--heartbeat",
            "1",
            "--out",
            str(tmp_path / "r"),
        ],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    (trial,) = optuna.load_study(
        study_name="dead", storage=postgres_url.replace("postgresql", "postgresql+psycopg")
    ).trials
    assert trial.state == optuna.trial.TrialState.FAIL


def test_seeds_across_two_workers_on_postgresql_gathered_elsewhere(postgres_url, tmp_path):
    shared = tmp_path / "shared-store"  # what a shared file system is to many machines
    machines = [tmp_path / "m0", tmp_path / "m1", tmp_path / "third"]
    for m in machines:
        m.mkdir()
    argv = [
        sys.executable,
        "-m",
        "rlkit.cli.main",
        "train",
        "q-learning",
        "FrozenLake-v1",
        "total_steps=2000",
        "eval_episodes=20",
        "--seeds",
        "0-5",
        "--study",
        "pg-seeds",
        "--storage",
        postgres_url,
        "--artifacts",
        str(shared),
        "--wandb",
        "disabled",
        "--quiet",
    ]
    procs = [
        subprocess.Popen(
            argv, cwd=m, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for m in machines[:2]
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    study = optuna.load_study(
        study_name="pg-seeds", storage=postgres_url.replace("postgresql", "postgresql+psycopg")
    )
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.params["seed"] for t in done) == list(range(6))
    assert len({t.user_attrs["worker"] for t in done}) == 2  # both machines took seeds
    compare = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlkit.cli.main",
            "compare",
            "--study",
            "pg-seeds",
            "--storage",
            postgres_url,
            "--into",
            "gathered",
            "--json",
            "table.json",
        ],
        cwd=machines[2],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert compare.returncode == 0, compare.stderr
    assert "6 finished runs gathered" in compare.stdout
    (row,) = json.loads((machines[2] / "table.json").read_text())
    assert row["seeds"] == list(range(6))
    assert sorted(p.name for p in (machines[2] / "gathered").iterdir()) == [
        f"s{s}" for s in range(6)
    ]
