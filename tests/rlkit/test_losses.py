import math

import pytest
import torch
import torch.nn.functional as F

from rlkit.losses import binary_cross_entropy, cross_entropy, huber, mae, mse


def test_cross_entropy_by_hand_and_against_torch():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    target = torch.tensor([0, 1])
    # -log(1/2) and -log(1/4)
    assert cross_entropy(logits, target, reduction="none").tolist() == pytest.approx(
        [math.log(2), math.log(4)]
    )
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 7, generator=gen) * 5
    target = torch.randint(0, 7, (50,), generator=gen)
    for reduction in ("mean", "sum", "none"):
        assert torch.allclose(
            cross_entropy(logits, target, reduction),
            F.cross_entropy(logits, target, reduction=reduction),
            atol=1e-5,
        )


def test_cross_entropy_is_stable_for_huge_logits():
    logits = torch.tensor([[1000.0, 0.0, -1000.0]])
    assert cross_entropy(logits, torch.tensor([0])).item() == 0.0
    assert cross_entropy(logits, torch.tensor([2])).item() == pytest.approx(2000.0)
    assert torch.isfinite(cross_entropy(logits * 100, torch.tensor([1])))


def test_binary_cross_entropy():
    # p = sigmoid(0) = 1/2: loss log 2 for either label
    assert binary_cross_entropy(torch.zeros(2), torch.tensor([0.0, 1.0])).item() == pytest.approx(
        math.log(2)
    )
    z = torch.randn(20) * 30
    y = (torch.rand(20) > 0.5).float()
    assert torch.allclose(
        binary_cross_entropy(z, y), F.binary_cross_entropy_with_logits(z, y), atol=1e-5
    )


def test_mse_mae_by_hand():
    pred, target = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 0.0, 1.0])
    assert mse(pred, target).item() == pytest.approx((0 + 4 + 9) / 3)
    assert mae(pred, target).item() == pytest.approx((0 + 2 + 3) / 3)
    assert mse(pred, target, "sum").item() == 13.0
    assert torch.allclose(mse(pred, target), F.mse_loss(pred, target))
    assert torch.allclose(mae(pred, target), F.l1_loss(pred, target))


def test_huber_by_hand_and_against_torch():
    pred, target = torch.tensor([0.5, 3.0, -2.0]), torch.zeros(3)
    # 0.5 * 0.25, 3 - 0.5, 2 - 0.5
    assert huber(pred, target, reduction="none").tolist() == pytest.approx([0.125, 2.5, 1.5])
    x, y = torch.randn(100) * 3, torch.randn(100)
    for delta in (0.5, 1.0, 2.0):
        assert torch.allclose(huber(x, y, delta), F.huber_loss(x, y, delta=delta), atol=1e-6)


def test_bad_reduction():
    with pytest.raises(ValueError, match="reduction"):
        mse(torch.zeros(1), torch.zeros(1), reduction="avg")


def pairwise_quantile_huber(theta, targets, kappa=1.0):
    """QR-DQN's loss from its definition, every (quantile, target) pair written out."""
    n = theta.shape[-1]
    tau = (2 * torch.arange(n, dtype=theta.dtype) + 1) / (2 * n)
    u = targets[:, None, :] - theta[:, :, None]
    a = u.abs()
    hub = torch.where(a <= kappa, 0.5 * u * u, kappa * (a - 0.5 * kappa)) / kappa
    weight = (tau[None, :, None] - (u < 0).to(u.dtype)).abs()
    return (weight * hub).sum(dim=1).mean(dim=-1)


@pytest.mark.parametrize("sizes", [(50, 70), (25, 30)])  # sorted targets; pair by pair
@pytest.mark.parametrize(
    "scale, shift, kappa", [(1.0, 0.0, 1.0), (0.2, 0.0, 1.0), (3.0, 40.0, 2.0)]
)
def test_quantile_huber_from_sorted_targets_is_the_pairwise_loss(scale, shift, kappa, sizes):
    """Sorted targets and prefix sums (and, for small N x M, the loss's own pairwise
    computation) give each sample's loss and its gradient exactly as the pairwise
    definition, ties at u = 0 and u = kappa included; so does the gradient handed to a
    written-out pass."""
    from rlkit.losses import PAIRWISE_MAX, quantile_huber_loss
    from rlkit.nn.passes import QOutputs

    n, m = sizes
    assert (n * m <= PAIRWISE_MAX) == (n == 25)
    g = torch.Generator().manual_seed(3)
    theta = torch.randn(16, n, generator=g, dtype=torch.float64) * scale + shift
    targets = torch.randn(16, m, generator=g, dtype=torch.float64) * 1.5 * scale + shift
    targets[:, :5] = theta[:, :5]  # u = 0
    targets[:, 5:10] = theta[:, 10:15] + kappa  # u = kappa
    targets[:, 10:15] = theta[:, 20:25] - kappa  # u = -kappa
    weights = torch.rand(16, generator=g, dtype=torch.float64)
    expected = theta.clone().requires_grad_()
    want = pairwise_quantile_huber(expected, targets, kappa)
    (want * weights).mean().backward()
    got = theta.clone().requires_grad_()
    loss = quantile_huber_loss(QOutputs(got), targets, weights, kappa=kappa)
    loss.value.backward()
    torch.testing.assert_close(
        loss.parts["td_errors"].double(), want.detach(), rtol=1e-6, atol=1e-6
    )
    torch.testing.assert_close(got.grad, expected.grad, rtol=1e-6, atol=1e-9)
    written = quantile_huber_loss(QOutputs(theta.clone()), targets, weights, kappa=kappa)
    torch.testing.assert_close(written.grads["q"].double(), expected.grad, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("kappa", [1.0, 2.0])
def test_float32_pairs_take_numpy_and_match_the_definition(kappa):
    """Small float32 CPU batches (QR-DQN's CartPole preset: 10 x 10) take the numpy pairwise
    path; their losses and gradients equal the float64 definition to float32 rounding, ties
    at u = 0 and u = +-kappa included."""
    from rlkit import losses
    from rlkit.nn.passes import QOutputs

    g = torch.Generator().manual_seed(5)
    theta = torch.randn(64, 10, generator=g) * 2
    targets = torch.randn(64, 10, generator=g) * 3
    targets[:, :3] = theta[:, :3]  # u = 0
    targets[:, 3:5] = theta[:, 5:7] + kappa
    targets[:, 5:7] = theta[:, 7:9] - kappa
    weights = torch.rand(64, generator=g)
    calls = []
    original = losses._pairwise_numpy
    losses._pairwise_numpy = lambda *a: calls.append(1) or original(*a)
    try:
        written = losses.quantile_huber_loss(QOutputs(theta.clone()), targets, weights, kappa)
    finally:
        losses._pairwise_numpy = original
    assert calls == [1]
    assert written.parts["td_errors"].dtype == torch.float32
    expected = theta.double().requires_grad_()
    want = pairwise_quantile_huber(expected, targets.double(), kappa)
    (want * weights.double()).mean().backward()
    torch.testing.assert_close(
        written.parts["td_errors"].double(), want.detach(), rtol=1e-5, atol=1e-6
    )
    torch.testing.assert_close(written.grads["q"].double(), expected.grad, rtol=1e-5, atol=1e-8)
    assert abs(float(written.value) - float((want.detach() * weights.double()).mean())) < 1e-5
