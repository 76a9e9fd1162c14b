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
