"""Read an offline W&B run back: its history rows, summary and media files.

An offline run keeps everything it would upload in ``run-<id>.wandb``, a log of
W&B's own protobuf ``Record`` messages (``wandb.proto.wandb_internal_pb2``) framed
like a LevelDB log: a 7-byte file header (``:W&B``, magic ``0xBEE1``, version 0),
then 32 KiB blocks of chunks, each with a 7-byte header (crc32, length, type: full,
first, middle or last piece of a record). ``wandb sync`` uploads that file;
``read_records`` decodes it so tests (and curious users) can check what a run holds
without a network or an account.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_FILE_HEADER = struct.Struct("<4sHB")
_CHUNK_HEADER = struct.Struct("<IHB")
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def offline_runs(run_dir: str | os.PathLike) -> list[Path]:
    """The W&B run folders (``wandb/offline-run-*`` or ``wandb/run-*``) of an rlkit run dir."""
    folder = Path(run_dir) / "wandb"
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and not p.is_symlink() and p.name.startswith(("offline-run-", "run-"))
    )


def _chunks(data: bytes) -> Iterator[bytes]:
    ident, magic, version = _FILE_HEADER.unpack_from(data, 0)
    if ident != b":W&B" or magic != 0xBEE1 or version != 0:
        raise ValueError("not a W&B run log (bad header)")
    pos, pending = _FILE_HEADER.size, b""
    while pos + _CHUNK_HEADER.size <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _CHUNK_HEADER.size:  # block trailer: zero padding
            pos += left
            continue
        _crc, length, kind = _CHUNK_HEADER.unpack_from(data, pos)
        pos += _CHUNK_HEADER.size
        chunk, pos = data[pos : pos + length], pos + length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk
            pending = b""
        else:  # zero-filled tail of a file still being written
            return


def read_records(path: str | os.PathLike) -> list[Any]:
    """Every ``Record`` of a ``.wandb`` file, in order."""
    from wandb.proto import wandb_internal_pb2

    records = []
    for chunk in _chunks(Path(path).read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        records.append(record)
    return records


def _items(items: Any) -> dict[str, Any]:
    return {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in items}


def read_run(wandb_run: str | os.PathLike) -> dict[str, Any]:
    """``{"id", "config", "history": [row, ...], "summary": {...}, "files": [...]}`` of a W&B run folder."""
    folder = Path(wandb_run)
    logs = sorted(folder.glob("*.wandb"))
    if not logs:
        raise FileNotFoundError(f"no .wandb log in {folder}")
    out: dict[str, Any] = {"id": None, "config": {}, "history": [], "summary": {}, "files": []}
    for record in read_records(logs[0]):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out["id"] = record.run.run_id
            out["group"] = record.run.run_group
            out["tags"] = list(record.run.tags)
            out["config"].update(_items(record.run.config.update))
        elif kind == "config":
            out["config"].update(_items(record.config.update))
        elif kind == "history":
            out["history"].append(_items(record.history.item))
        elif kind == "summary":
            out["summary"].update(_items(record.summary.update))
        elif kind == "files":
            out["files"].extend(f.path for f in record.files.files)
    return out
