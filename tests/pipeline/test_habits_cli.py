"""Issue 18 through the CLI: a failed save then an edit (4), a deleted fingerprint column (7), reconcile's totals
and claims (12), and messages that say which side holds which value (13). The service's records are counted."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.templates import DEMO_OPERATORS, build_workbook
from qaas_excel.workbook.table import WorkbookError

runner = CliRunner()
OPS, CPS = "Operators", "ChargePoints"


def run_json(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--env", "sandbox", "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def cols(ws) -> dict[str, int]:
    return {str(c.value or "").rstrip(" *"): c.column for c in ws[1] if c.value is not None}


def cell(book: Path, sheet: str, row: int, header: str):
    ws = openpyxl.load_workbook(book)[sheet]
    return ws.cell(row, cols(ws)[header]).value


def set_cells(book: Path, sheet: str, changes: dict[tuple[int, str], object]) -> None:
    wb = openpyxl.load_workbook(book)
    ws = wb[sheet]
    c = cols(ws)
    for (row, header), value in changes.items():
        ws.cell(row, c[header]).value = value
    wb.save(book)


def cp(evse: str, amount: object, ref: str | None = None, start: datetime = datetime(2024, 1, 1),
       end: datetime = datetime(2024, 12, 31)) -> dict:
    return {"customer_reference": ref, "chargepointoperator_id": "SW-DD", "evse_id": evse, "street": "Postplatz 1",
            "zip_code": "01067", "town": "Dresden", "commissioning_date": datetime(2021, 6, 1), "max_power_kw": 22,
            "period_start": start, "period_end": end, "amount": amount}


def book_of(path: Path, charge_points: list[dict], operators: list[dict] | None = None) -> Path:
    build_workbook(DEMO_OPERATORS[:1] if operators is None else operators, charge_points, size=0).save(path)
    return path


# --- 4. a failed save, then an edit, then a push ----------------------------------------------------------

def test_rows_the_journal_knows_stay_linked_after_a_failed_save_and_an_edit(sandbox, signed_in, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from qaas_excel.workbook.package_book import PackageBook

    unreferenced = {**DEMO_OPERATORS[1], "customer_reference": None}  # only the journal knows its record
    book = book_of(tmp_path / "book.xlsx", [cp("DE*SWE*E1000001*1", 1800, ref=None)],
                   operators=[DEMO_OPERATORS[0], unreferenced])
    real_save = PackageBook.save

    def open_in_excel(self, output=None):
        raise WorkbookError(f"{self.path.name} is open in Excel (lock file); close it first.", path=str(self.path))

    monkeypatch.setattr(PackageBook, "save", open_in_excel)
    result = runner.invoke(app, ["push", str(book), "--env", "sandbox"], catch_exceptions=False)
    assert result.exit_code == 2 and "journal" in result.output
    assert len(sandbox.admin.records("operator")) == 2 and len(sandbox.admin.records("chargepoint")) == 1
    monkeypatch.setattr(PackageBook, "save", real_save)

    # the user closes Excel and edits both rows before pushing again
    set_cells(book, OPS, {(3, "Street"): "Neue Straße 9"})
    set_cells(book, CPS, {(2, "Amount (kWh)"): 1200})
    sandbox.admin.reset_stats()
    code, report = run_json("push", str(book))
    assert code == 0, report
    assert report["counts"] == {"updated": 2, "created": 1}  # the unedited operator: created by the first run
    assert sandbox.admin.requests("POST /chargepointoperator") == 0 and sandbox.admin.requests("POST /chargepoint") == 0
    op = next(o for o in sandbox.admin.records("operator") if o["customer_reference"] is None)
    [record] = sandbox.admin.records("chargepoint")
    assert op["street"] == "Neue Straße 9" and Decimal(record["amount"]) == Decimal("1200")
    assert cell(book, OPS, 3, "QaaS ID") == op["id"] and cell(book, CPS, 2, "QaaS ID") == record["id"]


# --- 7. the hidden fingerprint column deleted ------------------------------------------------------------

def test_without_the_fingerprint_column_a_conflict_is_never_overwritten(sandbox, signed_in, tmp_path: Path) -> None:
    book = book_of(tmp_path / "book.xlsx", [cp("DE*SWE*E1000001*1", 1500, ref="A-1")])
    assert run_json("push", str(book))[0] == 0
    record_id = cell(book, CPS, 2, "QaaS ID")
    sandbox.admin.update_record("chargepoint", record_id, amount="1800.000")
    set_cells(book, CPS, {(2, "Amount (kWh)"): 1200})
    code, report = run_json("push", str(book))
    assert code == 1 and cell(book, CPS, 2, "Result") == "conflict"

    wb = openpyxl.load_workbook(book)  # Excel's Document Inspector removes hidden columns
    ws = wb[CPS]
    ws.delete_cols(cols(ws)["_qaas_fingerprint"])
    wb.save(book)
    sandbox.admin.reset_stats()
    code, report = run_json("push", str(book))
    assert code == 1
    [row] = next(s for s in report["sheets"] if s["sheet"] == CPS)["rows"]
    assert row["result"] == "conflict"
    assert "no fingerprint" in row["message"] and "service 1.800,000, this row 1.200,000" in row["message"]
    assert sandbox.admin.requests("PATCH /chargepoint/{id}") == 0
    [record] = sandbox.admin.records("chargepoint")
    assert Decimal(record["amount"]) == Decimal("1800")
    assert any("fingerprint" in n for n in report["notes"])  # the column came back (hidden), and the summary says so
    code, report = run_json("push", str(book))
    assert code == 1 and cell(book, CPS, 2, "Result") == "conflict"  # still the user's decision, push after push


# --- 12. reconcile counts what a push would send ------------------------------------------------------------

def test_reconcile_counts_only_what_a_push_would_send_and_names_claims(sandbox, signed_in, tmp_path: Path) -> None:
    book = book_of(tmp_path / "book.xlsx", [
        cp("DE*SWE*E1000001*1", 1000, ref="A"), cp("DE*SWE*E1000002*1", 2000, ref="B"),
        cp("DE*SWE*E1000003*1", 3000, ref="C"), cp("DE*SWE*E1000004*1", 4000, ref="D"),
        cp("DE*SWE*E1000005*1", "1.234", ref="E"),  # ambiguous: refused by validation
        cp("DE*SWE*E1000006*1", "1e3", ref="F"),  # not a number
        cp("DE*SWE*E1000007*1", 12.3456, ref="G"),  # more decimals than the service takes
    ])
    run_json("push", str(book))
    assert len(sandbox.admin.records("chargepoint")) == 4
    ids = {r: cell(book, CPS, r, "QaaS ID") for r in (2, 3, 4, 5)}
    # C and D swap their QaaS IDs; B's row is copied over E's with B's QaaS ID
    set_cells(book, CPS, {(4, "QaaS ID"): ids[5], (5, "QaaS ID"): ids[4]})
    code, report = run_json("reconcile", str(book))
    assert code == 1
    verdicts = {d["row"]: d["verdict"] for d in report["detail"]}
    assert verdicts == {2: "in sync", 3: "in sync", 4: "QaaS ID of another record", 5: "QaaS ID of another record",
                        6: "invalid in workbook", 7: "invalid in workbook", 8: "invalid in workbook"}
    wrong = {d["row"]: d for d in report["detail"] if d["verdict"] == "QaaS ID of another record"}
    assert wrong[4]["service_id"] == ids[4] and Decimal(wrong[4]["difference_kwh"]) == 0  # compared with its own
    assert Decimal(report["totals"]["workbook_kwh"]) == Decimal("10000")  # 1000 + 2000 + 3000 + 4000, nothing else
    assert Decimal(report["totals"]["service_kwh"]) == Decimal("10000")

    set_cells(book, CPS, {(4, "QaaS ID"): ids[4], (5, "QaaS ID"): ids[5], (6, "QaaS ID"): ids[3],
                          (6, "Amount (kWh)"): 2000, (6, "EVSE ID"): "DE*SWE*E1000002*1", (6, "Your reference"): "B2"})
    code, report = run_json("reconcile", str(book))
    claimed = [d for d in report["detail"] if d["verdict"] == "claimed by two rows"]
    assert sorted(d["row"] for d in claimed) == [3, 6]
    assert all(d["workbook_kwh"] is None for d in claimed)
    assert sum(1 for d in report["detail"] if d["service_id"] == ids[3]) == 1  # the record is listed once
    assert Decimal(report["totals"]["workbook_kwh"]) == Decimal("8000")


# --- 13. messages that say which side holds which value; pull's results ------------------------------------

def test_pull_says_which_side_holds_which_amount_and_reports_conflicts_and_locks(sandbox, signed_in,
                                                                                tmp_path: Path) -> None:
    book = book_of(tmp_path / "book.xlsx", [cp("DE*SWE*E1000001*1", 2222, ref="A"),
                                            cp("DE*SWE*E1000002*1", 1000, ref="B"),
                                            cp("DE*SWE*E1000003*1", 3000, ref="C")])
    assert run_json("push", str(book))[0] == 0
    ids = {r: cell(book, CPS, r, "QaaS ID") for r in (2, 3, 4)}
    set_cells(book, CPS, {(2, "Amount (kWh)"): 2500})  # changed here only
    sandbox.admin.update_record("chargepoint", ids[3], amount="1100.000")  # changed on both sides
    set_cells(book, CPS, {(3, "Amount (kWh)"): 900})
    sandbox.admin.set_status("chargepoint", ids[4], "sent_to_uba")  # changed here, but frozen
    set_cells(book, CPS, {(4, "Amount (kWh)"): 3100})
    code, report = run_json("pull", str(book), "--sheet", CPS)
    assert code == 1
    rows = {r["row"]: r for r in report["sheets"][0]["rows"]}
    assert rows[2]["result"] == "pulled" and "service 2.222,000, this row 2.500,000" in rows[2]["message"]
    assert "push to send it" in rows[2]["message"]
    assert rows[3]["result"] == "conflict" and "service 1.100,000, this row 900,000" in rows[3]["message"]
    assert rows[4]["result"] == "locked" and cell(book, CPS, 4, "Status") == "sent_to_uba"
