"""Minibatches and epochs: how noisy a minibatch gradient is, what an epoch of small
batches buys, and which minima stochastic gradient descent can stay in.

    python examples/minibatches.py [--out minibatches.png]

The lecture notes' section on stochastic (minibatch) gradient descent makes three claims:
a batch's gradient is cheaper but "not as accurate", the many cheap steps of an epoch beat
one exact step, and the noise lets SGD "explore" and prefer wider minima. Each has a
measurable form.

**The noise, exactly.** A batch of ``B`` examples drawn without replacement from ``N``
gives a gradient whose mean is the full gradient and whose spread is
``E|g_B - g|^2 = (tr S / B) (N - B) / (N - 1)``, with ``tr S`` the mean squared distance of
the per-example gradients from their mean: it falls as ``1/B`` and is zero at ``B = N``.
And an epoch's batches (one shuffled pass) average, weighted by their sizes, to the full
gradient exactly. Checked on softmax regression on scikit-learn's 8x8 digits, whose
per-example gradients have a closed form, ``(p_i - onehot_i) [x_i, 1]``.

**An epoch of small batches.** The same model trained by ``rlkit.fit`` with plain SGD at
one learning rate for one epoch: ``N/B`` steps for the price of one pass over the data, so
small batches end far lower than the full batch's single step. Step for step the full
batch is the better one (its gradient is exact); it just costs ``N/B`` times as much.

**Which minima SGD can stay in.** Near a minimum each example's loss is a quadratic,
``h_i theta^2 / 2``, and the training loss has curvature ``h`` (the mean of the ``h_i``).
Gradient descent with step ``lr`` multiplies ``theta`` by ``1 - lr h`` each step, so it
stays only in minima flatter than ``2 / lr`` (sharper ones make it "chatter" and leave).
SGD multiplies it by ``1 - lr h_B``, with ``h_B`` the batch's mean curvature, and
``E theta_t^2 = q^t theta_0^2`` with ``q = (1 - lr h)^2 + lr^2 var(h_B)``. Two minima with
the same mean curvature 1, one where every example agrees (all ``h_i = 1``) and one where
they do not (half 0, half 2), at ``lr = 1.5``: gradient descent stays in both (``q =
0.25``); SGD with batches of one stays in the first and is thrown out of the second
(``q = 2.5``), with batches of 8 of 64 it stays again (``q = 0.5``). Noise makes SGD keep
only minima that are flat for the examples one by one, not just on average.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from rlkit.fit import fit
from rlkit.io import save_figure
from rlkit.losses import cross_entropy
from rlkit.nn import MLP
from rlkit.optim import SGD

# ---------------------------------------------------------------- the noise of a batch


def load_digits_flat(dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """The 1,797 digits as (N, 64) pixels in [0, 1] and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return torch.tensor(digits.data, dtype=dtype) / 16.0, torch.tensor(digits.target)


def with_bias(x: torch.Tensor) -> torch.Tensor:
    """``x`` with a column of ones appended (the bias's input)."""
    return torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)


def per_example_gradients(w: torch.Tensor, x1: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N, 10 * 65): each example's gradient of softmax regression's cross-entropy at the
    weights ``w`` (10, 65; the last column the bias), on inputs ``x1 = with_bias(x)``."""
    p = torch.softmax(x1 @ w.T, dim=1)
    p[torch.arange(len(y)), y] -= 1.0
    return (p[:, :, None] * x1[:, None, :]).reshape(len(x1), -1)


def batch_noise(batch_sizes: list[int], draws: int = 4000, seed: int = 0) -> dict:
    """Measured and predicted ``E|g_B - g|^2`` for each batch size, the batches' mean
    against the full gradient, and an epoch's weighted batch mean against it."""
    x, y = load_digits_flat()
    x1 = with_bias(x)
    gen = torch.Generator().manual_seed(seed)
    w = 0.1 * torch.randn(10, 65, generator=gen, dtype=torch.float64)
    grads = per_example_gradients(w, x1, y)
    n = len(grads)
    full = grads.mean(0)
    # the closed form against autograd, so the rest rests on a checked gradient
    wr = w.clone().requires_grad_(True)
    cross_entropy(x1 @ wr.T, y).backward()
    spread = float(((grads - full) ** 2).sum(1).mean())  # tr S
    rows = []
    for b in batch_sizes:
        idx = torch.rand(draws, n, generator=gen).argsort(dim=1)[:, :b]  # without replacement
        pick = torch.zeros(draws, n, dtype=grads.dtype).scatter_(1, idx, 1.0 / b)
        means = pick @ grads  # each row: the mean gradient of one drawn batch
        rows.append(
            {
                "batch": b,
                "measured": float(((means - full) ** 2).sum(1).mean()),
                "predicted": spread / b * (n - b) / (n - 1),
                "bias": float((means.mean(0) - full).norm() / full.norm()),
            }
        )
    # one shuffled pass in batches of 64: each batch's mean weighted by its size is its sum
    epoch = sum(grads[batch].sum(0) for batch in torch.randperm(n, generator=gen).split(64))
    return {
        "n": n,
        "spread": spread,
        "full_norm": float(full.norm()),
        "vs_autograd": float((wr.grad.flatten() - full).abs().max()),
        "rows": rows,
        "epoch_gap": float((epoch / n - full).norm()),
        "draws": draws,
    }


