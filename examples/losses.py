"""What a loss function decides: MSE against MAE with outliers, and why classifiers use
cross-entropy rather than squared error.

    python examples/losses.py [--out losses.png]

**Regression: MSE or MAE.** Fitting one number ``c`` to data, the mean squared error is
smallest at the data's *mean* and the mean absolute error at its *median* (the gradient of
``|y - c|`` is a sign, so the minimum is where as many points lie above as below). A few
wild points move the mean a lot and the median hardly at all. Fitting a line to
``y = 2x + 1`` plus noise, with 10% of the points shifted up by 10: trained by gradient
descent (Adam), the MSE line lands on the least-squares solution and is dragged towards the
outliers, while the MAE line stays near the true one.

**Classification: cross-entropy.** With ``p = sigmoid(z)``, binary cross-entropy
``-(y log p + (1 - y) log(1 - p))`` has the gradient ``dL/dz = p - y``; squared error on
``p`` has ``2 (p - y) p (1 - p)``, which carries the sigmoid's slope. When the model is
confidently wrong (``z = -10`` for a positive example) the first is about -1, the second
about -1e-4: squared error gives almost no signal exactly where the model most needs one.
For C classes softmax turns logits into probabilities (positive, summing to 1) and the
cross-entropy's gradient is again ``softmax(z) - onehot(y)``.
"""

from __future__ import annotations

import argparse

import torch

from rlkit.io import save_figure
from rlkit.losses import binary_cross_entropy, cross_entropy, mae, mse
from rlkit.optim import Adam

SLOPE, INTERCEPT = 2.0, 1.0


