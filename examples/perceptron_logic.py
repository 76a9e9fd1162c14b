"""The perceptron learns AND and OR, and cannot learn XOR.

    python examples/perceptron_logic.py

AND and OR are linearly separable: a line splits the inputs with output 1 from those
with output 0, so the perceptron rule converges in a few epochs. XOR is not (Minsky &
Papert, 1969): no line does it, and the rule cycles forever, never above 3 of 4 right.
"""

from __future__ import annotations

import torch

from rlkit.nn import Perceptron

INPUTS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
GATES = {
    "AND": torch.tensor([0.0, 0.0, 0.0, 1.0]),
    "OR": torch.tensor([0.0, 1.0, 1.0, 1.0]),
    "XOR": torch.tensor([0.0, 1.0, 1.0, 0.0]),
}


def train_gate(gate: str, epochs: int = 100, seed: int = 0):
    """Train a perceptron on one gate; return (perceptron, history)."""
    perceptron = Perceptron(2, lr=1.0, generator=torch.Generator().manual_seed(seed))
    history = perceptron.fit(INPUTS, GATES[gate], epochs=epochs)
    return perceptron, history


def main(epochs: int = 100) -> dict[str, dict[str, float]]:
    """Train on every gate and print what happened."""
    results = {}
    for gate in GATES:
        perceptron, history = train_gate(gate, epochs)
        results[gate] = {
            "converged": history.converged,
            "epochs": len(history.accuracy),
            "final_accuracy": history.accuracy[-1],
            "best_accuracy": max(history.accuracy),
        }
        w = perceptron.weight.tolist()
        print(
            f"{gate:>3}: {'converged' if history.converged else 'did not converge'} after "
            f"{len(history.accuracy)} epochs, accuracy {history.accuracy[-1]:.0%} "
            f"(best {max(history.accuracy):.0%}), w = [{w[0]:+.0f}, {w[1]:+.0f}], b = {float(perceptron.bias):+.0f}"
        )
    return results


if __name__ == "__main__":
    main()