# ---------------------------------------------------------------- an epoch of small batches


def one_epoch(batch_sizes: list[int], lr: float = 0.5, epochs: int = 1, seed: int = 0) -> list:
    """Softmax regression on the digits trained by ``rlkit.fit`` with SGD at ``lr`` for
    ``epochs`` epochs at each batch size, all from the same weights: the full training
    loss after it and the number of steps taken."""
    x, y = load_digits_flat(torch.float32)
    rows = []
    for b in batch_sizes:
        model = MLP(64, [], 10, generator=torch.Generator().manual_seed(seed))
        optimizer = SGD(model.parameters(), lr=lr)
        taken = []
        count = optimizer.register_step_post_hook(lambda *_, seen=taken: seen.append(1))
        history = fit(
            model,
            cross_entropy,
            optimizer,
            x,
            y,
            epochs=epochs,
            batch_size=b,
            generator=torch.Generator().manual_seed(seed),
            console=None,
        )
        count.remove()
        with torch.no_grad():
            loss = float(cross_entropy(model(x), y))
        rows.append(
            {"batch": b, "steps": len(taken), "loss": loss, "epoch_loss": history.train_loss}
        )
    return rows


def same_steps(batch: int, steps: int, lr: float = 0.5, seed: int = 0) -> float:
    """Full training loss after ``steps`` SGD steps on batches of ``batch`` (a batch of
    all N: gradient descent), from the same weights as ``one_epoch``."""
    x, y = load_digits_flat(torch.float32)
    model = MLP(64, [], 10, generator=torch.Generator().manual_seed(seed))
    optimizer = SGD(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randperm(len(x), generator=gen)[:batch]
        optimizer.zero_grad()
        cross_entropy(model(x[idx]), y[idx]).backward()
        optimizer.step()
    with torch.no_grad():
        return float(cross_entropy(model(x), y))


# ---------------------------------------------------------------- which minima SGD keeps


def q_factor(curvatures: np.ndarray, batch: int, lr: float) -> float:
    """Per-step factor of ``E theta^2`` for SGD on ``sum_i h_i theta^2 / 2`` with batches
    of ``batch`` drawn without replacement."""
    n = len(curvatures)
    var_batch = curvatures.var() / batch * (n - batch) / (n - 1)
    return (1 - lr * curvatures.mean()) ** 2 + lr**2 * var_batch


def stay_or_leave(
    curvatures: np.ndarray, batch: int, lr: float, steps: int, runs: int, seed: int = 0
) -> dict:
    """``runs`` independent SGD runs from ``theta = 1`` on the per-example quadratics, all
    stepped at once by ``rlkit.optim.SGD`` (each run is one entry of the parameter): the
    measured ``E theta^2`` after ``steps`` against ``q^steps``, and the median ``|theta|``."""
    n = len(curvatures)
    h = torch.tensor(curvatures, dtype=torch.float64)
    theta = torch.ones(runs, dtype=torch.float64, requires_grad=True)
    optimizer = SGD([theta], lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.rand(runs, n, generator=gen).argsort(dim=1)[:, :batch]
        h_batch = h[idx].mean(1)
        optimizer.zero_grad()
        (h_batch * theta**2 / 2).sum().backward()  # each run's own batch loss
        optimizer.step()
    sq = theta.detach() ** 2
    q = q_factor(curvatures, batch, lr)
    return {
        "batch": batch,
        "q": q,
        "predicted": q**steps,
        "measured": float(sq.mean()),
        "stderr": float(sq.std() / math.sqrt(runs)),
        "median_abs": float(sq.sqrt().median()),
    }


def minima(lr: float = 1.5, n: int = 64, steps: int = 10, runs: int = 20000) -> dict:
    """Both minima (all examples at curvature 1; half at 0 and half at 2) under gradient
    descent (a batch of all ``n``), batches of 8 and batches of 1."""
    kinds = {"agreeing": np.ones(n), "disagreeing": np.repeat([0.0, 2.0], n // 2)}
    return {
        name: [stay_or_leave(h, b, lr, steps, runs) for b in (n, 8, 1)] for name, h in kinds.items()
    }


def main(out: str | None = "minibatches.png", draws: int = 4000, runs: int = 20000) -> dict:
    """Run the three parts, print them and plot to ``out``."""
    noise = batch_noise([1, 4, 16, 64, 256, 1024, 1797], draws)
    print(
        f"softmax regression on {noise['n']} digits: closed-form gradient vs autograd "
        f"{noise['vs_autograd']:.1e}; |g| = {noise['full_norm']:.3f}, tr S = {noise['spread']:.3f}"
    )
    print("  batch   E|g_B - g|^2 measured   predicted   |mean g_B - g| / |g|")
    for r in noise["rows"]:
        print(
            f"  {r['batch']:5d}   {r['measured']:20.5f}   {r['predicted']:9.5f}   {r['bias']:.4f}"
        )
    print(
        f"  one epoch of batches of 64, weighted: {noise['epoch_gap']:.1e} from the full gradient"
    )
    epoch = one_epoch([1797, 256, 64, 16, 4])
    start = same_steps(1797, 0)
    print(f"one epoch of SGD at lr 0.5 (training loss, from {start:.4f} at the start):")
    for r in epoch:
        print(f"  batch {r['batch']:5d}: {r['steps']:4d} steps, loss {r['loss']:.4f}")
    steps = epoch[2]["steps"]
    full = same_steps(1797, steps)
    print(
        f"the same {steps} steps: full batch {full:.4f} against batches of 64 "
        f"{epoch[2]['loss']:.4f} (at {1797 / 64:.0f}x the cost)"
    )
    kept = minima(runs=runs)
    print("E theta^2 after 10 steps from theta = 1, lr 1.5 (stays below 1: kept; above: left)")
    for name, rows in kept.items():
        for r in rows:
            print(
                f"  {name:11s} batch {r['batch']:2d}: q = {r['q']:.3f}, predicted "
                f"{r['predicted']:.3g}, measured {r['measured']:.3g} (+-{r['stderr']:.2g}), "
                f"median |theta| {r['median_abs']:.3g}"
            )
    if out:
        plot(noise, epoch, out)
    return {"noise": noise, "epoch": epoch, "start": start, "same_steps_full": full, "minima": kept}


def plot(noise: dict, epoch: list, out: str) -> None:
    """The batch gradient's spread against its formula, and one epoch's loss by batch size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    rows = [r for r in noise["rows"] if r["batch"] < noise["n"]]
    b = [r["batch"] for r in rows]
    left.plot(b, [r["predicted"] for r in rows], "k-", lw=1, label="tr S / B (N - B) / (N - 1)")
    left.plot(b, [r["measured"] for r in rows], "o", label="measured")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("batch size B")
    left.set_ylabel("E |g_B - g|^2")
    left.set_title("How noisy a batch gradient is")
    left.legend()
    right.plot([r["batch"] for r in epoch], [r["loss"] for r in epoch], "o-")
    right.set_xscale("log")
    right.set_xlabel("batch size B")
    right.set_ylabel("training loss after one epoch")
    right.set_title("One epoch of SGD at lr 0.5")
    fig.tight_layout()
    save_figure(fig, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="minibatches.png", help="PNG file for the plot")
    main(parser.parse_args().out)
