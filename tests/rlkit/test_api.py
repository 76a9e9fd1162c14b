"""The Python API: ``rlkit.train`` / ``load`` / ``Agent`` / ``make_vector_env`` /
``evaluate_policy``, and the README's example run as it is written there."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit
from rlkit.errors import BadInput

ROOT = Path(__file__).resolve().parents[2]
SMALL_PPO = {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 2, "eval_episodes": 3}


def test_the_readme_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    (block,) = re.findall(r"<!-- api-example -->\n```python\n(.*?)```", text, re.S)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    agent = namespace["agent"]
    assert isinstance(agent, rlkit.Agent) and agent.algo == "ppo"
    assert (tmp_path / "ppo-cartpole" / "checkpoints" / "latest.pt").is_file()


def test_train_without_a_run_dir_writes_nothing_and_predicts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    agent = rlkit.train(
        "ppo", "CartPole-v1", run_dir=None, total_steps=512, progress=False, **SMALL_PPO
    )
    assert list(tmp_path.iterdir()) == []
    assert agent.run_dir is None and agent.steps == 512 and agent.summary["total_steps"] == 512
    assert isinstance(agent.policy, torch.nn.Module) and agent.config.n_envs == 2
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=3)
    action, state = agent.predict(obs)
    assert state is None and env.action_space.contains(int(action)) and np.ndim(action) == 0
    batch = np.stack([env.observation_space.sample() for _ in range(5)])
    actions, _ = agent.predict(batch)
    with torch.no_grad():
        dist, _ = agent.policy(torch.as_tensor(batch))
    assert actions.shape == (5,) and actions.tolist() == dist.mode().tolist()  # the mode
    from_torch, _ = agent.predict(torch.as_tensor(batch))
    assert from_torch.tolist() == actions.tolist()
    sampled = {int(agent.predict(obs, deterministic=False)[0]) for _ in range(50)}
    assert sampled <= {0, 1}
    with pytest.raises(BadInput, match="predict takes an observation of shape"):
        agent.predict(np.zeros(3))


def test_evaluate_reproduces_the_final_evaluation_of_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    agent = rlkit.train(
        "ppo", "Pendulum-v1", run_dir="r", total_steps=256, progress=False, **SMALL_PPO
    )
    result = agent.evaluate()
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert result["eval/mean_return"] == pytest.approx(summary["eval/mean_return"])
    assert result["eval/episodes"] == 3 and len(result["returns"]) == 3
    actions, _ = agent.predict(np.zeros((4, 3), np.float32))
    assert actions.shape == (4, 1) and (np.abs(actions) <= 2.0).all()  # Box actions, clipped
    assert "eval/human_normalized" not in result  # no Atari game


def test_an_atari_evaluation_is_also_human_normalized():
    agent = rlkit.train(
        "dqn",
        "ALE/Breakout-v5",
        run_dir=None,
        total_steps=40,
        learning_starts=20,
        buffer_size=100,
        eval_interval=0,
        eval_episodes=1,
        env_kwargs={"max_num_frames_per_episode": 400},  # 100 agent steps a game
        progress=False,
    )
    result = agent.evaluate()
    # Breakout's random and human testers' scores: 1.7 and 30.5
    expected = (result["eval/mean_return"] - 1.7) / 28.8
    assert result["eval/human_normalized"] == pytest.approx(expected)
    assert agent.summary["eval/human_normalized"] == pytest.approx(
        (agent.summary["eval/mean_return"] - 1.7) / 28.8
    )


def test_learn_continues_exactly_where_training_stopped():
    """Training 2N steps in one go, and N steps then ``learn(N)``, end with equal weights
    (constant schedules; the evaluations never touch the training generators)."""
    settings = {**SMALL_PPO, "learning_rate": 3e-4, "clip_range": 0.2, "eval_interval": 256}
    whole = rlkit.train(
        "ppo", "CartPole-v1", run_dir=None, total_steps=1024, progress=False, **settings
    )
    half = rlkit.train(
        "ppo", "CartPole-v1", run_dir=None, total_steps=512, progress=False, **settings
    )
    assert half.learn(512, progress=False) is half and half.steps == 1024
    for (name, a), b in zip(
        whole.policy.state_dict().items(), half.policy.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    with pytest.raises(BadInput, match="steps"):
        half.learn(0)


def test_learn_on_image_observations_needs_the_replay_kept():
    """DQN keeps the replay of image observations out of its checkpoints unless
    ``save_replay`` is on, so an agent trained without it cannot continue exactly: ``learn``
    says so in one line and names the setting; with it, the agent continues."""
    small = {"total_steps": 400, "learning_starts": 200, "buffer_size": 1000, "progress": False}
    agent = rlkit.train("dqn", "MinAtar/Breakout-v1", run_dir=None, **small)
    with pytest.raises(BadInput, match="save_replay=true"):
        agent.learn(100, progress=False)
    kept = rlkit.train("dqn", "MinAtar/Breakout-v1", run_dir=None, save_replay=True, **small)
    assert kept.learn(100, progress=False).steps == 500


def test_a_callback_sees_every_row_and_stops_the_run(tmp_path):
    rows = []

    def callback(row):
        rows.append(row)
        return row["step"] < 256  # stop once a row at step >= 256 comes

    agent = rlkit.train(
        "q-learning",
        "FrozenLake-v1",
        run_dir=tmp_path / "r",
        total_steps=10_000,
        log_interval=64,
        eval_interval=0,
        callback=callback,
        progress=False,
    )
    assert [r["step"] for r in rows] == list(range(64, 257, 64))
    assert all("train/epsilon" in r for r in rows)
    assert agent.steps == 256 and agent.summary is None  # stopped, not finished
    assert not (tmp_path / "r" / "summary.json").exists()
    assert (tmp_path / "r" / "checkpoints" / "latest.pt").is_file()


class Corridor(gym.Env):
    """A user's env: walk right (action 1) along 4 cells; reward 1 at the end."""

    def __init__(self, render_mode=None):
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.position = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.position = max(0, self.position + (1 if int(action) == 1 else -1))
        done = self.position == 4
        obs = np.array([self.position / 4], np.float32)
        return obs, float(done), done, False, {}


