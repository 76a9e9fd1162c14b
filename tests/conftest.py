"""Shared fixtures: run the CLI in-process inside a temporary working folder."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_MODE", "offline")


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Call ``rlkit`` with arguments inside ``tmp_path``; returns (code, stdout, stderr)."""
    from rlkit.cli.main import main

    monkeypatch.chdir(tmp_path)

    def call(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse exits on its own errors
            code = int(e.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return call
