import io
import json

import pytest
import torch

from rlkit.fit import accuracy, evaluate_batches, fit, split
from rlkit.logging import Logger
from rlkit.losses import mse
from rlkit.nn import MLP
from rlkit.optim import SGD, Adam


def linear_data(n=200, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    return x, y


def test_fit_recovers_a_linear_map():
    x, y = linear_data()
    model = MLP(3, [], 1, generator=torch.Generator().manual_seed(0))
    history = fit(
        model,
        mse,
        SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=60,
        batch_size=20,
        generator=torch.Generator().manual_seed(1),
        console=None,
    )
    weight = model.linears[0].weight.detach().flatten().tolist()
    assert weight == pytest.approx([1.0, -2.0, 0.5], abs=1e-3)
    assert float(model.linears[0].bias.detach()) == pytest.approx(0.3, abs=1e-3)
    assert history.train_loss[-1] < 1e-6 < history.train_loss[0]


def test_minibatches_cover_each_example_once_per_epoch():
    seen = []

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            seen.extend(x[:, 0].tolist())
            return x * self.w

    x = torch.arange(10.0).unsqueeze(1)
    fit(
        Recorder(),
        mse,
        SGD(Recorder().parameters(), lr=0.1),
        x,
        x,
        epochs=2,
        batch_size=3,
        generator=torch.Generator().manual_seed(0),
        console=None,
    )
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert seen[:10] != seen[10:]  # reshuffled each epoch


def test_same_generator_seed_same_run():
    def run():
        x, y = linear_data()
        model = MLP(3, [8], 1, generator=torch.Generator().manual_seed(0))
        return fit(
            model,
            mse,
            Adam(model.parameters(), 1e-2),
            x,
            y,
            epochs=3,
            batch_size=16,
            generator=torch.Generator().manual_seed(5),
            val_fraction=0.2,
            console=None,
        ).train_loss

    assert run() == run()


def test_split_sizes_and_disjoint():
    train, val = split(100, 0.25, torch.Generator().manual_seed(0))
    assert len(train) == 75 and len(val) == 25
    assert set(train.tolist()).isdisjoint(val.tolist())


def test_early_stopping_restores_the_best_weights():
    # noise-only targets: validation loss bottoms out, then the model overfits
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(60, 5, generator=gen), torch.randn(60, 1, generator=gen)
    xv, yv = torch.randn(20, 5, generator=gen), torch.randn(20, 1, generator=gen)
    model = MLP(5, [128, 128], 1, activation="relu", generator=gen)
    history = fit(
        model,
        mse,
        Adam(model.parameters(), 1e-2),
        x,
        y,
        epochs=300,
        batch_size=8,
        generator=gen,
        val_data=(xv, yv),
        patience=5,
        console=None,
    )
    assert history.stopped_early and len(history.val_loss) < 300
    best = min(history.val_loss)
    assert history.val_loss[history.best_epoch - 1] == best
    assert len(history.val_loss) == history.best_epoch + 5
    # the model now holds the best epoch's weights, not the last epoch's
    model_val_loss, _ = evaluate_batches(model, mse, xv, yv)
    assert model_val_loss == pytest.approx(best, rel=1e-6)
    assert model_val_loss < history.val_loss[-1]


def test_metrics_progress_and_logger(tmp_path):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(100, 2, generator=gen)
    labels = (x[:, 0] > 0).long()
    model = MLP(2, [8], 2, generator=gen)
    out = io.StringIO()
    logger = Logger(tmp_path, total_steps=4, wandb_mode="disabled", console=None, tensorboard=False)
    from rlkit.losses import cross_entropy

    history = fit(
        model,
        cross_entropy,
        Adam(model.parameters(), 5e-2),
        x,
        labels,
        epochs=4,
        batch_size=10,
        generator=gen,
        val_fraction=0.2,
        metrics={"accuracy": accuracy},
        logger=logger,
        console=out,
    )
    logger.close()
    assert len(history.val_metrics["accuracy"]) == 4
    assert out.getvalue().count("epoch ") == 4 and "val/accuracy" in out.getvalue()
    rows = [json.loads(r) for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert {"train/loss", "val/loss", "val/accuracy"} <= set(rows[0])


def test_accuracy():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)


def test_patience_needs_validation_data():
    x, y = linear_data(10)
    model = MLP(3, [], 1)
    with pytest.raises(ValueError, match="validation"):
        fit(model, mse, SGD(model.parameters(), 0.1), x, y, epochs=1, patience=2, console=None)
