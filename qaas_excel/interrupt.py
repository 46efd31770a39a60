"""Ctrl-C during a push: stop sending, finish what is in flight, keep every answer.

A request that is on its way may create a record; killing the run then would leave the record known only to the
journal. So the first Ctrl-C, once a push has started sending, only asks it to stop (``Stop``): no new request
leaves, the ones in flight are waited for, and the run writes what it has into the workbook as usual, saying how many
records were created. A second Ctrl-C gives up waiting: every answer that arrived is in the journal (each is fsynced
before the next request), and the next push writes it into the workbook and finds the rest on the service. Before a
push sends anything, Ctrl-C ends the run at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for a program stopped with Ctrl-C

_abandoned = threading.Event()


class Stop:
    """A request to stop sending, set by the first Ctrl-C or by a state folder that cannot be written (``fail``);
    whoever sends checks it before each request."""

    def __init__(self) -> None:
        self._requested = threading.Event()
        self.sending = False  # set by the push once it may have a request on its way
        self.failure: OSError | None = None

    def request(self) -> None:
        self._requested.set()

    def fail(self, error: OSError) -> None:
        if self.failure is None:
            self.failure = error
        self._requested.set()

    def requested(self) -> bool:
        return self._requested.is_set()

    def why(self) -> str:
        if self.failure is not None:
            return f"the push stopped, {self.failure}"
        return "the push was stopped (Ctrl-C)"


def abandoned() -> bool:
    """Did a second Ctrl-C give up waiting for requests in flight? (Then the process ends without waiting for them.)"""
    return _abandoned.is_set()


@contextlib.contextmanager
def ctrl_c_stops(stop: Stop) -> Iterator[Stop]:
    """While the block runs: the first Ctrl-C after sending began sets ``stop``, the next one raises
    ``KeyboardInterrupt``; before sending began, Ctrl-C raises at once. Outside the main thread (Excel's), nothing
    changes."""

    def on_ctrl_c(signum: int, frame: FrameType | None) -> None:
        if not stop.sending:
            raise KeyboardInterrupt
        if not stop.requested():
            stop.request()
            _say("\nStopping: no new requests are sent; waiting for the ones on their way (Ctrl-C again to stop "
                 "waiting: their answers go to the journal).\n")
            return
        _abandoned.set()
        _say("\nStopped without waiting for the requests on their way. Every answer that arrived is in the journal; "
             "the next push writes it into the workbook and finds the rest on the service (nothing is created "
             "twice).\n")
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, on_ctrl_c)
    except ValueError:  # not the main thread
        yield stop
        return
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _say(text: str) -> None:
    """Straight to stderr: a signal handler must not wait for a lock the interrupted code may hold."""
    with contextlib.suppress(OSError):
        os.write(2, text.encode("utf-8", "replace"))
