"""The backends read what issue 18 is about the same way: merged ranges, totals rows, hidden rows, the 1904 date
system, formulas never calculated, the user's own "ID"/"Status" columns; on files XlsxWriter and openpyxl wrote.

The in-place backend (package_book) is compared with the openpyxl reader in every respect; xlwings' remote engine
(whose JSON carries no merged ranges, hidden rows or date system) in the rows it reads: tests/excel.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from qaas_excel.resources import CHARGEPOINT
from qaas_excel.workbook.openpyxl_book import OpenpyxlBook
from qaas_excel.workbook.package_book import PackageBook
from qaas_excel.workbook.table import SheetTable
from tests.support.workbooks import by_openpyxl, by_xlsxwriter, charge_point, position

TWO_PERIODS = [charge_point(1, amount=None, period_end=datetime(2024, 6, 30)),
               charge_point(2, evse_id="DE*SWE*E0000001*1", amount=None, period_start=datetime(2024, 7, 1))]


def _merge(ref: str, value: object):
    def edit(wb, _ops, ws) -> None:
        if hasattr(wb, "add_format"):
            (r1, c1), (r2, c2) = (position(part) for part in ref.split(":"))
            ws.merge_range(r1, c1, r2, c2, value)
        else:
            for name in list(ws.tables):
                del ws.tables[name]
            ws[ref.split(":")[0]] = value
            ws.merge_cells(ref)
    return edit


def _totals(wb, _ops, ws) -> None:
    from tests.support.workbooks import input_headers

    headers = input_headers(CHARGEPOINT)
    columns = [{"header": h} for h in headers]
    columns[0]["total_string"] = "Total"
    columns[-1]["total_function"] = "sum"
    ws.add_table(0, 0, 3, len(headers) - 1, {"name": "Meters", "total_row": True, "columns": columns})


def _hidden(wb, _ops, ws) -> None:
    if hasattr(wb, "add_format"):
        ws.set_row(2, None, None, {"hidden": True})
    else:
        ws.row_dimensions[3].hidden = True


def _formula(wb, _ops, ws) -> None:
    if hasattr(wb, "add_format"):
        ws.write_formula("K3", "=250*2", None, "")
    else:
        ws["K3"] = "=250*2"


def _own_columns(wb, _ops, ws) -> None:
    ws.write_row(0, 11, ["ID", "Status"])
    ws.write_row(1, 11, [338, "in Betrieb"])


def _other_attributes(path: Path) -> Path:
    """The cells of the workbook at ``path`` with an attribute our quick reading does not expect (``ph``, as some
    writers put it) before the others: read cell by cell, not by the plain pattern (the header too)."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    for name in [n for n in parts if n.startswith("xl/worksheets/sheet")]:
        parts[name] = re.sub(rb'<c r="([A-Z]+)(\d+)"', rb'<c r="\1\2" ph="1"', parts[name])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


CASES = {
    "merged-amount-xlsxwriter": lambda p: by_xlsxwriter(p, TWO_PERIODS, edit=_merge("K2:K3", 500)),
    "merged-amount-openpyxl": lambda p: by_openpyxl(p, TWO_PERIODS, edit=_merge("K2:K3", 500)),
    "merged-across-xlsxwriter": lambda p: by_xlsxwriter(p, [charge_point(1, street=None, zip_code=None)],
                                                        edit=_merge("D2:E2", "Hauptstr. 1")),
    "merged-shared-town": lambda p: by_xlsxwriter(p, [dict(r, town=None, amount=5) for r in TWO_PERIODS],
                                                  edit=_merge("F2:F3", "Dresden")),
    "totals-xlsxwriter": lambda p: by_xlsxwriter(p, [charge_point(1), charge_point(2)], edit=_totals),
    "hidden-xlsxwriter": lambda p: by_xlsxwriter(p, [charge_point(i) for i in (1, 2, 3)], edit=_hidden),
    "hidden-openpyxl": lambda p: by_openpyxl(p, [charge_point(i) for i in (1, 2, 3)], edit=_hidden),
    "1904-serials": lambda p: by_xlsxwriter(p, [charge_point(1)], date_1904=True, serial_dates=True),
    "1904-dates": lambda p: by_xlsxwriter(p, [charge_point(1)], date_1904=True),
    "formula-xlsxwriter": lambda p: by_xlsxwriter(p, [charge_point(1), charge_point(2, amount=None)], edit=_formula),
    "formula-openpyxl": lambda p: by_openpyxl(p, [charge_point(1), charge_point(2, amount=None)], edit=_formula),
    "own-columns": lambda p: by_xlsxwriter(p, [charge_point(1)], edit=_own_columns),
    "other-attributes": lambda p: _other_attributes(by_xlsxwriter(p, [charge_point(1), charge_point(2, amount=None)],
                                                                  edit=_formula)),
}


