"""Backpropagation through an MLP written out, without autograd.

For a chain of layers ``z_l = a_(l-1) W_l^T + b_l``, ``a_l = sigma(z_l)`` (no activation
after the last layer), and ``delta_l = dC/dz_l``:

    delta_L   = dC/da_L                                  (the output gradient)
    dC/dW_l   = delta_l^T a_(l-1)        dC/db_l = sum over the batch of delta_l
    delta_l-1 = (delta_l W_l) * sigma'(z_(l-1))

which are the backpropagation equations of the lecture notes (section 4.7.3). With
``sigma'`` written in terms of the activation's output (ReLU: ``a > 0``; tanh: ``1 - a^2``;
sigmoid: ``a (1 - a)``) nothing but the activations needs to be kept from the forward
pass. For the small MLPs of RL on a CPU this skips autograd's bookkeeping, which costs
more than the arithmetic; ``tests/rlkit/test_backprop.py`` checks it against autograd.

The same equations run ``G`` copies of one MLP at once (many seeds in one process):
``stack_parameters`` puts the copies' parameters in the rows of one ``(G, P)`` buffer and
``stacked_layers`` gives each layer as ``StackedLinear`` views of it (weights
``(G, out, in)``); ``forward`` and ``backward`` take inputs ``(G, batch, in)`` for those.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from rlkit.nn.activations import tanh_

ACTIVATIONS = ("relu", "tanh", "sigmoid", "identity")
ROW_ALIGN = 16
"""Rows of a ``stack_parameters`` buffer are padded to a multiple of this many floats."""


def _activate_(z: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "relu":
        return z.relu_()
    if activation == "tanh":
        return tanh_(z)
    if activation == "sigmoid":
        return z.sigmoid_()
    return z


def _derivative_(grad: torch.Tensor, a: torch.Tensor, activation: str) -> torch.Tensor:
    """``grad * sigma'(z)`` from the activation's output ``a`` (in place where it can be)."""
    if activation == "relu":
        return torch.ops.aten.threshold_backward(grad, a, 0.0)  # grad where a > 0, else 0
    if activation == "tanh":  # grad * (1 - a^2), in one pass (autograd's own kernel)
        return torch.ops.aten.tanh_backward(grad, a)
    if activation == "sigmoid":  # grad * a (1 - a)
        return torch.ops.aten.sigmoid_backward(grad, a)
    return grad


class StackedLinear:
    """``G`` copies of one linear layer: ``weight`` ``(G, out, in)`` and ``bias`` ``(G, out)``,
    views of a stacked parameter buffer, each with its ``.grad`` a view of the buffer's."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.weight, self.bias = weight, bias


