"""Action distributions of stochastic policies, from their formulas.

* ``Categorical(logits)`` for ``Discrete`` actions: ``pi(a) = softmax(logits)_a``,
  ``log pi(a) = logits_a - logsumexp(logits)``, entropy ``-sum_a pi(a) log pi(a)``.
* ``DiagGaussian(mean, log_std)`` for ``Box`` actions: independent normals per action
  dimension, ``log pi(a) = sum_i [-(a_i - mu_i)^2 / (2 sigma_i^2) - log sigma_i - log(2 pi) / 2]``,
  entropy ``sum_i [1/2 + log(2 pi)/2 + log sigma_i]``.

Both expose ``sample(generator)``, ``mode()`` (the deterministic action: argmax / mean),
``log_prob(actions)`` and ``entropy()``, batched over the leading dimensions. ``generator``
may be a sequence of ``G`` generators for a stack of ``G`` batches (many seeds at once):
batch ``g`` then draws its noise from generator ``g``, as it would alone; or
``rlkit.distributed.Rows`` (one rank of a data-parallel run): the noise of all the run's
rows is drawn and this rank's rows are kept, as one process would draw them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from rlkit.distributed import Rows

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)

Generators = torch.Generator | Sequence[torch.Generator] | Rows | None


def noise(
    shape: torch.Size, generator: Generators, device: torch.device, normal: bool
) -> torch.Tensor:
    """Uniform [0, 1) or standard normal noise of ``shape``; with a sequence of ``G``
    generators, ``shape[0] == G`` and row ``g`` comes from generator ``g``."""
    draw = torch.randn if normal else torch.rand
    if isinstance(generator, Rows):
        dim = generator.dim
        whole = draw(
            (*shape[:dim], generator.total, *shape[dim + 1 :]),
            generator=generator.generator,
            device=device,
        )
        return whole.narrow(dim, generator.start, generator.stop - generator.start)
    if generator is None or isinstance(generator, torch.Generator):
        return draw(shape, generator=generator, device=device)
    if len(generator) != shape[0]:
        raise ValueError(f"{len(generator)} generators for a stack of {shape[0]} batches")
    return torch.stack([draw(shape[1:], generator=g, device=device) for g in generator])


class Categorical:
    """A batch of categorical distributions over ``logits.shape[-1]`` actions."""

    def __init__(self, logits: torch.Tensor) -> None:
        self.log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)

    def sample(self, generator: Generators = None) -> torch.Tensor:
        """One action per distribution (int64), by inverse transform of uniform noise."""
        probs = self.log_probs.exp()
        u = noise(probs.shape[:-1] + (1,), generator, probs.device, normal=False)
        cdf = probs.cumsum(dim=-1)
        return (cdf < u).sum(dim=-1).clamp_(max=probs.shape[-1] - 1)

    def mode(self) -> torch.Tensor:
        """The most likely action."""
        return self.log_probs.argmax(dim=-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a)`` of integer ``actions``."""
        return self.log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        """``-sum_a pi(a) log pi(a)``."""
        return -(self.log_probs.exp() * self.log_probs).sum(dim=-1)


class DiagGaussian:
    """A batch of Gaussians with diagonal covariance over ``mean.shape[-1]`` dimensions."""

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor) -> None:
        self.mean = mean
        self.log_std = log_std.expand_as(mean)

    def sample(self, generator: Generators = None) -> torch.Tensor:
        """``mean + std * noise`` (unclipped: clip for the env, keep this for log_prob)."""
        z = noise(self.mean.shape, generator, self.mean.device, normal=True)
        return self.mean + self.log_std.exp() * z

    def mode(self) -> torch.Tensor:
        """The mean."""
        return self.mean

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Sum over dimensions of the normal log-densities."""
        z = (actions - self.mean) * torch.exp(-self.log_std)
        return (-0.5 * z.square() - self.log_std - HALF_LOG_2PI).sum(dim=-1)

    def entropy(self) -> torch.Tensor:
        """Sum over dimensions of ``1/2 + log(2 pi)/2 + log sigma``."""
        return (0.5 + HALF_LOG_2PI + self.log_std).sum(dim=-1)
