"""The in-run profile (``rlkit.timing``): phases counted where the loops run them."""

import json
import time

import pytest

import rlkit
from rlkit.timing import PHASES, Phases


def test_phases_sum_their_own_time_and_count_calls():
    phases = Phases()
    phases.start(enabled=True)
    for _ in range(3):
        with phases("a"):
            time.sleep(0.01)
    with phases("b"):
        pass
    summary = phases.summary()
    a, b = summary["phases"]["a"], summary["phases"]["b"]
    assert a["calls"] == 3 and b["calls"] == 1
    assert 0.03 <= a["s"] <= summary["wall_s"]  # (both rounded to 0.1 ms: they can tie)
    assert list(summary["phases"]) == ["a", "b"]  # longest first
    assert summary["other_s"] == pytest.approx(summary["wall_s"] - a["s"] - b["s"], abs=1e-3)


def test_disabled_phases_record_nothing(monkeypatch):
    monkeypatch.delenv("RLKIT_PROFILE", raising=False)
    phases = Phases()
    phases.start()
    with phases("a"):
        pass
    assert not phases.enabled and phases.summary()["phases"] == {}
    monkeypatch.setenv("RLKIT_PROFILE", "0")
    phases.start()
    assert not phases.enabled


def train(algo, run_dir, monkeypatch, profile, **overrides):
    """A short CartPole run of ``algo`` in ``run_dir``, profiled or not; its
    ``profile.json`` (None when it wrote none). The process's profile is off after."""
    if profile:
        monkeypatch.setenv("RLKIT_PROFILE", "1")
    else:
        monkeypatch.delenv("RLKIT_PROFILE", raising=False)
    try:
        rlkit.train(
            algo,
            "CartPole-v1",
            run_dir=run_dir,
            progress=False,
            eval_episodes=1,
            eval_interval=0,
            **overrides,
        )
    finally:
        PHASES.start(enabled=False)
    assert (run_dir / "summary.json").is_file()
    path = run_dir / "profile.json"
    return json.loads(path.read_text()) if path.exists() else None


def test_a_dqn_run_profiles_each_phase_of_its_loop(tmp_path, monkeypatch):
    profile = train(
        "dqn",
        tmp_path / "dqn",
        monkeypatch,
        True,
        total_steps=600,
        learning_starts=100,
        train_freq=4,
        gradient_steps=1,
        target_update_interval=50,
        log_interval=200,
    )
    phases = profile["phases"]
    assert phases["act"]["calls"] == phases["store"]["calls"] == 600
    assert phases["env"]["calls"] > 600  # the steps and the resets after each episode
    assert phases["update"]["calls"] == (600 - 100) // 4
    assert phases["sample"]["calls"] == phases["target"]["calls"] == (600 - 100) // 4
    assert phases["sync"]["calls"] == 600 // 50 - 2  # none before learning starts
    timed = sum(p["s"] for p in phases.values())
    assert timed + profile["other_s"] == pytest.approx(profile["wall_s"], abs=1e-3)


def test_a_ppo_run_profiles_rollouts_and_updates(tmp_path, monkeypatch):
    ppo = {"n_envs": 2, "n_steps": 64, "batch_size": 64}
    profile = train("ppo", tmp_path / "ppo", monkeypatch, True, total_steps=512, n_epochs=2, **ppo)
    phases = profile["phases"]
    rollouts = 512 // (2 * 64)
    assert phases["act"]["calls"] == phases["env"]["calls"] == rollouts * 64
    assert phases["update"]["calls"] == phases["gae"]["calls"] == rollouts
    # without the variable a run writes no profile
    assert train("ppo", tmp_path / "plain", monkeypatch, False, total_steps=128, **ppo) is None
