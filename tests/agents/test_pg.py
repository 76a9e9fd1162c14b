"""A2C, REINFORCE and recurrent PPO: gradients against autograd, returns by hand, exact
sequence replay, bad input, short CLI runs (and slow learning runs)."""

import json

import numpy as np
import pytest
import torch

from rlkit.agents import a2c, recurrent_ppo, reinforce
from rlkit.data.rollout import RolloutBatch


def batch_of(discrete: bool, n: int = 12) -> RolloutBatch:
    g = torch.Generator().manual_seed(0)
    actions = torch.randint(0, 3, (n,), generator=g) if discrete else torch.randn(n, 2, generator=g)
    return RolloutBatch(
        obs=torch.randn(n, 4, generator=g),
        actions=actions,
        log_probs=torch.zeros(n),
        values=torch.zeros(n),
        advantages=torch.randn(n, generator=g),
        returns=torch.randn(n, generator=g) * 3,
        episode_starts=torch.zeros(n),
    )


@pytest.mark.parametrize("discrete", [True, False])
def test_a2c_loss_gradient_is_checked_against_autograd(discrete):
    from tests.rlkit.test_passes import assert_written_out_matches_autograd

    config = a2c.Config(ent_coef=0.01, normalize_advantage=True)
    batch = batch_of(discrete)
    assert_written_out_matches_autograd(
        discrete, batch.obs, batch.actions, lambda out: a2c.a2c_loss(out, batch, config)
    )


@pytest.mark.parametrize("baseline", [True, False])
@pytest.mark.parametrize("discrete", [True, False])
def test_reinforce_loss_gradient_is_checked_against_autograd(baseline, discrete):
    from tests.rlkit.test_passes import assert_written_out_matches_autograd

    config = reinforce.Config(baseline=baseline, ent_coef=0.02)
    batch = batch_of(discrete)
    assert_written_out_matches_autograd(
        discrete,
        batch.obs,
        batch.actions,
        lambda out: reinforce.reinforce_loss(out, batch.returns, config),
    )


def test_reward_to_go_by_hand():
    # env 0: 3 steps, terminated; env 1: 2 steps, truncated with V(final) = 10, then idle
    episodes = reinforce.Episodes(
        obs=np.zeros((3, 2, 1)),
        actions=np.zeros((3, 2)),
        rewards=np.array([[1, 1], [2, 2], [3, 0]], np.float32),
        valid=np.array([[1, 1], [1, 1], [1, 0]], bool),
        terminated=np.array([[0, 0], [0, 0], [1, 0]], bool),
        ended=np.array([[0, 0], [0, 1], [1, 0]], bool),
        next_values=np.array([[0, 0], [0, 10], [0, 0]], np.float32),
    )
    g = reinforce.reward_to_go(episodes, 0.5)
    assert g[:, 0].tolist() == pytest.approx([1 + 0.5 * (2 + 0.5 * 3), 2 + 0.5 * 3, 3])
    assert g[:, 1].tolist() == pytest.approx([1 + 0.5 * (2 + 0.5 * 10), 2 + 0.5 * 10, 0])
    assert episodes.steps == 5


def test_recurrent_training_replays_the_rollout_exactly():
    from rlkit.acting import action_spec
    from rlkit.data import RolloutBuffer
    from rlkit.data.rollout import collect_rollout
    from rlkit.envs import make_env, make_vector_env
    from rlkit.periodic import EpisodeStats

    config = recurrent_ppo.Config(n_envs=4, n_steps=16, batch_size=32)
    probe = make_env("rlkit/CartPoleNoVel-v1")
    net = recurrent_ppo.make_network(probe, config, torch.Generator().manual_seed(0))
    actor = recurrent_ppo.RecurrentActor(
        net,
        action_spec(probe.action_space, "x"),
        4,
        torch.device("cpu"),
        torch.Generator().manual_seed(0),
    )
    env = make_vector_env(lambda: make_env("rlkit/CartPoleNoVel-v1"), 4)
    buf = RolloutBuffer(16, 4, (2,), np.float32)
    obs, _ = env.reset(seed=0)
    starts = np.ones(4, np.float32)
    for _ in range(3):  # later rollouts start from a carried memory, with resets inside
        buf.reset()
        actor.begin_rollout()
        obs, starts = collect_rollout(env, buf, obs, starts, actor, EpisodeStats())
        buf.finish(actor.values(obs), 0.99, 0.95)
        h0, c0 = actor.rollout_state
        for batch in buf.sequences(2, torch.Generator().manual_seed(0)):
            with torch.no_grad():
                dist, values, _ = net(
                    batch.obs,
                    (h0[:, batch.env_indices], c0[:, batch.env_indices]),
                    batch.episode_starts,
                )
            assert torch.allclose(dist.log_prob(batch.actions), batch.log_probs, atol=1e-6)
            assert torch.allclose(values, batch.values, atol=1e-6)
    assert buf.episode_starts[:, :].sum() > 0  # episodes did start inside the rollouts


