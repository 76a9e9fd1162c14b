"""Convolutional torsos: the Nature DQN CNN and a small builder for other image sizes.

A convolution slides a small learned filter over the image; a unit fires where the
patch under it matches the filter. Stacking convolutions with strides builds features
of growing receptive field with far fewer weights than a fully connected layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rlkit.errors import BadInput
from rlkit.nn.activations import activation as make_activation
from rlkit.nn.init import init_weights

NATURE_MIN_FRAMES = 36
"""The Nature CNN's smallest frame: its three convolutions leave one pixel of 36."""


def small_frames(shape: Sequence[int]) -> bool:
    """Whether observations of ``shape`` are images too small for the Nature CNN (MinAtar's
    10x10 planes), which DQN, and so its SB3 baseline, read with ``MinAtarCNN``."""
    return len(shape) == 3 and shape[-1] < NATURE_MIN_FRAMES


def require_nature_frames(shape: Sequence[int], algo: str) -> None:
    """``BadInput`` for image observations too small for the Nature CNN (``small_frames``)."""
    if small_frames(shape):
        raise BadInput(
            f"{algo}: {shape[-2]}x{shape[-1]} frames are too small for the Nature CNN (it "
            f"needs {NATURE_MIN_FRAMES}); MinAtar's planes have a network in dqn only"
        )


class NatureCNN(nn.Module):
    """The torso of Mnih et al. (2015): 32 8x8/4, 64 4x4/2, 64 3x3/1, then 512 linear.

    Input: ``(batch, stack, 84, 84)`` frames. ``uint8`` frames are scaled to [0, 1]
    inside (so replay buffers can keep bytes); float input is taken as already scaled.
    Output: ``(batch, features)`` after a ReLU. Once the module is moved to the
    channels-last memory format (``.to(memory_format=torch.channels_last)``), frames are
    laid out channels-last too before the first convolution, so that every convolution
    runs on the channels-last kernels (weights alone in that format leave the first on
    the plain ones).
    """

    def __init__(
        self,
        in_channels: int = 4,
        features: int = 512,
        frame_size: int = 84,
        init: str = "orthogonal",
        gain: float = 2**0.5,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, in_channels, frame_size, frame_size)).shape[1]
        self.head = nn.Sequential(nn.Linear(flat, features), nn.ReLU())
        self.features = features
        init_weights(self, init, gain=gain, generator=generator)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``(batch, stack, H, W)`` uint8 or float -> ``(batch, features)``."""
        if frames.dim() == 4 and self.convs[0].weight.is_contiguous(
            memory_format=torch.channels_last
        ):  # (bytes are cheaper to reorder than floats; float() keeps the layout)
            frames = frames.contiguous(memory_format=torch.channels_last)
        x = frames.float().div_(255.0) if frames.dtype == torch.uint8 else frames
        return self.head(self.convs(x))


class MinAtarCNN(nn.Module):
    """The network of MinAtar's DQN (Young & Tian 2019): 16 3x3 filters with stride 1 over
    the ``(channels, 10, 10)`` object planes, then 128 linear units, ReLU after each.
    Planes are 0/1 and taken as they are (no scaling). Output ``(batch, features)``.

    ``features=0`` drops the linear layer: the output is the flattened maps, as in
    Dopamine's MinAtar networks (Obando-Ceron & Castro 2021), which also pad the
    convolution (``padding=1``: "same", 10x10 maps, 1,600 features)."""

    def __init__(
        self,
        in_channels: int,
        frame_size: int = 10,
        features: int = 128,
        generator: torch.Generator | None = None,
        padding: int = 0,
    ) -> None:
        super().__init__()
        if features < 0 or padding < 0:
            raise ValueError(f"features and padding must be >= 0, got {features}, {padding}")
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, stride=1, padding=padding), nn.ReLU(), nn.Flatten()
        )
        flat = 16 * (frame_size - 2 + 2 * padding) ** 2
        self.head = (
            nn.Sequential(nn.Linear(flat, features), nn.ReLU()) if features else nn.Identity()
        )
        self.features = features or flat
        init_weights(self, "torch", generator=generator)

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, H, W)`` 0/1 planes -> ``(batch, features)``."""
        return self.head(self.convs(planes.float()))

    def linears(self) -> list[nn.Linear]:
        """The linear layer after the convolution (none with ``features=0``)."""
        return [self.head[0]] if isinstance(self.head, nn.Sequential) else []


def conv_net(
    in_shape: Sequence[int],
    channels: Sequence[int],
    kernels: Sequence[int],
    out_features: int,
    strides: Sequence[int] | None = None,
    paddings: Sequence[int] | None = None,
    hidden: Sequence[int] = (),
    activation: str = "relu",
    pool: int | None = None,
    init: str = "he_normal",
    generator: torch.Generator | None = None,
) -> nn.Sequential:
    """A CNN for any image size: conv layers, optional max-pool, then an MLP head.

    ``in_shape`` is ``(channels, height, width)``; each conv ``i`` has ``channels[i]``
    filters of size ``kernels[i]`` with ``strides[i]`` (default 1) and ``paddings[i]``
    (default ``kernels[i] // 2``, "same" for odd kernels). The flattened size is
    computed, not hand-written.
    """
    n = len(channels)
    if len(kernels) != n:
        raise ValueError("channels and kernels need the same length")
    strides = list(strides) if strides is not None else [1] * n
    paddings = list(paddings) if paddings is not None else [k // 2 for k in kernels]
    layers: list[nn.Module] = []
    c_in = in_shape[0]
    for c_out, k, s, p in zip(channels, kernels, strides, paddings, strict=True):
        layers += [nn.Conv2d(c_in, c_out, k, stride=s, padding=p), make_activation(activation)]
        c_in = c_out
    if pool:
        layers.append(nn.MaxPool2d(pool))
    layers.append(nn.Flatten())
    with torch.no_grad():
        flat = nn.Sequential(*layers)(torch.zeros(1, *in_shape)).shape[1]
    sizes = [flat, *hidden]
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), make_activation(activation)]
    layers.append(nn.Linear(sizes[-1], out_features))
    net = nn.Sequential(*layers)
    init_weights(net, init, generator=generator)
    return net
