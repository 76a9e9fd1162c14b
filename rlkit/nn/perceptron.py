"""Rosenblatt's perceptron: ``y = step(w . x + b)``, trained without gradients.

The learning rule, for each example in turn: ``w <- w + lr * (y - y_hat) * x`` and
``b <- b + lr * (y - y_hat)``. It converges (makes no error in a finite number of
passes) exactly when the two classes are linearly separable; on XOR it never does
(Minsky & Papert 1969).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class PerceptronHistory:
    """Accuracy after each epoch, and whether an epoch passed without a mistake."""

    accuracy: list[float] = field(default_factory=list)
    converged: bool = False


class Perceptron:
    """A single threshold unit with the classic learning rule.

    Args:
        n_inputs: number of input features.
        lr: learning rate of the rule.
        generator: shuffles the examples each epoch (None: fixed order).
    """

    def __init__(
        self, n_inputs: int, lr: float = 1.0, generator: torch.Generator | None = None
    ) -> None:
        self.weight = torch.zeros(n_inputs, dtype=torch.float64)
        self.bias = torch.zeros((), dtype=torch.float64)
        self.lr = lr
        self.generator = generator

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """0/1 predictions for ``x`` of shape (N, n_inputs)."""
        return ((x.to(torch.float64) @ self.weight + self.bias) > 0).to(torch.float64)

    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Share of correct predictions."""
        return float((self.predict(x) == y.to(torch.float64)).to(torch.float64).mean())

    def fit(self, x: torch.Tensor, y: torch.Tensor, epochs: int = 100) -> PerceptronHistory:
        """Apply the rule for up to ``epochs`` passes; stop after a pass with no mistake."""
        x = x.to(torch.float64)
        y = y.to(torch.float64)
        history = PerceptronHistory()
        for _ in range(epochs):
            order = (
                torch.randperm(len(x), generator=self.generator)
                if self.generator is not None
                else torch.arange(len(x))
            )
            mistakes = 0
            for i in order.tolist():
                error = float(y[i] - self.predict(x[i : i + 1])[0])
                if error != 0.0:
                    mistakes += 1
                    self.weight += self.lr * error * x[i]
                    self.bias += self.lr * error
            history.accuracy.append(self.accuracy(x, y))
            if mistakes == 0:
                history.converged = True
                break
        return history