@pytest.mark.parametrize(
    "algo,args,message",
    [
        (
            "ppo",
            ["CartPole-v1", "n_steps=10", "n_envs=3", "batch_size=7"],
            "a divisor of n_steps * n_envs = 30",
        ),
        ("ppo", ["FrozenLake-v1"], "ppo needs Box observations, got Discrete(16)"),
        ("ppo", ["CartPole-v1", "clip_range=lin_x"], "clip_range"),
        ("ppo", ["CartPole-v1", "gae_lambda=1.5"], "0 <= gae_lambda <= 1"),
        ("a2c", ["CartPole-v1", "n_steps=0"], "n_steps=0"),
        ("a2c", ["CartPole-v1", "optimizer=adagrad"], "optimizer"),
        ("reinforce", ["CartPole-v1", "n_envs=-1"], "n_envs=-1"),
        ("reinforce", ["CartPole-v1", "gamma=1.5"], "gamma"),
        ("recurrent-ppo", ["CartPole-v1", "frame_stack=4"], "frame stacking is refused"),
        ("recurrent-ppo", ["CartPole-v1", "n_steps=32", "batch_size=48"], "whole sequences"),
    ],
)
def test_bad_input(cli, tmp_path, algo, args, message):
    code, _, err = cli("train", algo, *args, "--wandb", "disabled")
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_box_actions_are_refused_where_a_policy_cannot_take_them():
    import gymnasium as gym

    from rlkit.acting import action_spec
    from rlkit.errors import BadInput

    with pytest.raises(
        BadInput, match=r"needs a Discrete or 1-D Box action space, got MultiDiscrete"
    ):
        action_spec(gym.spaces.MultiDiscrete([2, 3]), "ppo")
    with pytest.raises(BadInput, match="bounded Box"):
        action_spec(gym.spaces.Box(-np.inf, np.inf, (2,)), "ppo")


@pytest.mark.parametrize(
    "algo,env_id,steps",
    [
        ("ppo", "Pendulum-v1", "n_steps=64"),
        ("a2c", "CartPole-v1", "n_steps=5"),
        ("reinforce", "CartPole-v1", "n_envs=2"),
        ("recurrent-ppo", "rlkit/CartPoleNoVel-v1", "n_steps=32"),
    ],
)
def test_short_run_writes_a_run_dir_and_eval_reproduces_it(cli, tmp_path, algo, env_id, steps):
    code, _, err = cli(
        "train",
        algo,
        env_id,
        steps,
        "total_steps=1024",
        "eval_interval=512",
        "eval_episodes=2",
        "log_interval=256",
        "--wandb",
        "disabled",
        "--run-dir",
        "r",
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["algo"] == algo and summary["total_steps"] >= 1024
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert any("train/policy_loss" in r for r in rows) and any(
        "eval/mean_return" in r for r in rows
    )
    code, _, err = cli("eval", "r", "--episodes", "2")
    assert code == 0, err
    evaluation = json.loads((tmp_path / "r" / "eval.json").read_text())
    assert evaluation["eval/mean_return"] == pytest.approx(summary["eval/mean_return"])


@pytest.mark.slow
@pytest.mark.parametrize("algo,threshold", [("ppo", 500.0), ("a2c", 475.0), ("reinforce", 475.0)])
def test_cartpole_with_its_config(cli, tmp_path, algo, threshold):
    code, _, err = cli(
        "train", algo, "CartPole-v1", "--seed", "0", "--wandb", "disabled", "--run-dir", "cp"
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "cp" / "summary.json").read_text())
    assert summary["eval/mean_return"] >= threshold


def test_ppo_runs_the_nature_cnn_on_atari_in_async_envs(cli, tmp_path):
    code, out, err = cli(
        "train",
        "ppo",
        "PongNoFrameskip-v4",
        "n_envs=2",
        "n_steps=32",
        "batch_size=32",
        "n_epochs=1",
        "total_steps=128",
        "eval_interval=0",
        "eval_episodes=1",
        "env_kwargs.max_episode_steps=200",
        "vec_env=async",
        "--wandb",
        "disabled",
        "--run-dir",
        "p",
    )
    assert code == 0, err
    config = (tmp_path / "p" / "config.yaml").read_text()
    assert "vec_env: async" in config and "precision: auto" in config  # override + config file
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert summary["total_steps"] == 128 and summary["eval/episodes"] == 1
    # Pong's random and human testers' scores: -20.7 and 14.6
    expected = (summary["eval/mean_return"] + 20.7) / 35.3
    assert summary["eval/human_normalized"] == pytest.approx(expected)
    assert f"eval/human_normalized {summary['eval/human_normalized']:.6g}" in out
    rows = [json.loads(x) for x in (tmp_path / "p" / "metrics.jsonl").read_text().splitlines()]
    (final,) = [r for r in rows if "eval/mean_return" in r]  # the evaluation's logged row
    assert final["eval/human_normalized"] == summary["eval/human_normalized"]
    code, out, err = cli("eval", "p", "--episodes", "1")
    assert code == 0, err
    result = json.loads((tmp_path / "p" / "eval.json").read_text())
    expected = (result["eval/mean_return"] + 20.7) / 35.3
    assert result["eval/human_normalized"] == pytest.approx(expected)
    assert f"(human-normalized {expected:.3g})" in out