def _linear(layer: nn.Linear | StackedLinear, x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 2:
        return torch.addmm(layer.bias, x, layer.weight.t())
    if layer.weight.shape[1] == 1:
        # one output (a value head): addmm takes BLAS's matrix-vector kernel, baddbmm does
        # not, and their sums round differently; one addmm per copy keeps every copy's
        # outputs bitwise those of its network alone
        return torch.stack(
            [
                torch.addmm(b, xi, w.t())
                for b, xi, w in zip(layer.bias, x, layer.weight, strict=True)
            ]
        )
    return torch.baddbmm(layer.bias.unsqueeze(1), x, layer.weight.transpose(1, 2))


@torch.no_grad()
def forward(
    layers: Sequence[nn.Linear | StackedLinear],
    activation: str,
    x: torch.Tensor,
    activate_last: bool = False,
) -> list[torch.Tensor]:
    """Outputs of every layer, input first: ``[x, a_1, ..., a_L]`` (``a_L`` has no activation
    unless ``activate_last``, for a torso whose features are activated). ``x`` is
    ``(batch, in)``, or ``(G, batch, in)`` for ``StackedLinear`` layers."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    outputs = [x]
    for i, layer in enumerate(layers):
        z = _linear(layer, outputs[-1])
        last = i == len(layers) - 1
        outputs.append(z if last and not activate_last else _activate_(z, activation))
    return outputs


@torch.no_grad()
def backward(
    layers: Sequence[nn.Linear | StackedLinear],
    activation: str,
    outputs: Sequence[torch.Tensor],
    grad_output: torch.Tensor,
    input_grad: bool = False,
    activated_last: bool = False,
) -> torch.Tensor | None:
    """Set ``.grad`` of every weight and bias from ``dC/da_L`` (overwriting, not adding);
    for ``StackedLinear`` layers each copy's gradient from its own ``(G, batch, out)`` slice.
    With ``input_grad``, returns ``dC/dx`` for the chain's input ``x`` (for a layer in
    front of it, ``ConvInput``). ``activated_last``: ``outputs`` came from ``forward`` with
    ``activate_last`` (``grad_output`` is then taken through the last activation first)."""
    delta = grad_output
    if activated_last:
        delta = _derivative_(delta, outputs[-1], activation)
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        if delta.dim() == 3 and layer.weight.shape[1] == 1:  # (see _linear)
            for d, a, g in zip(delta, outputs[i], layer.weight.grad, strict=True):
                torch.mm(d.t(), a, out=g)
            torch.sum(delta, dim=1, out=layer.bias.grad)
        elif delta.dim() == 3:
            layer.weight.grad.copy_(torch.bmm(delta.transpose(1, 2), outputs[i]))
            torch.sum(delta, dim=1, out=layer.bias.grad)
        elif layer.weight.grad is None or layer.bias.grad is None:
            layer.weight.grad = delta.t() @ outputs[i]
            layer.bias.grad = delta.sum(dim=0)
        else:  # write into the existing buffers (views of a flat gradient)
            torch.mm(delta.t(), outputs[i], out=layer.weight.grad)
            torch.sum(delta, dim=0, out=layer.bias.grad)
        if i > 0:
            delta = _derivative_(delta @ layer.weight, outputs[i], activation)
        elif input_grad:
            return delta @ layer.weight
    return None


class ConvInput:
    """A convolution and its activation in front of an MLP chain, for a written-out pass
    (MinAtar's network: 16 3x3 filters, then the chain on the flattened maps). Forward is
    ``F.conv2d``; backward sets the filters' and biases' gradients from ``dC/da`` of the
    activated maps through ATen's ``convolution_backward`` (the kernel autograd calls),
    with no gradient for the input, which is data. About 0.5 ms of a 2 ms MinAtar DQN
    update was autograd's bookkeeping and the six-tensor optimizer step."""

    def __init__(self, conv: nn.Conv2d, activation: str) -> None:
        if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("ConvInput takes an ungrouped convolution with numeric zero padding")
        self.conv, self.activation = conv, activation

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, C, H, W)`` float -> the activated maps ``(batch, F, H', W')``."""
        c = self.conv
        z = torch.nn.functional.conv2d(x, c.weight, c.bias, c.stride, c.padding, c.dilation)
        return _activate_(z, self.activation)

    @torch.no_grad()
    def backward(self, x: torch.Tensor, maps: torch.Tensor, grad_maps: torch.Tensor) -> None:
        """Set the convolution's ``.grad`` (overwriting) from ``dC/dmaps`` of ``forward(x)``."""
        c = self.conv
        delta = _derivative_(grad_maps.reshape(maps.shape), maps, self.activation)
        _, weight_grad, bias_grad = torch.ops.aten.convolution_backward(
            delta,
            x,
            c.weight,
            [c.out_channels] if c.bias is not None else None,
            list(c.stride),
            list(c.padding),
            list(c.dilation),
            False,
            [0, 0],
            1,
            [False, True, c.bias is not None],
        )
        c.weight.grad.copy_(weight_grad)
        if c.bias is not None:
            c.bias.grad.copy_(bias_grad)


