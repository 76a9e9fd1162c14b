"""Errors that rlkit reports to people rather than as tracebacks."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BadInput(ValueError):
    """A user mistake: unknown name, bad value, incompatible combination.

    The CLI prints its message as one line and exits with code 2, before any file
    of a new run is written.
    """


class Stopped(Exception):
    """A run stopped on request (SIGINT / SIGTERM) after finishing its step and saving a checkpoint."""

    def __init__(self, signum: int, step: int) -> None:
        super().__init__(f"stopped by signal {signum} at step {step}")
        self.signum, self.step = signum, step


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` entries of ``choices`` that look like ``word``."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[h] for h in hits]


def unknown(kind: str, word: str, choices: Iterable[str], show_all: bool = False) -> BadInput:
    """Build the error for an unknown name, naming close matches (or every choice)."""
    choices = sorted(choices)
    hits = close_matches(word, choices)
    if hits:
        hint = "did you mean " + " or ".join(repr(h) for h in hits) + "?"
    elif show_all or len(choices) <= 12:
        hint = "choose from " + ", ".join(choices)
    else:
        hint = f"{len(choices)} choices, none close"
    return BadInput(f"unknown {kind} {word!r}; {hint}")
