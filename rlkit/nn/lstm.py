"""An LSTM over sequences with explicit state and per-step episode-start resets.

Recurrent agents step many environments at once; when one of them starts a new
episode, its memory must be cleared and the others' kept. ``forward`` takes
``episode_starts[t, b]`` (1 where step ``t`` of sequence ``b`` is the first of an
episode) and zeroes that sequence's state just before step ``t``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]
"""``(h, c)``, each ``(num_layers, batch, hidden_size)``."""


class LSTM(nn.Module):
    """``torch.nn.LSTM`` (time-major) with resets at episode starts.

    Without episode starts the sequence is one fused ``nn.LSTM`` call. With them, every
    stretch between resets becomes its own sequence (starting from the given state, or
    from zero after a reset); the stretches are padded, packed and run through one
    ``nn.LSTM`` call together, and their outputs scattered back in place. A rollout with
    many episode ends thus still costs one call (sb3-contrib does the same).
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
        h, c = state
        if steps == 1:  # acting: reset where needed, one step
            keep = (1.0 - starts[0]).view(1, batch, 1)
            return self.lstm(x, (h * keep, c * keep))
        return self._packed(x, (h, c), starts)

    def _packed(
        self, x: torch.Tensor, state: State, starts: torch.Tensor
    ) -> tuple[torch.Tensor, State]:
        """Every stretch between resets as its own sequence, all in one packed call."""
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        steps, batch = x.shape[:2]
        h0, c0 = state
        new = starts.detach().cpu().numpy().T > 0  # (batch, T): a stretch begins here
        opens = new.copy()
        opens[:, 0] = True  # every sequence opens a stretch at t = 0
        flat_opens = opens.reshape(-1)  # batch-major order: stretches are contiguous
        chunk = np.cumsum(flat_opens) - 1  # stretch id of every (b, t)
        first = np.flatnonzero(flat_opens)  # flat index where each stretch begins
        pos = np.arange(batch * steps) - first[chunk]  # position inside its stretch
        lengths = np.bincount(chunk)
        n_chunks = len(lengths)
        b_idx, t_idx = np.divmod(np.arange(batch * steps), steps)
        chunk_t = torch.as_tensor(chunk, device=x.device)
        pos_t = torch.as_tensor(pos, device=x.device)
        b_t, t_t = torch.as_tensor(b_idx, device=x.device), torch.as_tensor(t_idx, device=x.device)
        padded = x.new_zeros(int(lengths.max()), n_chunks, x.shape[-1])
        padded = padded.index_put((pos_t, chunk_t), x[t_t, b_t])
        # initial state: the given one for a stretch that continues a sequence's memory
        # (t = 0 without a reset), zero after a reset
        chunk_b = torch.as_tensor(b_idx[first], device=x.device)
        carry = torch.as_tensor(~new.reshape(-1)[first], dtype=x.dtype, device=x.device).view(
            1, -1, 1
        )
        init = (h0[:, chunk_b] * carry, c0[:, chunk_b] * carry)
        packed = pack_padded_sequence(padded, torch.as_tensor(lengths), enforce_sorted=False)
        out_packed, (h_n, c_n) = self.lstm(packed, init)
        out, _ = pad_packed_sequence(out_packed)
        outputs = out.new_zeros(steps, batch, out.shape[-1]).index_put(
            (t_t, b_t), out[pos_t, chunk_t]
        )
        last = torch.as_tensor(
            np.searchsorted(first, np.arange(batch) * steps + steps - 1, side="right") - 1,
            device=x.device,
        )
        return outputs, (h_n[:, last], c_n[:, last])
