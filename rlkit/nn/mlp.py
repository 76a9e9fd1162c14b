"""The multi-layer perceptron: ``Linear -> activation -> ... -> Linear``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rlkit.nn.activations import activation as make_activation
from rlkit.nn.init import init_weights


class MLP(nn.Sequential):
    """A fully connected network.

    Args:
        in_features: input size.
        hidden_sizes: width of each hidden layer (empty for a linear model).
        out_features: output size.
        activation: name of the hidden activation (``tanh``, ``relu``, ``sigmoid``, ``step``, ...).
        output_activation: name of an activation after the last layer (default none).
        init: weight initialisation scheme (see ``rlkit.nn.init``; ``torch`` is PyTorch's default).
        gain: gain of the scheme for hidden layers.
        output_gain: gain for the last layer (default: ``gain``), e.g. 0.01 for a policy head.
        generator: where the initial weights are drawn from.
    """

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int],
        out_features: int,
        activation: str = "tanh",
        output_activation: str | None = None,
        init: str = "xavier_uniform",
        gain: float = 1.0,
        output_gain: float | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        sizes = [in_features, *hidden_sizes]
        layers: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(n_in, n_out), make_activation(activation)]
        layers.append(nn.Linear(sizes[-1], out_features))
        if output_activation is not None:
            layers.append(make_activation(output_activation))
        super().__init__(*layers)
        self.in_features, self.out_features = in_features, out_features
        init_weights(self, init, gain=gain, generator=generator)
        if output_gain is not None:
            init_weights(self.linears[-1], init, gain=output_gain, generator=generator)

    @property
    def linears(self) -> list[nn.Linear]:
        """The Linear layers, input to output."""
        return [m for m in self if isinstance(m, nn.Linear)]
