"""Vanishing gradients made visible: per-layer gradient norms of two 20-layer MLPs.

    python examples/vanishing_gradients.py [--out gradients.png]

Backpropagation multiplies, layer by layer, by the weights and the activation's
derivative. The sigmoid's derivative is at most 1/4, so through 20 sigmoid layers
(Xavier initialisation) the gradient reaching the first layers is many orders of
magnitude smaller than at the last one: those layers barely learn. ReLU's derivative
is 1 where the unit is active, and He initialisation (variance 2 / fan_in) keeps the
signal's scale from layer to layer, so the gradient norms stay of the same order.
"""

from __future__ import annotations

import argparse

import torch

from rlkit.io import save_figure
from rlkit.losses import mse
from rlkit.nn import MLP

DEPTH, WIDTH = 20, 64


def layer_gradient_norms(
    activation: str, init: str, seed: int = 0, batch: int = 256
) -> list[float]:
    """Norm of dLoss/dW for each of the 20 weight matrices, input layer first."""
    gen = torch.Generator().manual_seed(seed)
    model = MLP(WIDTH, [WIDTH] * (DEPTH - 1), 1, activation=activation, init=init, generator=gen)
    x = torch.randn(batch, WIDTH, generator=gen)
    y = torch.randn(batch, 1, generator=gen)
    mse(model(x), y).backward()
    return [float(layer.weight.grad.norm()) for layer in model.linears]


def main(out: str | None = "vanishing_gradients.png") -> dict[str, list[float]]:
    """Print the norms per layer and plot them (log scale) to ``out``."""
    norms = {
        "sigmoid + Xavier": layer_gradient_norms("sigmoid", "xavier_uniform"),
        "ReLU + He": layer_gradient_norms("relu", "he_normal"),
    }
    print(f"{'layer':>5}  " + "  ".join(f"{name:>16}" for name in norms))
    for i in range(DEPTH):
        print(f"{i + 1:>5}  " + "  ".join(f"{values[i]:>16.3e}" for values in norms.values()))
    for name, values in norms.items():
        print(f"{name}: first/last layer gradient ratio {values[0] / values[-1]:.1e}")
    if out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for name, values in norms.items():
            ax.semilogy(range(1, DEPTH + 1), values, marker="o", label=name)
        ax.set_xticks(range(1, DEPTH + 1))
        ax.set_xlabel("layer (1 = input side)")
        ax.set_ylabel("gradient norm ||dL/dW||")
        ax.set_title(f"Gradient norms through a {DEPTH}-layer MLP (width {WIDTH})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        save_figure(fig, out)
        print(f"wrote {out}")
    return norms


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="vanishing_gradients.png", help="PNG file for the plot")
    main(parser.parse_args().out)
