"""``rlkit train --resume``: after ``kill -9`` at any moment a run continues from its last
checkpoint and ends exactly as the uninterrupted run (metrics and weights)."""

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
from rlkit.wandb_offline import offline_runs, read_run

ROOT = Path(__file__).resolve().parents[2]
TIME_KEYS = {"time", "time/sps"}


def rlkit(cwd, *argv, wait=True):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "rlkit.cli.main", *argv, "--quiet"]
    if wait:
        return subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def rows(path):
    return [
        {k: v for k, v in json.loads(x).items() if k not in TIME_KEYS}
        for x in path.read_text().splitlines()
    ]


def kill_after(proc, metrics, n_rows):
    """``kill -9`` once ``metrics`` has ``n_rows`` rows (a moment between checkpoints)."""
    end = time.monotonic() + 120
    while time.monotonic() < end and proc.poll() is None:
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= n_rows:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        time.sleep(0.05)
    raise AssertionError(f"run ended or stalled before {n_rows} rows")


CASES = {
    "dqn": (
        "CartPole-v1",
        [
            "total_steps=9000",
            "learning_starts=1000",
            "checkpoint_interval=1500",
            "eval_interval=3000",
            "eval_episodes=3",
            "log_interval=500",
        ],
        [5, 12],
        "q_net",
    ),
    # Rainbow's parts: C51, noisy heads (their noise in the checkpoint), PER, n-step
    "dqn-rainbow": (
        "CartPole-v1",
        [
            "--config",
            str(ROOT / "configs" / "dqn" / "CartPole-v1.rainbow.yaml"),
            "total_steps=6000",
            "learning_starts=1000",
            "train_freq=16",
            "gradient_steps=4",
            "checkpoint_interval=1500",
            "eval_interval=3000",
            "eval_episodes=3",
            "log_interval=500",
        ],
        [5],
        "q_net",
    ),
    # MinAtar's network through the written-out pass (one flat buffer), its replay saved
    "dqn-minatar": (
        "MinAtar/Breakout-v1",
        [
            "--config",
            str(ROOT / "configs" / "dqn" / "MinAtar-Breakout-v1.yaml"),
            "total_steps=6000",
            "learning_starts=1000",
            "buffer_size=10000",
            "save_replay=true",
            "checkpoint_interval=1500",
            "eval_interval=3000",
            "eval_episodes=3",
            "log_interval=500",
        ],
        [5],
        "q_net",
    ),
    "ppo": (
        "CartPole-v1",
        [
            "total_steps=12288",
            "checkpoint_interval=2048",
            "eval_interval=4096",
            "eval_episodes=3",
            "log_interval=512",
        ],
        [6, 15],
        "net",
    ),
    # the batched torch env: its state tensors, generator and the actor's generator travel
    "ppo-torch": (
        "Pendulum-v1",
        [
            "vec_env=torch",
            "n_envs=16",
            "n_steps=32",
            "batch_size=128",
            "total_steps=12288",
            "checkpoint_interval=2048",
            "eval_interval=4096",
            "eval_episodes=3",
            "log_interval=512",
        ],
        [6, 15],
        "net",
    ),
    "recurrent-ppo": (
        "rlkit/CartPoleNoVel-v1",
        [
            "total_steps=4096",
            "checkpoint_interval=1024",
            "eval_interval=2048",
            "eval_episodes=2",
            "log_interval=256",
        ],
        [7],
        "net",
    ),
    "reinforce": (
        "CartPole-v1",
        [
            "total_steps=6000",
            "checkpoint_interval=1000",
            "eval_interval=2000",
            "eval_episodes=2",
            "log_interval=250",
        ],
        [6],
        "net",
    ),
    "q-learning": (
        "FrozenLake-v1",
        [
            "total_steps=60000",
            "checkpoint_interval=5000",
            "eval_interval=20000",
            "log_interval=1000",
        ],
        [20],
        "q",
    ),
    "a2c": (
        "CartPole-v1",
        [
            "total_steps=8000",
            "checkpoint_interval=1000",
            "eval_interval=4000",
            "eval_episodes=2",
            "log_interval=200",
        ],
        [15],
        "net",
    ),
    # Atari: the emulator's own state travels in the checkpoint (ALE cloneState)
    "ppo-atari": (
        "PongNoFrameskip-v4",
        [
            "n_envs=2",
            "n_steps=64",
            "batch_size=64",
            "total_steps=1024",
            "checkpoint_interval=256",
            "eval_interval=0",
            "eval_episodes=1",
            "log_interval=128",
            "env_kwargs.max_episode_steps=300",
            "vec_env=sync",  # the Python pipeline: its emulators' state is captured
        ],
        [4],
        "net",
    ),
    "dqn-atari": (
        "PongNoFrameskip-v4",
        [
            "buffer_size=2000",
            "learning_starts=300",
            "total_steps=1500",
            "save_replay=true",
            "checkpoint_interval=500",
            "eval_interval=0",
            "eval_episodes=1",
            "log_interval=100",
            "env_kwargs.max_episode_steps=300",
            "vec_env=sync",
        ],
        [8],
        "q_net",
    ),
}


SLOW = ("dqn-rainbow", "dqn-minatar")
"""Cases of over half a minute: the slow pass of .ci/run runs them (with the Atari ones)."""


