import pickle

import pytest
import torch

from rlkit.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from rlkit.errors import BadInput


def test_round_trip_and_format_version(tmp_path):
    path = tmp_path / "ck" / "latest.pt"
    state = {"values": torch.arange(4.0), "step": 7, "config": {"gamma": 0.9, "name": "x"}}
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["values"], state["values"])
    assert loaded["step"] == 7 and loaded["config"] == {"gamma": 0.9, "name": "x"}
    assert loaded["format_version"] == FORMAT_VERSION
    assert [p.name for p in path.parent.iterdir()] == ["latest.pt"]  # no temp file left


def test_overwrite_is_atomic(tmp_path):
    path = tmp_path / "latest.pt"
    save_checkpoint(path, {"step": 1})
    save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path)["step"] == 2


def test_foreign_and_future_files_are_refused(tmp_path):
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, plain)
    with pytest.raises(BadInput, match="not an rlkit checkpoint"):
        load_checkpoint(plain)
    future = tmp_path / "future.pt"
    torch.save({"kind": "rlkit-checkpoint", "format_version": 999}, future)
    with pytest.raises(BadInput, match="format 999"):
        load_checkpoint(future)
    text = tmp_path / "text.pt"
    text.write_text("hello")
    with pytest.raises(BadInput, match="cannot read checkpoint"):
        load_checkpoint(text)
    with pytest.raises(BadInput, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_payload_never_runs(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    torch.save({"kind": "rlkit-checkpoint", "format_version": 1, "x": _Exploit(str(marker))}, path)
    assert not marker.exists()
    with pytest.raises(BadInput, match="refusing to load"):
        load_checkpoint(path)
    assert not marker.exists()
    # the same payload does run with a plain unpickler: the test is not vacuous
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(_Exploit(str(marker))))
    pickle.loads(raw.read_bytes()).close()
    assert marker.exists()
