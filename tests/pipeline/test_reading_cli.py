"""How a workbook is read, through the CLI on files other programs wrote (XlsxWriter, openpyxl from the template),
against the sandbox where a push is involved, with the service's records counted afterwards (issue 18: the 1904
date system, the user's own "ID"/"Status"/"Result"/"Message" columns, every operator or charge point sheet,
tables' totals rows, hidden rows, formulas Excel never calculated)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from tests.support.workbooks import (
    by_openpyxl,
    by_xlsxwriter,
    cells,
    charge_point,
    column_of,
    header_column,
    input_headers,
    input_keys,
    note_cells,
    serial,
)

runner = CliRunner()
OPS, CPS = OPERATOR.sheet, CHARGEPOINT.sheet
AMOUNT = "Amount (kWh)"


def run_json(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def push(path: Path, *args: str) -> tuple[int, dict]:
    return run_json("push", str(path), "--env", "sandbox", *args)


def sheet_report(report: dict, sheet: str) -> dict:
    return next(s for s in report["sheets"] if s["sheet"] == sheet)


# --- 5. the 1904 date system -------------------------------------------------------------------------------

def _openpyxl_1904(path: Path, rows: list[dict]) -> Path:
    """The template's sheets in a 1904 workbook, every date typed as a plain number (a serial of that system)."""
    def edit(wb, _ops, ws) -> None:
        wb.epoch = CALENDAR_MAC_1904
        for key in ("commissioning_date", "period_start", "period_end"):
            col = column_of(CHARGEPOINT, key) + 1
            for r, row in enumerate(rows, start=2):
                ws.cell(r, col).value = serial(row[key], date_1904=True)
                ws.cell(r, col).number_format = "0"
    return by_openpyxl(path, rows, edit=edit)


@pytest.mark.parametrize("make", [
    pytest.param(lambda p, rows: by_xlsxwriter(p, rows, date_1904=True, serial_dates=True), id="xlsxwriter-serials"),
    pytest.param(lambda p, rows: by_xlsxwriter(p, rows, date_1904=True), id="xlsxwriter-date-format"),
    pytest.param(_openpyxl_1904, id="openpyxl-serials"),
])
def test_a_1904_workbook_sends_the_dates_it_shows(sandbox, signed_in, tmp_path: Path, make) -> None:
    rows = [charge_point(1), charge_point(2, period_start=datetime(2024, 3, 1), period_end=datetime(2024, 3, 31),
                                          amount=100)]
    path = make(tmp_path / "mac.xlsx", rows)
    code, report = push(path)
    assert code == 0 and report["counts"] == {"created": 3}
    sent = sorted((r["period_start"], r["period_end"], r["commissioning_date"])
                  for r in sandbox.admin.records("chargepoint"))
    assert sent == [("2024-01-01", "2024-12-31", "2021-06-01"), ("2024-03-01", "2024-03-31", "2021-06-01")]
    # the times written back count from 1904 too: Excel (and openpyxl) show today, not a day of 2028
    ws = openpyxl.load_workbook(path)[CPS]
    synced = ws.cell(2, header_column(ws, "Synced at (UTC)")).value
    assert abs(synced - datetime.now(UTC).replace(tzinfo=None)) < timedelta(hours=1)
    code, report = push(path)
    assert report["counts"] == {"unchanged": 3}


# --- 8. the user's own "ID", "Status", "Result", "Message" ---------------------------------------------------

def _own_columns(values: dict[str, object]):
    def edit(wb, _ops, ws) -> None:
        first = len(input_headers(CHARGEPOINT))
        for j, (header, value) in enumerate(values.items()):
            ws.write(0, first + j, header)
            ws.write(1, first + j, value)
    return edit


