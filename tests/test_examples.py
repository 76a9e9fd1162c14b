"""Every lecture-notes example, run and checked against what it claims."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from examples import (
    backprop,
    cnn_filters,
    digits_cnn,
    double_descent,
    gridworld_bellman,
    losses,
    lstm_memory,
    minibatches,
    optimizers,
    perceptron_logic,
    sin_mlp,
    vanishing_gradients,
    xor_mlp,
)
from rlkit.bellman import solve_policy, value_iteration
from rlkit.envs import TabularMDP, make_env

ROOT = Path(__file__).resolve().parents[1]


def test_perceptron_learns_and_or_but_never_xor():
    results = perceptron_logic.main(epochs=1000)
    assert results["AND"]["converged"] and results["AND"]["final_accuracy"] == 1.0
    assert results["OR"]["converged"] and results["OR"]["final_accuracy"] == 1.0
    assert not results["XOR"]["converged"]
    assert results["XOR"]["best_accuracy"] <= 0.75  # in 1,000 epochs never 100%
    # and no line can do it: every perceptron on a grid of weights misclassifies XOR
    grid = torch.linspace(-3, 3, 25)
    for w1 in grid:
        for w2 in grid:
            for b in grid:
                out = ((perceptron_logic.INPUTS @ torch.stack([w1, w2]) + b) > 0).float()
                assert not torch.equal(out, perceptron_logic.GATES["XOR"])


def test_mlp_learns_xor_and_zero_init_cannot():
    model, acc, loss = xor_mlp.train_xor("xavier_uniform", seed=3)
    assert acc == 1.0 and loss < 0.05
    results = xor_mlp.main(seeds=10)
    assert sum(a == 1.0 for a in results["xavier_uniform"]) >= 5
    assert all(a < 1.0 for a in results["zeros"])
    # symmetry: with zero init the two hidden units stay identical
    model, acc, _ = xor_mlp.train_xor("zeros", seed=0)
    hidden = model.linears[0]
    assert torch.equal(hidden.weight[0], hidden.weight[1]) and torch.equal(
        hidden.bias[0], hidden.bias[1]
    )


def test_mlp_approximates_sin():
    _, test_mse, _ = sin_mlp.train_sin()
    assert test_mse < 1e-3


def test_vanishing_gradients_visible_and_plotted(tmp_path):
    out = tmp_path / "grads.png"
    norms = vanishing_gradients.main(str(out))
    sigmoid, relu = norms["sigmoid + Xavier"], norms["ReLU + He"]
    assert len(sigmoid) == len(relu) == 20
    assert sigmoid[0] / sigmoid[-1] < 1e-6  # vanished
    assert 0.01 < relu[0] / relu[-1] < 100  # kept its scale
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"


def test_cnn_on_digits_reaches_97_percent():
    _, test_accuracy, _ = digits_cnn.train_digits()
    assert test_accuracy >= 0.97


def test_lstm_remembers_and_mlp_is_at_chance():
    results = lstm_memory.main(steps=1500)
    assert results["lstm"] >= 0.99
    assert 0.45 <= results["mlp"] <= 0.55


def test_momentum_crosses_the_valley_and_adaptive_steps_leave_the_saddle(tmp_path):
    out = tmp_path / "optimizers.png"
    results = optimizers.main(str(out), steps=400)
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"

    # gradient descent on the quadratic is the closed form (1 - lr)^t, (1 - lr K)^t
    lr, big = 1.9 / optimizers.K, optimizers.K
    sgd = optimizers.descend(optimizers.valley, (1.0, 1.0), lambda p: optimizers.SGD(p, lr=lr), 60)
    t = torch.arange(61, dtype=torch.float64)
    assert torch.allclose(sgd[:, 0], (1 - lr) ** t, rtol=1e-12)
    assert torch.allclose(sgd[:, 1], (1 - lr * big) ** t, rtol=1e-12)
    closed = next(k for k in range(10_000) if math.hypot((1 - lr) ** k, (1 - lr * big) ** k) < 1e-6)
    assert results["past_the_edge"]["y_after_50"] == pytest.approx((-1.1) ** 50)
    valley = list(results["valley"].values())
    assert valley[0]["steps"] == closed == 357
    assert valley[0]["y_flips_in_50"] == 50  # the chatter: across the valley every step overshoots
    assert valley[0]["shrink_along"] == pytest.approx(1 - lr)
    # heavy ball: at least 4x fewer steps, its rate tending to (sqrt K - 1) / (sqrt K + 1)
    assert valley[1]["steps"] * 4 < closed
    lr_hb, mu = optimizers.heavy_ball()
    ball = optimizers.descend(
        optimizers.valley, (1.0, 1.0), lambda p: optimizers.SGD(p, lr=lr_hb, momentum=mu), 200
    )
    rate = (ball[200].norm() / ball[150].norm()) ** (1 / 50)
    root = (math.sqrt(big) - 1) / (math.sqrt(big) + 1)
    assert root < rate < root * 1.01  # (a + b t) root^t: a factor (1 + 1/t) above the root

    # the saddle: gradient descent grows y by about 1 + lr a step, as the recursion says
    y, steps = 1e-6, 0
    while abs(y) < 0.5:
        y, steps = y - optimizers.LR_SADDLE * (y**3 - y), steps + 1
    saddle = results["saddle"]
    assert saddle["SGD"]["steps"] == steps == 139
    assert saddle["Lion"]["steps"] == 5  # sign steps: 1e-6 + 0.1 t
    assert saddle["Adam"]["steps"] <= 10
    assert saddle["Lion"]["steps"] < saddle["momentum 0.9"]["steps"] < saddle["SGD"]["steps"]
    for name, result in saddle.items():  # each ends in one of the minima y = +-1
        assert abs(abs(result["final_y"]) - 1) <= 0.15, name


def test_bellman_equations_give_the_books_gridworld_values():
    results = gridworld_bellman.main()
    v_random, v_star = results["v_random"].reshape(5, 5), results["v_star"].reshape(5, 5)
    # Sutton & Barto, Figures 3.2 and 3.5 (gamma 0.9): the cells A, B and the corners
    assert np.round(v_random[0], 1).tolist() == [3.3, 8.8, 4.4, 5.3, 1.5]
    assert np.round(v_random[4, [0, 4]], 1).tolist() == [-1.9, -2.0]
    assert np.round(v_star[0], 1).tolist() == [22.0, 24.4, 22.0, 19.4, 17.5]
    assert np.round(v_star[4, [0, 4]], 1).tolist() == [14.4, 11.7]
    # the same values from rlkit's planners, written independently of the example
    mdp = TabularMDP.from_env(make_env("rlkit/GridWorld5x5-v0"))
    exact = value_iteration(mdp.model(), 0.9, tol=1e-10)
    assert np.abs(results["v_star"] - exact.values.numpy()).max() < 1e-9
    random_value = solve_policy(mdp.model(), torch.full((25, 4), 0.25, dtype=torch.float64), 0.9)
    assert np.abs(results["v_random"] - random_value.numpy()).max() < 1e-9
    # sweep k moves v by at most gamma^(k-1) max|R| (max|R| = 10), and the loop stops once
    # gamma moved / (1 - gamma) <= 1e-10: so by sweep 1 + ceil(log(1e-10 (1 - g) / g / 10) / log g)
    bound = 1 + math.ceil(math.log(1e-10 * 0.1 / 0.9 / 10) / math.log(0.9))
    assert results["sweeps"] <= bound == 263
    # the book's optimal policy: every action in A and B, else the arrows of Figure 3.5
    left, down, right, up = range(4)
    best = results["optimal_actions"].reshape(5, 5, 4)
    assert best[0, 1].all() and best[0, 3].all()
    assert np.flatnonzero(best[0, 0]).tolist() == [right]
    assert np.flatnonzero(best[1, 0]).tolist() == [right, up]
    assert np.flatnonzero(best[4, 1]).tolist() == [up]
    assert np.flatnonzero(best[3, 4]).tolist() == [left, up]
    assert down not in np.flatnonzero(best[2:, :].reshape(-1, 4).any(axis=0))
    # acting greedily on v* earns v*
    assert np.abs(results["v_greedy"] - results["v_star"]).max() < 1e-9


def test_mse_finds_the_mean_mae_the_median_and_cross_entropy_keeps_its_gradient(tmp_path):
    out = tmp_path / "losses.png"
    results = losses.main(str(out))
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"
    x, y = losses.outlier_data()
    constant = results["constant"]
    assert constant["mse"] == pytest.approx(float(y.mean()), abs=1e-4)
    middle = y.sort().values[99:101]  # 200 points: every c between the middle two is a median
    assert float(middle[0]) - 1e-3 <= constant["mae"] <= float(middle[1]) + 1e-3
    # MSE's line is least squares, pulled up by the outliers; MAE's stays near y = 2x + 1
    assert results["lines"]["MSE"] == pytest.approx(results["least_squares"], abs=1e-4)
    assert results["least_squares"][0] > 4.0
    slope, intercept = results["lines"]["MAE"]
    assert abs(slope - 2.0) < 0.15 and abs(intercept - 1.0) < 0.1
    mae_of = lambda a, b: float((a * x + b - y).abs().mean())  # noqa: E731
    assert mae_of(slope, intercept) <= min(mae_of(2.0, 1.0), mae_of(*results["least_squares"]))
    # dL/dz of a positive example: p - 1 for cross-entropy, 2 (p - 1) p (1 - p) for MSE
    for z, grads in results["gradients"].items():
        p = 1 / (1 + math.exp(-z))
        assert grads["cross-entropy"] == pytest.approx(p - 1, rel=1e-9)
        assert grads["squared error"] == pytest.approx(2 * (p - 1) * p * (1 - p), rel=1e-9)
    assert abs(results["gradients"][-10.0]["squared error"]) < 1e-4
    # from confidently wrong, cross-entropy recovers at once; squared error barely moves
    at, w = results["classify"]["cross-entropy"]
    assert at is not None and at <= 10 and w > 0
    at, w = results["classify"]["squared error"]
    assert at is None and w < -7.5
    # softmax is a distribution, and the cross-entropy gradient is softmax - onehot
    probs = torch.tensor(results["softmax"])
    assert float(probs.sum()) == pytest.approx(1.0) and bool((probs > 0).all())
    onehot = torch.tensor([1.0, 0.0, 0.0])
    assert torch.allclose(torch.tensor(results["softmax_gradient"]), probs - onehot, atol=1e-9)


def test_backprop_equations_equal_autograd_and_finite_differences():
    rows = backprop.main(widths=(3, 12))
    for row in rows:
        assert row["vs_autograd"] < 1e-12  # the same arithmetic up to round-off
        # central differences err by O(h^2) + O(eps / h): about 1e-10 at h = 1e-6
        assert row["vs_nudging"] < 1e-7
        assert row["passes"] == 2 * row["params"]
    assert [row["params"] for row in rows] == [
        3 * 4 + 3 + 3 * 3 + 3 + 3 + 1,
        12 * 4 + 12 + 144 + 12 + 12 + 1,
    ]
    # the agreement has teeth: the gradient is far from zero, and a delta without sigma'
    # (the hidden layers taken as linear) misses the finite differences by far more
    model, x, y = backprop.network(3)
    nudged, _ = backprop.by_nudging(model, x, y)
    assert max(float(g.abs().max()) for g in nudged) > 1e-2
    outputs = backprop.written_out.forward(model.linears, "tanh", x)
    grad_output = 2 * (outputs[-1] - y) / y.numel()
    backprop.written_out.backward(model.linears, "identity", outputs, grad_output)
    linear = [p.grad.clone() for p in model.parameters()]
    assert backprop.largest_gap(linear, nudged) > 1e-3


def test_line_filters_fire_on_their_orientation_and_a_small_cnn_tells_lines_apart():
    results = cnn_filters.main()
    counts = results["counts"]
    assert counts["mlp_rgb"] == 77_309_804_544  # the lecture notes' equation (21)
    assert round(counts["mlp_gray"] / 1e9, 1) == 8.6  # and (22)
    conv = torch.nn.Conv2d(3, 32, 3)
    assert counts["conv"] == sum(p.numel() for p in conv.parameters()) == 896
    hand = results["hand_responses"]  # (lines, filters)
    assert torch.equal(hand.diagonal(), torch.full((4,), 6.0))
    off = hand[~torch.eye(4, dtype=torch.bool)]
    assert bool((off >= 0).all()) and bool((off <= 2).all())
    # a line image: one pixel wide, across the whole image when straight
    assert int(cnn_filters.bar(0, 2).sum()) == int(cnn_filters.bar(1, -3).sum()) == 12
    assert int(cnn_filters.bar(2, 0).sum()) == 12 and int(cnn_filters.bar(3, 3).sum()) == 9
    assert results["accuracy"] >= 0.97


def test_descent_finds_the_minimum_norm_and_the_error_peaks_where_p_equals_n(tmp_path):
    out = tmp_path / "dd.png"
    results = double_descent.main(str(out), draws=200)
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"
    descent = results["descent"]
    # from zero, descent stays in the row space and ends at pinv(X) y; from w0 it keeps
    # w0's part outside the row space, at right angles to the minimum-norm solution
    assert descent["train_error"] < 1e-20
    assert descent["from_zero_gap"] < 1e-9 and descent["from_w0_gap"] < 1e-9
    norms = descent["norms"]
    assert norms["from_w0"] ** 2 == pytest.approx(norms["minimum"] ** 2 + norms["outside"] ** 2)
    assert norms["outside"] > 1.0
    rows = {r["p"]: r for r in results["rows"]}
    # the closed forms: p < n is ordinary least squares with noise s^2 = 1 - p/D + sigma^2
    s2 = 1 - 10 / double_descent.D + double_descent.SIGMA**2
    assert rows[10]["risk"] == pytest.approx(s2 * (1 + 10 / 29))
    assert math.isinf(rows[40]["risk"]) and math.isinf(rows[39]["sensitivity"])
    for p, r in rows.items():
        if abs(p - double_descent.N) >= 10:
            # fitted training sets agree with the formula within sampling error
            assert abs(r["mean"] - r["risk"]) < 4 * r["stderr"], p
            assert r["moved"] == pytest.approx(r["sensitivity"], rel=0.05), p
    # the bump: at p = n the typical fit is ten times worse than on either side, and its
    # norm and sensitivity are largest there
    assert rows[40]["median"] > 10 * max(rows[10]["median"], rows[400]["median"])
    assert max(rows, key=lambda p: rows[p]["norm"]) == 40
    assert max(rows, key=lambda p: rows[p]["moved"]) == 40
    # and far past it the error ends lower than the best model smaller than the data
    assert rows[400]["median"] < min(r["median"] for p, r in rows.items() if p < 40)
    assert double_descent.risk(400) < min(double_descent.risk(p) for p in range(0, 39))


def test_batch_noise_falls_as_one_over_b_an_epoch_of_small_batches_wins_and_sgd_leaves_a_minimum_gd_keeps(
    tmp_path,
):
    out = tmp_path / "mb.png"
    results = minibatches.main(str(out), draws=2000)
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"
    noise = results["noise"]
    assert noise["vs_autograd"] < 1e-12 and noise["epoch_gap"] < 1e-12
    n = noise["n"]
    for row in noise["rows"]:
        if row["batch"] == n:  # the whole set: no noise at all
            assert row["predicted"] == 0 and row["measured"] < 1e-20
            continue
        # E|g_B - g|^2 = tr S / B (N - B) / (N - 1), within sampling error of 2,000 draws
        assert row["measured"] == pytest.approx(row["predicted"], rel=0.1), row["batch"]
        # and the draws' mean is the full gradient, to within their standard error
        rms = math.sqrt(row["predicted"] / noise["draws"])
        assert row["bias"] * noise["full_norm"] < 3 * rms, row["batch"]
    epoch = results["epoch"]
    assert [r["steps"] for r in epoch] == [math.ceil(n / r["batch"]) for r in epoch]
    losses = [r["loss"] for r in epoch]  # batch sizes falling: N, 256, 64, 16, 4
    assert losses == sorted(losses, reverse=True) and len(set(losses)) == len(losses)
    assert losses[0] < results["start"] and losses[-1] < 0.25 < 2.0 < losses[0]
    # step for step the exact gradient is the better one
    assert results["same_steps_full"] < epoch[2]["loss"]
    agreeing, disagreeing = results["minima"]["agreeing"], results["minima"]["disagreeing"]
    for row in agreeing:  # every batch has curvature 1: theta shrinks by 0.5 each step
        assert row["q"] == 0.25 and row["measured"] == pytest.approx(0.25**10, rel=1e-12)
    gd, eight, one = disagreeing
    assert (gd["batch"], eight["batch"], one["batch"]) == (64, 8, 1)
    assert gd["measured"] == pytest.approx(0.25**10, rel=1e-12)  # GD keeps the minimum
    assert eight["q"] == pytest.approx(0.5) and one["q"] == pytest.approx(2.5)
    for row in (eight, one):
        assert abs(row["measured"] - row["predicted"]) < 4 * row["stderr"], row["batch"]
    assert eight["measured"] < 0.01 and one["measured"] > 1000
    # each step of a batch of one multiplies |theta| by 1 or 2: the median run is 2^5
    assert one["median_abs"] == 32.0


@pytest.mark.parametrize("script", ["perceptron_logic.py"])
def test_examples_run_as_scripts(script):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "XOR: did not converge" in done.stdout
