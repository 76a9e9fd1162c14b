"""Checkpoints: atomic save, a checksum, safe load (``weights_only=True``), a format version.

A checkpoint is a dict of tensors and plain Python values (no pickled objects), so
``torch.load(..., weights_only=True)`` reads it and a shared file can never run code.
rlkit adds ``format_version`` and ``kind == "rlkit-checkpoint"`` to every file and
checks both when loading.

Each ``X.pt`` gets a ``X.pt.sha256`` beside it (the SHA-256 of its bytes), and saving
over an existing, intact checkpoint first keeps it as ``previous.pt`` (``keep_previous``).
``load_checkpoint`` refuses a file whose bytes do not match its checksum; ``load_run_checkpoint``
then falls back to ``previous.pt`` with a warning, so a file truncated by a crash or a
full disk costs at most one checkpoint interval.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import torch

from rlkit.errors import BadInput
from rlkit.io import atomic_write_stream, atomic_write_text

FORMAT_VERSION = 1
KIND = "rlkit-checkpoint"


def checksum_path(path: str | os.PathLike) -> Path:
    """``X.pt`` -> ``X.pt.sha256``."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def _sha256(path: Path) -> str:
    """The file's SHA-256, read in chunks (a DQN checkpoint with its replay is gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            digest.update(chunk)
    return digest.hexdigest()


_WRITTEN: dict[Path, tuple[int, int, str]] = {}
"""What this process wrote at each path: size, modification time and digest."""


def _intact(path: Path) -> bool:
    """Whether ``path``'s bytes match its checksum file. A file this process wrote, still
    of the size and modification time it left, is not read again: its digest was taken
    as it was written (for a DQN state with a 1M replay that is 7 GB not re-read)."""
    sidecar = checksum_path(path)
    if not (path.is_file() and sidecar.is_file()):
        return False
    expected = sidecar.read_text().split()[0]
    stat = path.stat()
    if _WRITTEN.get(path.resolve()) == (stat.st_size, stat.st_mtime_ns, expected):
        return True
    return _sha256(path) == expected


class _Hashing:
    """A write-only file that hashes the bytes on their way through."""

    def __init__(self, file: Any, digest: Any) -> None:
        self.file, self.digest = file, digest
        self.name = getattr(file, "name", None)

    def write(self, data: Any) -> int:
        self.digest.update(data)
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()


def _link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` becomes a copy of ``src`` in one rename (a hard link where the file system has them)."""
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        import shutil

        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def write_state(file: Any, state: dict[str, Any]) -> None:
    """``torch.save`` of ``state`` into an open file (where a full disk shows itself)."""
    torch.save(state, file)


def save_checkpoint(
    path: str | os.PathLike, state: dict[str, Any], keep_previous: bool = False
) -> Path:
    """Write ``state`` (tensors and plain values) to ``path`` atomically, then its checksum.

    With ``keep_previous``, an intact checkpoint already at ``path`` is first kept as
    ``previous.pt`` (with its checksum) in the same folder; ``path`` itself is only ever
    replaced whole, so a failed write leaves the old checkpoint in place. Returns the path.
    """
    path = Path(path)
    digest = hashlib.sha256()

    def write(file: Any) -> None:
        # streamed, never whole in memory: the state of a DQN run with a full 1M replay
        # is 7 GB, and two more copies of it (a bytes buffer and its value) beside the live
        # replay and the state itself did not fit in 24 GB; hashed as written, not read back
        state_out = {**state, "kind": KIND, "format_version": FORMAT_VERSION}
        write_state(_Hashing(file, digest), state_out)

    def keep_previous_one() -> None:  # the old one stays at path until the new one is in
        if keep_previous and _intact(path):
            previous = path.with_name("previous.pt")
            _link_or_copy(path, previous)
            _link_or_copy(checksum_path(path), checksum_path(previous))

    atomic_write_stream(path, write, keep_previous_one)
    hexdigest = digest.hexdigest()
    atomic_write_text(checksum_path(path), f"{hexdigest}  {path.name}\n")
    stat = path.stat()
    _WRITTEN[path.resolve()] = (stat.st_size, stat.st_mtime_ns, hexdigest)
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
    sidecar = checksum_path(path)
    if sidecar.is_file() and not _intact(path):
        raise BadInput(f"checkpoint {path} is damaged: its bytes do not match {sidecar.name}")
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


def load_run_checkpoint(
    folder: str | os.PathLike, name: str = "latest.pt", map_location: str | torch.device = "cpu"
) -> tuple[dict[str, Any], Path]:
    """``folder/name``, or ``folder/previous.pt`` with a warning on stderr when ``name`` is
    missing, damaged or unreadable; ``BadInput`` when neither loads. Returns the state
    and the path it came from."""
    folder = Path(folder)
    path = folder / name
    try:
        return load_checkpoint(path, map_location), path
    except BadInput as first:
        previous = folder / "previous.pt"
        if name != "latest.pt" or not previous.is_file():
            raise
        state = load_checkpoint(previous, map_location)
        print(
            f"rlkit: warning: {first}; using {previous} (step {state.get('step', '?')}) instead",
            file=sys.stderr,
        )
        return state, previous