def test_the_users_own_id_status_result_and_message_columns_are_never_ours(sandbox, signed_in, tmp_path: Path) -> None:
    first = by_xlsxwriter(tmp_path / "first.xlsx", [charge_point(1)])
    push(first)
    [stranger] = sandbox.admin.records("chargepoint")
    # another workbook whose own numbering happens to hit that record's id
    path = by_xlsxwriter(tmp_path / "own.xlsx", [charge_point(2, amount=900)], edit=_own_columns(
        {"ID": stranger["id"], "Status": "in Betrieb", "Result": "geprüft", "Message": "Zähler getauscht"}))
    code, report = push(path)
    assert code == 0 and report["counts"] == {"adopted": 1, "created": 1}  # the operator, and a new record
    held = {r["id"]: r for r in sandbox.admin.records("chargepoint")}
    assert len(held) == 2 and Decimal(held[stranger["id"]]["amount"]) == Decimal(500)  # the stranger untouched
    ws = cells(path, CPS)
    header = [c.value for c in ws[1]]
    assert header[11:15] == ["ID", "Status", "Result", "Message"]
    assert [c.value for c in ws[2]][11:15] == [stranger["id"], "in Betrieb", "geprüft", "Zähler getauscht"]
    assert {"QaaS ID", "QaaS status", "QaaS result", "QaaS message"} <= set(header)
    assert ws.cell(2, header.index("QaaS ID") + 1).value not in (None, stranger["id"])
    assert ws.cell(2, header.index("QaaS result") + 1).value == "created"
    assert any("'ID' (column L), 'Status' (column M)" in note and "never read or written" in note
               for note in report["notes"])
    code, report = push(path)  # our columns are ours next time; theirs still theirs
    assert report["counts"] == {"unchanged": 2} and len(sandbox.admin.records("chargepoint")) == 2
    assert [c.value for c in cells(path, CPS)[2]][11:15] == [stranger["id"], "in Betrieb", "geprüft",
                                                              "Zähler getauscht"]


# --- 9. every operators or charge points sheet ----------------------------------------------------------------

def _more_sheets(wb, _ops, _cps) -> None:
    """"ChargePoints (2)" with two rows, and "ChargePoints 2025" whose Amount column is missing."""
    headers = input_headers(CHARGEPOINT)
    copy = wb.add_worksheet("ChargePoints (2)")
    copy.write_row(0, 0, headers)
    for r, i in enumerate((21, 22), start=1):
        row = charge_point(i)
        copy.write_row(r, 0, [row[k].strftime("%d.%m.%Y") if isinstance(row[k], datetime) else row[k]
                              for k in input_keys(CHARGEPOINT)])
    broken = wb.add_worksheet("ChargePoints 2025")
    broken.write_row(0, 0, headers[:-1])
    broken.write_row(1, 0, ["R-031", "SW-DD", "DE*SWE*E0000031*1"])


def test_every_charge_point_sheet_is_pushed_and_one_that_cannot_be_read_is_named(sandbox, signed_in,
                                                                                 tmp_path: Path) -> None:
    path = by_xlsxwriter(tmp_path / "sheets.xlsx", [charge_point(1)], edit=_more_sheets)
    code, report = push(path)
    assert code == 1  # a sheet was left out: the run says so
    assert [s["sheet"] for s in report["sheets"]] == [OPS, CPS, "ChargePoints (2)"]
    assert sheet_report(report, "ChargePoints (2)")["counts"] == {"created": 2}
    assert all(r["sheet"] == "ChargePoints (2)" for r in sheet_report(report, "ChargePoints (2)")["rows"])
    assert {r["evse_id"] for r in sandbox.admin.records("chargepoint")} == {
        "DE*SWE*E0000001*1", "DE*SWE*E0000021*1", "DE*SWE*E0000022*1"}
    [skipped] = report["skipped"]
    assert skipped["sheet"] == "ChargePoints 2025" and "'Amount (kWh)' is missing" in skipped["reason"]
    text = runner.invoke(app, ["push", str(path), "--env", "sandbox"], catch_exceptions=False).output
    assert "Skipped sheet ChargePoints 2025" in " ".join(text.split())
    code, report = push(path, "--sheet", "ChargePoints (2)")  # --sheet still names one sheet
    assert code == 0 and [s["sheet"] for s in report["sheets"]] == ["ChargePoints (2)"]
    assert report["counts"] == {"unchanged": 2} and len(sandbox.admin.records("chargepoint")) == 3


