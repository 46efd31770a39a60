"""The service's lists are read in a thread while the workbook is read (issue 20), and nothing else changes: within
the account's lock, each resource's first list once, a second sheet of a resource listing afresh after the first
sheet's creates, a list's error raised where the run takes it, and no thread left behind."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qaas_excel import pipeline
from qaas_excel.api import errors
from qaas_excel.pipeline import ListsAhead, open_book, pull_book, push_book, push_file
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.workbook.table import WorkbookError


def _listing_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("qaas-list")]


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What a run does, in order: ("lock", "held"/"let go"), ("list", resource), ("read", sheet) and its end
    ("read done", sheet). The first table's read (after the run chose its sheets) waits up
    to 10 s for a list to begin, and notes whether one had."""
    log: list[tuple[str, str]] = []
    listing = threading.Event()
    real_list, real_lock, real_sheets = pipeline.whole_list, pipeline.account_lock, pipeline.sheets_to_process

    def whole_list(client: Any, resource: Any) -> Any:
        log.append(("list", resource.name))
        listing.set()
        return real_list(client, resource)

    @contextlib.contextmanager
    def account_lock(*args: Any, **kwargs: Any) -> Iterator[None]:
        with real_lock(*args, **kwargs):
            log.append(("lock", "held"))
            yield
            log.append(("lock", "let go"))

    def sheets_to_process(book: Any, *args: Any, **kwargs: Any) -> Any:
        found = real_sheets(book, *args, **kwargs)
        listing.clear()  # a run's lists begin after it has chosen its sheets
        real_read, first = book.read, [True]

        def read(resource: Any, name: str) -> Any:
            log.append(("read", name))
            if first.pop() if first else False:
                log.append(("list begun before the first table was read", str(listing.wait(timeout=10))))
            table = real_read(resource, name)
            log.append(("read done", name))
            return table

        book.read = read
        return found

    monkeypatch.setattr(pipeline, "whole_list", whole_list)
    monkeypatch.setattr(pipeline, "account_lock", account_lock)
    monkeypatch.setattr(pipeline, "sheets_to_process", sheets_to_process)
    return log


def test_a_push_lists_while_it_reads_the_workbook_and_within_the_accounts_lock(client, demo_book: Path,
                                                                             events: list) -> None:
    report = push_book(open_book(demo_book), client)
    assert report.counts["created"] > 0
    assert ("list begun before the first table was read", "True") in events
    assert [e[1] for e in events if e[0] == "list"] == ["operator", "chargepoint"]
    # within the lock: nothing listed before it is held or after it is let go, each list once for one sheet each
    held, let_go = events.index(("lock", "held")), events.index(("lock", "let go"))
    lists = [i for i, e in enumerate(events) if e[0] == "list"]
    assert held < min(lists) and max(lists) < let_go
    assert _listing_threads() == []


def test_a_pull_lists_while_it_reads_the_workbook(client, demo_book: Path, events: list) -> None:
    push_file(demo_book, client)
    events.clear()
    report = pull_book(open_book(demo_book), client)
    assert report.counts == {"pulled": 16}
    assert ("list begun before the first table was read", "True") in events
    assert [e for e in events if e[0] == "list"] == [("list", "operator"), ("list", "chargepoint")]
    assert _listing_threads() == []


def test_a_reconcile_lists_while_it_reads_the_workbook(client, demo_book: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from qaas_excel.api.client import QaasClient
    from qaas_excel.reconcile import reconcile_book

    push_file(demo_book, client)
    listing, log = threading.Event(), []
    real_list = QaasClient.list

    def listed(self: QaasClient, resource: Any, **filters: Any) -> Any:
        log.append(resource.name)
        listing.set()
        return real_list(self, resource, **filters)

    monkeypatch.setattr(QaasClient, "list", listed)
    book = open_book(demo_book)
    real_read, waited = book.read, []

    def read(resource: Any, name: str) -> Any:
        if name in ("Operators", "ChargePoints"):  # the tables (sheets_to_process looks into other sheets first)
            waited.append(listing.wait(timeout=10))
        return real_read(resource, name)

    monkeypatch.setattr(book, "read", read)
    report = reconcile_book(book, client)
    assert waited[0] is True and log == ["operator", "chargepoint"]
    assert report.counts.get("in sync", 0) > 0  # rows matched to the records listed ahead


def test_a_second_sheet_of_a_resource_lists_again_after_the_first_sheets_creates(client, demo_book: Path,
                                                                               events: list) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(demo_book)
    wb.copy_worksheet(wb["ChargePoints"]).title = "ChargePoints (2)"
    wb.save(demo_book)
    report = push_book(open_book(demo_book), client)
    lists = [e[1] for e in events if e[0] == "list"]
    assert lists == ["operator", "chargepoint", "chargepoint"]
    # the second charge point list came after the first sheet's creates: its rows found the records, none twice
    copy_counts = next(s for s in report.sheets if s.sheet == "ChargePoints (2)").counts
    assert "created" not in copy_counts


def test_a_list_that_fails_fails_the_run_with_its_own_error_and_leaves_no_thread(client, demo_book: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(client: Any, resource: Any) -> Any:
        raise errors.UnreachableError("the service could not be reached (test)")

    monkeypatch.setattr(pipeline, "whole_list", unreachable)
    before = demo_book.read_bytes()
    with pytest.raises(errors.UnreachableError, match="could not be reached"):
        push_book(open_book(demo_book), client)
    assert demo_book.read_bytes() == before
    assert _listing_threads() == []


def test_a_list_not_taken_is_never_read(client) -> None:
    """A run that fails while its lists are under way (a sheet that cannot be read) waits for the list being read
    and cancels the rest: none is read for nothing, and no thread is left."""
    started: list[str] = []
    gate = threading.Event()

    def slow_list(client: Any, resource: Any) -> Any:
        started.append(resource.name)
        gate.wait(timeout=10)
        return [], None

    threading.Timer(2, gate.set).start()  # the operators' list ends only after the run has failed
    with pytest.raises(WorkbookError), ListsAhead(client, [OPERATOR, CHARGEPOINT], slow_list):
        raise WorkbookError("a sheet could not be read (test)")
    assert started == ["operator"]
    assert _listing_threads() == []
