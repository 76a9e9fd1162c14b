"""SIGTERM stops a run within a bounded time at every stage (envs being built, a rollout,
an update, an evaluation, a checkpoint write), and in every worker of ``--seeds`` and
``rlkit sweep --jobs``; ``--resume`` then continues. An evaluation is given up at once and
its step saved with it pending.

Each run is made to sit in one stage for far longer than the test waits (thousands of
envs, a rollout of millions of steps, 100,000 epochs, a million evaluation episodes, a
replay buffer of 8 million transitions to save), and ``RLKIT_STOP_GRACE_S=2`` gives it
two seconds to reach a point where it saves.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlkit.checkpoint import load_run_checkpoint

ROOT = Path(__file__).resolve().parents[2]
GRACE = 2.0
BOUND = GRACE + 8.0  # seconds from the signal to the exit: the grace, closing envs, exiting


def start(cwd: Path, *argv: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "RLKIT_STOP_GRACE_S": str(GRACE),
        "WANDB_MODE": "disabled",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "rlkit.cli.main", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the test signals it alone
    )


def wait_for(condition, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def terminate(proc: subprocess.Popen) -> tuple[float, str]:
    """SIGTERM; the seconds until it exited and what it printed."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    return time.monotonic() - sent, err


def alive_with(text: str) -> list[int]:
    """Pids of processes whose command line holds ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


def resume_continues(tmp_path: Path) -> str:
    """``--resume r`` picks the run up (from its checkpoint or from step 0: either way it
    rewrites ``metrics.jsonl`` as it starts) and, told to stop, stops again; returns what
    it printed on stderr."""
    metrics = tmp_path / "r" / "metrics.jsonl"
    before = metrics.stat().st_mtime_ns
    proc = start(tmp_path, "train", "--resume", "r", "--wandb", "disabled")
    wait_for(lambda: metrics.stat().st_mtime_ns > before, proc)
    elapsed, err = terminate(proc)
    assert proc.returncode == 143 and elapsed < BOUND, err
    assert "resuming r from step" in err or "starting it again from step 0" in err
    return err


STAGES = {
    "building envs": [
        "ppo",
        "ALE/Pong-v5",
        "n_envs=512",
        "n_steps=8",
        "batch_size=512",
        "vec_env=sync",
    ],
    "a rollout": ["ppo", "CartPole-v1", "n_envs=1", "n_steps=5000000", "batch_size=5000"],
    "an update": [
        "ppo",
        "CartPole-v1",
        "n_envs=1",
        "n_steps=64",
        "batch_size=64",
        "n_epochs=100000",
    ],
    "an evaluation": [
        "ppo",
        "CartPole-v1",
        "n_envs=1",
        "n_steps=64",
        "batch_size=64",
        "n_epochs=1",
        "eval_interval=64",
        "eval_episodes=1000000",
    ],
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_sigterm_stops_a_run_in_bounded_time_at_every_stage(tmp_path, stage):
    proc = start(tmp_path, "train", *STAGES[stage], "log_interval=64", "--run-dir", "r")
    wait_for(lambda: (tmp_path / "r" / "config.yaml").is_file(), proc)
    time.sleep(3.0)  # well inside the stage
    elapsed, err = terminate(proc)
    assert proc.returncode == 143, err
    assert elapsed < BOUND, (elapsed, err)
    assert "stopped by SIGTERM" in err and "--resume r" in err
    assert "Traceback" not in err
    if stage == "an evaluation":  # given up at once, saved with the evaluation pending
        checkpoint, _ = load_run_checkpoint(tmp_path / "r" / "checkpoints")
        assert checkpoint["step"] == 64 and checkpoint["resume"]["pending"] == {"eval": 64}
    err = resume_continues(tmp_path)
    if stage == "an evaluation":  # the resumed run evaluated first, and was cut again
        assert "first doing the evaluation at step 64 that the stop cut short" in err
        checkpoint, _ = load_run_checkpoint(tmp_path / "r" / "checkpoints")
        assert checkpoint["step"] == 64 and checkpoint["resume"]["pending"] == {"eval": 64}


def test_sigterm_during_a_checkpoint_write_leaves_a_whole_checkpoint(tmp_path):
    proc = start(
        tmp_path,
        "train",
        "dqn",
        "CartPole-v1",
        "buffer_size=8000000",
        "learning_starts=500",
        "checkpoint_interval=1000",
        "eval_interval=0",
        "total_steps=1000000",
        "--run-dir",
        "r",
        "--wandb",
        "disabled",
    )
    folder = tmp_path / "r" / "checkpoints"
    wait_for(lambda: (folder / "latest.pt.sha256").is_file(), proc, timeout=300)
    wait_for(lambda: any(p.name.endswith(".tmp") for p in folder.iterdir()), proc, timeout=300)
    elapsed, err = terminate(proc)  # while the next checkpoint is being written
    assert proc.returncode == 143 and elapsed < BOUND + 10, (elapsed, err)
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    checkpoint, path = load_run_checkpoint(folder)  # whole, checksum and all
    assert checkpoint["step"] % 1000 == 0 and "replay" in checkpoint
    resume_continues(tmp_path)


def test_sigterm_to_seeds_stops_every_seed(tmp_path):
    proc = start(
        tmp_path,
        "train",
        "ppo",
        "CartPole-v1",
        "--seeds",
        "0-1",
        "--jobs",
        "2",
        "total_steps=10000000",
        "eval_interval=0",
        "checkpoint_interval=0",
        "log_interval=500",
        "--run-dir",
        "seeds",
        "--wandb",
        "disabled",
    )
    rows = [tmp_path / "seeds" / f"s{s}" / "metrics.jsonl" for s in (0, 1)]
    wait_for(lambda: all(p.is_file() and p.read_text().count("\n") >= 2 for p in rows), proc)
    elapsed, err = terminate(proc)
    assert proc.returncode == 143 and elapsed < BOUND + 5, (elapsed, err)
    assert "stopped by SIGTERM" in err and not alive_with(str(tmp_path / "seeds"))
    for s in (0, 1):  # each seed saved at the end of its step
        checkpoint, _ = load_run_checkpoint(tmp_path / "seeds" / f"s{s}" / "checkpoints")
        assert checkpoint["step"] > 0


def test_sigterm_to_a_sweep_stops_its_workers(tmp_path):
    import optuna

    (tmp_path / "space.yaml").write_text(
        "learning_rate: [0.0003, 0.001]\ntotal_steps: 10000000\neval_interval: 0\n"
        "checkpoint_interval: 0\nlog_interval: 500\n"
    )
    proc = start(
        tmp_path,
        "sweep",
        "ppo",
        "CartPole-v1",
        "--space",
        "space.yaml",
        "--jobs",
        "2",
        "--trials",
        "4",
        "--study",
        "s",
        "--wandb",
        "disabled",
    )
    rows = [tmp_path / "runs" / "s" / f"trial-000{i}" / "metrics.jsonl" for i in (0, 1)]
    wait_for(lambda: all(p.is_file() and p.read_text().count("\n") >= 2 for p in rows), proc)
    elapsed, err = terminate(proc)
    assert proc.returncode == 143 and elapsed < BOUND + 5, (elapsed, err)
    assert "stopped by SIGTERM" in err and not alive_with("rlkit-sweep-worker")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/runs/s/study.db")
    states = {t.state for t in study.trials}
    assert optuna.trial.TrialState.RUNNING not in states  # each worker marked its trial
