"""End to end through the CLI: run dir contents, summary keys, eval, bad input."""

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from rlkit.checkpoint import load_checkpoint

SUMMARY_KEYS = {
    "algo",
    "env_id",
    "seed",
    "total_steps",
    "wall_time_s",
    "time/sps",
    "eval/mean_return",
    "eval/std_return",
    "eval/episodes",
    "eval/auc",
}


def test_value_iteration_run_dir_and_eval(cli, tmp_path):
    code, out, err = cli(
        "train",
        "value-iteration",
        "FrozenLake8x8-v1",
        "gamma=0.99",
        "--wandb",
        "disabled",
        "--run-dir",
        "r",
    )
    assert code == 0, err
    run = tmp_path / "r"
    assert {p.name for p in run.iterdir()} >= {
        "config.yaml",
        "metrics.jsonl",
        "summary.json",
        "checkpoints",
        "tb",
    }
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["algo"] == "value-iteration" and config["env_id"] == "FrozenLake8x8-v1"
    assert config["gamma"] == 0.99 and config["seed"] == 0 and config["device"] == "cpu"
    assert config["versions"]["torch"] == metadata.version("torch")
    summary = json.loads((run / "summary.json").read_text())
    assert SUMMARY_KEYS | {"v_start", "iterations"} <= set(summary)
    assert summary["v_start"] == pytest.approx(0.4146403, abs=1e-6)
    ckpt = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert ckpt["values"].shape == (64,) and ckpt["policy"].shape == (64,)
    assert ckpt["algo"] == "value-iteration" and ckpt["config"]["gamma"] == 0.99
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["eval/mean_return"] == summary["eval/mean_return"]
    assert "run dir: r" in out

    code, out, err = cli("eval", "r", "--episodes", "100")
    assert code == 0, err
    result = json.loads((run / "eval.json").read_text())
    # same seed, same deterministic policy: the training-time evaluation is reproduced
    assert result["eval/mean_return"] == summary["eval/mean_return"]
    assert "mean return" in out and "+-" in out


def test_default_config_file_is_used(cli, tmp_path):
    code, _, err = cli(
        "train", "value-iteration", "rlkit/GridWorld5x5-v0", "--wandb", "disabled", "--run-dir", "g"
    )
    assert code == 0, err
    config = yaml.safe_load((tmp_path / "g" / "config.yaml").read_text())
    assert config["gamma"] == 0.9  # from configs/value-iteration/rlkit-GridWorld5x5-v0.yaml
    summary = json.loads((tmp_path / "g" / "summary.json").read_text())
    assert summary["v_start"] == pytest.approx(np.mean(GRID_FIGURE), abs=0.05)


GRID_FIGURE = [
    22.0,
    24.4,
    22.0,
    19.4,
    17.5,
    19.8,
    22.0,
    19.8,
    17.8,
    16.0,
    17.8,
    19.8,
    17.8,
    16.0,
    14.4,
    16.0,
    17.8,
    16.0,
    14.4,
    13.0,
    14.4,
    16.0,
    14.4,
    13.0,
    11.7,
]


def test_default_run_dir_name(cli, tmp_path):
    code, _, err = cli(
        "train", "policy-iteration", "FrozenLake-v1", "--seed", "3", "--wandb", "disabled"
    )
    assert code == 0, err
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("policy-iteration-FrozenLake-v1-s3-")


def test_wandb_offline_by_default(cli, tmp_path):
    code, _, err = cli("train", "policy-iteration", "FrozenLake-v1", "--run-dir", "w")
    assert code == 0, err
    assert list((tmp_path / "w" / "wandb").glob("offline-run-*"))


BAD_INPUTS = [
    (["train", "value-iteraton", "FrozenLake-v1"], "did you mean 'value-iteration'"),
    (["train", "value-iteration", "FrozenLak-v1"], "did you mean 'FrozenLake-v1'"),
    (["train", "value-iteration", "FrozenLake-v1", "gama=0.9"], "did you mean 'gamma'"),
    (["train", "value-iteration", "FrozenLake-v1", "gamma=abc"], "gamma='abc'; expected a number"),
    (["train", "value-iteration", "FrozenLake-v1", "gamma=1.5"], "allowed: 0 < gamma <= 1"),
    (["train", "value-iteration", "FrozenLake-v1", "gamma=0"], "allowed: 0 < gamma <= 1"),
    (["train", "value-iteration", "CartPole-v1"], "needs a tabular env"),
    (["train", "policy-iteration", "CartPole-v1"], "needs a tabular env"),
    (["train", "q-learning", "CartPole-v1"], "needs a tabular env"),
    (
        ["train", "value-iteration", "rlkit/GridWorld5x5-v0", "gamma=1"],
        "gamma=1 on a continuing task",
    ),
    (["train", "q-learning", "FrozenLake-v1", "total_steps=-5"], "total_steps=-5"),
    (["train", "q-learning", "FrozenLake-v1", "learning_rate"], "expected key=value"),
    (["train", "value-iteration"], "needs an env id"),
    (["train", "value-iteration", "FrozenLake-v1", "--seed", "-1"], "--seed"),
    (["train", "value-iteration", "FrozenLake-v1", "--config", "missing.yaml"], "not found"),
    (["train", "value-iteration", "FrozenLake-v1", "--device", "tpu"], "invalid choice"),
    (["train", "value-iteration", "FrozenLake-v1", "env_kwargs.slippery=false"], "bad env_kwargs"),
    (["eval", "no-such-run"], "no such run dir"),
]


@pytest.mark.parametrize("argv,message", BAD_INPUTS)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(cli, tmp_path, argv, message):
    code, out, err = cli(*argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == []


def test_existing_run_dir_is_not_overwritten(cli, tmp_path):
    run = tmp_path / "taken"
    run.mkdir()
    (run / "keep.txt").write_text("mine")
    code, _, err = cli("train", "value-iteration", "FrozenLake-v1", "--run-dir", "taken")
    assert code == 2 and "already exists" in err
    assert [p.name for p in run.iterdir()] == ["keep.txt"]


def test_eval_of_a_foreign_checkpoint(cli, tmp_path):
    torch.save({"weights": torch.zeros(1)}, tmp_path / "foreign.pt")
    code, _, err = cli("eval", "foreign.pt")
    assert code == 2 and "not an rlkit checkpoint" in err


def test_help_lists_algorithms_envs_and_options(cli):
    code, out, _ = cli("--help")
    assert code == 0
    for name in (
        "value-iteration",
        "policy-iteration",
        "q-learning",
        "FrozenLake8x8-v1",
        "MinAtar/Breakout-v1",
        "train",
        "eval",
    ):
        assert name in out
    code, out, _ = cli("train", "--help")
    assert code == 0
    for name in (
        "value-iteration",
        "Taxi-v4",
        "--config",
        "--seed",
        "--run-dir",
        "--device",
        "--wandb",
    ):
        assert name in out
    code, out, _ = cli("train", "value-iteration", "--help-config")
    assert code == 0 and "tol (float, default 1e-08)" in out


def test_console_script_runs():
    exe = Path(sys.executable).parent / "rlkit"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "rlkit.cli.main"]
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert "value-iteration" in done.stdout