# --- 10. a table's totals row -------------------------------------------------------------------------------

def _xlsxwriter_table_with_totals(wb, _ops, ws) -> None:
    headers = input_headers(CHARGEPOINT)
    columns = [{"header": h} for h in headers]
    columns[0]["total_string"] = "Total"
    columns[-1]["total_function"] = "sum"
    ws.add_table(0, 0, 3, len(headers) - 1, {"name": "Meters", "total_row": True, "columns": columns,
                                             "autofilter": True})


def _openpyxl_table_with_totals(wb, _ops, ws) -> None:
    [table] = ws.tables.values()
    last = ws.max_row + 1
    table.ref = re.sub(r"\d+$", str(last), table.ref)
    table.totalsRowCount = 1
    ws.cell(last, 1).value = "Total"
    ws.cell(last, column_of(CHARGEPOINT, "amount") + 1).value = "=SUBTOTAL(109,QaasChargePoints[Amount (kWh) *])"


@pytest.mark.parametrize(("make", "totals_row"), [
    pytest.param(lambda p, rows: by_xlsxwriter(p, rows, edit=_xlsxwriter_table_with_totals), 4, id="xlsxwriter"),
    pytest.param(lambda p, rows: by_openpyxl(p, rows, edit=_openpyxl_table_with_totals), 4, id="openpyxl"),
])
def test_a_tables_totals_row_is_not_a_row_and_rows_added_go_below_it(sandbox, signed_in, tmp_path: Path, make,
                                                                     totals_row: int) -> None:
    path = make(tmp_path / "totals.xlsx", [charge_point(1), charge_point(2)])
    code, report = run_json("validate", str(path))
    assert code == 0 and sheet_report(report, CPS)["counts"] == {"valid": 2}
    code, report = push(path)
    assert code == 0 and sheet_report(report, CPS)["counts"] == {"created": 2}
    assert len(sandbox.admin.records("chargepoint")) == 2
    ws = cells(path, CPS)
    assert ws.cell(totals_row, 1).value == "Total"  # untouched: no result, no note
    assert ws.cell(totals_row, header_column(ws, "Result")).value is None
    # a record only the service knows is added below the totals row, never into it or above it
    from qaas_excel.api.client import connect

    with connect(signed_in) as client:
        source = client.list(CHARGEPOINT)[0]
        client.create(CHARGEPOINT, {k: source[k] for k in ("chargepointoperator_id", "street", "zip_code", "town",
                                                           "commissioning_date", "max_power_kw", "period_start",
                                                           "period_end", "amount")} | {"evse_id": "DE*SWE*E0000099*1"})
    [table] = cells(path, CPS).tables.values()
    before = table.ref
    code, report = run_json("pull", str(path), "--env", "sandbox", "--sheet", CPS, "--add-missing")
    ws = cells(path, CPS)
    assert ws.cell(totals_row, 1).value == "Total"
    assert ws.cell(totals_row + 1, header_column(ws, "EVSE ID")).value == "DE*SWE*E0000099*1"
    [table] = ws.tables.values()
    assert table.ref == before and table.totalsRowCount == 1


def test_a_growing_table_takes_its_filter_along(sandbox, signed_in, tmp_path: Path) -> None:
    path = by_openpyxl(tmp_path / "grow.xlsx", [charge_point(1)])
    push(path)
    from qaas_excel.api.client import connect

    with connect(signed_in) as client:
        source = client.list(CHARGEPOINT)[0]
        client.create(CHARGEPOINT, {k: source[k] for k in ("chargepointoperator_id", "street", "zip_code", "town",
                                                           "commissioning_date", "max_power_kw", "period_start",
                                                           "period_end", "amount")} | {"evse_id": "DE*SWE*E0000098*1"})
    run_json("pull", str(path), "--env", "sandbox", "--sheet", CPS, "--add-missing")
    [table] = cells(path, CPS).tables.values()
    assert table.ref.endswith("3") and table.autoFilter.ref == table.ref


