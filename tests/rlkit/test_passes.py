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


@pytest.mark.parametrize("discrete", [True, False])
def test_a_group_of_networks_gets_each_networks_own_gradient(discrete):
    """Three networks through one grouped written-out pass: each gets the gradient of its
    own minibatch's loss (autograd on that network alone), with ent_coef and value clipping
    in the loss, and each network's parameters are views of its row of the stacked buffer."""
    from types import SimpleNamespace

    from rlkit.data.rollout import RolloutBatch

    kwargs = {"n_actions": 3} if discrete else {"action_dim": 2}

    def nets() -> list[ActorCritic]:
        return [
            ActorCritic((4,), **kwargs, generator=torch.Generator().manual_seed(seed))
            for seed in range(3)
        ]

    config = SimpleNamespace(
        normalize_advantage=True, clip_range_vf=0.2, vf_coef=0.5, ent_coef=0.01
    )
    generator = torch.Generator().manual_seed(7)
    obs = torch.randn(3, 32, 4, generator=generator)
    actions = (
        torch.randint(0, 3, (3, 32), generator=generator)
        if discrete
        else torch.randn(3, 32, 2, generator=generator)
    )
    rest = [torch.randn(3, 32, generator=generator) for _ in range(5)]
    rest[0] = rest[0] * 0.1 - 1.0  # old log-probabilities near the current ones
    batch = RolloutBatch(obs, actions, *rest)
    grouped_nets = nets()
    grouped = WrittenOutPolicy(grouped_nets[0], "tanh", group=grouped_nets)
    assert grouped.parameters()[0].shape[0] == 3
    loss = ppo_loss(grouped(batch.obs, batch.actions), batch, 0.2, config)
    assert loss.value.shape == (3,)
    grouped.backward(loss)
    for g, alone in enumerate(nets()):
        auto = AutogradPolicy(alone)
        part = RolloutBatch(*(t[g] for t in (obs, actions, *rest)))
        own = ppo_loss(auto(part.obs, part.actions), part, 0.2, config)
        auto.backward(own)
        assert float(loss.value[g].detach()) == pytest.approx(float(own.value.detach()), abs=1e-6)
        for (name, pa), pb in zip(
            alone.named_parameters(), grouped_nets[g].parameters(), strict=True
        ):
            grad = pa.grad if pa.grad is not None else torch.zeros_like(pa)
            assert torch.allclose(grad, pb.grad, atol=1e-6), (g, name)
    with torch.no_grad():  # the networks see the stacked buffer's changes
        grouped.parameters()[0][1].zero_()
    assert all(p.abs().sum() == 0 for p in grouped_nets[1].parameters())
    assert grouped_nets[0].heads.policy.weight.abs().sum() > 0  # (biases start at zero)


def test_a_stack_of_distributions_draws_each_batch_from_its_own_generator():
    from rlkit.distributions import Categorical, DiagGaussian

    logits = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(0))
    mean = torch.randn(3, 5, 2, generator=torch.Generator().manual_seed(1))
    for make, data in (
        (Categorical, logits),
        (lambda x: DiagGaussian(x, torch.full((2,), -0.5)), mean),
    ):
        together = make(data).sample([torch.Generator().manual_seed(s) for s in (4, 5, 6)])
        for g, s in enumerate((4, 5, 6)):
            alone = make(data[g]).sample(torch.Generator().manual_seed(s))
            assert torch.equal(together[g], alone)
    with pytest.raises(ValueError, match="2 generators for a stack of 3"):
        Categorical(logits).sample([torch.Generator(), torch.Generator()])
