"""``rlkit.nn.passes``: a loss's own gradient against autograd of its value, and the
written-out pass's parameter gradients against the autograd pass's."""

from collections.abc import Callable

import pytest
import torch

from rlkit.losses import ppo_loss
from rlkit.nn.actor_critic import ActorCritic
from rlkit.nn.passes import (
    AutogradPolicy,
    Loss,
    PolicyOutputs,
    WrittenOutPolicy,
    policy_model,
)


def twin_models(discrete: bool) -> tuple[AutogradPolicy, WrittenOutPolicy]:
    """The same network twice: one through autograd, one with backprop written out."""
    kwargs = {"n_actions": 3} if discrete else {"action_dim": 2}
    nets = [
        ActorCritic((4,), **kwargs, generator=torch.Generator().manual_seed(1), log_std_init=-0.2)
        for _ in range(2)
    ]
    auto, written = AutogradPolicy(nets[0]), policy_model(nets[1], "tanh", written_out=True)
    assert isinstance(written, WrittenOutPolicy)
    return auto, written


def assert_written_out_matches_autograd(
    discrete: bool,
    obs: torch.Tensor,
    actions: torch.Tensor,
    loss_of: Callable[[PolicyOutputs], Loss],
) -> None:
    """``loss_of``'s ``grads`` equal autograd's gradient of its ``value`` with respect to the
    outputs, and the written-out pass gives every parameter autograd's gradient."""
    auto, written = twin_models(discrete)
    # the loss's gradient with respect to the outputs
    leaves = PolicyOutputs(*(t.detach().requires_grad_() for t in auto(obs, actions)))
    loss = loss_of(leaves)
    expected = torch.autograd.grad(loss.value, leaves, allow_unused=True)
    zero = torch.zeros_like(leaves[0])  # an output the loss does not use has no entry
    for name, want in zip(PolicyOutputs._fields, expected, strict=True):
        want = zero if want is None else want
        assert torch.allclose(loss.grads.get(name, zero), want, atol=1e-7), name
    # the parameters' gradients through both passes
    loss_a = loss_of(auto(obs, actions))
    auto.backward(loss_a)
    loss_b = loss_of(written(obs, actions))
    written.backward(loss_b)
    assert float(loss_b.value) == pytest.approx(float(loss_a.value.detach()), abs=1e-6)
    for key in loss_a.parts:
        assert float(loss_a.parts[key]) == pytest.approx(float(loss_b.parts[key]), abs=1e-6), key
    for (name, pa), pb in zip(auto.net.named_parameters(), written.net.parameters(), strict=True):
        grad = pa.grad if pa.grad is not None else torch.zeros_like(pa)  # not in the loss
        assert torch.allclose(grad, pb.grad, atol=1e-6), name


class Batch:
    def __init__(self, n: int, discrete: bool, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.obs = torch.randn(n, 4, generator=g)
        self.actions = (
            torch.randint(0, 3, (n,), generator=g) if discrete else torch.randn(n, 2, generator=g)
        )
        self.log_probs = torch.randn(n, generator=g) * 0.3 - 1.0
        self.values = torch.randn(n, generator=g)
        self.advantages = torch.randn(n, generator=g)
        self.returns = torch.randn(n, generator=g)


class PPOConfig:
    def __init__(self, **kwargs: float | bool | None) -> None:
        self.normalize_advantage, self.clip_range_vf = True, None
        self.vf_coef, self.ent_coef = 0.5, 0.0
        self.__dict__.update(kwargs)


@pytest.mark.parametrize("discrete", [True, False])
@pytest.mark.parametrize(
    "config",
    [PPOConfig(), PPOConfig(clip_range_vf=0.1, ent_coef=0.05, normalize_advantage=False)],
    ids=["plain", "value-clip-entropy"],
)
def test_ppo_loss(discrete, config):
    batch = Batch(32, discrete)
    assert_written_out_matches_autograd(
        discrete, batch.obs, batch.actions, lambda out: ppo_loss(out, batch, 0.2, config)
    )


def test_an_autograd_pass_needs_the_value():
    auto, _ = twin_models(True)
    with pytest.raises(ValueError, match="needs the loss value"):
        auto.backward(Loss(None, {}, {}))


def test_the_written_out_pass_keeps_one_flat_buffer_and_replaces_gradients():
    auto, written = twin_models(True)
    (flat,) = written.parameters()
    assert flat.numel() == sum(p.numel() for p in written.net.parameters())
    first = next(written.net.parameters())
    assert first.data_ptr() == flat.data_ptr()  # the layers are views of the flat buffer
    batch, config = Batch(8, True), PPOConfig(ent_coef=0.1)
    for model in (auto, written):  # twice: the second gradient replaces the first
        for _ in range(2):
            model.backward(ppo_loss(model(batch.obs, batch.actions), batch, 0.2, config))
    for pa, pb in zip(auto.net.parameters(), written.net.parameters(), strict=True):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-6)
