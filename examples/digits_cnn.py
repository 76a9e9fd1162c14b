"""A small CNN on scikit-learn's 8x8 handwritten digits: >= 97% test accuracy on the CPU.

    python examples/digits_cnn.py

The 1,797 digit images ship inside scikit-learn (no download). 20% are held out for
the test, stratified by class; 10% of the rest validates each epoch, and training stops
early once the validation loss stops improving (keeping the best weights). The network:
two 3x3 convolutions (32 and 64 filters, "same" padding, ReLU), a 2x2 max-pool, then
a 128-unit hidden layer and 10 logits, trained with Adam on cross-entropy.
"""

from __future__ import annotations

import time

import torch

from rlkit.fit import accuracy, evaluate_batches, fit
from rlkit.losses import cross_entropy
from rlkit.nn import conv_net
from rlkit.optim import Adam


def load_digits_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, 8, 8) scaled to [0, 1] and labels (N,)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return images, torch.tensor(digits.target, dtype=torch.long)


def stratified_split(labels: torch.Tensor, test_fraction: float, generator: torch.Generator):
    """Indices (train, test) with ``test_fraction`` of every class in the test set."""
    train, test = [], []
    for c in labels.unique():
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return torch.cat(train), torch.cat(test)


def train_digits(seed: int = 0, epochs: int = 40):
    """Return (model, test accuracy, history)."""
    gen = torch.Generator().manual_seed(seed)
    images, labels = load_digits_tensors()
    train_idx, test_idx = stratified_split(labels, 0.2, gen)
    model = conv_net(
        (1, 8, 8),
        channels=(32, 64),
        kernels=(3, 3),
        out_features=10,
        pool=2,
        hidden=(128,),
        generator=gen,
    )
    history = fit(
        model,
        cross_entropy,
        Adam(model.parameters(), lr=1e-3),
        images[train_idx],
        labels[train_idx],
        epochs=epochs,
        batch_size=32,
        generator=gen,
        val_fraction=0.1,
        patience=8,
        metrics={"accuracy": accuracy},
        console=None,
    )
    _, test = evaluate_batches(
        model, cross_entropy, images[test_idx], labels[test_idx], metrics={"accuracy": accuracy}
    )
    return model, test["accuracy"], history


def main() -> float:
    """Train, print the test accuracy and the time it took."""
    start = time.perf_counter()
    _, test_accuracy, history = train_digits()
    print(
        f"digits: test accuracy {test_accuracy:.2%} after {len(history.train_loss)} epochs "
        f"(best validation epoch {history.best_epoch}), {time.perf_counter() - start:.1f}s on the CPU"
    )
    return test_accuracy


if __name__ == "__main__":
    main()
