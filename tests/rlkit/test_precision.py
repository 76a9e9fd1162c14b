"""``precision: auto``: bf16 autocast only where the hardware computes bfloat16 natively."""

from __future__ import annotations

import pytest
import torch

from rlkit.data import device
from rlkit.nn.actor_critic import ActorCritic


@pytest.mark.parametrize(
    ("precision", "native", "expected"),
    [
        ("float32", True, False),
        ("float32", False, False),
        ("bf16", False, True),
        ("bf16", True, True),
        ("auto", True, True),
        ("auto", False, False),
    ],
)
def test_use_bf16_follows_precision_and_hardware(monkeypatch, precision, native, expected):
    monkeypatch.setattr(device, "bf16_native", lambda device_type: native)
    assert device.use_bf16(precision, "cpu") is expected


def test_auto_encoder_computes_in_the_resolved_precision(monkeypatch):
    """The CNN's output under auto equals float32's on a CPU without native bf16, and
    bf16's where it is native (the encoder reads the choice at each forward)."""
    net = ActorCritic((4, 84, 84), n_actions=6, generator=torch.Generator().manual_seed(0))
    obs = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    net.precision = "float32"
    f32 = net.encode(obs)
    net.precision = "bf16"
    b16 = net.encode(obs)
    assert not torch.equal(f32, b16)  # bf16 rounds: the two differ
    net.precision = "auto"
    monkeypatch.setattr(device, "bf16_native", lambda device_type: False)
    assert torch.equal(net.encode(obs), f32)
    monkeypatch.setattr(device, "bf16_native", lambda device_type: True)
    assert torch.equal(net.encode(obs), b16)


def test_native_bf16_probe_answers_for_the_cpu():
    assert isinstance(device.bf16_native("cpu"), bool)
    assert device.bf16_native("meta") is False


def test_casts_kept_reuses_the_bf16_weights_until_the_context_ends():
    """Inside ``casts_kept`` autocast keeps its bf16 copy of a weight from one forward to
    the next (a weight changed in place is not seen until the context ends); outside it
    every forward casts afresh. It enables nothing: a float32 pass stays float32."""
    conv = torch.nn.Conv2d(2, 3, 3)
    x = torch.randn(1, 2, 5, 5, generator=torch.Generator().manual_seed(0))

    def bf16_pass() -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return conv(x)

    with torch.no_grad():
        with device.casts_kept("cpu"):
            first = bf16_pass()
            assert conv(x).dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
            conv.weight.add_(1.0)
            kept = bf16_pass()
        fresh = bf16_pass()
        conv.weight.add_(1.0)
        again = bf16_pass()
    assert torch.equal(first, kept)  # the cast made before the change, kept
    assert not torch.equal(kept, fresh)  # dropped when the context ended
    assert not torch.equal(fresh, again)  # outside it: cast at every pass


def test_a_rollout_is_collected_with_the_casts_kept():
    from rlkit.acting import keeping_casts

    conv = torch.nn.Conv2d(2, 3, 3)
    x = torch.randn(1, 2, 5, 5, generator=torch.Generator().manual_seed(1))

    def collect(scale: float, *, shift: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Two acting passes with the weights changed between them (never done in a real
        rollout: here it shows the second pass reused the first one's cast)."""
        outputs = []
        for _ in range(2):
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                outputs.append(conv(x) * scale + shift)
            with torch.no_grad():
                conv.weight.add_(1.0)
        return outputs[0], outputs[1]

    a, b = keeping_casts(collect, "cpu")(2.0, shift=1.0)
    assert torch.equal(a, b)
    c, d = collect(2.0, shift=1.0)
    assert not torch.equal(c, d)
