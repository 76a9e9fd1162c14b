"""An LSTM over sequences with explicit state and per-step episode-start resets.

Recurrent agents step many environments at once; when one of them starts a new
episode, its memory must be cleared and the others' kept. ``forward`` takes
``episode_starts[t, b]`` (1 where step ``t`` of sequence ``b`` is the first of an
episode) and zeroes that sequence's state just before step ``t``.
"""

from __future__ import annotations

import torch
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]
"""``(h, c)``, each ``(num_layers, batch, hidden_size)``."""


class LSTM(nn.Module):
    """``torch.nn.LSTM`` (time-major) with resets at episode starts.

    Between resets the whole stretch goes through one fused ``nn.LSTM`` call, so a
    sequence without episode starts costs exactly one call.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers)
        self.hidden_size = hidden_size
        self.num_layers = num_layers

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> State:
        """Zero ``(h, c)`` for ``batch_size`` sequences."""
        shape = (self.num_layers, batch_size, self.hidden_size)
        return torch.zeros(shape, device=device), torch.zeros(shape, device=device)

    def forward(
        self,
        x: torch.Tensor,
        state: State | None = None,
        episode_starts: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, State]:
        """Run ``x`` of shape ``(T, batch, input_size)``; return ``(T, batch, hidden)`` and the state."""
        steps, batch = x.shape[:2]
        if state is None:
            state = self.initial_state(batch, x.device)
        if episode_starts is None:
            return self.lstm(x, state)
        starts = episode_starts.to(x.dtype).reshape(steps, batch)
        # time indices where some sequence starts an episode; the stretches between
        # them run in one call each
        cuts = torch.nonzero(starts.any(dim=1)).flatten().tolist()
        bounds = sorted(set([0, *cuts, steps]))
        outputs = []
        h, c = state
        for begin, end in zip(bounds[:-1], bounds[1:], strict=True):
            keep = (1.0 - starts[begin]).view(1, batch, 1)
            h, c = h * keep, c * keep
            out, (h, c) = self.lstm(x[begin:end], (h, c))
            outputs.append(out)
        return torch.cat(outputs, dim=0), (h, c)
