"""A minibatch / epoch training loop for supervised learning.

One epoch visits every training example once, in minibatches of ``batch_size``, in an
order drawn from an explicit ``torch.Generator`` (so a seed fixes the run). After each
epoch the loss (and any metrics) on a held-out validation split are measured; with
``patience`` the loop stops once the validation loss has not improved for that many
epochs and restores the best weights.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import torch
from torch import nn
from torch.optim import Optimizer

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MetricFn = Callable[[torch.Tensor, torch.Tensor], float]


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Share of rows whose argmax equals the class index in ``target``."""
    return float((logits.argmax(dim=-1) == target).float().mean())


@dataclass
class FitHistory:
    """Per-epoch losses and metrics of a ``fit`` call."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metrics: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int | None = None
    stopped_early: bool = False
    seconds: float = 0.0


def split(
    n: int, val_fraction: float, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ``(train_idx, val_idx)`` with ``round(n * val_fraction)`` validation examples."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    perm = torch.randperm(n, generator=generator)
    n_val = int(round(n * val_fraction))
    return perm[n_val:], perm[:n_val]


@torch.no_grad()
def evaluate_batches(
    model: nn.Module,
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 1024,
    metrics: Mapping[str, MetricFn] | None = None,
) -> tuple[float, dict[str, float]]:
    """Mean loss and metrics of ``model`` on ``(x, y)``, in batches, in eval mode."""
    was_training = model.training
    model.eval()
    outputs = torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    loss = float(loss_fn(outputs, y))
    return loss, {name: fn(outputs, y) for name, fn in (metrics or {}).items()}


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    optimizer: Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    batch_size: int = 32,
    generator: torch.Generator | None = None,
    val_fraction: float = 0.0,
    val_data: tuple[torch.Tensor, torch.Tensor] | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    metrics: Mapping[str, MetricFn] | None = None,
    logger: Any = None,
    console: TextIO | None = sys.stderr,
    print_every: int = 1,
) -> FitHistory:
    """Train ``model`` on ``(x, y)`` for up to ``epochs`` epochs of shuffled minibatches.

    Args:
        loss_fn: ``loss_fn(model(x_batch), y_batch)``, a scalar mean over the batch.
        generator: draws the split and the shuffling (pass a seeded one).
        val_fraction: share of ``(x, y)`` held out for validation (or pass ``val_data``).
        patience: stop after this many epochs without a validation-loss improvement
            larger than ``min_delta``, and restore the best weights.
        metrics: extra validation metrics, e.g. ``{"accuracy": accuracy}``.
        logger: an ``rlkit.logging.Logger``; gets ``train/loss``, ``val/loss`` and
            ``val/<metric>`` with the epoch as the step.
        console: where a line per ``print_every`` epochs goes (None: silent).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be >= 1")
    if val_data is None and val_fraction > 0:
        train_idx, val_idx = split(len(x), val_fraction, generator)
        x, y, val_data = x[train_idx], y[train_idx], (x[val_idx], y[val_idx])
    if patience is not None and val_data is None:
        raise ValueError("early stopping needs validation data (val_fraction or val_data)")
    history = FitHistory()
    best_loss, best_state, since_best = float("inf"), None, 0
    start = time.perf_counter()
    model.train()
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            loss = loss_fn(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        history.train_loss.append(total / len(x))
        row = {"train/loss": history.train_loss[-1]}
        if val_data is not None:
            val_loss, val_metrics = evaluate_batches(model, loss_fn, *val_data, metrics=metrics)
            history.val_loss.append(val_loss)
            row["val/loss"] = val_loss
            for name, value in val_metrics.items():
                history.val_metrics.setdefault(name, []).append(value)
                row[f"val/{name}"] = value
            if val_loss < best_loss - min_delta:
                best_loss, since_best, history.best_epoch = val_loss, 0, epoch
                if patience is not None:
                    best_state = copy.deepcopy(model.state_dict())
            else:
                since_best += 1
        if logger is not None:
            logger.log(epoch, row)
        if console is not None and (epoch % print_every == 0 or epoch == epochs):
            text = " | ".join(f"{k} {v:.4g}" for k, v in row.items())
            console.write(f"epoch {epoch}/{epochs} | {text}\n")
        if patience is not None and since_best >= patience:
            history.stopped_early = True
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    history.seconds = time.perf_counter() - start
    return history
