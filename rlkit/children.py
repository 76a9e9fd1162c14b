"""The processes a command starts (``--seeds`` runs, ``rlkit sweep --jobs`` workers), and
stopping them all when the command itself is told to stop.

``ParentSignals`` turns SIGINT / SIGTERM to the parent into a flag its waiting loop reads
(the default actions would end the parent and leave its children running);
``stop_children`` then passes SIGTERM on, gives every child the grace a run has to save
(``rlkit.launch.STOP_GRACE_S``) and a little more, and kills what is left.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any


class ParentSignals:
    """``with ParentSignals() as caught:`` SIGINT / SIGTERM set ``caught.signum`` (the first
    one) instead of ending the process; the old handlers come back on exit."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> ParentSignals:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handler)
        return self

    def _handler(self, signum: int, _frame: object) -> None:
        if self.signum is None:
            self.signum = signum

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


def _alive(proc: Any) -> bool:
    return proc.poll() is None if hasattr(proc, "poll") else proc.is_alive()


def _wait(proc: Any, timeout: float) -> None:
    if hasattr(proc, "poll"):
        try:
            proc.wait(timeout=max(timeout, 0.0))
        except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: still running
            return
    else:
        proc.join(timeout=max(timeout, 0.0))


def stop_children(procs: list[Any], grace: float) -> int:
    """SIGTERM to every child still running (``subprocess.Popen`` or
    ``multiprocessing.Process``), wait up to ``grace`` seconds for all, then SIGKILL the
    rest; returns how many had to be killed."""
    for proc in procs:
        if _alive(proc):
            proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        _wait(proc, deadline - time.monotonic())
    killed = 0
    for proc in procs:
        if _alive(proc):
            proc.kill()
            _wait(proc, 5.0)
            killed += 1
    return killed
