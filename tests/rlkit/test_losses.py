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
