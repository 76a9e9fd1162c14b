"""``rlkit train --nproc N``: one run split over data-parallel ranks (torch.distributed, gloo
on the CPU) is the single-process run with the same seed (2 ranks x 4 envs = 1 process x 8
envs); a rank killed with SIGKILL ends the group at once with one line naming it, and
``--resume`` restores every rank exactly."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rlkit.checkpoint import load_checkpoint
from rlkit.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
TIME_KEYS = {"time", "time/sps"}


def rlkit(cwd, *argv, wait=True):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    command = [sys.executable, "-m", "rlkit.cli.main", *argv, "--quiet"]
    if wait:
        return subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def rows(run_dir):
    return [
        {k: v for k, v in json.loads(x).items() if k not in TIME_KEYS}
        for x in (run_dir / "metrics.jsonl").read_text().splitlines()
    ]


def assert_same_run(a, b, rel=1e-4, abs_=1e-6):
    """The same rows, keys and values (floats within tolerance: the ranks sum the gradient
    in another order). A standard deviation is held to the tolerance of its mean: it is a
    difference of values of the mean's size (two evaluation returns near -1200 on Pendulum
    a few apart), so their rounding moves it by as much as it moves the mean."""
    assert len(a) == len(b) and len(a) > 2
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys(), (x.keys(), y.keys())
        for k in x:
            scale = abs(y.get(k.replace("std", "mean"), 0.0)) if "std" in k else 0.0
            tolerance = max(abs_, rel * scale)
            assert x[k] == pytest.approx(y[k], rel=rel, abs=tolerance), (x["step"], k, x[k], y[k])


def final_weights(run_dir):
    return load_checkpoint(run_dir / "checkpoints" / "latest.pt")["net"]


CASES = {  # 8 envs: on 2 ranks, 4 each
    # categorical actions through the numpy actor
    "ppo-discrete": (
        "ppo",
        "CartPole-v1",
        ["n_steps=32", "batch_size=64", "n_epochs=2", "total_steps=1024"],
    ),
    # Gaussian actions, observation statistics gathered from every rank, target_kl's
    # early stop decided on the whole minibatch's KL
    "ppo-box": (
        "ppo",
        "Pendulum-v1",
        ["n_steps=32", "batch_size=64", "normalize_obs=true", "target_kl=0.02", "total_steps=2048"],
    ),
    "a2c": ("a2c", "CartPole-v1", ["n_steps=8", "total_steps=1024"]),
    # whole sequences of envs per minibatch: a rank often holds none of a minibatch's
    "recurrent-ppo": (
        "recurrent-ppo",
        "rlkit/CartPoleNoVel-v1",
        ["n_steps=32", "batch_size=64", "n_epochs=2", "total_steps=1024"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_two_ranks_are_the_one_process_run(tmp_path, case):
    algo, env_id, extra = CASES[case]
    common = [
        algo,
        env_id,
        "n_envs=8",
        "log_interval=256",
        "eval_interval=512",
        "eval_episodes=2",
        *extra,
    ]
    one = main(["train", *common, "--run-dir", str(tmp_path / "one"), "--wandb", "disabled"])
    assert one == 0  # (in this process: no interpreter to start)
    two = rlkit(
        tmp_path, "train", *common, "--nproc", "2", "--run-dir", "two", "--wandb", "disabled"
    )
    assert two.returncode == 0, two.stderr
    assert "data-parallel over 2 ranks (gloo, 4 envs each)" in two.stderr
    assert_same_run(rows(tmp_path / "one"), rows(tmp_path / "two"))
    # every rank's episodes reached rank 0's statistics, in the one process's order
    assert max(r.get("rollout/episodes", 0) for r in rows(tmp_path / "two")) >= 4
    for name, w in final_weights(tmp_path / "one").items():
        torch.testing.assert_close(final_weights(tmp_path / "two")[name], w, rtol=1e-4, atol=1e-5)
    # rank 0 alone wrote: one run dir, with the group's size in its config
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]
    assert "nproc: 2" in (tmp_path / "two" / "config.yaml").read_text()
    assert len(load_checkpoint(tmp_path / "two" / "checkpoints" / "latest.pt")["ranks"]) == 2


def rank_pid(parent: int, rank: int) -> int:
    """The pid of ``rank`` among the descendants of ``parent`` (its ``RANK`` variable)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    todo = list(children.get(parent, []))
    while todo:
        pid = todo.pop()
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ:
            return pid
        todo += children.get(pid, [])
    raise AssertionError(f"no rank {rank} under {parent}")


