"""Atomic writes: a figure lands whole or not at all, and nothing is left beside it."""

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
