"""Many seeds in one process (``rlkit train ppo <env> --seeds ... --batched``): each seed of
the batched group follows the run it would have had alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rlkit.launch import execute, execute_group, plan_group, plan_run
from rlkit.seeding import make_rngs

ROOT = Path(__file__).resolve().parents[2]
BATCHED = ROOT / "configs" / "ppo" / "CartPole-v1.batched.yaml"
TIME_KEYS = {"time", "time/sps", "time/elapsed_s"}
# ten rollouts of 64 envs x 16 steps, a log row after each (one per update of the group)
SHORT = ["total_steps=10240", "n_envs=64", "batch_size=256", "log_interval=1024"]


def rows(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k not in TIME_KEYS} for x in lines]


def assert_rows_close(got: list[dict], want: list[dict], rel: float = 1e-4) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a.keys() == b.keys()
        for key, value in b.items():
            assert a[key] == pytest.approx(value, rel=rel, abs=1e-9), (a["step"], key)


def single(tmp_path: Path, seed: int, env_id: str, config, overrides) -> Path:
    run_dir = tmp_path / f"alone-s{seed}"
    spec = plan_run(
        "ppo",
        env_id,
        config=config,
        overrides=[*overrides, "vec_env=torch"],
        seed=seed,
        run_dir=run_dir,
        wandb="disabled",
        device="cpu",
    )
    execute(spec, quiet=True)
    return run_dir


def group(tmp_path: Path, seeds: list[int], env_id: str, config, overrides) -> Path:
    parent = tmp_path / "group"
    specs = plan_group(
        "ppo",
        env_id,
        seeds,
        parent,
        config=config,
        overrides=overrides,
        wandb="disabled",
        device="cpu",
    )
    results = execute_group(specs, quiet=True)
    assert [r.summary["seed"] for r in results] == seeds
    return parent


def test_each_seed_follows_its_single_seed_run(tmp_path):
    seeds = [0, 1, 2]
    parent = group(tmp_path, seeds, "CartPole-v1", str(BATCHED), SHORT)
    for seed in (0, 2):  # the first seed and one inside the stack
        alone = single(tmp_path, seed, "CartPole-v1", str(BATCHED), SHORT)
        got, want = rows(parent / f"s{seed}"), rows(alone)
        assert sum("train/policy_loss" in r for r in want) == 10  # ten updates, each logged
        assert_rows_close(got, want)
        a = torch.load(parent / f"s{seed}" / "checkpoints" / "latest.pt", weights_only=True)
        b = torch.load(alone / "checkpoints" / "latest.pt", weights_only=True)
        size = (alone / "checkpoints" / "latest.pt").stat().st_size
        assert (parent / f"s{seed}" / "checkpoints" / "latest.pt").stat().st_size < 1.1 * size
        for key, value in b["net"].items():  # the seed's own weights, not the whole stack
            assert a["net"][key].shape == value.shape
            torch.testing.assert_close(a["net"][key], value, rtol=1e-4, atol=1e-6)
        state_a, state_b = a["optimizer"]["state"][0], b["optimizer"]["state"][0]
        assert state_a["step"] == state_b["step"]
        torch.testing.assert_close(
            state_a["exp_avg_sq"], state_b["exp_avg_sq"], rtol=1e-3, atol=1e-9
        )
    # the seeds differ from each other: their own weights, envs and samples
    first, second = rows(parent / "s0"), rows(parent / "s1")
    assert first[-2]["train/value_loss"] != second[-2]["train/value_loss"]


def test_gaussian_actions_group_too(tmp_path):
    overrides = [
        "n_envs=8",
        "n_steps=64",
        "batch_size=128",
        "n_epochs=2",
        "total_steps=2048",
        "log_interval=512",
        "eval_interval=0",
        "eval_episodes=2",
    ]
    parent = group(tmp_path, [3, 5], "Pendulum-v1", None, overrides)
    alone = single(tmp_path, 5, "Pendulum-v1", None, overrides)
    assert_rows_close(rows(parent / "s5"), rows(alone))


def test_a_stop_asked_between_the_seeds_turns_saves_every_seed(tmp_path, monkeypatch):
    """A signal that lands after seed 0 has passed its stop check and before seed 1's (the
    window the SIGTERM test below can hit) still leaves a checkpoint in every run dir."""
    from rlkit.errors import Stopped
    from rlkit.periodic import Periodic

    original, turns = Periodic.after, []

    def after(self, before, step, metrics=None):
        turns.append(self.run.seed)
        if len(turns) == 6:  # the third update, seed 1's turn: seed 0 is past its check
            self.run.stop.by_callback = True
        return original(self, before, step, metrics)

    monkeypatch.setattr(Periodic, "after", after)
    with pytest.raises(Stopped):
        group(tmp_path, [0, 1], "CartPole-v1", str(BATCHED), SHORT)
    assert turns == [0, 1, 0, 1, 0, 1]
    for seed in (0, 1):
        checkpoint = tmp_path / "group" / f"s{seed}" / "checkpoints" / "latest.pt"
        assert torch.load(checkpoint, weights_only=True)["step"] == 3 * 1024


def test_a_stop_during_a_seeds_final_video_saves_every_seed_and_each_finishes_on_resume(
    tmp_path, monkeypatch
):
    """A signal while seed 0 records its final video: every seed has evaluated and saved
    at the last step with its video pending; ``--resume`` of a seed records the video and
    writes its summary without a second final-evaluation row."""
    from rlkit.errors import Stopped
    from rlkit.evaluation import EvaluationCancelled
    from rlkit.launch import plan_resume
    from rlkit.periodic import Periodic

    recorded = []

    def video(self, step, cancel=None):
        if self.run.seed == 0:  # the signal comes mid-episode; the recorder gives up
            self.run.stop.signum = signal.SIGTERM
        if cancel is not None and cancel():
            raise EvaluationCancelled("stopping")
        recorded.append((self.run.seed, step))
        self.last_video = step

    monkeypatch.setattr(Periodic, "video", video)
    overrides = [*SHORT, "video_interval=100000"]  # only the final video
    with pytest.raises(Stopped):
        group(tmp_path, [0, 1], "CartPole-v1", str(BATCHED), overrides)
    assert recorded == []
    for seed in (0, 1):
        run_dir = tmp_path / "group" / f"s{seed}"
        checkpoint = torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)
        assert checkpoint["step"] == 10240
        assert checkpoint["resume"]["pending"] == {"video": 10240}
        assert checkpoint["resume"]["final"]["eval/episodes"] > 0
        assert not (run_dir / "summary.json").exists()
        final_rows = [r for r in rows(run_dir) if "eval/mean_return" in r]
        assert [r["step"] for r in final_rows] == [10240]
    result = execute(plan_resume(tmp_path / "group" / "s1", device="cpu", wandb="disabled"))
    assert recorded == [(1, 10240)]
    again = [r for r in rows(tmp_path / "group" / "s1") if "eval/mean_return" in r]
    assert again == final_rows  # the row logged before the stop, and no other
    assert result.summary["eval/mean_return"] == final_rows[0]["eval/mean_return"]


def test_a_stopped_group_saves_every_seed_and_one_seed_resumes_alone(tmp_path):
    """SIGTERM to a batched group: every seed saves; ``--resume`` of one seed's run dir
    then continues it alone and ends as its uninterrupted single run ends."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    args = [
        "--config",
        str(BATCHED),
        "total_steps=40960",
        "n_envs=64",
        "log_interval=1024",
        "--wandb",
        "disabled",
        "--quiet",
        "--device",
        "cpu",
    ]
    command = [sys.executable, "-m", "rlkit.cli.main", "train", "ppo", "CartPole-v1"]
    proc = subprocess.Popen(
        [*command, "--seeds", "0-1", "--batched", "--run-dir", "group", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics = tmp_path / "group" / "s1" / "metrics.jsonl"
    end = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < end:
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= 4:
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.05)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "every seed saved its checkpoint" in err
    steps = []
    for seed in (0, 1):
        checkpoint = tmp_path / "group" / f"s{seed}" / "checkpoints" / "latest.pt"
        steps.append(torch.load(checkpoint, weights_only=True)["step"])
        assert not (tmp_path / "group" / f"s{seed}" / "summary.json").exists()
    assert steps[0] == steps[1] < 40960
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlkit.cli.main",
            "train",
            "--resume",
            "group/s1",
            "--quiet",
            "--wandb",
            "disabled",
            "--device",
            "cpu",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    whole = subprocess.run(
        [*command, "--seed", "1", "--run-dir", "alone", "vec_env=torch", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert whole.returncode == 0, whole.stderr
    assert_rows_close(rows(tmp_path / "group" / "s1"), rows(tmp_path / "alone"))


def test_row_optimizer_state_is_a_single_optimizers():
    from rlkit.optim import RowOptimizer, make_optimizer

    generator = make_rngs(0).torch
    stacked = torch.nn.Parameter(torch.randn(3, 5, generator=generator))
    alone = torch.nn.Parameter(stacked.detach()[1].clone())
    many = make_optimizer("adam", [stacked], lr=0.1)
    one = make_optimizer("adam", [alone], lr=0.1)
    for _ in range(3):
        grad = torch.randn(3, 5, generator=generator)
        stacked.grad, alone.grad = grad.clone(), grad[1].clone()
        many.step()
        one.step()
    torch.testing.assert_close(stacked.detach()[1], alone.detach())
    row = RowOptimizer(many, 1).state_dict()
    want = one.state_dict()
    assert row["state"][0]["step"] == want["state"][0]["step"] == 3
    for key in ("exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(row["state"][0][key], want["state"][0][key])
    # a single optimizer's state goes back into a row of a fresh stacked optimizer
    fresh = make_optimizer("adam", [torch.nn.Parameter(torch.zeros(3, 5))], lr=0.1)
    RowOptimizer(fresh, 2).load_state_dict(want)
    state = next(iter(fresh.state.values()))
    torch.testing.assert_close(state["exp_avg"][2], want["state"][0]["exp_avg"])
    assert state["exp_avg"][0].abs().sum() == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["a2c", "CartPole-v1", "--seeds", "0-1", "--batched"], "--batched trains seeds as one batched computation for ppo; a2c"),
        (["ppo", "CartPole-v1", "--batched"], "give --seeds"),
        (["ppo", "CartPole-v1", "--seeds", "0-1", "--batched", "target_kl=0.01"], "target_kl=null"),
        (["ppo", "CartPole-v1", "--seeds", "0-1", "--batched", "vec_env=sync"], "vec_env=torch"),
        (["ppo", "CartPole-v1", "--seeds", "0-1", "--batched", "normalize_obs=true"], "normalize_obs=false"),
        (["ppo", "LunarLander-v3", "--seeds", "0-1", "--batched"], "batched torch version"),
        (["ppo", "CartPole-v1", "--seeds", "0-1", "--batched", "--jobs", "2"], "--jobs"),
        (["ppo", "CartPole-v1", "--seeds", "1,1", "--batched"], "distinct integers"),
    ],
)  # fmt: skip
def test_bad_batched_input_is_one_line_exit_2(cli, tmp_path, argv, message):
    code, _, err = cli("train", *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert message in err
    assert not (tmp_path / "runs").exists()


def test_the_baseline_refuses_batched(cli):
    code, _, err = cli("baseline", "ppo", "CartPole-v1", "--seeds", "0-1", "--batched")
    assert code == 2 and "--batched is rlkit's" in err
