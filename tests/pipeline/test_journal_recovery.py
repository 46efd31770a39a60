"""An interrupted push is recovered from the journal before anything is sent again, and pull never hides a
change made on the service from the next push."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.journal import JournalEntry
from qaas_excel.pipeline import default_journal, push_file
from tests.reliability.conftest import many_rows

runner = CliRunner()


def cells(path: Path, sheet: str) -> tuple[openpyxl.Workbook, openpyxl.worksheet.worksheet.Worksheet, dict]:
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    return wb, ws, {str(c.value or "").rstrip(" *"): c.column for c in ws[1] if c.value}


def test_a_create_whose_answer_was_lost_is_linked_even_after_the_row_was_edited(client, sandbox, tmp_path) -> None:
    book = many_rows(tmp_path / "lost.xlsx", 3, with_references=False)  # row 3 has no reference
    push_file(book, client)
    wb, ws, col = cells(book, "ChargePoints")
    record_id = ws.cell(3, col["QaaS ID"]).value
    sent = ws.cell(3, col["_qaas_fingerprint"]).value
    # As if the run had been killed after the POST went out and before its answer was journaled or saved:
    # the row has no ID, the journal holds the intent; then the user changed the EVSE ID and the amount.
    for key in ("QaaS ID", "Status", "Result", "Message", "_qaas_fingerprint"):
        ws.cell(3, col[key]).value = None
    ws.cell(3, col["EVSE ID"]).value = "DE*SWE*E7777777*1"
    ws.cell(3, col["Amount (kWh)"]).value = 1234
    wb.save(book)
    default_journal(book).append(JournalEntry("intent", "ChargePoints", 3, sent, None, "create", None))
    sandbox.admin.reset_stats()

    report = push_file(book, client)

    assert sandbox.admin.requests("POST /chargepoint") == 0  # never created twice
    assert len(sandbox.admin.records("chargepoint")) == 3
    _wb, ws, col = cells(book, "ChargePoints")
    assert ws.cell(3, col["QaaS ID"]).value == record_id
    outcome = next(o for o in report.sheets[1].outcomes if o.row == 3)
    # the EVSE ID says which record a row is: another one under this record's ID is never sent, but the link stays
    assert outcome.result.value == "mismatch" and "EVSE ID" in outcome.message


def test_after_a_pull_a_change_on_both_sides_is_still_a_conflict(sandbox, signed_in, demo_book: Path) -> None:
    def cli(*args: str):
        return runner.invoke(app, [*args, "--env", "sandbox"], catch_exceptions=False)

    cli("push", str(demo_book))
    wb, ws, col = cells(demo_book, "ChargePoints")
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, col["Your reference"]).value == "DD-001-2024")
    record_id = ws.cell(row, col["QaaS ID"]).value
    sandbox.admin.update_record("chargepoint", record_id, amount="8000.000")
    assert cli("pull", str(demo_book)).exit_code in (0, 1)
    wb, ws, col = cells(demo_book, "ChargePoints")
    ws.cell(row, col["Amount (kWh)"]).value = 8500
    wb.save(demo_book)
    cli("push", str(demo_book))
    _wb, ws, col = cells(demo_book, "ChargePoints")
    assert ws.cell(row, col["Result"]).value == "conflict"
    [record] = [r for r in sandbox.admin.records("chargepoint") if r["id"] == record_id]
    assert record["amount"] == "8000.000"  # the service's change was not overwritten
