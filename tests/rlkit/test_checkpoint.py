import json
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
    # no temp file left; the checksum beside it
    assert sorted(p.name for p in path.parent.iterdir()) == ["latest.pt", "latest.pt.sha256"]


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


def test_previous_checkpoint_is_kept_and_used_when_latest_is_damaged(tmp_path, capsys):
    from rlkit.checkpoint import load_run_checkpoint

    folder = tmp_path / "checkpoints"
    save_checkpoint(folder / "latest.pt", {"step": 1}, keep_previous=True)
    save_checkpoint(folder / "latest.pt", {"step": 2}, keep_previous=True)
    assert load_checkpoint(folder / "previous.pt")["step"] == 1
    assert load_run_checkpoint(folder)[0]["step"] == 2
    # a crash (or a full disk) leaves a truncated file: the checksum catches it
    data = (folder / "latest.pt").read_bytes()
    (folder / "latest.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput, match="damaged"):
        load_checkpoint(folder / "latest.pt")
    state, path = load_run_checkpoint(folder)
    assert state["step"] == 1 and path.name == "previous.pt"
    assert "using" in capsys.readouterr().err
    # one flipped byte is caught too, even where torch could still read the file
    save_checkpoint(folder / "latest.pt", {"step": 3, "w": torch.zeros(100)})
    raw = bytearray((folder / "latest.pt").read_bytes())
    raw[-40] ^= 1
    (folder / "latest.pt").write_bytes(bytes(raw))
    with pytest.raises(BadInput, match="damaged"):
        load_checkpoint(folder / "latest.pt")
    # a damaged checkpoint is never rotated over the good previous one
    save_checkpoint(folder / "latest.pt", {"step": 4}, keep_previous=True)
    assert load_checkpoint(folder / "previous.pt")["step"] == 1


def test_eval_falls_back_to_the_previous_checkpoint(cli, tmp_path):
    code, _, err = cli(
        "train",
        "ppo",
        "CartPole-v1",
        "total_steps=1024",
        "checkpoint_interval=256",
        "--wandb",
        "disabled",
        "--run-dir",
        "r",
    )
    assert code == 0, err
    latest = tmp_path / "r" / "checkpoints" / "latest.pt"
    latest.write_bytes(latest.read_bytes()[:1000])
    code, out, err = cli("eval", "r", "--episodes", "1")
    assert code == 0, err
    assert "damaged" in err and "using r/checkpoints/previous.pt" in err
    evaluation = json.loads((tmp_path / "r" / "eval.json").read_text())
    assert evaluation["checkpoint"].endswith("previous.pt")


def test_a_save_hashes_as_it_writes_and_trusts_its_own_last_file(tmp_path, monkeypatch):
    """The checksum is taken from the bytes on their way to disk (it equals the file's),
    and rotating this process's own untouched last file to previous.pt reads nothing back
    (a DQN state with a full replay is 7 GB); a file changed since is read and checked."""
    import hashlib

    from rlkit import checkpoint

    reads = []
    real = checkpoint._sha256
    monkeypatch.setattr(checkpoint, "_sha256", lambda p: reads.append(p.name) or real(p))
    folder = tmp_path / "checkpoints"
    for step in (1, 2):
        save_checkpoint(folder / "latest.pt", {"step": step, "w": torch.ones(1000)}, True)
    assert reads == []
    digest = hashlib.sha256((folder / "latest.pt").read_bytes()).hexdigest()
    assert (folder / "latest.pt.sha256").read_text().split()[0] == digest
    assert load_checkpoint(folder / "previous.pt")["step"] == 1  # (loading checks its bytes)
    reads.clear()
    raw = bytearray((folder / "latest.pt").read_bytes())
    raw[-40] ^= 1
    (folder / "latest.pt").write_bytes(bytes(raw))  # same size, new modification time
    save_checkpoint(folder / "latest.pt", {"step": 3}, keep_previous=True)
    assert reads == ["latest.pt"]
    assert load_checkpoint(folder / "previous.pt")["step"] == 1  # the damaged one was not kept
