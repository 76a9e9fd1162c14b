"""Memory matters: an LSTM outputs the bit it saw k = 10 steps earlier; an MLP cannot.

    python examples/lstm_memory.py

Each sequence is 40 random bits; the target at step t is the input at step t - 10.
The current input says nothing about that bit, so a network that sees only the current
input (the MLP) stays at chance, 50%. The LSTM carries the last ten bits in its cell
state and reaches >= 99% on fresh sequences. Steps t < 10 have no target and are not
scored.
"""

from __future__ import annotations

import torch
from torch import nn

from rlkit.losses import binary_cross_entropy
from rlkit.nn import LSTM, MLP
from rlkit.optim import Adam

DELAY, LENGTH = 10, 40


def batch(size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (LENGTH, size, 1) of random bits and targets (LENGTH - DELAY, size)."""
    bits = torch.randint(0, 2, (LENGTH, size), generator=generator).float()
    return bits.unsqueeze(-1), bits[: LENGTH - DELAY]


class Recall(nn.Module):
    """LSTM (32 units) then a linear read-out per step."""

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.lstm = LSTM(1, 32)
        self.out = MLP(32, [], 1, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(x)
        return self.out(hidden).squeeze(-1)[DELAY:]  # (LENGTH - DELAY, batch)


class Memoryless(nn.Module):
    """An MLP applied to each step's input alone."""

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.mlp = MLP(1, [32, 32], 1, activation="relu", generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x).squeeze(-1)[DELAY:]


def train(model: nn.Module, generator: torch.Generator, steps: int, lr: float = 1e-2) -> float:
    """Train on fresh batches; return accuracy on 1,000 fresh test sequences."""
    optimizer = Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        x, y = batch(64, generator)
        loss = binary_cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    x, y = batch(1000, generator)
    with torch.no_grad():
        return float(((model(x) > 0).float() == y).float().mean())


def main(seed: int = 0, steps: int = 1500) -> dict[str, float]:
    """Train both models on the same task and print their accuracies."""
    gen = torch.Generator().manual_seed(seed)
    results = {
        "lstm": train(Recall(gen), gen, steps),
        "mlp": train(Memoryless(gen), gen, steps),
    }
    print(
        f"recall the bit from {DELAY} steps ago: LSTM {results['lstm']:.2%}, MLP on the current input {results['mlp']:.2%}"
    )
    return results


if __name__ == "__main__":
    main()
