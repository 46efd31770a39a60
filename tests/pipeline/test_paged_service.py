"""Against a service that pages its lists: push never creates a record that sits on a later page again, a later page
that cannot be read blocks every create and says why, reconcile and the worksheet functions are exact or say the list
is incomplete. The service's records are counted afterwards (the sandbox's admin view, not the paged API)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from tests.pipeline.test_push_cli import CPS, column, set_cell

runner = CliRunner()
THREE_PAGES = "drf:5"  # the demo's 13 charge point records: pages of 5, 5 and 3


def run_json(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--env", "sandbox", "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def copy(book: Path, name: str) -> Path:
    fresh = book.parent / name
    fresh.write_bytes(book.read_bytes())
    return fresh


def fail_page(sandbox, route_and_query: str) -> None:
    """That page of a list keeps failing: every attempt of the client (6) gets a 429 (Retry-After 0, so it is quick)."""
    sandbox.admin.set_faults(retry_after=0, fail_next=[f"429@GET {route_and_query}"] * 6)


def posts(sandbox) -> int:
    return sum(v for k, v in sandbox.admin.stats()["requests"].items() if k.startswith("POST /chargepoint"))


@pytest.mark.parametrize("sandbox_paging", [THREE_PAGES, "link:5", "odata:5"], indirect=True)
def test_a_copy_pushed_against_records_on_three_pages_creates_no_duplicate(sandbox, signed_in, demo_book: Path
                                                                           ) -> None:
    fresh = copy(demo_book, "copy.xlsx")  # a colleague's copy, or the workbook as it was before the first push
    code, report = run_json("push", str(demo_book))
    assert report["counts"] == {"created": 16, "invalid": 8}
    sandbox.admin.reset_stats()
    code, report = run_json("push", str(fresh))
    assert report["counts"] == {"adopted": 16, "invalid": 8}, report
    assert sandbox.admin.requests(f"GET {CHARGEPOINT.list_path}") == 3  # every page was read
    assert posts(sandbox) == 0
    assert len(sandbox.admin.records("chargepoint")) == 13 and len(sandbox.admin.records("operator")) == 3


@pytest.mark.parametrize("sandbox_paging", [THREE_PAGES], indirect=True)
def test_an_error_on_a_later_page_blocks_every_create_and_names_the_cause(sandbox, signed_in, demo_book: Path,
                                                                          qaas_home: Path) -> None:
    fresh = copy(demo_book, "copy.xlsx")
    run_json("push", str(demo_book))
    ids = sorted(v for v in column(demo_book, CPS, "QaaS ID").values() if v)
    on_page = {1: ids[:5], 2: ids[5:10], 3: ids[10:]}
    sandbox.admin.reset_stats()
    fail_page(sandbox, f"{CHARGEPOINT.list_path}?page=2")
    code, report = run_json("push", str(fresh))
    assert code == 4  # the service failed: run again later
    assert posts(sandbox) == 0
    assert len(sandbox.admin.records("chargepoint")) == 13
    operators, charge_points = report["sheets"]
    assert operators["counts"] == {"adopted": 3, "invalid": 1}  # their list was read whole: the fault is not theirs
    assert charge_points["counts"] == {"adopted": 5, "failed": 8, "invalid": 7}
    assert {r["id"] for r in charge_points["rows"] if r["result"] == "adopted"} == set(on_page[1])
    failed = [r["message"] for r in charge_points["rows"] if r["result"] == "failed"]
    assert all(m.startswith("Not created: The service's list of charge point records could not be read whole: "
                            "page 2 could not be read (The service is rate limiting requests (429)") for m in failed)
    assert all("read 5 on 1 page" in m and "could claim a record twice" in m for m in failed)
    [incomplete] = report["incomplete_lists"]
    assert incomplete["pages"] == 1 and incomplete["records"] == 5 and incomplete["transient"]

    code, report = run_json("push", str(fresh))  # the service answers again: the rest are found, not created
    assert report["counts"] == {"adopted": 8, "unchanged": 8, "invalid": 8}
    assert posts(sandbox) == 0 and len(sandbox.admin.records("chargepoint")) == 13

    # updates of rows whose records were read still go; a row whose record was not read is not sent
    by_id = {v: r for r, v in column(demo_book, CPS, "QaaS ID").items() if v}
    first, last = by_id[on_page[1][0]], by_id[on_page[3][-1]]
    set_cell(demo_book, CPS, "Amount (kWh)", first, 10.5)
    set_cell(demo_book, CPS, "Amount (kWh)", last, 11.5)
    fail_page(sandbox, f"{CHARGEPOINT.list_path}?page=2")
    sandbox.admin.reset_stats()
    code, report = run_json("push", str(demo_book))
    assert code == 4
    results = column(demo_book, CPS, "Result")
    messages = column(demo_book, CPS, "Message")
    assert results[first] == "updated" and results[last] == "failed"
    assert messages[last].startswith(f"Not sent: QaaS ID {on_page[3][-1]} was not among the records read")
    assert sandbox.admin.requests("PATCH /chargepoint/{id}") == 1
    amounts = {r["id"]: Decimal(r["amount"]) for r in sandbox.admin.records("chargepoint")}
    assert amounts[on_page[1][0]] == Decimal("10.5") and amounts[on_page[3][-1]] != Decimal("11.5")


@pytest.mark.parametrize("sandbox_paging", ["drf:2"], indirect=True)
def test_a_list_longer_than_the_tools_bound_creates_nothing_and_exits_6(sandbox, signed_in, demo_book: Path) -> None:
    from qaas_excel.api.client import connect
    from qaas_excel.cli.pipeline_cmds import exit_code
    from qaas_excel.pipeline import push_book
    from qaas_excel.workbook.openpyxl_book import OpenpyxlBook

    fresh = copy(demo_book, "copy.xlsx")
    run_json("push", str(demo_book))
    sandbox.admin.reset_stats()
    with connect(signed_in, max_pages=3) as client:  # the demo's charge points need 7 pages of 2
        report = push_book(OpenpyxlBook.open(fresh), client)
    assert posts(sandbox) == 0
    [incomplete] = report.incomplete
    assert incomplete.reason == "it has more than 3 pages, the most the tool reads" and not incomplete.transient
    assert exit_code(report) == 6
    assert report.counts == {"adopted": 3 + 6, "failed": 7, "invalid": 8}


@pytest.mark.parametrize("sandbox_paging", [THREE_PAGES], indirect=True)
def test_reconcile_against_a_paged_service_has_exact_totals_or_refuses(sandbox, signed_in, demo_book: Path) -> None:
    run_json("push", str(demo_book))
    code, report = run_json("reconcile", str(demo_book))
    assert report["counts"] == {"in sync": 13, "invalid in workbook": 7}
    service_sum = sum(Decimal(r["amount"]) for r in sandbox.admin.records("chargepoint"))
    assert Decimal(report["totals"]["service_kwh"]) == service_sum

    other = copy(demo_book, "other.xlsx")
    wb = openpyxl.load_workbook(other)
    del wb["Reconciliation"]
    wb.save(other)
    fail_page(sandbox, f"{CHARGEPOINT.list_path}?page=3")
    result = runner.invoke(app, ["reconcile", str(other), "--env", "sandbox"], catch_exceptions=False)
    assert result.exit_code == 4
    assert "could not be read whole: page 3 could not be read" in result.stderr
    assert "Reconciliation" not in openpyxl.load_workbook(other).sheetnames  # no totals of some of the records


@pytest.mark.parametrize("sandbox_paging", ["link:4"], indirect=True)
def test_worksheet_functions_total_every_page_or_say_the_list_is_incomplete(sandbox, signed_in, demo_book: Path,
                                                                           qaas_home: Path) -> None:
    from qaas_excel.excel import session, udfs

    run_json("push", str(demo_book))
    session.save_settings(env="sandbox")
    udfs.cache.clear()
    try:
        stored = sandbox.admin.records("chargepoint")
        assert Decimal(str(udfs.QAAS_TOTAL())) == sum(Decimal(r["amount"]) for r in stored)
        assert len(udfs.QAAS_CHARGEPOINTS()) == 1 + 13
        assert udfs.QAAS_STATUS(max(r["id"] for r in stored)) == "created"  # on the last page
        udfs.cache.clear()
        fail_page(sandbox, f"{CHARGEPOINT.list_path}?page=2")
        assert udfs.QAAS_TOTAL() == ("QaaS list incomplete: page 2 could not be read (The service is rate limiting "
                                     "requests (429). Retry after 0 s.)")
        assert Decimal(str(udfs.QAAS_TOTAL())) == sum(Decimal(r["amount"]) for r in stored)  # not cached: read again
    finally:
        session.reset_clients()
        udfs.cache.clear()


@pytest.mark.parametrize("sandbox_paging", ["odata:2"], indirect=True)
def test_pull_against_a_paged_service_reaches_rows_on_every_page(sandbox, signed_in, demo_book: Path) -> None:
    run_json("push", str(demo_book))
    last = max(r["id"] for r in sandbox.admin.records("chargepoint"))
    sandbox.admin.set_status("chargepoint", last, "accepted_by_uba")
    code, report = run_json("pull", str(demo_book))
    assert code == 0 and report["counts"] == {"pulled": 16}
    statuses = column(demo_book, CPS, "Status")
    assert statuses[next(r for r, v in column(demo_book, CPS, "QaaS ID").items() if v == last)] == "accepted_by_uba"
    fail_page(sandbox, f"{OPERATOR.list_path}?%24skip=2")
    code, report = run_json("pull", str(demo_book), "--sheet", "Operators")
    assert code == 4 and report["counts"] == {"pulled": 2, "failed": 1}


@pytest.mark.parametrize("sandbox_paging", [THREE_PAGES], indirect=True)
def test_rows_without_a_reference_on_later_pages_are_found_by_evse_and_period_not_created_twice(
        sandbox, signed_in, tmp_path: Path) -> None:
    from tests.reliability.conftest import many_rows

    book = many_rows(tmp_path / "many.xlsx", 15, with_references=False)  # every other row has no reference
    fresh = copy(book, "many-copy.xlsx")
    code, report = run_json("push", str(book))
    assert code == 0 and report["counts"] == {"created": 16}
    code, report = run_json("push", str(fresh))
    assert len(sandbox.admin.records("chargepoint")) == 15  # counted on the service, not through its pages
    assert code == 0 and report["counts"] == {"adopted": 16}


def test_creates_lost_in_a_crash_stay_journaled_while_a_list_cannot_be_read_whole(tmp_path: Path) -> None:
    from qaas_excel.incomplete import unresolved_creates
    from qaas_excel.journal import Journal, JournalEntry
    from qaas_excel.outcomes import Outcome
    from qaas_excel.results import Result

    journal = Journal(tmp_path / "book.jsonl")
    journal.append(JournalEntry("intent", CPS, 7, "fp7", None, "create"))  # sent; the answer never came
    journal.append(JournalEntry("intent", CPS, 8, "fp8", "R-8", "create"))
    journal.append(JournalEntry("done", CPS, 8, "fp8", "R-8", "create", 10008))
    journal.append(JournalEntry("intent", CPS, 9, "fp9", None, "create"))  # found among the records read: linked
    outcomes = [Outcome(7, Result.FAILED, "Not created: ..."), Outcome(8, Result.UNCHANGED, "", {"id": 10008}),
                Outcome(9, Result.CREATED, "Created (recovered from an interrupted run).", {"id": 10009})]
    kept = unresolved_creates(journal, CPS, outcomes)
    assert [(e.row, e.fingerprint) for e in kept] == [(7, "fp7")]
    journal.clear(keep=kept)  # after the workbook was saved
    done, open_intents = journal.pending(CPS)
    assert done == {} and [(e.row, e.fingerprint, e.action) for e in open_intents.values()] == [(7, "fp7", "create")]
    journal.clear()
    assert not journal.path.exists()


@pytest.mark.parametrize("sandbox_paging", ["drf:2"], indirect=True)
def test_listing_commands_show_every_page_or_exit_with_the_reason(sandbox, signed_in, demo_book: Path) -> None:
    run_json("push", str(demo_book))
    listed = runner.invoke(app, ["chargepoints", "list", "--env", "sandbox", "--json"], catch_exceptions=False)
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == 13
    fail_page(sandbox, f"{CHARGEPOINT.list_path}?page=4")
    result = runner.invoke(app, ["chargepoints", "list", "--env", "sandbox"], catch_exceptions=False)
    assert result.exit_code == 4 and not result.stdout.strip()  # never some of the records as if they were all
    assert "could not be read whole: page 4 could not be read" in result.stderr and "read 6 on 3 pages" in result.stderr
