"""Checkpoints: atomic save, safe load (``weights_only=True``), a format version inside.

A checkpoint is a dict of tensors and plain Python values (no pickled objects), so
``torch.load(..., weights_only=True)`` reads it and a shared file can never run code.
rlkit adds ``format_version`` and ``kind == "rlkit-checkpoint"`` to every file and
checks both when loading.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from rlkit.errors import BadInput
from rlkit.io import atomic_write_bytes

FORMAT_VERSION = 1
KIND = "rlkit-checkpoint"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors and plain values) to ``path`` atomically; return the path."""
    path = Path(path)
    buffer = io.BytesIO()
    torch.save({**state, "kind": KIND, "format_version": FORMAT_VERSION}, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load an rlkit checkpoint with ``weights_only=True``.

    Raises ``BadInput`` for a missing file, a file that is not an rlkit checkpoint,
    one that would need to unpickle arbitrary objects, or an unknown format version.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "unsafe content"
        raise BadInput(
            f"refusing to load {path}: it is not a plain-data checkpoint ({first})"
        ) from None
    except Exception as e:  # noqa: BLE001 - any unreadable file is reported the same way
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BadInput(f"cannot read checkpoint {path}: {detail}") from None
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise BadInput(f"{path} is not an rlkit checkpoint")
    version = state.get("format_version")
    if version != FORMAT_VERSION:
        raise BadInput(
            f"{path} has checkpoint format {version}; this rlkit reads format {FORMAT_VERSION}"
        )
    return state
