"""Python's cyclic garbage collector paused while a run builds a million small objects it keeps.

Writing 200,000 rows back makes some 1.4 million cell changes and the row pieces of the new sheet; each one is
kept until the sheet is joined, so every collection the allocations trigger walks them all again and finds
nothing (they hold no cycles). Paused, the same write-back takes 4.6 s instead of 8 s. Reference counting still
frees everything as usual; what would need the collector (a cycle) waits until the pause ends.

A whole push or validate is paused as well (``collect_after``): reading, listing and planning make millions of
objects the run keeps, and the collections they trigger cost a 50,000-row push about 0.5 s, a 200,000-row
validate 0.4 to 1.1 s, and free next to nothing (the peaks stay the same, measured). Such a pause ends with a
collection of the young generations, so that whatever cycles the run left are freed before the next run begins
(without it, a second run in the same process started with the first one's). Every object the run made is young:
paused, the collector promoted none. The oldest generation (all that was imported, some 0.04 s to walk) is left to
the collector's own schedule; a full collection found nothing more there after a 50,000-row push (measured).

Several threads may pause at once (the Office companion serves requests in threads): the collector runs again
when the last pause ends, and only if it ran before the first began.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import cast

_lock = threading.Lock()
_depth = 0
_was_enabled = False
_collect = False  # a pause asked for a collection when the last one ends
YOUNG = 1  # the generations a run's objects are in (0 and 1): collected when a pause that asks for it ends


@contextmanager
def collector_paused(*, collect_after: bool = False) -> Iterator[None]:
    """The collector off inside; ``collect_after``: the young generations collected when the last pause ends (if
    the collector ran before)."""
    global _depth, _was_enabled, _collect
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            _collect = False
            gc.disable()
        _depth += 1
        _collect = _collect or collect_after
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            collect = _depth == 0 and _was_enabled and _collect
            if _depth == 0 and _was_enabled:
                gc.enable()
        if collect:
            gc.collect(YOUNG)


def give_back_freed_memory() -> bool:
    """Memory the run has freed given back to the system, before its largest allocation (a sheet's XML read again
    to be written). glibc keeps the blocks a run freed (the service's records, the plan) in its heap, and a
    sheet read afterwards comes on top of them: a 50,000-row dry run peaked 13 MiB higher. ``malloc_trim`` hands
    back the heap's free pages. True if some were; elsewhere (macOS, Windows, musl) nothing happens."""
    trim = _malloc_trim()
    return bool(trim is not None and trim(0))


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return cast(Callable[[int], int], ctypes.CDLL(None).malloc_trim)
    except (OSError, AttributeError):  # not glibc
        return None
