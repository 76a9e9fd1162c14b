"""Backpropagation against nudging each weight: the same gradient, at a tiny fraction of
the cost.

    python examples/backprop.py

The first idea for training a network is to change one parameter a little and see whether
the loss goes down. Done carefully that is a central finite difference,
``dC/dw ~ (C(w + h) - C(w - h)) / 2h``: two forward passes per parameter, so ``2P`` passes
for a network of ``P`` parameters. Backpropagation gets every derivative exactly from one
forward pass and one backward pass through the same layers, with the chain rule written
as the lecture notes' equations (section 4.7.3, for ``z_l = a_(l-1) W_l^T + b_l`` and
``a_l = sigma(z_l)``):

    delta_L = dC/da_L                      (no activation after the last layer)
    dC/dW_l = delta_l^T a_(l-1)            dC/db_l = delta_l summed over the batch
    delta_(l-1) = (delta_l W_l) * sigma'(z_(l-1))

``rlkit.nn.backprop`` is those equations; here they are held against torch's autograd
(the same numbers to round-off) and against finite differences (the same to about
``h^2``), for MLPs of growing width, with the time each method takes.
"""

from __future__ import annotations

import time

import torch

from rlkit.losses import mse
from rlkit.nn import MLP
from rlkit.nn import backprop as written_out

H = 1e-6  # the finite differences' step (float64)


def network(width: int, seed: int = 0):
    """A 4-input, two-hidden-layer tanh MLP with one output, float64, and a batch."""
    gen = torch.Generator().manual_seed(seed)
    model = MLP(4, [width, width], 1, activation="tanh", generator=gen).double()
    x = torch.randn(64, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(64, 1, generator=gen, dtype=torch.float64)
    return model, x, y


def by_equations(model: MLP, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """The gradient from the backpropagation equations (``rlkit.nn.backprop``)."""
    outputs = written_out.forward(model.linears, "tanh", x)
    grad_output = 2 * (outputs[-1] - y) / y.numel()  # dC/da_L of the mean squared error
    written_out.backward(model.linears, "tanh", outputs, grad_output)
    return [p.grad.clone() for p in model.parameters()]


def by_autograd(model: MLP, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """The gradient from torch's autograd."""
    model.zero_grad()
    mse(model(x), y).backward()
    return [p.grad.clone() for p in model.parameters()]


@torch.no_grad()
def by_nudging(model: MLP, x: torch.Tensor, y: torch.Tensor) -> tuple[list[torch.Tensor], int]:
    """Central finite differences, one parameter at a time; also the forward passes used."""
    grads, passes = [], 0
    for p in model.parameters():
        grad = torch.zeros_like(p)
        flat, flat_grad = p.view(-1), grad.view(-1)
        for i in range(flat.numel()):
            kept = float(flat[i])
            flat[i] = kept + H
            up = float(mse(model(x), y))
            flat[i] = kept - H
            down = float(mse(model(x), y))
            flat[i] = kept
            flat_grad[i] = (up - down) / (2 * H)
            passes += 2
        grads.append(grad)
    return grads, passes


def largest_gap(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """The largest absolute difference between two gradients."""
    return max(float((u - v).abs().max()) for u, v in zip(a, b, strict=True))


def timed(fn, *args):
    """``(result, seconds)``."""
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def main(widths: tuple[int, ...] = (4, 16, 64)) -> list[dict]:
    """Compare the three gradients for each width; print gaps, passes and times."""
    rows = []
    by_equations(*network(2))  # the first call pays torch's one-off set-up: not timed
    print(
        f"{'width':>5} {'params':>7} {'eqs vs autograd':>16} {'eqs vs nudging':>15} "
        f"{'passes':>7} {'backprop s':>11} {'nudging s':>10}"
    )
    for width in widths:
        model, x, y = network(width)
        equations, t_equations = timed(by_equations, model, x, y)
        autograd = by_autograd(model, x, y)
        (nudged, passes), t_nudging = timed(by_nudging, model, x, y)
        params = sum(p.numel() for p in model.parameters())
        row = {
            "width": width,
            "params": params,
            "vs_autograd": largest_gap(equations, autograd),
            "vs_nudging": largest_gap(equations, nudged),
            "passes": passes,
            "backprop_s": t_equations,
            "nudging_s": t_nudging,
        }
        rows.append(row)
        print(
            f"{width:>5} {params:>7,} {row['vs_autograd']:>16.1e} {row['vs_nudging']:>15.1e} "
            f"{passes:>7,} {t_equations:>11.5f} {t_nudging:>10.3f}"
        )
    print(
        "backprop: one forward and one backward pass whatever the size; nudging: 2 per "
        "parameter, so its cost grows with the network"
    )
    return rows


if __name__ == "__main__":
    main()