def _read(book, path: Path) -> SheetTable:
    return book.open(path).read(CHARGEPOINT)


def _facts(table: SheetTable) -> tuple:
    return (table.header_row, table.columns, table.headers, table.last_row, table.problems, table.unusable,
            table.hidden_rows, table.date1904, table.theirs)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_in_place_backend_reads_like_the_openpyxl_reader(tmp_path: Path, case: str) -> None:
    path = CASES[case](tmp_path / f"{case}.xlsx")
    mine, theirs = _read(PackageBook, path), _read(OpenpyxlBook, path)
    assert _facts(mine) == _facts(theirs)
    pd.testing.assert_frame_equal(mine.data, theirs.data)


def test_what_each_case_reads_as(tmp_path: Path) -> None:
    def table(case: str) -> SheetTable:
        return _read(PackageBook, CASES[case](tmp_path / f"{case}.xlsx"))

    merged = table("merged-amount-xlsxwriter")
    assert list(merged.data["amount"]) == [500, None]  # never 500 twice
    assert {(p.row, p.field, p.cell) for p in merged.problems} == {(2, "amount", "K2"), (3, "amount", "K2")}
    across = table("merged-across-xlsxwriter")
    assert (across.data.at[2, "street"], across.data.at[2, "zip_code"]) == ("Hauptstr. 1", None)
    assert across.unusable == {(2, "street"), (2, "zip_code")}
    shared = table("merged-shared-town")
    assert list(shared.data["town"]) == ["Dresden", "Dresden"] and not shared.problems
    totals = table("totals-xlsxwriter")
    assert list(totals.data.index) == [2, 3] and totals.last_row == 4  # the totals row: not data, nothing above it
    assert table("hidden-openpyxl").hidden_rows == frozenset({3})
    serials = table("1904-serials")
    assert serials.date1904 and serials.data.at[2, "period_start"] == 45292 - 1462  # raw; validation reads it
    assert table("1904-dates").data.at[2, "period_start"] == datetime(2024, 1, 1)
    formula = table("formula-openpyxl")
    assert [(p.row, p.code, p.cell) for p in formula.problems] == [(3, "formula-not-calculated", "K3")]
    other = table("other-attributes")  # every value read, the formula never calculated named as such
    assert list(other.data.index) == [2, 3] and other.data.at[2, "amount"] == charge_point(1)["amount"]
    assert other.data.at[3, "evse_id"] == charge_point(2)["evse_id"]
    assert [(p.row, p.code, p.cell) for p in other.problems] == [(3, "formula-not-calculated", "K3")]
    own = table("own-columns")
    assert own.theirs == {"ID": 12, "Status": 13} and "id" not in own.columns and "status" not in own.columns


def test_validation_counts_a_serial_from_1904_in_a_1904_workbook(tmp_path: Path) -> None:
    from qaas_excel.pipeline import validate_table

    table = _read(PackageBook, CASES["1904-serials"](tmp_path / "mac.xlsx"))
    records = validate_table(table, today=date(2026, 1, 1)).records
    assert (records.at[2, "period_start"], records.at[2, "commissioning_date"]) == (date(2024, 1, 1),
                                                                                    date(2021, 6, 1))
