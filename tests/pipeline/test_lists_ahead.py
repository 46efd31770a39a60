"""The first page of each of the service's lists is fetched in a thread while the workbook is read (issue 20), and
nothing else changes: within the account's lock, each resource's page used once, a second sheet of a resource
listing afresh after the first sheet's creates, an error raised where the run takes the list, no thread left
behind, and the records the same as a list read at once."""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from qaas_excel import pipeline
from qaas_excel.api import errors
from qaas_excel.api.client import QaasClient
from qaas_excel.incomplete import whole_list
from qaas_excel.pipeline import ListsAhead, open_book, pull_book, push_book, push_file
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.workbook.table import WorkbookError


def _listing_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("qaas-list")]


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """What a run does, in order: ("lock", "held"/"let go"), ("fetch", resource) as a first page is fetched ahead,
    ("list", resource, "ahead"/"afresh") as a list is made, ("read", sheet) and ("read done", sheet). The first
    table's read (after the run chose its sheets) waits up to 10 s for a fetch to begin, and notes whether one had."""
    log: list[tuple[str, ...]] = []
    fetching = threading.Event()
    real_fetch, real_list = QaasClient.first_page, pipeline.whole_list
    real_lock, real_sheets = pipeline.account_lock, pipeline.sheets_to_process

    def first_page(self: QaasClient, resource: Any) -> Any:
        log.append(("fetch", resource.name))
        fetching.set()
        return real_fetch(self, resource)

    def whole_list(client: Any, resource: Any, first: Any = None) -> Any:
        log.append(("list", resource.name, "ahead" if first is not None else "afresh"))
        return real_list(client, resource, first)

    @contextlib.contextmanager
    def account_lock(*args: Any, **kwargs: Any) -> Iterator[None]:
        with real_lock(*args, **kwargs):
            log.append(("lock", "held"))
            yield
            log.append(("lock", "let go"))

    def sheets_to_process(book: Any, *args: Any, **kwargs: Any) -> Any:
        found = real_sheets(book, *args, **kwargs)
        fetching.clear()  # a run's fetches begin after it has chosen its sheets
        real_read, first = book.read, [True]

        def read(resource: Any, name: str) -> Any:
            log.append(("read", name))
            if first.pop() if first else False:
                log.append(("fetch begun before the first table was read", str(fetching.wait(timeout=10))))
            table = real_read(resource, name)
            log.append(("read done", name))
            return table

        book.read = read
        return found

    monkeypatch.setattr(QaasClient, "first_page", first_page)
    monkeypatch.setattr(pipeline, "whole_list", whole_list)
    monkeypatch.setattr(pipeline, "account_lock", account_lock)
    monkeypatch.setattr(pipeline, "sheets_to_process", sheets_to_process)
    return log


def _of(events: list[tuple[str, ...]], kind: str) -> list[tuple[str, ...]]:
    return [e[1:] for e in events if e[0] == kind]


def test_a_push_fetches_while_it_reads_the_workbook_and_within_the_accounts_lock(client, demo_book: Path,
                                                                              events: list) -> None:
    report = push_book(open_book(demo_book), client)
    assert report.counts["created"] > 0
    assert ("fetch begun before the first table was read", "True") in events
    assert _of(events, "fetch") == [("operator",), ("chargepoint",)]
    assert _of(events, "list") == [("operator", "ahead"), ("chargepoint", "ahead")]
    # within the lock: nothing fetched or listed before it is held or after it is let go
    held, let_go = events.index(("lock", "held")), events.index(("lock", "let go"))
    service = [i for i, e in enumerate(events) if e[0] in ("fetch", "list")]
    assert held < min(service) and max(service) < let_go
    assert _listing_threads() == []


