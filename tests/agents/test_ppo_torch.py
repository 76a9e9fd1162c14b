"""PPO and A2C on the batched torch envs (``vec_env: torch``): the whole loop on the device."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import rlkit
from rlkit.data.rollout import DeviceRolloutBuffer, RolloutBuffer
from rlkit.errors import BadInput

SMALL = dict(
    vec_env="torch",
    n_envs=16,
    n_steps=16,
    batch_size=64,
    n_epochs=2,
    total_steps=2048,
    eval_interval=1024,
    eval_episodes=4,
    log_interval=256,
)


def weights(agent):
    return {k: v.clone() for k, v in agent.policy.state_dict().items()}


@pytest.mark.parametrize(
    ("env_id", "episode_length", "env_kwargs"),
    [
        ("CartPole-v1", None, {}),
        ("Pendulum-v1", 200, {}),
        ("MountainCarContinuous-v0", 100, {"max_episode_steps": 100}),
    ],
)
def test_trains_and_evaluates_on_the_batched_envs(env_id, episode_length, env_kwargs):
    rows = []
    settings = {**SMALL, "total_steps": 4096, "eval_interval": 2048, "env_kwargs": env_kwargs}
    agent = rlkit.train("ppo", env_id, seed=0, run_dir=None, callback=rows.append, **settings)
    assert agent.steps == 4096
    assert len([r for r in rows if "eval/mean_return" in r]) == 2  # at 2048 and 4096
    finished = [r for r in rows if "rollout/ep_return" in r]
    assert finished and all(r["rollout/episodes"] > 0 for r in finished)
    if episode_length is not None:  # every episode runs to its time limit
        assert all(r["rollout/ep_length"] == episode_length for r in finished)
    result = agent.evaluate(episodes=2)  # the trained policy also plays Gymnasium's own env
    assert set(result) >= {"eval/mean_return", "eval/std_return"}


def test_same_seed_same_weights_and_other_seed_differs():
    a = weights(rlkit.train("ppo", "CartPole-v1", seed=3, run_dir=None, **SMALL))
    b = weights(rlkit.train("ppo", "CartPole-v1", seed=3, run_dir=None, **SMALL))
    c = weights(rlkit.train("ppo", "CartPole-v1", seed=4, run_dir=None, **SMALL))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_device_buffer_gives_the_advantages_of_the_numpy_buffer():
    """The same rollout stored in both buffers: the same GAE advantages and returns
    (truncations valued from their final observation, terminations not)."""
    gen = torch.Generator().manual_seed(0)
    n_steps, n_envs = 12, 5
    host = RolloutBuffer(n_steps, n_envs, (3,), torch.zeros(1).numpy().dtype)
    device = DeviceRolloutBuffer(n_steps, n_envs, (3,))
    for _ in range(n_steps):
        obs = torch.randn(n_envs, 3, generator=gen)
        actions = torch.randint(0, 2, (n_envs,), generator=gen)
        log_probs, values, rewards = (torch.randn(n_envs, generator=gen) for _ in range(3))
        terminated = torch.rand(n_envs, generator=gen) < 0.15
        truncated = (torch.rand(n_envs, generator=gen) < 0.15) & ~terminated
        starts = torch.rand(n_envs, generator=gen) < 0.2
        final = torch.randn(n_envs, generator=gen)
        row = host.add(
            obs.numpy(),
            actions.numpy(),
            log_probs.numpy(),
            values.numpy(),
            rewards.numpy(),
            terminated.numpy(),
            truncated.numpy(),
            starts.float().numpy(),
        )
        device.add(obs, actions, log_probs, values, rewards, terminated, truncated, starts.float())
        cut = truncated & ~terminated
        host.set_final_values(row, cut.nonzero().squeeze(1).numpy(), final[cut].numpy())
        device.set_final_values(row, cut, final)
    last = torch.randn(n_envs, generator=gen)
    host.finish(last.numpy(), 0.97, 0.9)
    device.finish(last, 0.97, 0.9)
    torch.testing.assert_close(device.advantages, host.advantages)
    torch.testing.assert_close(device.returns, host.returns)
    assert device.explained_variance() == pytest.approx(host.explained_variance(), rel=1e-5)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["vec_env=torch"], "unknown env id with a batched torch version 'LunarLander-v3'"),
        (["vec_env=torch", "env_kwargs.gravity=3"], None),
    ],
)
def test_bad_backend_input_is_one_line_exit_2(cli, overrides, message):
    env_id = "LunarLander-v3" if message else "Pendulum-v1"
    code, out, err = cli("train", "ppo", env_id, *overrides)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert (message or "takes no env_kwargs ['gravity']") in err


def test_a_users_env_instance_cannot_use_the_torch_backend():
    import gymnasium as gym

    with pytest.raises(BadInput, match="vec_env=torch steps the batched version of an env id"):
        rlkit.train("ppo", gym.make("CartPole-v1"), run_dir=None, **SMALL)


def test_a2c_runs_on_the_batched_envs_too():
    rows = []
    settings = {k: v for k, v in SMALL.items() if k not in ("batch_size", "n_epochs")}
    agent = rlkit.train(
        "a2c", "CartPole-v1", seed=0, run_dir=None, callback=rows.append, **settings
    )
    assert agent.steps == 2048 and any("eval/mean_return" in r for r in rows)


def test_algorithms_without_the_backend_refuse_it(cli):
    code, _, err = cli("train", "dqn", "CartPole-v1", "vec_env=torch")
    assert code == 2 and "vec_env" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_batched_config_solves_cartpole():
    config = Path(__file__).resolve().parents[2] / "configs" / "ppo" / "CartPole-v1.batched.yaml"
    agent = rlkit.train("ppo", "CartPole-v1", seed=0, run_dir=None, config=str(config))
    assert agent.evaluate(episodes=10)["eval/mean_return"] >= 475


@pytest.mark.slow
@pytest.mark.parametrize(("env_id", "bar"), [("Acrobot-v1", -100.0), ("Pendulum-v1", -300.0)])
def test_batched_configs_of_the_other_ids_learn(env_id, bar):
    config = Path(__file__).resolve().parents[2] / "configs" / "ppo" / f"{env_id}.batched.yaml"
    agent = rlkit.train("ppo", env_id, seed=0, run_dir=None, config=str(config))
    # a random policy scores -500 on Acrobot and about -1,200 on Pendulum
    assert agent.evaluate(episodes=10)["eval/mean_return"] >= bar
