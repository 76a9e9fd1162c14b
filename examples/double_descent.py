"""Overfitting and the double-descent bump: the smallest-norm solution that gradient descent
finds, and why a model as large as its data set is the worst size to have.

    python examples/double_descent.py [--out double_descent.png]

The lecture notes end their chapter on training with Ilya Sutskever's account of
overfitting: pretend the model is linear; with more parameters than data points there is
a whole subspace of weights with zero training error, and gradient descent picks the
point of it with the smallest norm; when parameters and data points are equally many,
each data set has exactly one model, so small changes in the data make large changes in
the model. That is the peak of the "double descent" curve, and past it, with many more
parameters than data, the test error comes down again.

**Gradient descent finds the smallest norm.** A linear model ``X w`` with ``p > n``
weights, trained on the mean squared error by plain gradient descent (``rlkit.optim.SGD``
on the whole batch) from ``w = 0``: every gradient ``(2/n) X^T (X w - y)`` lies in the
row space of ``X``, so ``w`` never leaves it, and the one zero-error point there is the
minimum-norm solution ``pinv(X) y``. From any other start ``w0`` the part of ``w0``
outside the row space is never touched, and descent ends at ``pinv(X) y`` plus that part.

**The bump, exactly.** The "weak features" model of Belkin, Hsu and Xu (2019, "Two models
of double descent for weak features"): ``y = x . beta + sigma * noise`` with ``x`` standard
Gaussian in ``D`` dimensions, and a learner that sees only the first ``p`` coordinates and
fits them by least squares (``p < n``) or at the smallest norm (``p > n``). Its expected
test error is known in closed form (``risk`` below): the unseen coordinates act as extra
noise of variance ``s^2 = |beta_rest|^2 + sigma^2``; below ``n`` the fit's variance grows as
``p / (n - p - 1)``, above it as ``n / (p - n - 1)``, while the bias ``|beta_seen|^2 (1 - n/p)``
of the minimum-norm fit shrinks as ``p`` grows. At ``p = n`` the expectation is infinite.
The script draws many training sets for each ``p``, fits them, and measures each fit's
test error exactly (for a linear model it is ``|w - beta_seen|^2 + s^2``, no test sample
needed), against the formula.

**Sensitivity.** Nudging one training label by ``delta`` moves the fit by
``delta * |pinv(X) e_i|``; averaged over the points its square is ``p / (n (n - p - 1))``
below ``n`` and ``1 / (p - n - 1)`` above (the mean of an inverse Wishart matrix): the
one-to-one correspondence of the quote, measured.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from rlkit.io import save_figure
from rlkit.losses import mse
from rlkit.optim import SGD

N, D, SIGMA = 40, 400, 0.5


def descend(x: torch.Tensor, y: torch.Tensor, w0: torch.Tensor, lr: float, steps: int):
    """Full-batch gradient descent on the mean squared error of ``x @ w`` from ``w0``."""
    w = w0.clone().requires_grad_(True)
    optimizer = SGD([w], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        mse(x @ w, y).backward()
        optimizer.step()
    return w.detach()


def minimum_norm_by_descent(n: int = N, p: int = 4 * N, steps: int = 400, seed: int = 0) -> dict:
    """Descent from zero and from a random start on ``n`` points with ``p`` weights,
    against ``pinv(X) y`` and ``pinv(X) y + (I - P) w0``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, p, generator=gen, dtype=torch.float64)
    y = torch.randn(n, generator=gen, dtype=torch.float64)
    # the step: below 2 over the largest curvature (2/n) * sigma_max(X)^2
    lr = 1.5 / (2 / n * float(torch.linalg.matrix_norm(x, ord=2)) ** 2)
    pinv = torch.linalg.pinv(x)
    w_min = pinv @ y
    w0 = torch.randn(p, generator=gen, dtype=torch.float64)
    outside = w0 - pinv @ (x @ w0)  # (I - P) w0: the part of w0 no gradient can reach
    from_zero = descend(x, y, torch.zeros(p, dtype=torch.float64), lr, steps)
    from_w0 = descend(x, y, w0, lr, steps)
    return {
        "n": n,
        "p": p,
        "lr": lr,
        "steps": steps,
        "from_zero_gap": float((from_zero - w_min).norm()),
        "from_w0_gap": float((from_w0 - (w_min + outside)).norm()),
        "train_error": float(mse(x @ from_zero, y)),
        "norms": {
            "minimum": float(w_min.norm()),
            "from_w0": float(from_w0.norm()),
            "outside": float(outside.norm()),
        },
    }


def risk(p: int, n: int = N, dim: int = D, sigma: float = SIGMA) -> float:
    """Expected test error of the weak-features model's fit on the first ``p`` of ``dim``
    coordinates (``beta`` spread evenly, ``|beta| = 1``), from ``n`` points; ``inf`` for
    ``|p - n| <= 1``."""
    seen = p / dim
    s2 = 1.0 - seen + sigma**2
    if p <= n - 2:
        return s2 * (1 + p / (n - p - 1))
    if p >= n + 2:
        return seen * (1 - n / p) + s2 * (1 + n / (p - n - 1))
    return math.inf


