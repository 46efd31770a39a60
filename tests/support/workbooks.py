"""Workbooks as other programs write them, for the reading proofs: XlsxWriter, and openpyxl from the template.

Both give the same two sheets (Operators, ChargePoints) with the template's input headers; XlsxWriter's have no
system block (a run adds it), the template's have it. Cells are addressed as Excel names them ("K2").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import xlsxwriter
from openpyxl.utils.cell import coordinate_from_string

from qaas_excel.resources import CHARGEPOINT, OPERATOR, Resource
from qaas_excel.templates import DEMO_OPERATORS, build_workbook
from qaas_excel.workbook import columns as C

OPERATOR_ROW = DEMO_OPERATORS[0]  # reference "SW-DD"


def charge_point(i: int, **values: Any) -> dict[str, Any]:
    """A valid charge point row of OPERATOR_ROW's operator; ``values`` change fields."""
    row = {"customer_reference": f"R-{i:03d}", "chargepointoperator_id": "SW-DD", "evse_id": f"DE*SWE*E{i:07d}*1",
           "street": f"Teststraße {i}", "zip_code": "01067", "town": "Dresden",
           "commissioning_date": datetime(2021, 6, 1), "max_power_kw": 22, "period_start": datetime(2024, 1, 1),
           "period_end": datetime(2024, 12, 31), "amount": 500}
    row.update(values)
    return row


def input_headers(resource: Resource) -> list[str]:
    return [c.header for c in C.columns_for(resource) if not c.system]


def input_keys(resource: Resource) -> list[str]:
    return [c.key for c in C.columns_for(resource) if not c.system]


def column_of(resource: Resource, key: str) -> int:
    """0-based column of a field on a sheet with the template's input columns."""
    return input_keys(resource).index(key)


Edit = Callable[[Any, Any, Any], None]  # (workbook, Operators sheet, ChargePoints sheet) -> None


def by_xlsxwriter(path: Path, charge_points: Sequence[dict[str, Any]], *, date_1904: bool = False,
                  serial_dates: bool = False, edit: Edit | None = None,
                  operators: Sequence[dict[str, Any]] = (OPERATOR_ROW,)) -> Path:
    """The two sheets as XlsxWriter writes them. ``serial_dates``: dates as plain numbers (date serials of the
    book's date system in a number format, as a pasted or converted column holds them)."""
    wb = xlsxwriter.Workbook(str(path), {"date_1904": date_1904, "strings_to_numbers": False})
    day = wb.add_format({"num_format": "dd.mm.yyyy"})
    number = wb.add_format({"num_format": "0"})
    sheets = {}
    for resource, rows in ((OPERATOR, operators), (CHARGEPOINT, charge_points)):
        ws = wb.add_worksheet(resource.sheet)
        sheets[resource.name] = ws
        ws.write_row(0, 0, input_headers(resource))
        for i, row in enumerate(rows, start=1):
            for j, key in enumerate(input_keys(resource)):
                value = row.get(key)
                if value is None:
                    continue
                if isinstance(value, date | datetime):
                    if serial_dates:
                        ws.write_number(i, j, serial(value, date_1904), number)
                    else:
                        ws.write_datetime(i, j, value if isinstance(value, datetime) else
                                          datetime(value.year, value.month, value.day), day)
                else:
                    ws.write(i, j, value)
    if edit is not None:
        edit(wb, sheets["operator"], sheets["chargepoint"])
    wb.close()
    return path


def by_openpyxl(path: Path, charge_points: Sequence[dict[str, Any]], *, edit: Edit | None = None,
                operators: Sequence[dict[str, Any]] = (OPERATOR_ROW,)) -> Path:
    """The two sheets from the template, as openpyxl writes them (Excel tables, system block, ``_qaas``)."""
    wb = build_workbook(list(operators), list(charge_points), size=0)
    if edit is not None:
        edit(wb, wb[OPERATOR.sheet], wb[CHARGEPOINT.sheet])
    wb.save(path)
    return path


def serial(value: date | datetime, date_1904: bool = False) -> int:
    """A day as a date serial of the 1900 or the 1904 date system."""
    day = value.date() if isinstance(value, datetime) else value
    return (day - (date(1904, 1, 1) if date_1904 else date(1899, 12, 30))).days


def cells(path: Path, sheet: str) -> openpyxl.worksheet.worksheet.Worksheet:
    return openpyxl.load_workbook(path)[sheet]


def note_cells(path: Path, sheet: str) -> dict[str, str]:
    """Cell name -> text of every note on a sheet."""
    ws = cells(path, sheet)
    return {c.coordinate: c.comment.text for row in ws.iter_rows() for c in row if c.comment is not None}


def header_column(ws: Any, header: str) -> int:
    """1-based column of a header ("Amount (kWh)" finds "Amount (kWh) *")."""
    return [str(c.value or "").rstrip(" *") for c in ws[1]].index(header) + 1


def position(name: str) -> tuple[int, int]:
    """"K2" -> (1, 10): 0-based row and column, as XlsxWriter counts."""
    letters, row = coordinate_from_string(name)
    return row - 1, openpyxl.utils.column_index_from_string(letters) - 1
