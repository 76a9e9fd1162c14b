"""Noisy linear layers (Fortunato et al. 2018, "Noisy Networks for Exploration"),
factorised Gaussian noise.

``y = (mu_w + sigma_w * eps_w) x + mu_b + sigma_b * eps_b`` with learned ``mu`` and
``sigma`` and noise ``eps_w = f(eps_out) f(eps_in)^T``, ``eps_b = f(eps_out)``,
``f(x) = sign(x) sqrt(|x|)`` of independent standard normals (``in + out`` draws per
layer instead of ``in * out``). Initialisation as in the paper's factorised variant:
``mu ~ U(-1/sqrt(in), 1/sqrt(in))``, ``sigma = sigma0 / sqrt(in)`` (``sigma0 = 0.5``).
The noise stays fixed until ``reset_noise`` draws a new one (an agent decides when: DQN
draws one for every acting step and for each network at every gradient step); in eval
mode the layer is its mean, ``mu``. The noise is kept in buffers, as its two factors
(``input_epsilon``, ``bias_epsilon``), so a checkpoint holds it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


def _scaled(noise: torch.Tensor) -> torch.Tensor:
    return noise.sign() * noise.abs().sqrt()


class NoisyLinear(nn.Module):
    """A linear layer with learned factorised Gaussian noise on its weights and bias.

    The noise is kept as its two factors, ``input_epsilon = f(eps_in)`` and
    ``bias_epsilon = f(eps_out)``; ``weight_epsilon`` builds the ``out x in`` matrix when
    it is asked for. A batch builds the noisy weights ``mu_w + sigma_w * eps_w`` once and
    multiplies; a single row (acting) takes ``mu_w x + f(eps_out) * (sigma_w (f(eps_in) * x))``
    instead, the same product without building anything: Rainbow's acting step on MinAtar
    (new noise, then Q of one observation) 1.18-1.34x faster, its update as before
    (``benchmarks/rainbow_step.py``). A state dict written when the matrix was kept (a
    ``weight_epsilon`` entry) loads: its factors are read back from it.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        sigma0: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features))
        self.weight_sigma = nn.Parameter(torch.full((out_features, in_features), sigma0 * bound))
        self.bias_mu = nn.Parameter(torch.empty(out_features))
        self.bias_sigma = nn.Parameter(torch.full((out_features,), sigma0 * bound))
        with torch.no_grad():
            self.weight_mu.uniform_(-bound, bound, generator=generator)
            self.bias_mu.uniform_(-bound, bound, generator=generator)
        self.register_buffer("input_epsilon", torch.zeros(in_features))
        self.register_buffer("bias_epsilon", torch.zeros(out_features))
        self.reset_noise(generator)

    @property
    def weight_epsilon(self) -> torch.Tensor:
        """The weights' noise, ``f(eps_out) f(eps_in)^T`` (built on each call)."""
        return torch.outer(self.bias_epsilon, self.input_epsilon)

    @torch.no_grad()
    def reset_noise(self, generator: torch.Generator | None = None) -> None:
        """Draw new noise (from ``generator``, on its device; then moved to the layer's)."""
        device = generator.device if generator is not None else self.weight_mu.device
        eps_in = _scaled(torch.randn(self.in_features, generator=generator, device=device))
        eps_out = _scaled(torch.randn(self.out_features, generator=generator, device=device))
        self.input_epsilon.copy_(eps_in)
        self.bias_epsilon.copy_(eps_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x W^T + b`` with the current noise (training), or the means (eval)."""
        if not self.training:
            return nn.functional.linear(x, self.weight_mu, self.bias_mu)
        bias = self.bias_mu + self.bias_sigma * self.bias_epsilon
        if x.shape[:-1].numel() == 1:  # one row (acting): the noise through its factors
            noise = nn.functional.linear(x * self.input_epsilon, self.weight_sigma)
            return nn.functional.linear(x, self.weight_mu, bias) + noise * self.bias_epsilon
        weight = self.weight_mu + self.weight_sigma * self.weight_epsilon
        return nn.functional.linear(x, weight, bias)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any) -> None:
        # a state dict that kept the noise matrix: its rank-one factor along the inputs is
        # the row of the largest |f(eps_out)| divided by that entry
        matrix = state_dict.pop(prefix + "weight_epsilon", None)
        if matrix is not None and prefix + "input_epsilon" not in state_dict:
            eps_out = state_dict[prefix + "bias_epsilon"]
            row = int(eps_out.abs().argmax())
            state_dict[prefix + "input_epsilon"] = matrix[row] / eps_out[row]
        super()._load_from_state_dict(state_dict, prefix, *args)


@torch.no_grad()
def reset_noise(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """New noise for every ``NoisyLinear`` in ``module``: the factors of all of them from
    one draw of independent standard normals (``f(eps_in)`` then ``f(eps_out)``, layer by
    layer), split into their buffers. One draw and one ``f`` instead of two of each per
    layer: 13 against 33 us for Rainbow's two heads on MinAtar, paid at every acting step."""
    layers = [m for m in module.modules() if isinstance(m, NoisyLinear)]
    if len(layers) < 2:
        for layer in layers:
            layer.reset_noise(generator)
        return
    buffers = [b for layer in layers for b in (layer.input_epsilon, layer.bias_epsilon)]
    device = generator.device if generator is not None else buffers[0].device
    noise = _scaled(
        torch.randn(sum(b.numel() for b in buffers), generator=generator, device=device)
    )
    for buffer, part in zip(buffers, noise.split([b.numel() for b in buffers]), strict=True):
        buffer.copy_(part)
