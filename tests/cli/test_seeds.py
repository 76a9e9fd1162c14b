"""``--seeds``: parallel seed runs under one parent, and the aggregate table."""

import json

import pytest

from rlkit.errors import BadInput
from rlkit.seeds import aggregate_table, parse_seeds


def test_parse_seeds():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("0,3,7") == [0, 3, 7]
    assert parse_seeds("0-1,5") == [0, 1, 5]
    for bad in ("3-1", "a", "", "1,1", "-2", "0-"):
        with pytest.raises(BadInput, match="--seeds"):
            parse_seeds(bad)


def test_aggregate_table_by_hand():
    rows = [
        {
            "seed": 0,
            "code": 0,
            "log": "l0",
            "summary": {"eval/mean_return": 10.0, "eval/std_return": 1.0},
        },
        {
            "seed": 1,
            "code": 0,
            "log": "l1",
            "summary": {"eval/mean_return": 20.0, "eval/std_return": 2.0},
        },
        {"seed": 2, "code": 1, "log": "l2", "summary": None},
    ]
    table = aggregate_table(rows).splitlines()
    assert table[1].split()[:3] == ["0", "10", "1"] and table[2].split()[:3] == ["1", "20", "2"]
    assert "failed (exit 1), see l2" in table[3]
    assert table[4].split()[:2] == ["all", "15"] and "std across seeds 5)" in table[4]
    # an Atari game's runs also give the seeds' mean human-normalized score
    for row, normalized in zip(rows, (0.25, 0.5, None), strict=True):
        if row["summary"] is not None:
            row["summary"]["eval/human_normalized"] = normalized
    last = aggregate_table(rows).splitlines()[-1]
    assert "std across seeds 5; human-normalized 0.375)" in last


def test_seeds_run_in_parallel_processes_with_one_run_dir_each(cli, tmp_path):
    code, out, err = cli(
        "train",
        "q-learning",
        "FrozenLake-v1",
        "total_steps=2000",
        "eval_interval=1000",
        "--seeds",
        "0-2",
        "--jobs",
        "2",
        "--wandb",
        "disabled",
        "--run-dir",
        "p",
    )
    assert code == 0, err
    parent = tmp_path / "p"
    assert sorted(p.name for p in parent.iterdir()) == ["logs", "s0", "s1", "s2"]
    summaries = [json.loads((parent / f"s{s}" / "summary.json").read_text()) for s in range(3)]
    assert [s["seed"] for s in summaries] == [0, 1, 2]
    lines = out.splitlines()
    for seed, summary in enumerate(summaries):
        row = next(x for x in lines if x.split()[:1] == [str(seed)])
        assert float(row.split()[1]) == pytest.approx(summary["eval/mean_return"], abs=5e-4)
    assert any(x.split()[:1] == ["all"] for x in lines)
    assert "seed 2:" in err


def test_an_existing_parent_is_refused_before_any_seed_runs(cli, tmp_path):
    (tmp_path / "p" / "s1").mkdir(parents=True)
    (tmp_path / "p" / "s1" / "keep.txt").write_text("mine")
    # the parent exists and is not empty: refused before anything runs
    code, _, err = cli("train", "q-learning", "FrozenLake-v1", "--seeds", "0-1", "--run-dir", "p")
    assert code == 2 and "already exists" in err
    assert (tmp_path / "p" / "s1" / "keep.txt").read_text() == "mine"


def test_baseline_seeds_write_sb3_runs_that_compare_reads(cli, tmp_path):
    code, out, err = cli(
        "baseline",
        "ppo",
        "CartPole-v1",
        "total_steps=512",
        "eval_interval=256",
        "eval_episodes=2",
        "--seeds",
        "0,1",
        "--wandb",
        "disabled",
        "--run-dir",
        "b",
    )
    assert code == 0, err
    summaries = [
        json.loads((tmp_path / "b" / f"s{s}" / "summary.json").read_text()) for s in (0, 1)
    ]
    assert [s["implementation"] for s in summaries] == ["sb3", "sb3"]
    code, out, err = cli("compare", "b")
    assert code == 0, err
    row = next(x for x in out.splitlines() if x.startswith("SB3 ppo"))
    assert row.split()[3] == "2"  # two seeds in the group
