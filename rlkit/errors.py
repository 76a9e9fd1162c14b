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
    """A run stopped on request after finishing its step and saving a checkpoint.

    ``signum`` is the signal that asked (SIGINT / SIGTERM), or None when a callback of the
    Python API returned ``False``.
    """

    def __init__(self, signum: int | None, step: int | None, saved: bool = True) -> None:
        asked = f"signal {signum}" if signum is not None else "the callback"
        where = f"at step {step}" if step is not None else "before a point where it could save"
        super().__init__(f"stopped by {asked} {where}")
        self.signum, self.step, self.saved = signum, step, saved
        """``saved``: a checkpoint of this step was written (else the last one stands)."""
        self.checkpoint: dict | None = None
        """The state saved when it stopped (set by ``rlkit.launch.execute``)."""


class StopNow(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an error
    """Raised where a run happens to be when its grace period after a stop request ends
    (or at a second SIGTERM): it stops there, and its last checkpoint stands.

    A ``BaseException``, so that no ``except Exception`` in between can swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped at once by signal {signum}")
        self.signum = signum


class RunFailed(Exception):
    """A run that started and then failed (the CLI exits 1; the run dir is kept).

    The message is one line that names what failed and where the run dir is.
    """


def one_line(text: str) -> str:
    """``text`` with every character that would not print as itself (a newline, a carriage
    return, a control character from a user's input) written as its escape: one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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