def sensitivity(p: int, n: int = N) -> float:
    """Expected ``|pinv(X) e_i|^2`` averaged over the ``n`` points: how far a unit change
    of one label moves the fit, squared."""
    if p <= n - 2:
        return p / (n * (n - p - 1))
    if p >= n + 2:
        return 1 / (p - n - 1)
    return math.inf


def measure(
    ps: list[int],
    draws: int = 400,
    n: int = N,
    dim: int = D,
    sigma: float = SIGMA,
    seed: int = 0,
) -> list[dict]:
    """For each ``p``, fit ``draws`` fresh training sets and measure the fits' exact test
    errors, norms and label sensitivities."""
    rng = np.random.default_rng(seed)
    beta = np.full(dim, 1 / math.sqrt(dim))
    rows = []
    for p in ps:
        x = rng.standard_normal((draws, n, dim))
        y = x @ beta + sigma * rng.standard_normal((draws, n))
        pinv = np.linalg.pinv(x[:, :, :p])  # (draws, p, n)
        w = (pinv @ y[:, :, None])[:, :, 0]
        errors = ((w - beta[:p]) ** 2).sum(axis=1) + (1 - p / dim) + sigma**2
        moved = (pinv**2).sum(axis=(1, 2)) / n  # mean over i of |pinv e_i|^2
        rows.append(
            {
                "p": p,
                "risk": risk(p, n, dim, sigma),
                "mean": float(errors.mean()),
                "median": float(np.median(errors)),
                "stderr": float(errors.std() / math.sqrt(draws)),
                "norm": float(np.median(np.linalg.norm(w, axis=1))),
                "sensitivity": sensitivity(p, n),
                "moved": float(moved.mean()),
            }
        )
    return rows


def main(out: str | None = "double_descent.png", draws: int = 400) -> dict:
    """Run both parts, print them and plot the curve to ``out``."""
    descent = minimum_norm_by_descent()
    print(
        f"gradient descent on {descent['n']} points with {descent['p']} weights "
        f"({descent['steps']} steps, lr {descent['lr']:.4f}):"
    )
    print(
        f"  from w = 0: {descent['from_zero_gap']:.1e} from pinv(X) y "
        f"(training error {descent['train_error']:.1e}, norm {descent['norms']['minimum']:.3f})"
    )
    print(
        f"  from a random w0: {descent['from_w0_gap']:.1e} from pinv(X) y + (I - P) w0 "
        f"(norm {descent['norms']['from_w0']:.3f}: the untouched part adds "
        f"{descent['norms']['outside']:.3f} at right angles)"
    )
    ps = [1, 5, 10, 20, 30, 35, 38, 39, 40, 41, 42, 45, 50, 60, 80, 120, 200, 300, 400]
    rows = measure(ps, draws)
    print(f"n = {N} points, D = {D} features, noise sigma = {SIGMA}; {draws} training sets a row")
    print("    p   expected   measured (mean, median)   |w| median   label sensitivity")
    for r in rows:
        print(
            f"  {r['p']:3d}  {r['risk']:9.3f}   {r['mean']:10.3f} {r['median']:9.3f}"
            f"       {r['norm']:7.3f}     {r['moved']:9.4f} (expected {r['sensitivity']:.4f})"
        )
    below = min(r["risk"] for r in rows if r["p"] < N)
    above = min(r["risk"] for r in rows if r["p"] > N)
    print(
        f"best below n: {below:.3f}; best above n: {above:.3f} "
        f"({'lower' if above < below else 'higher'}: params >> data wins)"
    )
    if out:
        plot(rows, out)
    return {"descent": descent, "rows": rows}


def plot(rows: list[dict], out: str) -> None:
    """Test error and the fit's norm against the number of features."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for grid, label in ((range(1, N - 1), "expected (closed form)"), (range(N + 2, D + 1), None)):
        left.plot(list(grid), [risk(p) for p in grid], "k-", lw=1, label=label)
    finite = [r for r in rows if math.isfinite(r["risk"])]
    left.plot([r["p"] for r in finite], [r["mean"] for r in finite], "o", label="measured (mean)")
    peak = [r for r in rows if not math.isfinite(r["risk"])]
    left.plot(
        [r["p"] for r in peak], [r["median"] for r in peak], "x", label="median (mean infinite)"
    )
    ps = [r["p"] for r in rows]
    right.plot(ps, [r["norm"] for r in rows], "o-", label="|w| (median of fits)")
    for ax in (left, right):
        ax.axvline(N, color="grey", ls="--", lw=1, label=f"p = n = {N}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("features the model sees (p)")
        ax.legend()
    left.set_ylabel("test error")
    left.set_title("Double descent: the bump at p = n")
    right.set_title("The fit's norm")
    fig.tight_layout()
    save_figure(fig, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="double_descent.png", help="PNG file for the plot")
    parser.add_argument("--draws", type=int, default=400, help="training sets for each p")
    args = parser.parse_args()
    main(args.out, args.draws)
