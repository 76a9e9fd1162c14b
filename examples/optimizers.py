"""SGD, momentum, Adam and Lion on two landscapes that show why each was invented.

    python examples/optimizers.py [--out optimizers.png]

**A narrow valley.** ``f(x, y) = (x^2 + K y^2) / 2`` with ``K = 50``: fifty times steeper
across the valley than along it. Gradient descent is stable only for ``lr < 2 / K`` (past it,
at ``2.1 / K``, each step multiplies ``y`` by ``-1.1``: it diverges); just below that edge each step overshoots across the valley (``y`` flips sign every step: the
"chatter") while along the valley it moves by a factor ``1 - lr`` a step, so it crawls.
Momentum remembers the previous steps, so the steps along the valley add up while those
across it, alternating in sign, partly cancel. With Polyak's heavy-ball values for
curvatures ``1`` and ``K`` (``lr = 4 / (1 + sqrt K)^2``, ``momentum = ((sqrt K - 1) /
(sqrt K + 1))^2``) the error shrinks in both directions by a factor a step that tends to
``(sqrt K - 1) / (sqrt K + 1) = 0.75`` (0.79-0.82 over the first 50 steps), where gradient
descent's is ``1 - lr = 0.962`` along the valley (and ``|1 - lr K| = 0.9`` across it). Across
the valley momentum first swings wider (its two rates there are one double root, so the
error goes as ``(a + b t) 0.75^t``) and then closes in far sooner.

**A saddle point.** ``f(x, y) = x^2 / 2 + y^4 / 4 - y^2 / 2``: a saddle at the origin,
minima at ``y = +-1``. Started at ``y = 1e-6`` the gradient across the saddle is about
``-y``, a millionth, so gradient descent leaves it only as fast as ``y`` grows by the
factor ``1 + lr`` a step. Adam divides each coordinate's step by the root mean square of
its gradients, and Lion takes the sign, so both move about ``lr`` a step however flat
the landscape is. In high dimension saddles are far more common than local minima (as
the lecture notes say), which is one reason adaptive methods suit deep networks.

Every optimizer is rlkit's own (``rlkit.optim``), on a two-parameter tensor.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import torch

from rlkit.io import save_figure
from rlkit.optim import SGD, Adam, Lion

K = 50.0  # the valley's steepness across / along
VALLEY_START = (1.0, 1.0)
SADDLE_START = (1.0, 1e-6)
LR_SADDLE = 0.1


def valley(theta: torch.Tensor) -> torch.Tensor:
    """``(x^2 + K y^2) / 2``."""
    return 0.5 * (theta[0] ** 2 + K * theta[1] ** 2)


def saddle(theta: torch.Tensor) -> torch.Tensor:
    """``x^2 / 2 + y^4 / 4 - y^2 / 2``: a saddle at 0, minima at ``(0, +-1)``."""
    return 0.5 * theta[0] ** 2 + 0.25 * theta[1] ** 4 - 0.5 * theta[1] ** 2


def heavy_ball(mu: float = 1.0, big: float = K) -> tuple[float, float]:
    """Polyak's learning rate and momentum for a quadratic with curvatures in [mu, big]."""
    root_mu, root_big = math.sqrt(mu), math.sqrt(big)
    return 4.0 / (root_mu + root_big) ** 2, ((root_big - root_mu) / (root_big + root_mu)) ** 2


