"""The same seed on the CPU gives the same run: metrics.jsonl identical, time fields aside."""

import json

import pytest

TIME_KEYS = {"time", "time/sps", "time/elapsed_s"}


def rows(path):
    return [
        {k: v for k, v in json.loads(line).items() if k not in TIME_KEYS}
        for line in path.read_text().splitlines()
    ]


@pytest.mark.parametrize(
    "algo,env_id,args",
    [
        (
            "dqn",
            "CartPole-v1",
            ("total_steps=3000", "learning_starts=500", "eval_interval=1000", "log_interval=250"),
        ),
        ("ppo", "CartPole-v1", ("total_steps=4096", "eval_interval=1024", "log_interval=256")),
        (
            "q-learning",
            "FrozenLake-v1",
            ("total_steps=5000", "eval_interval=1000", "log_interval=500"),
        ),
        (
            "recurrent-ppo",
            "rlkit/CartPoleNoVel-v1",
            ("total_steps=1024", "eval_interval=512", "log_interval=256"),
        ),
    ],
)
def test_same_seed_same_metrics(cli, tmp_path, algo, env_id, args):
    for name in ("a", "b"):
        code, _, err = cli(
            "train", algo, env_id, *args, "--seed", "7", "--wandb", "disabled", "--run-dir", name
        )
        assert code == 0, err
    first, second = rows(tmp_path / "a" / "metrics.jsonl"), rows(tmp_path / "b" / "metrics.jsonl")
    assert len(first) > 3 and first == second
    assert any("eval/mean_return" in r for r in first)
    code, _, err = cli(
        "train", algo, env_id, *args, "--seed", "8", "--wandb", "disabled", "--run-dir", "c"
    )
    assert code == 0, err
    assert rows(tmp_path / "c" / "metrics.jsonl") != first  # the seed matters: the test can fail
