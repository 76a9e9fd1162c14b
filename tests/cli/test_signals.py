"""SIGINT / SIGTERM: the run finishes its step, saves a checkpoint and exits 130 / 143."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlkit.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def start(tmp_path, *argv):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rlkit.cli.main",
            *argv,
            "--run-dir",
            "r",
            "--wandb",
            "disabled",
            "--quiet",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_rows(path, rows, proc, timeout=120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.is_file() and len(path.read_text().splitlines()) >= rows:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError(f"no {rows} rows in {path}")


@pytest.mark.parametrize(
    "command,algo,sig,code",
    [
        ("train", "ppo", signal.SIGTERM, 143),
        ("train", "dqn", signal.SIGINT, 130),
        ("baseline", "ppo", signal.SIGTERM, 143),
    ],
)
def test_a_signal_saves_a_checkpoint_and_exits(tmp_path, command, algo, sig, code):
    proc = start(
        tmp_path,
        command,
        algo,
        "CartPole-v1",
        "total_steps=10000000",
        "log_interval=500",
        "eval_interval=0",
        "checkpoint_interval=0",
    )
    wait_for_rows(tmp_path / "r" / "metrics.jsonl", 2, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert f"stopped by {signal.Signals(sig).name} at step" in err
    step = int(err.split("at step ")[1].split(";")[0].replace(",", ""))
    checkpoint = load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")
    assert checkpoint["step"] == step > 0
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] <= step
    assert not (tmp_path / "r" / "summary.json").exists()
    done = subprocess.run(
        [sys.executable, "-m", "rlkit.cli.main", "eval", "r", "--episodes", "1"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_the_grace_bounds_reaching_the_save_point_not_the_save_itself():
    """A stop's own checkpoint is written whole however long it takes (a DQN state with its
    replay is gigabytes: cut at the grace, every step since the last checkpoint was lost);
    a run that does not reach its save point within the grace still stops there."""
    from rlkit.errors import StopNow, Stopped
    from rlkit.launch import stop_on_signals
    from rlkit.rundir import Run, StopRequest

    def run_with(stop):
        run = object.__new__(Run)  # stop_if_requested needs nothing else of a run
        run.stop = stop
        return run

    saved = []

    def slow_save(step):  # a save longer than the grace
        time.sleep(0.6)
        saved.append(step)

    stop = StopRequest()
    restore = stop_on_signals(stop, None, grace=0.2)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(Stopped) as stopped:
            run_with(stop).stop_if_requested(7, slow_save)
        assert saved == [7] and stopped.value.signum == signal.SIGTERM
    finally:
        restore()
    assert stop.on_save_point is None  # the handlers and the hook are gone with restore

    stop = StopRequest()
    restore = stop_on_signals(stop, None, grace=0.2)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(StopNow):
            time.sleep(2.0)  # still busy when the grace ends: stopped where it is
    finally:
        restore()


SWALLOWS = """
import os, signal, sys, time
from rlkit.launch import stop_on_signals
from rlkit.rundir import StopRequest
stop = StopRequest()
stop_on_signals(stop, sys.stderr, grace=0.3)
os.kill(os.getpid(), signal.SIGTERM)
end = time.monotonic() + 60
while time.monotonic() < end:  # library code that swallows everything, StopNow included
    try:
        time.sleep(0.05)
    except BaseException:
        pass
sys.exit(0)
"""


def test_a_run_that_swallows_the_stop_still_exits_in_bounded_time():
    """Past the grace a run is stopped wherever it is (``StopNow``); if that exception is
    swallowed (or the cleanup after it hangs), the last-resort alarm ends the process
    ``LAST_RESORT_S`` later with the signal's exit status and one line saying so."""
    from rlkit.launch import LAST_RESORT_S

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SWALLOWS], env=env, capture_output=True, text=True, timeout=120
    )
    elapsed = time.monotonic() - start
    assert done.returncode == 143, done.stderr
    assert "exiting now, the last checkpoint standing" in done.stderr
    assert elapsed < 0.3 + LAST_RESORT_S + 20  # (the interpreter's start included), not 60
