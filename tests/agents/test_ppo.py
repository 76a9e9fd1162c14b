"""PPO: the loss by hand, the written-out gradient against autograd, bad input, a short run."""

import dataclasses

import pytest
import torch

from agents.ppo import Config, ppo_loss, written_out_step
from rlkit.data.rollout import RolloutBatch
from rlkit.nn.actor_critic import ActorCritic


def make_batch(discrete: bool, n: int = 16, seed: int = 0) -> RolloutBatch:
    g = torch.Generator().manual_seed(seed)
    actions = torch.randint(0, 3, (n,), generator=g) if discrete else torch.randn(n, 2, generator=g)
    return RolloutBatch(
        obs=torch.randn(n, 4, generator=g), actions=actions, log_probs=torch.randn(n, generator=g) * 0.3 - 1.0,
        values=torch.randn(n, generator=g), advantages=torch.randn(n, generator=g),
        returns=torch.randn(n, generator=g), episode_starts=torch.zeros(n),
    )  # fmt: skip


@pytest.mark.parametrize("discrete", [True, False])
@pytest.mark.parametrize(
    "extras", [{}, {"clip_range_vf": 0.2, "ent_coef": 0.05, "normalize_advantage": False}]
)
def test_written_out_gradient_matches_autograd(discrete, extras):
    config = Config(**extras)
    g = torch.Generator().manual_seed(1)
    kwargs = {"n_actions": 3} if discrete else {"action_dim": 2}
    a = ActorCritic((4,), **kwargs, generator=g, log_std_init=-0.3)
    b = ActorCritic((4,), **kwargs, generator=torch.Generator().manual_seed(1), log_std_init=-0.3)
    batch = make_batch(discrete)
    loss, parts_a = ppo_loss(a, batch, 0.2, config)
    loss.backward()
    for p in b.parameters():
        p.grad = torch.zeros_like(p)
    parts_b = written_out_step(b, "tanh", batch, 0.2, config)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-6), name
    for key in parts_a:
        assert float(parts_a[key]) == pytest.approx(float(parts_b[key]), abs=1e-6), key


def test_clipped_objective_by_hand():
    # one sample, advantage +1: the ratio is cut at 1 + eps, so the loss is -(1 + eps)
    # and no gradient flows; with advantage -1 the unclipped (smaller) branch is kept
    net = ActorCritic((1,), n_actions=2, generator=torch.Generator().manual_seed(0))
    obs = torch.zeros(1, 1)
    dist, _ = net(obs)
    log_p0 = float(dist.log_prob(torch.tensor([0])).detach())
    old = log_p0 - 0.5  # ratio e^0.5 = 1.65 > 1.2
    config = Config(normalize_advantage=False)
    batch = RolloutBatch(obs=obs, actions=torch.tensor([0]), log_probs=torch.tensor([old]), values=torch.zeros(1),
                         advantages=torch.tensor([1.0]), returns=torch.zeros(1), episode_starts=torch.zeros(1))  # fmt: skip
    _, parts = ppo_loss(net, batch, 0.2, config)
    assert float(parts["policy_loss"]) == pytest.approx(-1.2, abs=1e-5)
    assert float(parts["clip_fraction"]) == 1.0
    batch = dataclasses.replace(batch, advantages=torch.tensor([-1.0]))
    _, parts = ppo_loss(net, batch, 0.2, config)
    assert float(parts["policy_loss"]) == pytest.approx(torch.e**0.5, rel=1e-4)


def test_bf16_encoder_keeps_float32_heads_and_close_log_probs():
    obs = torch.randint(0, 255, (4, 4, 84, 84), dtype=torch.uint8)
    full = ActorCritic((4, 84, 84), n_actions=6, generator=torch.Generator().manual_seed(0))
    half = ActorCritic(
        (4, 84, 84), n_actions=6, generator=torch.Generator().manual_seed(0), bf16=True
    )
    dist_f, v_f = full(obs)
    dist_h, v_h = half(obs)
    assert dist_h.log_probs.dtype == torch.float32 and v_h.dtype == torch.float32
    assert torch.allclose(dist_h.log_probs, dist_f.log_probs, atol=1e-2)
    assert torch.allclose(v_h, v_f, atol=0.05)
