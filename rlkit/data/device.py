"""Moving a sampled batch from host memory to where the network is.

On the CPU a numpy array becomes a tensor without a copy. On a GPU it is copied through
pinned (page-locked) host memory with a non-blocking copy, so the transfer overlaps the
work already queued on the device; a batch is moved once, as a whole.
"""

from __future__ import annotations

import numpy as np
import torch


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """``array`` as a tensor on ``device`` (no copy on the CPU; pinned, non-blocking on CUDA)."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)
