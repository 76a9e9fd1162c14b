"""PPO: the loss by hand, its written-out gradient against autograd, the bf16 encoder."""

import dataclasses

import pytest
import torch

from rlkit.agents.ppo import Config
from rlkit.data.rollout import RolloutBatch
from rlkit.losses import ppo_loss
from rlkit.nn.actor_critic import ActorCritic
from rlkit.nn.passes import AutogradPolicy


def make_batch(discrete: bool, n: int = 16, seed: int = 0) -> RolloutBatch:
    g = torch.Generator().manual_seed(seed)
    actions = torch.randint(0, 3, (n,), generator=g) if discrete else torch.randn(n, 2, generator=g)
    return RolloutBatch(
        obs=torch.randn(n, 4, generator=g),
        actions=actions,
        log_probs=torch.randn(n, generator=g) * 0.3 - 1.0,
        values=torch.randn(n, generator=g),
        advantages=torch.randn(n, generator=g),
        returns=torch.randn(n, generator=g),
        episode_starts=torch.zeros(n),
    )


@pytest.mark.parametrize("discrete", [True, False])
@pytest.mark.parametrize(
    "extras", [{}, {"clip_range_vf": 0.2, "ent_coef": 0.05, "normalize_advantage": False}]
)
def test_ppo_loss_gradient_is_checked_against_autograd(discrete, extras):
    from tests.rlkit.test_passes import assert_written_out_matches_autograd

    config = Config(**extras)
    batch = make_batch(discrete)
    assert_written_out_matches_autograd(
        discrete, batch.obs, batch.actions, lambda out: ppo_loss(out, batch, 0.2, config)
    )


def test_clipped_objective_by_hand():
    # one sample, advantage +1: the ratio is cut at 1 + eps, so the loss is -(1 + eps)
    # and no gradient flows; with advantage -1 the unclipped (smaller) branch is kept
    net = ActorCritic((1,), n_actions=2, generator=torch.Generator().manual_seed(0))
    model = AutogradPolicy(net)
    obs = torch.zeros(1, 1)
    dist, _ = net(obs)
    log_p0 = float(dist.log_prob(torch.tensor([0])).detach())
    old = log_p0 - 0.5  # ratio e^0.5 = 1.65 > 1.2
    config = Config(normalize_advantage=False)
    batch = RolloutBatch(
        obs=obs,
        actions=torch.tensor([0]),
        log_probs=torch.tensor([old]),
        values=torch.zeros(1),
        advantages=torch.tensor([1.0]),
        returns=torch.zeros(1),
        episode_starts=torch.zeros(1),
    )
    loss = ppo_loss(model(obs, batch.actions), batch, 0.2, config)
    assert float(loss.parts["policy_loss"]) == pytest.approx(-1.2, abs=1e-5)
    assert float(loss.parts["clip_fraction"]) == 1.0
    assert float(loss.grads["log_probs"][0]) == 0.0  # the clipped branch holds no gradient
    batch = dataclasses.replace(batch, advantages=torch.tensor([-1.0]))
    loss = ppo_loss(model(obs, batch.actions), batch, 0.2, config)
    assert float(loss.parts["policy_loss"]) == pytest.approx(torch.e**0.5, rel=1e-4)
    assert float(loss.grads["log_probs"][0]) == pytest.approx(torch.e**0.5, rel=1e-4)


def test_bf16_encoder_keeps_float32_heads_and_close_log_probs():
    obs = torch.randint(0, 255, (4, 4, 84, 84), dtype=torch.uint8)
    full = ActorCritic((4, 84, 84), n_actions=6, generator=torch.Generator().manual_seed(0))
    half = ActorCritic(
        (4, 84, 84), n_actions=6, generator=torch.Generator().manual_seed(0), precision="bf16"
    )
    dist_f, v_f = full(obs)
    dist_h, v_h = half(obs)
    assert dist_h.log_probs.dtype == torch.float32 and v_h.dtype == torch.float32
    assert torch.allclose(dist_h.log_probs, dist_f.log_probs, atol=1e-2)
    assert torch.allclose(v_h, v_f, atol=0.05)


def test_channels_last_moves_the_cnn_only_and_its_checkpoint_loads_either_way():
    from types import SimpleNamespace

    import gymnasium as gym

    from rlkit.agents import ppo

    env = SimpleNamespace(
        observation_space=gym.spaces.Box(0, 255, (4, 84, 84), dtype="uint8"),
        action_space=gym.spaces.Discrete(6),
    )
    last = ppo.make_network(env, Config(channels_last=True), torch.Generator().manual_seed(0))
    plain = ppo.make_network(env, Config(), torch.Generator().manual_seed(1))
    convs = [m for m in last.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 3
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    plain.load_state_dict(last.state_dict())  # a channels-last run's weights, plain layout
    obs = torch.randint(0, 255, (5, 4, 84, 84), dtype=torch.uint8)
    with torch.no_grad():
        (d1, v1), (d2, v2) = last(obs), plain(obs)
    assert torch.allclose(d1.log_probs, d2.log_probs, atol=1e-5)
    assert torch.allclose(v1, v2, atol=1e-5)
    vector = SimpleNamespace(
        observation_space=gym.spaces.Box(-1, 1, (4,)), action_space=gym.spaces.Discrete(2)
    )
    mlp = ppo.make_network(vector, Config(channels_last=True), torch.Generator().manual_seed(0))
    assert all(p.is_contiguous() for p in mlp.parameters())  # nothing to move
