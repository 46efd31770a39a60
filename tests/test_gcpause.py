"""The collector pause: the collector is off inside, back to what it was after, also when pauses overlap in threads
or the body raises."""

from __future__ import annotations

import gc
import os
import sys
import threading
import weakref
from collections.abc import Iterator

import pytest

from qaas_excel import gcpause
from qaas_excel.gcpause import collector_paused


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    before = gc.isenabled()
    yield
    (gc.enable if before else gc.disable)()


def test_off_inside_and_on_again_after() -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_raising_body_still_gives_the_collector_back() -> None:
    gc.enable()
    with pytest.raises(ZeroDivisionError), collector_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()


def test_a_collector_the_caller_switched_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_nested_pauses_end_with_the_outermost() -> None:
    gc.enable()
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_in_threads_end_with_the_last() -> None:
    gc.enable()
    first_in, second_in, first_may_leave = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with collector_paused():
            first_in.set()
            first_may_leave.wait(10)

    def second() -> None:
        first_in.wait(10)
        with collector_paused():
            second_in.set()
            first_may_leave.set()
            worker.join(10)  # the first pause has ended, this one has not
            seen["while the second still runs"] = gc.isenabled()

    worker = threading.Thread(target=first)
    other = threading.Thread(target=second)
    worker.start()
    other.start()
    other.join(20)
    assert second_in.is_set()
    assert seen == {"while the second still runs": False}
    assert gc.isenabled()


def test_a_pause_that_asks_ends_with_a_collection_of_what_the_run_left() -> None:
    # a push pauses the collector for its whole run: the cycles it leaves (all young) are freed when it ends, before
    # the next run (also paused) could begin with them
    gc.enable()
    gc.collect()

    class Node:
        pass

    freed: list[int] = []
    with collector_paused(collect_after=True):
        with collector_paused():  # the write-back's own pause, inside the run's
            a, b = Node(), Node()
            a.other, b.other = b, a  # a cycle, left behind
            probe = weakref.ref(a, lambda _: freed.append(1))
            del a, b
        assert not freed and probe() is not None  # still paused: nothing collected yet
    assert freed and probe() is None  # the last pause ended with a collection



def _resident_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_memory_a_run_freed_is_given_back_to_the_system() -> None:
    """What a run let go of (the service's records, the plan) is handed back before a sheet is read again to be
    written, not kept beneath it: 60 MB of blocks freed between ones kept, then given back."""
    if not sys.platform.startswith("linux"):
        assert gcpause.give_back_freed_memory() is False  # nothing to do where malloc gives back by itself
        return
    kept, freed = [], []
    for i in range(60_000):
        (kept if i % 10 == 0 else freed).append(bytes(1000))
    del freed
    before = _resident_mib()
    assert gcpause.give_back_freed_memory() is True
    assert before - _resident_mib() > 30, (before, _resident_mib())
    assert len(kept) == 6000
