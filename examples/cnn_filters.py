"""Convolution filters as line detectors, and why images need them.

    python examples/cnn_filters.py

**Parameters.** An MLP on a 256x256 RGB image with two hidden layers as wide as its input
(the lecture notes' example) has ``196,608^2 + 196,608^2 + 2 x 196,608 = 77,309,804,544``
weights and biases in those two layers, 8.6 billion even in grayscale. A convolution
layer of 32 3x3 filters over the 3 channels has ``3 x 3 x 3 x 32 + 32 = 896``, whatever
the image's size: the same small filter is slid over every position.

**Filters.** A filter is a miniature image; sliding it over the input and taking the dot
product at each position gives a map of how well each patch "lines up" with it, like the
neurons Hubel & Wiesel found firing for lines of one orientation. Four 3x3 line detectors
(2 along the line, -1 beside it, so a flat patch gives 0) each fire at 6 on a one-pixel
line of their own orientation and at most 2 on the other three (a line crossing the
filter's own at one pixel gives ``2 - 1 - 1 = 0``; only where a window holds part of a
line, or one pixel of it, does more get through).

**Learned filters.** A network of four 3x3 filters (ReLU, the strongest response over the
image, then a linear layer) trained to tell the four orientations apart on noisy images
classifies fresh images almost perfectly. Its filters are its own: not the hand-made
detectors one for one (the script prints their cosine similarities), but each responds
to the four clean lines very differently, and the linear layer reads the orientation from
that pattern of responses.
"""

from __future__ import annotations

import torch
from torch import nn

from rlkit.fit import accuracy, evaluate_batches, fit
from rlkit.losses import cross_entropy
from rlkit.optim import Adam

ORIENTATIONS = ("horizontal", "vertical", "diagonal", "anti-diagonal")
SIZE = 12


def line_filters() -> torch.Tensor:
    """The four 3x3 line detectors ``(4, 1, 3, 3)``, in ``ORIENTATIONS`` order."""
    on = [torch.zeros(3, 3) for _ in ORIENTATIONS]
    on[0][1, :] = 1
    on[1][:, 1] = 1
    on[2] = torch.eye(3)
    on[3] = torch.eye(3).flip(1)
    return torch.stack([3 * mask - 1 for mask in on]).unsqueeze(1)  # 2 on the line, -1 off


def bar(orientation: int, offset: int, size: int = SIZE) -> torch.Tensor:
    """A one-pixel line across a ``size x size`` image, ``offset`` from the centre line."""
    image = torch.zeros(size, size)
    rows = torch.arange(size)
    middle = size // 2 + offset
    if orientation == 0:
        image[middle, :] = 1
    elif orientation == 1:
        image[:, middle] = 1
    else:  # diagonals: the cells with row - col (or row + col) fixed
        cols = rows - offset if orientation == 2 else size - 1 - rows + offset
        inside = (cols >= 0) & (cols < size)
        image[rows[inside], cols[inside]] = 1
    return image


def responses(filters: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """The strongest response of each filter anywhere in each image: ``(images, filters)``."""
    maps = nn.functional.conv2d(images.unsqueeze(1), filters)
    return maps.amax(dim=(2, 3))


def mlp_parameters(inputs: int) -> int:
    """The notes' count: two hidden layers as wide as the input, weights and biases."""
    return inputs * inputs + inputs * inputs + inputs + inputs


def conv_parameters(channels: int, filters: int, kernel: int = 3) -> int:
    """A convolution layer's weights and biases (independent of the image's size)."""
    return kernel * kernel * channels * filters + filters


def dataset(n: int, generator: torch.Generator, noise: float = 0.3):
    """``n`` noisy images of lines (random orientation and offset) and their orientations."""
    labels = torch.randint(0, 4, (n,), generator=generator)
    offsets = torch.randint(-3, 4, (n,), generator=generator)
    images = torch.stack([bar(int(o), int(k)) for o, k in zip(labels, offsets, strict=True)])
    images = images + noise * torch.randn(images.shape, generator=generator)
    return images.unsqueeze(1), labels


class LineNet(nn.Module):
    """Four 3x3 filters, ReLU, the maximum over positions, a linear layer to 4 classes."""

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.head = nn.Linear(4, 4)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, 4)`` of images ``(batch, 1, H, W)``."""
        return self.head(torch.relu(self.conv(x)).amax(dim=(2, 3)))


def train(seed: int = 0, epochs: int = 15):
    """Train ``LineNet``; return (model, accuracy on 2,000 fresh images)."""
    gen = torch.Generator().manual_seed(seed)
    x, y = dataset(3000, gen)
    model = LineNet(gen)
    fit(
        model,
        cross_entropy,
        Adam(model.parameters(), lr=0.02),
        x,
        y,
        epochs=epochs,
        batch_size=64,
        generator=gen,
        console=None,
    )
    x_test, y_test = dataset(2000, gen)
    _, scores = evaluate_batches(
        model, cross_entropy, x_test, y_test, metrics={"accuracy": accuracy}
    )
    return model, scores["accuracy"]


def main(epochs: int = 15) -> dict:
    """Print the parameter counts, the hand filters' responses and the trained network."""
    counts = {
        "mlp_rgb": mlp_parameters(256 * 256 * 3),
        "mlp_gray": mlp_parameters(256 * 256),
        "conv": conv_parameters(3, 32),
    }
    print(
        f"MLP on 256x256 RGB: {counts['mlp_rgb']:,} parameters; grayscale: "
        f"{counts['mlp_gray']:,}; 32 3x3 filters on RGB: {counts['conv']:,}"
    )
    images = torch.stack([bar(o, 0) for o in range(4)])
    hand = responses(line_filters(), images)
    print("strongest response of each hand-made filter (rows) to each line (columns):")
    for name, row in zip(ORIENTATIONS, hand.T, strict=True):
        print(f"  {name:>13}: " + " ".join(f"{float(v):5.1f}" for v in row))
    model, test_accuracy = train(epochs=epochs)
    learned = model.conv.weight.detach()
    flat_learned = nn.functional.normalize(learned.flatten(1), dim=1)
    flat_hand = nn.functional.normalize(line_filters().flatten(1), dim=1)
    similarity = flat_learned @ flat_hand.T  # (learned, hand) cosine similarities
    print(f"trained on noisy lines: {test_accuracy:.1%} of 2,000 fresh images right")
    learned_responses = responses(learned, images)
    print("strongest response of each learned filter (rows) to each clean line (columns):")
    for row in learned_responses.T:
        print("  " + " ".join(f"{float(v):+6.2f}" for v in row))
    print("cosine similarity of each learned filter (rows) to each hand-made one (columns):")
    for row in similarity:
        print("  " + " ".join(f"{float(v):+.2f}" for v in row))
    return {
        "counts": counts,
        "hand_responses": hand,
        "accuracy": test_accuracy,
        "similarity": similarity,
        "learned_responses": learned_responses,
    }


if __name__ == "__main__":
    main()