def test_a_push_lets_go_of_the_sheets_xml_before_it_lists_and_plans(client, demo_book: Path, events: list,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The sheets' XML (170 MB at 200,000 rows) is not held while the service's records are made and rows planned
    (a write-back that changes nothing never reads it again: ``test_package_book``)."""
    from qaas_excel.workbook.package_book import PackageBook
    from qaas_excel.workbook.xlsx_package import Package

    real_let_go, real_sheet, real_mapped = PackageBook.let_go, PackageBook._sheet, Package.mapped
    book = open_book(demo_book)
    assert isinstance(book, PackageBook)
    names = {part: name for name, part in book._sheets.items()}

    def let_go(self: PackageBook) -> None:
        events.append(("let go",))
        real_let_go(self)

    def sheet(self: PackageBook, name: str) -> Any:
        events.append(("sheet read", name))
        return real_sheet(self, name)

    def mapped(self: Package, part: str) -> Any:  # a sheet read again to be written
        events.append(("sheet read", names[part]))
        return real_mapped(self, part)

    monkeypatch.setattr(PackageBook, "let_go", let_go)
    monkeypatch.setattr(PackageBook, "_sheet", sheet)
    monkeypatch.setattr(Package, "mapped", mapped)
    report = push_book(book, client)
    assert report.counts["created"] > 0
    let_go_at = events.index(("let go",))
    assert let_go_at < min(i for i, e in enumerate(events) if e[0] == "list")
    assert max(i for i, e in enumerate(events) if e[0] == "read done") < let_go_at
    # each sheet is read again once, to be written
    assert sorted(e[1] for e in events[let_go_at:] if e[0] == "sheet read") == ["ChargePoints", "Operators"]


def test_a_push_lets_go_of_the_services_records_before_it_writes_a_sheet(client, demo_book: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The service's records (some 1 KB each, 48 MiB at 50,000) are not held while a sheet is written: a row's
    outcome keeps only what the write-back and the report use of its record."""
    from qaas_excel.workbook.writeback import RECORD_KEPT

    push_book(open_book(demo_book), client)  # the rows are now records on the service: a second push adopts them

    class Record(dict):  # a dict that can be watched going (a weak reference to it)
        pass

    class Records(list):
        pass

    listed: dict[str, list[weakref.ref[Any]]] = {}
    alive_at_write: dict[str, int] = {}
    at_slimming: dict[str, tuple[bool, int]] = {}
    real_list, real_write_back, real_slim = pipeline.whole_list, pipeline.write_back, pipeline.slim_records

    def whole_list(client: Any, resource: Any, first: Any = None) -> Any:
        records, incomplete = real_list(client, resource, first)
        watched = Records(Record(r) for r in records)
        listed[resource.name] = [weakref.ref(watched), *(weakref.ref(r) for r in watched)]
        return watched, incomplete

    def write_back(book: Any, table: Any, changes: Any, report: Any) -> None:
        refs = listed.get(table.resource.name, [])
        alive_at_write[table.sheet] = sum(1 for ref in refs if ref() is not None)
        real_write_back(book, table, changes, report)

    def slim_records(outcomes: list[Any]) -> None:
        # the list is let go of first, so that each record goes as its outcome lets go of it: a record is then held
        # by its outcome alone (50,000 small records made beside the whole ones were a dry run's peak)
        name = next(n for n, refs in listed.items() if any(ref() is o.record for ref in refs[1:] for o in outcomes))
        refs = listed[name]
        held = {id(o.record) for o in outcomes if o.record is not None}
        others = sum(1 for ref in refs[1:] if ref() is not None and id(ref()) not in held)
        at_slimming[name] = (refs[0]() is None, others)
        real_slim(outcomes)

    monkeypatch.setattr(pipeline, "whole_list", whole_list)
    monkeypatch.setattr(pipeline, "write_back", write_back)
    monkeypatch.setattr(pipeline, "slim_records", slim_records)
    report = push_book(open_book(demo_book), client)
    assert report.counts["adopted"] > 0 and "created" not in report.counts
    assert len(listed["chargepoint"]) > 1 and alive_at_write["ChargePoints"] == 0
    assert at_slimming["chargepoint"] == (True, 0)  # (operators stay listed: the charge points' sheet names them)
    kept = {s.sheet: [o.record for o in s.outcomes if o.record is not None] for s in report.sheets}
    assert sum(map(len, kept.values())) == report.counts["adopted"] and kept["ChargePoints"]
    for sheet, records in kept.items():
        wanted = set(RECORD_KEPT) if sheet == "ChargePoints" else set(RECORD_KEPT) - {"status"}  # operators: none
        assert all(set(r) == wanted and None not in (r["id"], r["last_updated"]) for r in records)


def test_a_pull_fetches_while_it_reads_the_workbook(client, demo_book: Path, events: list) -> None:
    push_file(demo_book, client)
    events.clear()
    report = pull_book(open_book(demo_book), client)
    assert report.counts == {"pulled": 16}
    assert ("fetch begun before the first table was read", "True") in events
    assert _of(events, "list") == [("operator", "ahead"), ("chargepoint", "ahead")]
    assert _listing_threads() == []


def test_a_reconcile_fetches_while_it_reads_the_workbook(client, demo_book: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from qaas_excel.reconcile import reconcile_book

    push_file(demo_book, client)
    fetching, log = threading.Event(), []
    real_fetch, real_list = QaasClient.first_page, QaasClient.list

    def first_page(self: QaasClient, resource: Any) -> Any:
        fetching.set()
        return real_fetch(self, resource)

    def listed(self: QaasClient, resource: Any, *, first: Any = None, **filters: Any) -> Any:
        log.append((resource.name, first is not None))
        return real_list(self, resource, first=first, **filters)

    monkeypatch.setattr(QaasClient, "first_page", first_page)
    monkeypatch.setattr(QaasClient, "list", listed)
    book = open_book(demo_book)
    real_read, waited = book.read, []

    def read(resource: Any, name: str) -> Any:
        if name in ("Operators", "ChargePoints"):  # the tables (sheets_to_process looks into other sheets first)
            waited.append(fetching.wait(timeout=10))
        return real_read(resource, name)

    monkeypatch.setattr(book, "read", read)
    report = reconcile_book(book, client)
    assert waited[0] is True and log == [("operator", True), ("chargepoint", True)]
    assert report.counts.get("in sync", 0) > 0  # rows matched to the records of the pages fetched ahead


def test_a_second_sheet_of_a_resource_lists_again_after_the_first_sheets_creates(client, demo_book: Path,
                                                                               events: list) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(demo_book)
    wb.copy_worksheet(wb["ChargePoints"]).title = "ChargePoints (2)"
    wb.save(demo_book)
    report = push_book(open_book(demo_book), client)
    assert _of(events, "fetch") == [("operator",), ("chargepoint",)]
    assert _of(events, "list") == [("operator", "ahead"), ("chargepoint", "ahead"), ("chargepoint", "afresh")]
    # the second charge point list came after the first sheet's creates: its rows found the records, none twice
    copy_counts = next(s for s in report.sheets if s.sheet == "ChargePoints (2)").counts
    assert "created" not in copy_counts


def test_a_list_that_fails_fails_the_run_with_its_own_error_and_leaves_no_thread(client, demo_book: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(self: QaasClient, resource: Any) -> Any:
        raise errors.UnreachableError("the service could not be reached (test)")

    monkeypatch.setattr(QaasClient, "first_page", unreachable)
    before = demo_book.read_bytes()
    with pytest.raises(errors.UnreachableError, match="could not be reached"):
        push_book(open_book(demo_book), client)
    assert demo_book.read_bytes() == before
    assert _listing_threads() == []


def test_a_page_not_taken_is_never_fetched(client, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that fails while its pages are being fetched (a sheet that cannot be read) waits for the one under
    way and cancels the rest: none is fetched for nothing, and no thread is left."""
    started: list[str] = []
    gate = threading.Event()

    def slow(resource: Any) -> Any:
        started.append(resource.name)
        gate.wait(timeout=10)
        return SimpleNamespace(response=SimpleNamespace(close=lambda: started.append("closed")))

    monkeypatch.setattr(client, "first_page", slow)
    threading.Timer(2, gate.set).start()  # the operators' page comes only after the run has failed
    with pytest.raises(WorkbookError), ListsAhead(client, [OPERATOR, CHARGEPOINT], whole_list):
        raise WorkbookError("a sheet could not be read (test)")
    assert started == ["operator", "closed"]
    assert _listing_threads() == []


@pytest.mark.both_sandboxes
def test_a_list_from_its_page_fetched_ahead_is_the_list_read_at_once_with_no_request_more(
        sandbox, client, demo_book: Path) -> None:
    push_file(demo_book, client)
    at_once = client.list(CHARGEPOINT)

    def asked() -> int:
        return int(client.stats.to_dict()["total_requests"])

    before = asked()
    ahead = client.list(CHARGEPOINT, first=client.first_page(CHARGEPOINT))
    assert ahead == at_once and len(ahead) > 0
    with_page, before = asked() - before, asked()  # the page fetched ahead and any after it
    client.list(CHARGEPOINT)
    assert with_page == asked() - before  # as many as a list read at once: the first page not fetched twice
    page = client.first_page(CHARGEPOINT)
    # a page is used once, and only for its own list: another resource's, or a filtered query, fetches anew
    operators = client.list(OPERATOR, first=page)
    assert operators == client.list(OPERATOR) and all("evse_id" not in r for r in operators)
    assert client.list(CHARGEPOINT, first=page, status="created") == [r for r in at_once if r["status"] == "created"]


@pytest.mark.parametrize("asks", [[None, None], [{"page": 9}, None]], ids=["again", "another-query-first"])
def test_a_page_fetched_ahead_answers_only_the_first_ask_of_its_own_query(client, demo_book: Path, asks: list,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A list read again (its count changed while it was read) or asked another query first must not be answered
    from the page fetched ahead: the service is asked anew."""
    from qaas_excel.api import paging

    push_file(demo_book, client)
    page = client.first_page(CHARGEPOINT)
    answered: list[bool] = []

    def read_whole(first: Any, follow: Any, **kwargs: Any) -> paging.ListRead:
        for query in asks:
            before = client.stats.to_dict()["total_requests"]
            first(query)
            answered.append(client.stats.to_dict()["total_requests"] == before)  # no request: the page ahead
        return paging.ListRead([], 1, "list")

    monkeypatch.setattr(paging, "read_whole", read_whole)
    client.read_list(CHARGEPOINT, first=page)
    assert answered == ([True, False] if asks[0] is None else [False, False])


def test_a_page_asked_for_ahead_whose_body_is_cut_off_is_asked_for_again(client, demo_book: Path) -> None:
    import requests

    from qaas_excel.api.client import FirstPage

    push_file(demo_book, client)

    class CutOff:
        closed = False

        @property
        def content(self) -> bytes:
            raise requests.exceptions.ChunkedEncodingError("the connection broke mid-body (test)")

        def close(self) -> None:
            self.closed = True

    cut = CutOff()  # the plain sandbox pages nothing: its first query has no parameters (None)
    records = client.list(CHARGEPOINT, first=FirstPage(CHARGEPOINT.name, None, cut))  # type: ignore[arg-type]
    assert records == client.list(CHARGEPOINT) and len(records) > 0
    assert cut.closed


def test_a_page_asked_for_ahead_and_not_taken_lets_its_connection_go(client, monkeypatch: pytest.MonkeyPatch) -> None:
    pages: list[Any] = []
    real = client.first_page

    def first_page(resource: Any) -> Any:
        pages.append(real(resource))
        return pages[-1]

    monkeypatch.setattr(client, "first_page", first_page)
    with ListsAhead(client, [OPERATOR], whole_list):
        pass
    [page] = pages
    assert page.response.raw.closed


def test_a_pages_body_is_read_by_the_thread_that_makes_the_records(client, demo_book: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Read in the asking thread, a 20 MB body stayed in that thread's memory after it was let go (40 MiB more at
    the peak of a 50,000-row push): only the answer's head is waited for there."""
    import requests

    push_file(demo_book, client)
    readers: list[str] = []
    real = requests.Response.content

    def content(self: requests.Response) -> Any:
        if self._content is False and "/chargepoints" in (self.url or ""):  # its body not read yet
            readers.append(threading.current_thread().name)
        return real.fget(self)  # type: ignore[attr-defined]

    monkeypatch.setattr(requests.Response, "content", property(content))
    with ListsAhead(client, [CHARGEPOINT], whole_list) as lists:
        records, _ = lists.take(CHARGEPOINT)
    assert records and readers == [threading.current_thread().name]


def test_rows_and_plans_without_problems_hold_no_list_each(demo_book: Path) -> None:
    """A row, a plan and an outcome without problems share the one empty tuple, and a plan that sends nothing holds
    no payload: an empty list or dict each was some 8 MiB of a 50,000-row push's planning."""
    from qaas_excel.outcomes import Outcome
    from qaas_excel.resources import CHARGEPOINT
    from qaas_excel.results import Result
    from qaas_excel.sync import Action, plan_rows

    prep = pipeline._prepare(open_book(demo_book), CHARGEPOINT, CHARGEPOINT.sheet, today=None)
    rows = pipeline._row_states(prep)
    clean = [r for r in rows if not r.problems]
    assert len(clean) >= 2 and {type(r.problems) for r in clean} == {tuple}
    assert any(r.problems for r in rows)  # the demo's rows with problems keep theirs
    plans = plan_rows(CHARGEPOINT, rows, [])
    assert {type(p.problems) for p in plans if not p.problems} == {tuple}
    assert all((p.payload is None) == (p.action is Action.NONE) for p in plans)
    assert any(p.action is Action.CREATE for p in plans) and any(p.action is Action.NONE for p in plans)
    assert type(Outcome(2, Result.VALID).problems) is tuple