@pytest.mark.parametrize(
    "algo",
    [
        pytest.param(a, marks=pytest.mark.slow) if a.endswith("-atari") or a in SLOW else a
        for a in CASES
    ],
)
def test_killed_and_resumed_runs_end_identical_to_the_uninterrupted_run(tmp_path, algo):
    env_id, args, kill_rows, weights = CASES[algo]
    for variant in ("-atari", "-torch", "-rainbow", "-minatar"):  # the cases of one algorithm
        algo = algo.removesuffix(variant)
    whole = rlkit(
        tmp_path, "train", algo, env_id, *args, "--run-dir", "whole", "--wandb", "disabled"
    )
    assert whole.returncode == 0, whole.stderr
    proc = rlkit(
        tmp_path,
        "train",
        algo,
        env_id,
        *args,
        "--run-dir",
        "cut",
        "--wandb",
        "disabled",
        wait=False,
    )
    metrics = tmp_path / "cut" / "metrics.jsonl"
    for i, n in enumerate(kill_rows):
        kill_after(proc, metrics, n)
        assert not (tmp_path / "cut" / "summary.json").exists()
        if i + 1 < len(kill_rows):
            proc = rlkit(tmp_path, "train", "--resume", "cut", "--wandb", "disabled", wait=False)
    done = rlkit(tmp_path, "train", "--resume", "cut", "--wandb", "disabled")
    assert done.returncode == 0, done.stderr
    assert "resuming cut from step" in done.stderr
    assert rows(tmp_path / "cut" / "metrics.jsonl") == rows(tmp_path / "whole" / "metrics.jsonl")
    a = load_checkpoint(tmp_path / "whole" / "checkpoints" / "latest.pt")[weights]
    b = load_checkpoint(tmp_path / "cut" / "checkpoints" / "latest.pt")[weights]
    assert torch.equal(a, b) if torch.is_tensor(a) else all(torch.equal(a[k], b[k]) for k in a)
    summary = [json.loads((tmp_path / r / "summary.json").read_text()) for r in ("whole", "cut")]
    assert summary[0]["eval/mean_return"] == summary[1]["eval/mean_return"]
    assert summary[0]["eval/auc"] == summary[1]["eval/auc"]


@pytest.mark.slow  # mostly waiting for the killed run's W&B service to let go (up to 30 s)
def test_resume_keeps_the_wandb_run(tmp_path):
    args = [
        "total_steps=8192",
        "checkpoint_interval=1024",
        "eval_interval=4096",
        "eval_episodes=2",
        "log_interval=256",
    ]
    proc = rlkit(tmp_path, "train", "ppo", "CartPole-v1", *args, "--run-dir", "r", wait=False)
    kill_after(proc, tmp_path / "r" / "metrics.jsonl", 10)
    done = rlkit(tmp_path, "train", "--resume", "r")
    assert done.returncode == 0, done.stderr
    run_id = (tmp_path / "r" / "wandb_id").read_text().strip()
    folders = offline_runs(tmp_path / "r")
    assert all(f.name.endswith(run_id) for f in folders)  # one W&B run, continued
    # (a start that waited for the killed run's W&B service to let go of the id leaves an empty folder)
    logged = [f for f in folders if list(f.glob("*.wandb"))]
    assert logged and all(read_run(f)["id"] in (run_id, None) for f in logged)
    final = json.loads((tmp_path / "r" / "summary.json").read_text())["eval/mean_return"]
    if "W&B could not start" in done.stderr:  # the killed run's W&B service kept the id past 30 s
        return
    assert any(read_run(f)["summary"].get("eval/mean_return") == final for f in logged)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--resume", "nowhere"], "no such run dir"),
        (["train", "--resume", "done"], "already finished"),
        (["train", "ppo", "CartPole-v1", "--resume", "done"], "give only --resume"),
        (["train", "--resume", "done", "--seed", "3"], "do not apply"),
        (["train", "--resume", "plain"], "not a run directory"),
        (["train", "--resume", "foreign"], "not an rlkit checkpoint"),
    ],
)
def test_resume_bad_input(cli, tmp_path, argv, message):
    code, _, err = cli(
        "train", "ppo", "CartPole-v1", "total_steps=512", "--wandb", "disabled", "--run-dir", "done"
    )
    assert code == 0, err
    (tmp_path / "plain").mkdir()
    (tmp_path / "foreign" / "checkpoints").mkdir(parents=True)
    (tmp_path / "foreign" / "config.yaml").write_text(
        (tmp_path / "done" / "config.yaml").read_text()
    )
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign" / "checkpoints" / "latest.pt")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    code, _, err = cli(*argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_a_run_killed_before_its_first_checkpoint_starts_again(tmp_path):
    args = [
        "CartPole-v1",
        "total_steps=6144",
        "checkpoint_interval=4096",
        "eval_interval=2048",
        "eval_episodes=2",
        "log_interval=256",
    ]
    whole = rlkit(tmp_path, "train", "ppo", *args, "--run-dir", "whole", "--wandb", "disabled")
    assert whole.returncode == 0, whole.stderr
    proc = rlkit(
        tmp_path, "train", "ppo", *args, "--run-dir", "cut", "--wandb", "disabled", wait=False
    )
    kill_after(proc, tmp_path / "cut" / "metrics.jsonl", 3)
    assert not (tmp_path / "cut" / "checkpoints" / "latest.pt").exists()
    done = rlkit(tmp_path, "train", "--resume", "cut", "--wandb", "disabled")
    assert done.returncode == 0 and "starting it again from step 0" in done.stderr, done.stderr
    assert rows(tmp_path / "cut" / "metrics.jsonl") == rows(tmp_path / "whole" / "metrics.jsonl")
