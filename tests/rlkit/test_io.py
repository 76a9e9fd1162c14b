"""Atomic writes: a figure lands whole or not at all, and nothing is left beside it."""

import os
import stat

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from rlkit.io import save_figure  # noqa: E402


def test_save_figure_writes_the_suffixs_format_and_closes_the_figure(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    save_figure(fig, tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert not plt.fignum_exists(fig.number)

    fig, _ = plt.subplots()
    save_figure(fig, tmp_path / "b.svg")
    assert b"<svg" in (tmp_path / "b.svg").read_bytes()[:500]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.svg"]


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    (tmp_path / "a.png").write_bytes(b"old")
    fig, _ = plt.subplots()
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path / "a.png", dpi=-1)  # matplotlib refuses a negative dpi
    assert (tmp_path / "a.png").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    assert not plt.fignum_exists(fig.number)


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX permissions")
def test_atomic_writes_leave_the_permissions_a_plain_write_would(tmp_path):
    """A new file gets 0o666 less the umask (not mkstemp's 0600); a replaced file keeps
    its own permissions."""
    from rlkit.io import atomic_write_json, atomic_write_text, umask

    old = os.umask(0o022)
    try:
        assert umask() == 0o022
        atomic_write_json(tmp_path / "summary.json", {"a": 1})
        with open(tmp_path / "plain.txt", "w") as f:  # what open() gives, for comparison
            f.write("x")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        assert modes == {"summary.json": 0o644, "plain.txt": 0o644}
        os.umask(0o077)
        assert umask() == 0o077
        atomic_write_text(tmp_path / "private.txt", "y")
        assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o600
        os.chmod(tmp_path / "summary.json", 0o640)
        atomic_write_json(tmp_path / "summary.json", {"a": 2})  # replaced: keeps 0o640
        assert stat.S_IMODE((tmp_path / "summary.json").stat().st_mode) == 0o640
        assert (tmp_path / "summary.json").read_text() == '{\n  "a": 2\n}\n'
    finally:
        os.umask(old)
