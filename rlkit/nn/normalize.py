"""Observation normalization with running statistics (what SB3's ``VecNormalize`` does
for observations), as a module that lives inside the network.

``ObsNorm`` keeps the mean and variance of every observation it has been shown through
``update`` (Chan et al.'s parallel merge of batch moments, as SB3's ``RunningMeanStd``)
and maps ``x`` to ``clip((x - mean) / sqrt(var + eps), -clip, clip)``. The statistics
are buffers: they travel with ``state_dict`` into checkpoints, so an evaluation policy
loaded from a checkpoint normalizes exactly as training did, and they receive no
gradient. Before the first ``update`` it is the identity (mean 0, variance 1).

The on-policy loop updates the statistics from each rollout's observations after the
rollout's update, so within one rollout and its update the mapping is fixed (training
replays exactly the numbers the actor saw).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class ObsNorm(nn.Module):
    """``x -> clip((x - mean) / sqrt(var + eps), -clip, clip)`` with running mean and variance.

    Args:
        shape: shape of one observation.
        clip: bound of the normalized values (SB3's ``clip_obs``).
        eps: added to the variance.
    """

    def __init__(self, shape: Sequence[int], clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.clip, self.eps = float(clip), float(eps)
        self.register_buffer("mean", torch.zeros(tuple(shape), dtype=torch.float64))
        self.register_buffer("var", torch.ones(tuple(shape), dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, batch: np.ndarray | torch.Tensor) -> None:
        """Merge the moments of ``batch`` (``(..., *shape)``) into the running statistics."""
        x = torch.as_tensor(np.asarray(batch) if not torch.is_tensor(batch) else batch)
        x = x.to(self.mean.device, torch.float64).reshape(-1, *self.mean.shape)
        n = x.shape[0]
        if n == 0:
            return
        batch_mean, batch_var = x.mean(dim=0), x.var(dim=0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * n + delta.square() * self.count * n / total
        self.mean.add_(delta * n / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def scale(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, 1 / sqrt(var + eps))`` as float32 (what ``forward`` applies)."""
        return self.mean.float(), torch.rsqrt(self.var + self.eps).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, inv_std = self.scale()
        return ((x.float() - mean) * inv_std).clamp(-self.clip, self.clip)

    def numpy(self, x: np.ndarray) -> np.ndarray:
        """``forward`` in numpy (float32), for numpy actors."""
        mean, inv_std = (t.cpu().numpy() for t in self.scale())
        return np.clip((x.astype(np.float32) - mean) * inv_std, -self.clip, self.clip)