def test_a_users_env_factory_or_instance_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = {"total_steps": 512, "progress": False, "run_dir": None, "eval_episodes": 2}
    small = {k: v for k, v in SMALL_PPO.items() if k != "eval_episodes"}
    agent = rlkit.train("ppo", lambda: gym.wrappers.TimeLimit(Corridor(), 20), **settings, **small)
    assert agent.env_id == "custom-Corridor" and agent.steps == 512
    instance = gym.wrappers.TimeLimit(Corridor(), 20)
    agent = rlkit.train("dqn", instance, **settings, learning_starts=64)
    assert agent.evaluate(episodes=2)["eval/episodes"] == 2
    with pytest.raises(BadInput, match="needs an env factory"):
        rlkit.train("ppo", instance, **settings, n_envs=2)


def test_an_env_that_fails_gymnasiums_checker_is_refused():
    class Broken(Corridor):
        def reset(self, *, seed=None, options=None):
            return np.zeros(3, np.float32), {}  # outside its observation space

    with pytest.raises(BadInput, match="env checker"):
        rlkit.train("ppo", lambda: Broken(), run_dir=None, progress=False)


def test_bad_input_raises_the_line_the_cli_prints(cli):
    with pytest.raises(BadInput) as caught:
        rlkit.train("ppo", "CartPole-v1", run_dir=None, gama=0.9)
    code, _, err = cli("train", "ppo", "CartPole-v1", "gama=0.9")
    assert code == 2 and err.strip() == f"rlkit: error: {caught.value}"
    with pytest.raises(BadInput, match="unknown algorithm 'ppoo'"):
        rlkit.train("ppoo", "CartPole-v1")


def test_planners_give_their_value_table_and_policy():
    agent = rlkit.train("value-iteration", "FrozenLake-v1", run_dir=None, progress=False)
    assert agent.values.shape == (16,) and agent.q.shape == (16, 4)
    assert agent.policy.tolist() == agent.q.argmax(dim=1).tolist()
    actions, _ = agent.predict(np.array([0, 14]))
    assert actions.tolist() == [int(agent.policy[0]), int(agent.policy[14])]
    assert int(agent.predict(0)[0]) == int(agent.policy[0])
    with pytest.raises(BadInput, match="solves the MDP exactly"):
        agent.learn(10)


