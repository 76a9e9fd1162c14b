"""The learning-record scripts' arithmetic (benchmarks/_records.py, benchmarks/minatar.py):
the curves they publish are computed from metrics rows by these."""

from __future__ import annotations

import json

import pytest

from benchmarks._records import SITTING_GAP_S, read_rows, training_wall
from benchmarks.minatar import YOUNG_TIAN_DQN, curve_of, published_at, seed_mean


def test_training_wall_leaves_out_the_pauses_between_sittings():
    times = [100.0, 110.0, 125.0, 125.0 + SITTING_GAP_S + 5000.0, 140.0 + SITTING_GAP_S + 5000.0]
    assert training_wall([{"time": t} for t in times]) == [0.0, 10.0, 25.0, 25.0, 40.0]
    assert training_wall([]) == []


def test_rows_are_read_back_and_a_resumed_step_keeps_its_last_value(tmp_path):
    rows = [
        {"step": 10, "time": 1.0, "rollout/ep_return": 1.0},
        {"step": 10, "time": 2.0, "eval/mean_return": 3.0},
        {"step": 20, "time": 3.0, "rollout/ep_return": 2.0},
        {"step": 20, "time": 9.0, "rollout/ep_return": 2.5},  # the resumed process's row
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_rows(tmp_path) == rows
    assert read_rows(tmp_path / "missing") == []
    assert curve_of(rows) == {10: 1.0, 20: 2.5}


def test_seed_mean_covers_only_the_steps_every_seed_reached():
    curves = [{10: 1.0, 20: 3.0, 30: 5.0}, {10: 3.0, 20: 5.0}, {10: 2.0, 20: 4.0, 40: 9.0}]
    assert seed_mean(curves) == [(10, 2.0, 1.0, 3.0), (20, 4.0, 3.0, 5.0)]
    assert seed_mean([]) == []


def test_the_published_curve_is_interpolated_inside_its_points_only():
    points = YOUNG_TIAN_DQN["Breakout"]
    assert published_at(points, 1_000_000) == pytest.approx(9.2)
    assert published_at(points, 1_250_000) == pytest.approx((9.2 + 9.4) / 2)
    assert published_at(points, 50_000) is None
    assert published_at(points, 6_000_000) is None