@pytest.mark.slow  # three data-parallel runs (about 25 s): the slow pass of .ci/run runs it
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_a_killed_rank_ends_the_group_and_the_run_resumes_exactly(tmp_path):
    common = [
        "ppo",
        "CartPole-v1",
        "n_envs=4",
        "n_steps=64",
        "batch_size=64",
        "n_epochs=2",
        "total_steps=6144",
        "log_interval=256",
        "checkpoint_interval=1024",
        "eval_episodes=2",
        "--nproc",
        "2",
        "--wandb",
        "disabled",
    ]
    whole = rlkit(tmp_path, "train", *common, "--run-dir", "whole")
    assert whole.returncode == 0, whole.stderr
    proc = rlkit(tmp_path, "train", *common, "--run-dir", "cut", wait=False)
    metrics = tmp_path / "cut" / "metrics.jsonl"
    end = time.monotonic() + 120
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 10):
        assert time.monotonic() < end and proc.poll() is None, "the run ended or stalled"
        time.sleep(0.05)
    os.kill(rank_pid(proc.pid, 1), signal.SIGKILL)
    killed = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - killed < 30  # the launcher notices within its monitor interval
    assert proc.returncode == 1
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines[-1].startswith("rlkit: rank 1 was killed by SIGKILL; the group stopped")
    assert "continue with rlkit train --resume" in lines[-1]
    assert not any("Traceback" in x or "Error" in x for x in lines)  # one line, no noise
    # the ranks' count comes from the run dir; another count is refused before anything runs
    refused = rlkit(tmp_path, "train", "--resume", "cut", "--nproc", "3")
    assert refused.returncode == 2 and "trained by 2 ranks" in refused.stderr
    resumed = rlkit(tmp_path, "train", "--resume", "cut", "--wandb", "disabled")
    assert resumed.returncode == 0, resumed.stderr
    assert "data-parallel over 2 ranks" in resumed.stderr
    assert rows(tmp_path / "cut") == rows(tmp_path / "whole")
    for name, w in final_weights(tmp_path / "whole").items():
        assert torch.equal(final_weights(tmp_path / "cut")[name], w), name


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["dqn", "CartPole-v1", "--nproc", "2"],
            "--nproc splits the rollouts of ppo, a2c, recurrent-ppo",
        ),
        (["reinforce", "CartPole-v1", "--nproc", "2"], "reinforce runs in one"),
        (
            ["ppo", "CartPole-v1", "n_envs=3", "batch_size=32", "--nproc", "2"],
            "n_envs a multiple of 2",
        ),
        (
            ["ppo", "CartPole-v1", "n_envs=2", "batch_size=32", "--nproc", "4"],
            "n_envs a multiple of 4",
        ),
        (["ppo", "CartPole-v1", "--nproc", "0"], "bad value --nproc 0"),
        (["ppo", "CartPole-v1", "--nproc", "2", "--seeds", "0-1"], "give one of them"),
        (
            ["ppo", "CartPole-v1", "vec_env=torch", "--nproc", "2"],
            "batched torch envs run many envs in one process",
        ),
    ],
)
def test_bad_input_exits_2_before_anything_runs(tmp_path, capsys, argv, message):
    code = main(["train", *argv, "--run-dir", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "run").exists()