# --- 11. hidden rows ------------------------------------------------------------------------------------------

def _hide_row_3(wb, _ops, ws) -> None:
    if hasattr(wb, "add_format"):
        ws.set_row(2, None, None, {"hidden": True})
    else:
        ws.row_dimensions[3].hidden = True


@pytest.mark.parametrize("make", [by_xlsxwriter, by_openpyxl], ids=["xlsxwriter", "openpyxl"])
def test_hidden_rows_are_pushed_and_the_summary_counts_them(sandbox, signed_in, tmp_path: Path, make) -> None:
    path = make(tmp_path / "hidden.xlsx", [charge_point(1), charge_point(2), charge_point(3)], edit=_hide_row_3)
    code, report = push(path)
    assert code == 0 and sheet_report(report, CPS)["counts"] == {"created": 3}
    assert len(sandbox.admin.records("chargepoint")) == 3
    assert sheet_report(report, CPS)["hidden_rows"] == [3]
    assert any("1 hidden row (by a filter or by hand) was included" in note for note in report["notes"])


# --- 13. a formula Excel never calculated, and where a problem is ---------------------------------------------

def _uncalculated_amount(wb, _ops, ws) -> None:
    if hasattr(wb, "add_format"):
        ws.write_formula("K3", "=250*2", None, "")  # no cached value, as a program writes it
    else:
        ws["K3"] = "=250*2"


@pytest.mark.parametrize("make", [by_xlsxwriter, by_openpyxl], ids=["xlsxwriter", "openpyxl"])
def test_a_formula_excel_never_calculated_is_named_as_such_with_its_cell(tmp_path: Path, qaas_home: Path,
                                                                         make) -> None:
    path = make(tmp_path / "formula.xlsx", [charge_point(1), charge_point(2, amount=None)], edit=_uncalculated_amount)
    code, report = run_json("validate", str(path))
    assert code == 1
    [row] = [r for r in sheet_report(report, CPS)["rows"] if r["result"] == "invalid"]
    [problem] = row["problems"]
    assert (row["row"], problem["code"], problem["cell"]) == (3, "formula-not-calculated", "K3")
    assert "formula Excel has not calculated yet" in row["message"] and "required" not in row["message"]
    assert "formula Excel has not calculated yet" in note_cells(path, CPS)["K3"]
    text = runner.invoke(app, ["validate", str(path)], catch_exceptions=False).stdout
    assert "ChargePoints row 3 invalid: Amount (kWh): holds a formula" in " ".join(text.split())
    assert "(cell K3)" in text


def _same_row_twice(wb, _ops, _cps) -> None:
    copy = wb.add_worksheet("ChargePoints (2)")
    copy.write_row(0, 0, input_headers(CHARGEPOINT))
    row = charge_point(1)
    copy.write_row(1, 0, [row[k].strftime("%d.%m.%Y") if isinstance(row[k], datetime) else row[k]
                          for k in input_keys(CHARGEPOINT)])


def test_one_record_claimed_by_rows_of_two_sheets_is_created_once_and_each_row_names_its_sheet(
        sandbox, signed_in, tmp_path: Path) -> None:
    path = by_xlsxwriter(tmp_path / "twice.xlsx", [charge_point(1)], edit=_same_row_twice)
    code, report = push(path)
    assert len(sandbox.admin.records("chargepoint")) == 1
    assert sheet_report(report, CPS)["rows"][0] | {"sheet": CPS} == sheet_report(report, CPS)["rows"][0]
    second = sheet_report(report, "ChargePoints (2)")["rows"][0]
    assert second["sheet"] == "ChargePoints (2)" and second["result"] == "invalid"  # not adopted: one row has it
    assert "'ChargePoints' row 2" in second["message"] and code == 1
