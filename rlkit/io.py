"""Atomic file writes: a temp file in the same folder, fsync, then rename.

An interrupted run therefore leaves either the old file or the new one, never half
of either.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import yaml


def atomic_write_stream(
    path: str | os.PathLike,
    write: Callable[[BinaryIO], Any],
    before_replace: Callable[[], Any] | None = None,
) -> None:
    """``write(file)`` into a temp file beside ``path``, fsync it, then rename it over
    ``path`` (and fsync the folder): the content streams to disk, never whole in memory.
    ``before_replace`` runs after the fsync and before the rename (what must happen while
    the old file still stands). On any failure the temp file is removed and ``path`` is
    left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # (mkstemp makes its file 0600, whatever the umask)
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def file_mode(path: Path) -> int:
    """The permissions a write of ``path`` leaves: those of the file it replaces, else
    what ``open(path, "w")`` would give a new file (0o666 less the process's umask), so
    that a run dir's files are as readable as any other file the user writes (a group
    sharing runs on one machine reads them all, not only ``metrics.jsonl``)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode) & 0o777  # (never set-id bits)
    except FileNotFoundError:
        return 0o666 & ~umask()


def umask() -> int:
    """The process's umask, read without changing it where Linux tells it
    (``/proc/self/status``); elsewhere set and put back at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + fsync + rename)."""
    atomic_write_stream(path, lambda f: f.write(data))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def atomic_write_yaml(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as block-style YAML to ``path`` atomically."""
    atomic_write_text(path, yaml.safe_dump(obj, sort_keys=False, default_flow_style=False))


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 120) -> None:
    """Write a matplotlib figure to ``path`` atomically (the format from its suffix, PNG
    without one), then close the figure, also when the write fails."""
    import matplotlib.pyplot as plt

    try:
        kind = Path(path).suffix.lstrip(".").lower() or "png"
        atomic_write_stream(path, lambda f: fig.savefig(f, format=kind, dpi=dpi))
    finally:
        plt.close(fig)


def _jsonable(value: Any) -> Any:
    """JSON fallback for numpy / torch scalars and paths."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