def test_recurrent_predict_carries_and_resets_the_memory():
    agent = rlkit.train(
        "recurrent-ppo",
        "rlkit/CartPoleNoVel-v1",
        run_dir=None,
        total_steps=256,
        n_envs=2,
        n_steps=32,
        batch_size=32,
        n_epochs=1,
        progress=False,
    )
    obs = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
    # one env, step by step, through predict; and the policy as evaluation plays it
    state, actions = None, []
    for t, o in enumerate(obs):
        action, state = agent.predict(o, state=state, episode_start=t in (0, 3))
        actions.append(int(action))
    assert state[0].shape[:2] == (1, 1)  # (layers, envs, hidden of the policy and value LSTMs)
    policy = agent._policy
    expected = []
    for t, o in enumerate(obs):
        if t in (0, 3):
            policy.reset()
        expected.append(policy(o))
    assert actions == expected
    # a batch of two envs keeps two memories
    both, state = agent.predict(obs[:2], episode_start=[True, True])
    assert both.shape == (2,) and state[0].shape[:2] == (1, 2)


def test_save_and_load_round_trip_for_the_cli_too(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    agent = rlkit.train(
        "dqn",
        "CartPole-v1",
        run_dir=None,
        total_steps=600,
        learning_starts=100,
        eval_episodes=2,
        progress=False,
    )
    path = agent.save("saved")
    assert path == Path("saved") and agent.run_dir == path
    code, out, err = cli("eval", "saved")
    assert code == 0, err
    evaluation = json.loads((tmp_path / "saved" / "eval.json").read_text())
    assert evaluation["eval/mean_return"] == pytest.approx(agent.evaluate()["eval/mean_return"])
    loaded = rlkit.load("saved")
    obs = np.random.default_rng(1).normal(size=(7, 4)).astype(np.float32)
    assert loaded.predict(obs)[0].tolist() == agent.predict(obs)[0].tolist()
    assert loaded.steps == 600 and loaded.summary == agent.summary
    single = agent.save(tmp_path / "one.pt")
    assert rlkit.load(single).predict(obs)[0].tolist() == agent.predict(obs)[0].tolist()
    loaded.learn(100, progress=False)  # a saved run dir carries the state to continue
    assert loaded.steps == 700
    for broken in ("{", "[1]"):  # a run dir is a user's file: one clear error
        (tmp_path / "saved" / "summary.json").write_text(broken)
        with pytest.raises(rlkit.BadInput, match="summary.json"):
            rlkit.load("saved")


def test_load_takes_an_sb3_baseline_run(tmp_path, cli):
    code, _, err = cli(
        "baseline",
        "ppo",
        "CartPole-v1",
        "total_steps=256",
        "n_envs=2",
        "n_steps=64",
        "batch_size=64",
        "n_epochs=1",
        "eval_episodes=2",
        "--wandb",
        "disabled",
        "--run-dir",
        "sb3",
    )
    assert code == 0, err
    agent = rlkit.load(tmp_path / "sb3")
    obs = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    actions, _ = agent.predict(obs)
    expected, _ = agent.policy.predict(obs, deterministic=True)  # SB3's own
    assert actions.tolist() == expected.tolist()
    summary = json.loads((tmp_path / "sb3" / "summary.json").read_text())
    assert agent.evaluate()["eval/mean_return"] == pytest.approx(summary["eval/mean_return"])
    with pytest.raises(BadInput, match="SB3 baseline"):
        agent.learn(10)


def test_make_vector_env_is_seeded_and_checked():
    a = rlkit.make_vector_env("CartPole-v1", 3, seed=5)
    b = rlkit.make_vector_env("CartPole-v1", 3, seed=5)
    actions = np.array([0, 1, 1])
    for _ in range(20):
        oa, *_ = a.step(actions)
        ob, *_ = b.step(actions)
        assert np.array_equal(oa, ob)
    assert a.num_envs == 3
    with pytest.raises(BadInput, match="backend"):
        rlkit.make_vector_env("CartPole-v1", 2, backend="threads")
    with pytest.raises(BadInput, match="n_envs"):
        rlkit.make_vector_env("CartPole-v1", 0)


def test_evaluate_policy_gives_the_books_figure_3_2():
    result = rlkit.evaluate_policy("rlkit/GridWorld5x5-v0", "uniform", gamma=0.9)
    book = [
        [3.3, 8.8, 4.4, 5.3, 1.5],
        [1.5, 3.0, 2.3, 1.9, 0.5],
        [0.1, 0.7, 0.7, 0.4, -0.4],
        [-1.0, -0.4, -0.4, -0.6, -1.2],
        [-1.9, -1.3, -1.2, -1.4, -2.0],
    ]
    assert np.round(result["values"].reshape(5, 5), 1).tolist() == book


EVERY_ALGORITHM = {
    "value-iteration": ("FrozenLake-v1", {}),
    "policy-iteration": ("FrozenLake-v1", {}),
    "policy-evaluation": ("rlkit/GridWorld5x5-v0", {}),
    "q-learning": ("FrozenLake-v1", {"total_steps": 300}),
    "dqn": ("CartPole-v1", {"total_steps": 300, "learning_starts": 100}),
    "reinforce": ("CartPole-v1", {"total_steps": 100, "n_envs": 2}),
    "a2c": ("CartPole-v1", {"total_steps": 100, "n_envs": 2}),
    "ppo": ("Pendulum-v1", {"total_steps": 128, **SMALL_PPO}),
    "recurrent-ppo": (
        "rlkit/PendulumNoVel-v1",
        {"total_steps": 128, "n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1},
    ),
}


def test_every_algorithm_works_through_the_api():
    from rlkit.agents import ALGORITHMS

    assert set(EVERY_ALGORITHM) == set(ALGORITHMS)
    for algo, (env_id, overrides) in EVERY_ALGORITHM.items():
        agent = rlkit.train(
            algo, env_id, run_dir=None, progress=False, **{"eval_episodes": 1, **overrides}
        )
        obs = agent.observation_space.sample()
        action, _ = agent.predict(obs)
        assert agent.action_space.contains(
            np.asarray(action, dtype=agent.action_space.dtype).reshape(agent.action_space.shape)
        ), algo
        assert agent.evaluate(episodes=1)["eval/episodes"] == 1, algo
        assert agent.steps >= 1 and agent.summary["algo"] == algo


def _denormal_survives() -> bool:
    """Whether a float32 denormal (1e-39) survives arithmetic on this thread."""
    return (torch.tensor([1e-39]) * 1.0).item() != 0.0


def test_training_flushes_denormals_and_puts_the_flag_back():
    """rlkit's agents train with float32 denormals flushed to zero (``launch.flushing_denormals``:
    they cost microcode time on x86); the caller's setting is back when ``train`` returns,
    whichever it was."""
    from rlkit.launch import flushing_denormals

    assert _denormal_survives()
    seen = []
    settings = {"total_steps": 300, "learning_starts": 100, "eval_episodes": 1}
    rlkit.train(
        "dqn",
        "CartPole-v1",
        run_dir=None,
        progress=False,
        **settings,
        callback=lambda row: seen.append(_denormal_survives()),
    )
    supported = torch.set_flush_denormal(True)  # (False on a CPU without the flag)
    torch.set_flush_denormal(False)
    assert seen and (not any(seen) if supported else all(seen))  # flushed during the run
    assert _denormal_survives()  # and put back
    torch.set_flush_denormal(True)
    try:
        with flushing_denormals():
            pass
        assert _denormal_survives() is not supported  # a caller that flushes keeps flushing
    finally:
        torch.set_flush_denormal(False)
    assert _denormal_survives()


def test_a_first_run_leaves_torchs_worker_threads_unflushed():
    """Training as a process's first parallel torch work starts the intra-op threads; they
    must not inherit the run's flush-to-zero flag for good: multi-threaded arithmetic
    after the run keeps its denormals (a fresh process, two threads)."""
    import subprocess
    import sys

    script = """
import torch, rlkit
torch.set_num_threads(2)
rlkit.train("dqn", "CartPole-v1", run_dir=None, progress=False, total_steps=200,
            learning_starts=100, eval_episodes=1)
x = torch.full((1 << 17,), 1e-30) * 1e-9  # denormal products, in chunks on both threads
print(int((x != 0).sum()))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) == 1 << 17
