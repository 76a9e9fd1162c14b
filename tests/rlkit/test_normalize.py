"""``rlkit.nn.normalize.ObsNorm`` and observation normalization in the on-policy agents."""

import json

import numpy as np
import pytest
import torch

from rlkit.acting import NumpyActor, action_spec
from rlkit.nn.actor_critic import ActorCritic
from rlkit.nn.normalize import ObsNorm


def test_running_moments_equal_the_moments_of_everything_seen():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 2, 3)) for n in (1, 7, 50, 4)]
    norm = ObsNorm((2, 3))
    for batch in batches:
        norm.update(batch)
    seen = np.concatenate(batches)
    np.testing.assert_allclose(norm.mean.numpy(), seen.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(norm.var.numpy(), seen.var(axis=0), rtol=1e-12)
    assert float(norm.count) == len(seen)
    x = torch.as_tensor(seen[:5], dtype=torch.float32)
    expected = np.clip((seen[:5] - seen.mean(0)) / np.sqrt(seen.var(0) + 1e-8), -10, 10)
    np.testing.assert_allclose(norm(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norm.numpy(seen[:5]), expected, rtol=1e-5, atol=1e-6)


def test_identity_before_any_update_and_clipping():
    norm = ObsNorm((2,), clip=5.0)
    x = torch.tensor([[1.5, -2.0]])
    assert torch.allclose(norm(x), x, atol=1e-6)
    norm.update(np.array([[0.0, 0.0], [2.0, 2.0]]))  # mean 1, var 1
    assert norm(torch.tensor([[100.0, 1.0]])).tolist() == [[5.0, 0.0]]


def test_statistics_travel_in_the_state_dict_and_get_no_gradient():
    import gymnasium as gym

    net = ActorCritic((2,), n_actions=2, normalize_obs=True)
    net.obs_norm.update(np.array([[1.0, 10.0], [3.0, 30.0]]))
    assert {"obs_norm.mean", "obs_norm.var", "obs_norm.count"} <= set(net.state_dict())
    assert not any("obs_norm" in name for name, _ in net.named_parameters())
    copy = ActorCritic((2,), n_actions=2, normalize_obs=True)
    copy.load_state_dict(net.state_dict())
    obs = np.array([[2.0, 20.0], [0.0, 50.0]], dtype=np.float32)
    with torch.no_grad():
        assert torch.allclose(copy.value(torch.from_numpy(obs)), net.value(torch.from_numpy(obs)))
        # the numpy actor normalizes the same way as the module
        actor = NumpyActor(
            net, action_spec(gym.spaces.Discrete(2), "ppo"), np.random.default_rng(0), "tanh"
        )
        np.testing.assert_allclose(
            actor.values(obs), net.value(torch.from_numpy(obs)).numpy(), rtol=1e-5
        )
    with pytest.raises(ValueError, match="vector observations"):
        ActorCritic((4, 84, 84), n_actions=6, normalize_obs=True)


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_a_normalized_run_is_reproduced_by_eval(cli, tmp_path, algo):
    code, _, err = cli(
        "train",
        algo,
        "Pendulum-v1",
        "normalize_obs=true",
        "total_steps=2048",
        "n_envs=2",
        "eval_episodes=2",
        "--wandb",
        "disabled",
        "--run-dir",
        "r",
    )
    assert code == 0, err
    checkpoint = torch.load(tmp_path / "r" / "checkpoints" / "latest.pt", weights_only=True)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    # every rollout's observations are merged in after its update
    assert float(checkpoint["net"]["obs_norm.count"]) == summary["total_steps"]
    code, _, err = cli("eval", "r")
    assert code == 0, err
    evaluation = json.loads((tmp_path / "r" / "eval.json").read_text())
    assert evaluation["eval/mean_return"] == pytest.approx(summary["eval/mean_return"])


def test_normalize_obs_is_refused_for_images(cli, tmp_path):
    code, _, err = cli("train", "ppo", "ALE/Pong-v5", "normalize_obs=true", "--run-dir", "r")
    assert code == 2 and "normalize_obs is for vector observations" in err