def flatten_parameters(module: nn.Module) -> nn.Parameter:
    """Move all parameters of ``module`` into one contiguous tensor and return it.

    Each parameter becomes a view into the returned flat ``Parameter`` and each
    ``.grad`` a view into ``flat.grad``, so an optimizer (and gradient clipping) given
    ``[flat]`` updates every layer with a handful of whole-buffer operations instead of
    a few per layer. ``backward`` writes into those gradient views in place.
    """
    params = list(module.parameters())
    flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in params]))
    flat.grad = torch.zeros_like(flat)
    offset = 0
    for p in params:
        n = p.numel()
        p.data = flat.data[offset : offset + n].view_as(p)
        p.grad = flat.grad[offset : offset + n].view_as(p)
        offset += n
    return flat


def stack_parameters(modules: Sequence[nn.Module]) -> tuple[nn.Parameter, dict[int, int]]:
    """``flatten_parameters`` for ``G`` modules of one architecture: row ``g`` of the
    returned ``(G, P)`` parameter holds module ``g``'s parameters (then zero padding to a
    multiple of ``ROW_ALIGN``) (each becomes a view of its
    row, its ``.grad`` a view of the row of the buffer's gradient), so an elementwise
    optimizer given ``[stacked]`` updates every copy as it would update each alone. Also
    returns the offset of each of the first module's parameters (by ``id``) in a row."""
    first = list(modules[0].parameters())
    rows = []
    for module in modules:
        params = list(module.parameters())
        if [p.shape for p in params] != [p.shape for p in first]:
            raise ValueError("stack_parameters needs modules of one architecture")
        rows.append(torch.cat([p.detach().reshape(-1) for p in params]))
    # rows start 64-byte aligned, as a network's own flat buffer does: BLAS kernels take
    # other paths (and round otherwise) for data that starts elsewhere; the padding is zero
    # and stays zero (no gradient ever reaches it)
    size = rows[0].numel()
    stacked = nn.Parameter(torch.zeros(len(rows), -(-size // ROW_ALIGN) * ROW_ALIGN))
    stacked.data[:, :size] = torch.stack(rows)
    stacked.grad = torch.zeros_like(stacked)
    offsets = {}
    for g, module in enumerate(modules):
        offset = 0
        for p, p0 in zip(module.parameters(), first, strict=True):
            n = p.numel()
            p.data = stacked.data[g, offset : offset + n].view_as(p)
            p.grad = stacked.grad[g, offset : offset + n].view_as(p)
            offsets[id(p0)] = offset
            offset += n
    return stacked, offsets


def stacked_view(stacked: nn.Parameter, offset: int, shape: Sequence[int]) -> torch.Tensor:
    """The ``(G, *shape)`` view of one parameter in a ``stack_parameters`` buffer, with its
    ``.grad`` the matching view of the buffer's gradient."""
    n = int(np.prod(shape))
    view = stacked.data[:, offset : offset + n].view(stacked.shape[0], *shape)
    view.grad = stacked.grad[:, offset : offset + n].view(stacked.shape[0], *shape)
    return view


def stacked_layers(
    stacked: nn.Parameter, offsets: dict[int, int], layers: Sequence[nn.Linear]
) -> list[StackedLinear]:
    """The ``StackedLinear`` of each of ``layers`` (the first module's) in ``stacked``."""
    return [
        StackedLinear(
            stacked_view(stacked, offsets[id(layer.weight)], layer.weight.shape),
            stacked_view(stacked, offsets[id(layer.bias)], layer.bias.shape),
        )
        for layer in layers
    ]


class NumpyForward:
    """One observation through an MLP chain, on numpy views of the layers' parameters.

    Acting one step at a time costs more in tensor creation and dispatch than in
    arithmetic; numpy on views that share memory with the (CPU, float32) parameters
    does it about 3x faster. The views follow every in-place update (optimizer steps,
    ``load_state_dict``, flat parameters), so nothing needs re-syncing.

    With ``conv`` (MinAtar's convolution, unpadded or zero-padded) and the observation's
    ``in_shape`` ``(C, H, W)``, the observation goes through the convolution and its
    activation first, as a matrix product on the image's patches (their indices computed
    once; a patch over the padding reads a zero appended to the observation), flattened
    in torch's order (channel, row, column) for the chain. ``activate_last`` activates the
    last layer's output too (a torso in front of heads).
    """

    def __init__(
        self,
        layers: Sequence[nn.Linear],
        activation: str,
        conv: nn.Conv2d | None = None,
        in_shape: Sequence[int] | None = None,
        activate_last: bool = False,
    ) -> None:
        if activation not in ("relu", "tanh", "identity"):
            raise ValueError(f"NumpyForward supports relu, tanh and identity, got {activation!r}")
        modules = [*layers, *([conv] if conv is not None else [])]
        if any(
            p.device.type != "cpu" or p.dtype != torch.float32
            for layer in modules
            for p in layer.parameters()
        ):
            raise ValueError("NumpyForward needs float32 parameters on the CPU")
        self.weights = [layer.weight.detach().numpy() for layer in layers]
        self.biases = [layer.bias.detach().numpy() for layer in layers]
        self.activation, self.activate_last = activation, activate_last
        self.in_dims = 1
        self.conv = None
        if conv is not None:
            if (
                in_shape is None
                or conv.groups != 1
                or isinstance(conv.padding, str)
                or conv.padding_mode != "zeros"
            ):
                raise ValueError("NumpyForward takes an ungrouped, zero-padded conv and in_shape")
            channels, height, width = in_shape
            (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
            rows = range(-ph, height + ph - kh + 1, sh)
            cols = range(-pw, width + pw - kw + 1, sw)
            zero = channels * height * width  # the index of a zero appended to each row

            def index(c: int, y: int, x: int) -> int:
                inside = 0 <= y < height and 0 <= x < width
                return c * height * width + y * width + x if inside else zero

            # patch p, entry (c, i, j) in the weight's order: flat index into (C, H, W), or
            # the appended zero where the patch lies on the padding
            self.patches = np.array(
                [
                    [
                        index(c, r + i, q + j)
                        for c in range(channels)
                        for i in range(kh)
                        for j in range(kw)
                    ]
                    for r in rows
                    for q in cols
                ]
            )
            self.padded = bool(ph or pw)
            self.conv = (
                conv.weight.detach().numpy().reshape(conv.out_channels, -1),
                conv.bias.detach().numpy(),
            )
            self.in_dims = 3

    def _conv(self, x: np.ndarray) -> np.ndarray:
        """``(batch, C * H * W)`` -> the activated maps, flattened ``(batch, F * P)``."""
        weight, bias = self.conv
        if self.padded:
            x = np.concatenate([x, np.zeros((len(x), 1), x.dtype)], axis=1)
        maps = x[:, self.patches].astype(np.float32) @ weight.T  # (batch, P, F)
        maps += bias
        if self.activation == "relu":
            np.maximum(maps, 0.0, out=maps)
        elif self.activation == "tanh":
            np.tanh(maps, out=maps)
        return maps.transpose(0, 2, 1).reshape(len(x), -1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(in_features,)`` -> ``(out_features,)``, or ``(batch, ...)`` -> ``(batch, out_features)``
        (with a convolution, ``(C, H, W)`` or ``(batch, C, H, W)``)."""
        x = np.asarray(x)
        batched = x.ndim > self.in_dims
        if self.conv is not None:
            h = self._conv(x.reshape(x.shape[0] if batched else 1, -1))
            h = h if batched else h[0]
        else:
            x = x.astype(np.float32, copy=False)
            h = x.reshape(x.shape[0], -1) if batched else x.reshape(-1)
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = (h @ weight.T if batched else weight @ h) + bias
            if i < last or self.activate_last:
                if self.activation == "relu":
                    np.maximum(h, 0.0, out=h)
                elif self.activation == "tanh":
                    np.tanh(h, out=h)
        return h
