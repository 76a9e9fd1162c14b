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
    assert 0.03 <= a["s"] < summary["wall_s"]
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


def test_a_dqn_run_profiles_each_phase_of_its_loop(tmp_path, monkeypatch):
    monkeypatch.setenv("RLKIT_PROFILE", "1")
    rlkit.train(
        "dqn",
        "CartPole-v1",
        run_dir=tmp_path / "dqn",
        progress=False,
        total_steps=600,
        learning_starts=100,
        train_freq=4,
        gradient_steps=1,
        target_update_interval=50,
        eval_episodes=1,
        eval_interval=0,
        log_interval=200,
    )
    profile = json.loads((tmp_path / "dqn" / "profile.json").read_text())
    phases = profile["phases"]
    assert phases["act"]["calls"] == phases["store"]["calls"] == 600
    assert phases["env"]["calls"] > 600  # the steps and the resets after each episode
    assert phases["update"]["calls"] == (600 - 100) // 4
    assert phases["sample"]["calls"] == phases["target"]["calls"] == (600 - 100) // 4
    assert phases["sync"]["calls"] == 600 // 50 - 2  # none before learning starts
    timed = sum(p["s"] for p in phases.values())
    assert timed + profile["other_s"] == pytest.approx(profile["wall_s"], abs=1e-3)
    PHASES.start(enabled=False)


def test_a_ppo_run_profiles_rollouts_and_updates(tmp_path, monkeypatch):
    monkeypatch.setenv("RLKIT_PROFILE", "1")
    rlkit.train(
        "ppo",
        "CartPole-v1",
        run_dir=tmp_path / "ppo",
        progress=False,
        total_steps=512,
        n_envs=2,
        n_steps=64,
        n_epochs=2,
        batch_size=64,
        eval_episodes=1,
        eval_interval=0,
    )
    phases = json.loads((tmp_path / "ppo" / "profile.json").read_text())["phases"]
    rollouts = 512 // (2 * 64)
    assert phases["act"]["calls"] == phases["env"]["calls"] == rollouts * 64
    assert phases["update"]["calls"] == phases["gae"]["calls"] == rollouts
    PHASES.start(enabled=False)


def test_no_profile_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("RLKIT_PROFILE", raising=False)
    rlkit.train(
        "ppo",
        "CartPole-v1",
        run_dir=tmp_path / "plain",
        progress=False,
        total_steps=128,
        n_envs=2,
        n_steps=64,
        batch_size=64,
        eval_episodes=1,
    )
    assert (tmp_path / "plain" / "summary.json").is_file()
    assert not (tmp_path / "plain" / "profile.json").exists()
