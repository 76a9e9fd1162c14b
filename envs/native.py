"""Native step kernels for the batched envs on the CPU: C compiled once, called through ctypes.

A batched env on the CPU pays PyTorch's dispatcher for each of the few dozen tensor
operations of a step (microseconds each), which is more than the arithmetic of thousands
of CartPoles. ``envs/kernels/<name>.c`` does the whole step in one pass over the arrays
instead. ``load(name)`` compiles it (``rlkit.native.compiled``: the machine's C compiler,
once, into a cache keyed by the source, the flags and the CPU) and returns the loaded
library; ``None`` where no compiler or cache dir is at hand, and the env then steps with
torch operations.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

from rlkit.native import compiled

KERNELS = Path(__file__).resolve().parent / "kernels"


def load(name: str) -> ctypes.CDLL | None:
    """The compiled kernel ``kernels/<name>.c`` (compiled on first use), or ``None``."""
    return compiled(KERNELS / f"{name}.c")