def outlier_data(n: int = 200, share: float = 0.1, seed: int = 0):
    """``(x, y)``: ``y = 2x + 1 + N(0, 0.1^2)`` on ``x`` in [-1, 1], the points with the
    largest ``x`` (a ``share`` of them) shifted up by 10."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1
    y = SLOPE * x + INTERCEPT + 0.1 * torch.randn(n, generator=gen, dtype=torch.float64)
    outliers = x.argsort()[-int(n * share) :]
    y[outliers] += 10.0
    return x, y


def fit_line(x: torch.Tensor, y: torch.Tensor, loss_fn, steps: int = 3000) -> tuple[float, float]:
    """Slope and intercept minimising ``loss_fn`` over the whole data, by Adam with a
    learning rate decayed 100x (MAE's gradient is a sign: the step must shrink)."""
    theta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = Adam([theta], lr=0.05)
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = 0.05 * 0.01 ** (step / steps)
        optimizer.zero_grad()
        loss_fn(theta[0] * x + theta[1], y).backward()
        optimizer.step()
    return float(theta[0].detach()), float(theta[1].detach())


def fit_constant(y: torch.Tensor, loss_fn, steps: int = 3000) -> float:
    """The one number ``c`` minimising ``loss_fn(c, y)``, by the same descent (a line on
    ``x = 0``: only its intercept matters)."""
    return fit_line(torch.zeros_like(y), y, loss_fn, steps)[1]


def sigmoid_gradients(z: float, y: float = 1.0) -> dict[str, float]:
    """``dL/dz`` at logit ``z`` for cross-entropy and for squared error on the sigmoid."""
    out = {}
    for name, loss_fn in (
        ("cross-entropy", lambda t: binary_cross_entropy(t, torch.tensor(y, dtype=t.dtype))),
        ("squared error", lambda t: mse(torch.sigmoid(t), torch.tensor(y, dtype=t.dtype))),
    ):
        t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
        loss_fn(t).backward()
        out[name] = float(t.grad)
    return out


def steps_to_classify(loss_name: str, w0: float = -8.0, lr: float = 1.0, steps: int = 200):
    """Gradient descent on ``p = sigmoid(w x)`` for two points (x = -1: class 0, x = 1:
    class 1) from a confidently wrong ``w0``: the first step at which both are right
    (None if none within ``steps``) and the final ``w``."""
    x = torch.tensor([-1.0, 1.0], dtype=torch.float64)
    y = torch.tensor([0.0, 1.0], dtype=torch.float64)
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    right_at = None
    for step in range(steps + 1):
        if right_at is None and bool(((w * x > 0).double() == y).all()):
            right_at = step
        if step == steps:
            break
        z = w * x
        loss = binary_cross_entropy(z, y) if loss_name == "cross-entropy" else mse(z.sigmoid(), y)
        (grad,) = torch.autograd.grad(loss, w)
        with torch.no_grad():
            w -= lr * grad
    return right_at, float(w.detach())


def main(out: str | None = "losses.png") -> dict:
    """Run both parts, print them and plot the regression to ``out``."""
    x, y = outlier_data()
    mean_fit, median_fit = fit_constant(y, mse), fit_constant(y, mae)
    print(
        f"one number for y: MSE gives {mean_fit:.4f} (mean {float(y.mean()):.4f}), "
        f"MAE gives {median_fit:.4f} (median {float(y.median()):.4f})"
    )
    lines = {"MSE": fit_line(x, y, mse), "MAE": fit_line(x, y, mae)}
    design = torch.stack([x, torch.ones_like(x)], dim=1)
    least_squares = torch.linalg.lstsq(design, y.unsqueeze(1)).solution.squeeze(1).tolist()
    print(
        f"true line: slope {SLOPE}, intercept {INTERCEPT}; least squares: "
        f"{least_squares[0]:.3f}, {least_squares[1]:.3f}"
    )
    for name, (slope, intercept) in lines.items():
        print(f"  {name} fit: slope {slope:.3f}, intercept {intercept:.3f}")
    gradients = {z: sigmoid_gradients(z) for z in (-10.0, -2.0, 0.0, 2.0)}
    print("dL/dz for a positive example at logit z:")
    for z, g in gradients.items():
        print(
            f"  z = {z:5.1f}: cross-entropy {g['cross-entropy']:+.2e}, "
            f"squared error {g['squared error']:+.2e}"
        )
    classify = {name: steps_to_classify(name) for name in ("cross-entropy", "squared error")}
    for name, (at, w) in classify.items():
        print(
            f"from w = -8, lr 1, {name}: both points right "
            f"{'after ' + str(at) + ' steps' if at is not None else 'never within 200 steps'} "
            f"(w = {w:.3f})"
        )
    logits = torch.tensor([[2.0, 0.5, -1.0]], dtype=torch.float64, requires_grad=True)
    cross_entropy(logits, torch.tensor([0])).backward()
    probs = logits.detach().softmax(-1)
    print(
        f"softmax of logits (2, 0.5, -1): {[round(p, 4) for p in probs[0].tolist()]}, "
        f"sum {float(probs.sum()):.1f}; cross-entropy gradient for class 0: "
        f"{[round(g, 4) for g in logits.grad[0].tolist()]} (= softmax - onehot)"
    )
    if out:
        plot(x, y, lines, out)
    return {
        "constant": {
            "mse": mean_fit,
            "mae": median_fit,
            "mean": float(y.mean()),
            "median": float(y.median()),
        },
        "lines": lines,
        "least_squares": tuple(least_squares),
        "gradients": gradients,
        "classify": classify,
        "softmax_gradient": logits.grad[0].tolist(),
        "softmax": probs[0].tolist(),
    }


def plot(x: torch.Tensor, y: torch.Tensor, lines: dict, out: str) -> None:
    """The data and the two fitted lines beside the true one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(x, y, s=8, color="grey", label="data (10% shifted up by 10)")
    grid = torch.linspace(-1, 1, 50, dtype=torch.float64)
    ax.plot(grid, SLOPE * grid + INTERCEPT, "k--", label="true line")
    for name, (slope, intercept) in lines.items():
        ax.plot(grid, slope * grid + intercept, label=f"{name} fit")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("A line fitted with MSE and with MAE")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="losses.png", help="PNG file for the plot")
    main(parser.parse_args().out)
