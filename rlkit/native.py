"""Small C kernels, compiled once with the machine's compiler and called through ctypes.

Some loops are a few hundred scalar steps whose cost in numpy or torch is the per-call
overhead of dozens of array operations on a handful of elements (a sum tree's walk over
17 levels for 32 samples; a batched CartPole step). Written in C they run in
microseconds. ``compiled(source)`` compiles a ``.c`` file with ``$CC`` (else ``cc`` or
``gcc``) the first time, into ``$RLKIT_CACHE`` or ``~/.cache/rlkit/kernels`` (keyed by
the source, the flags and the CPU, written atomically), and returns the loaded library;
``None`` where no compiler or cache dir is at hand, and the caller then takes its numpy
or torch path. Every kernel has such a path, and tests hold the two equal.
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

__all__ = ["FLAGS", "cache_dir", "compiled"]

FLAGS = ("-O3", "-march=native", "-shared", "-fPIC")
"""Compiler flags. No ``-ffast-math``: operations are not reordered, so a kernel that only
adds, subtracts and compares (the sum tree's) reproduces its array path bit for bit."""


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
def compiled(source: Path) -> ctypes.CDLL | None:
    """The C file ``source`` compiled (on first use) and loaded, or ``None`` without a
    compiler, a writable cache dir or a loadable result."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not source.is_file():
        return None
    text = source.read_bytes()
    key = hashlib.sha256(text + " ".join(FLAGS).encode() + _cpu_fingerprint().encode())
    target = cache_dir() / f"{source.stem}-{key.hexdigest()[:16]}.so"
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
