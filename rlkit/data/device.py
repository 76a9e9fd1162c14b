"""Moving a sampled batch from host memory to where the network is; the precision to compute in.

On the CPU a numpy array becomes a tensor without a copy. On a GPU it is copied through
pinned (page-locked) host memory with a non-blocking copy, so the transfer overlaps the
work already queued on the device; a batch is moved once, as a whole.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

PRECISIONS = ("auto", "float32", "bf16")
"""``precision`` values: ``bf16`` runs CNNs under bfloat16 autocast, ``float32`` never,
``auto`` where the hardware computes bfloat16 natively (a GPU with bf16, a CPU with
AVX-512 BF16 or AMX). On a CPU without it (AVX2 only) bf16 autocast is emulated and was
measured 18x slower than float32 for the Nature CNN's update, so ``auto`` keeps float32."""


@cache
def bf16_native(device_type: str) -> bool:
    """Whether ``device_type`` ("cpu", "cuda") computes bfloat16 matmuls and convolutions natively."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # pragma: no cover - a build without oneDNN
            return False
    return False


def use_bf16(precision: str, device_type: str) -> bool:
    """Whether a network on ``device_type`` runs under bf16 autocast for ``precision``."""
    return precision == "bf16" or (precision == "auto" and bf16_native(device_type))


def casts_kept(device_type: str) -> torch.autocast:
    """A context for a stretch of forward passes over weights that do not change (a
    rollout, an evaluation). Autocast drops its bf16 copies of the weights whenever its
    outermost context exits, so a network that autocasts inside each call re-casts every
    weight on every call; inside this context the copies are kept from one call to the
    next. It turns nothing on (``enabled=False``): what runs under autocast computes
    exactly as before, less the re-casting (PPO acting on 4 Atari frames on one thread:
    1.4 against 1.0 ms). Leave it before the weights change."""
    return torch.autocast(device_type, enabled=False)


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """``array`` as a tensor on ``device`` (no copy on the CPU; pinned, non-blocking on CUDA)."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)