def descend(
    f: Callable[[torch.Tensor], torch.Tensor],
    start: tuple[float, float],
    make: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    steps: int,
) -> torch.Tensor:
    """The path ``(steps + 1, 2)`` of an optimizer from ``start`` (float64)."""
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = make([theta])
    path = [theta.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        f(theta).backward()
        optimizer.step()
        path.append(theta.detach().clone())
    return torch.stack(path)


def valley_optimizers() -> dict[str, Callable]:
    """Gradient descent just inside its stability edge, and heavy-ball momentum."""
    lr, momentum = heavy_ball()
    return {
        "SGD lr=1.9/K": lambda p: SGD(p, lr=1.9 / K),
        f"momentum lr={lr:.3f} mu={momentum:.3f}": lambda p: SGD(p, lr=lr, momentum=momentum),
    }


def saddle_optimizers() -> dict[str, Callable]:
    """Each at the same learning rate, ``LR_SADDLE``."""
    return {
        "SGD": lambda p: SGD(p, lr=LR_SADDLE),
        "momentum 0.9": lambda p: SGD(p, lr=LR_SADDLE, momentum=0.9),
        "Adam": lambda p: Adam(p, lr=LR_SADDLE),
        "Lion": lambda p: Lion(p, lr=LR_SADDLE),
    }


def steps_until(path: torch.Tensor, done: Callable[[torch.Tensor], bool]) -> int | None:
    """The first step whose point satisfies ``done`` (None if none does)."""
    for step, point in enumerate(path):
        if done(point):
            return step
    return None


def sign_flips(values: torch.Tensor) -> int:
    """How often consecutive values have opposite signs."""
    return int((values[1:] * values[:-1] < 0).sum())


def main(out: str | None = "optimizers.png", steps: int = 400) -> dict[str, dict]:
    """Run both landscapes, print what each optimizer did, plot to ``out``."""
    results: dict[str, dict] = {"valley": {}, "past_the_edge": {}, "saddle": {}}
    paths: dict[str, dict[str, torch.Tensor]] = {"valley": {}, "saddle": {}}
    print(f"narrow valley (K = {K:g}), from {VALLEY_START}, to a distance of 1e-6:")
    for name, make in valley_optimizers().items():
        path = descend(valley, VALLEY_START, make, steps)
        reached = steps_until(path, lambda p: float(p.norm()) < 1e-6)
        flips = sign_flips(path[:51, 1])
        along, across = (float(path[50, i].abs() / path[0, i].abs()) ** (1 / 50) for i in (0, 1))
        results["valley"][name] = {
            "steps": reached,
            "y_flips_in_50": flips,
            "shrink_along": along,
            "shrink_across": across,
        }
        paths["valley"][name] = path
        print(
            f"  {name:32s} {reached} steps; over the first 50, x shrank by {along:.3f} and |y| "
            f"by {across:.3f} a step (y changed sign {flips} times)"
        )
    too_far = descend(valley, VALLEY_START, lambda p: SGD(p, lr=2.1 / K), 50)
    results["past_the_edge"] = {"lr": 2.1 / K, "y_after_50": float(too_far[50, 1])}
    print(
        f"  {'SGD lr=2.1/K':32s} diverges: past the edge 2/K each step multiplies y by "
        f"{1 - 2.1:.1f}, |y| = {abs(float(too_far[50, 1])):.0f} after 50 steps"
    )
    print(f"saddle point, from {SADDLE_START}, lr {LR_SADDLE}, until |y| >= 0.5:")
    for name, make in saddle_optimizers().items():
        path = descend(saddle, SADDLE_START, make, steps)
        left = steps_until(path, lambda p: abs(float(p[1])) >= 0.5)
        results["saddle"][name] = {"steps": left, "final_y": float(path[-1, 1])}
        paths["saddle"][name] = path
        print(f"  {name:32s} {left} steps; y = {float(path[-1, 1]):.3f} after {steps}")
    if out:
        plot(paths, out)
    return results


def plot(paths: dict[str, dict[str, torch.Tensor]], out: str) -> None:
    """Left: the distance to the valley's minimum; right: ``|y|`` leaving the saddle."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, path in paths["valley"].items():
        left.semilogy(path.norm(dim=1).clamp_min(1e-300), label=name)
    left.set_ylim(1e-12, 10)
    left.axhline(1e-6, color="grey", linestyle=":", linewidth=1)
    left.set_title(f"narrow valley (K = {K:g}): distance to the minimum")
    left.set_xlabel("step")
    left.set_ylabel("||(x, y)||")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    for name, path in paths["saddle"].items():
        right.semilogy(path[:61, 1].abs().clamp_min(1e-7), label=name)
    right.set_title(f"saddle point: |y| from 1e-6, lr {LR_SADDLE}")
    right.set_xlabel("step")
    right.set_ylabel("|y|")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="optimizers.png", help="PNG file for the plot")
    main(parser.parse_args().out)
