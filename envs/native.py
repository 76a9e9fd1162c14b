"""Native step kernels for the batched envs on the CPU: C compiled once, called through ctypes.

A batched env on the CPU pays PyTorch's dispatcher for each of the few dozen tensor
operations of a step (microseconds each), which is more than the arithmetic of thousands
of CartPoles. ``envs/kernels/<name>.c`` does the whole step in one pass over the arrays
instead. ``load(name)`` compiles it with the machine's C compiler (``$CC``, else ``cc``)
the first time, into ``$RLKIT_CACHE`` or ``~/.cache/rlkit/kernels`` (keyed by the source,
the flags and the CPU, written atomically), and returns the loaded library; ``None``
where no compiler or cache dir is at hand, and the env then steps with torch operations.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

KERNELS = Path(__file__).resolve().parent / "kernels"
FLAGS = ("-O3", "-march=native", "-shared", "-fPIC")


def _cpu_fingerprint() -> str:
    """What the compiled code depends on: the machine and, on Linux, the CPU's flags."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        pass
    return platform.machine() + flags


def cache_dir() -> Path:
    """Where compiled kernels are kept."""
    root = os.environ.get("RLKIT_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "rlkit" / "kernels"


@cache
def load(name: str) -> ctypes.CDLL | None:
    """The compiled kernel ``kernels/<name>.c`` (compiled on first use), or ``None``."""
    source = KERNELS / f"{name}.c"
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not source.is_file():
        return None
    text = source.read_bytes()
    key = hashlib.sha256(text + " ".join(FLAGS).encode() + _cpu_fingerprint().encode())
    target = cache_dir() / f"{name}-{key.hexdigest()[:16]}.so"
    if not target.is_file():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                built = Path(tmp) / target.name
                subprocess.run(
                    [compiler, *FLAGS, str(source), "-o", str(built), "-lm"],
                    check=True,
                    capture_output=True,
                    timeout=120,
                )
                os.replace(built, target)  # atomic: a reader never sees half a library
        except (OSError, subprocess.SubprocessError):
            return None
    try:
        return ctypes.CDLL(str(target))
    except OSError:
        return None
