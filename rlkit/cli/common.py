"""What the CLI commands share: the argument parser, one-line errors, exit codes."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from rlkit.errors import BadInput, RunFailed, Stopped, one_line

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """One line: the error and where to look for help."""
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def fail(message: str, code: int) -> int:
    """Print ``rlkit: error: message`` on stderr, as one line, and return ``code``."""
    print(f"rlkit: error: {one_line(message)}", file=sys.stderr)
    return code


def exit_code(error: BaseException) -> int:
    """The exit code of an exception the library raises (docs/design.md, "CLI"):
    ``BadInput`` 2, ``RunFailed`` and ``PermissionError`` 1, ``Stopped`` 128 + the signal,
    ``KeyboardInterrupt`` 130."""
    if isinstance(error, BadInput):
        return EXIT_BAD_INPUT
    if isinstance(error, Stopped):
        return 128 + error.signum if error.signum is not None else EXIT_INTERRUPTED
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_FAILED


def report(error: BadInput | RunFailed | PermissionError) -> int:
    """Print the one line of a library error and return its exit code."""
    return fail(str(error), exit_code(error))
