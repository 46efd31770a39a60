"""Template workbooks, generated from the one resource definition.

``qaas_template.xlsx``: an Instructions sheet, an Operators and a ChargePoints sheet (each an
Excel Table with input help, data validation, number formats, a frozen header, and a grey,
protected block of system columns), and the hidden ``_qaas`` sheet that maps columns to
fields. ``demo.xlsx``: the same with realistic sample rows, a few of them with typical mistakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from qaas_excel.resources import CHARGEPOINT, OPERATOR, STATUS_HELP, FieldType, Resource
from qaas_excel.results import Result
from qaas_excel.values import is_formula_like
from qaas_excel.workbook import columns as C
from qaas_excel.workbook import mapping

EXCEL_MAX_ROW = 1_048_576
EXCEL_MAX_ROW = 1_048_576
TEMPLATE_ROWS = 500  # pre-formatted table rows in the empty template; formats and checks cover whole columns
FIXED_TIME = datetime(2026, 1, 1)  # document properties, so generation is reproducible
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
SYSTEM_HEADER_FILL = PatternFill("solid", fgColor="7F7F7F")
SYSTEM_FILL = PatternFill("solid", fgColor="F2F2F2")
WHITE_BOLD = Font(bold=True, color="FFFFFF")
SEPARATOR = Side(style="medium", color="7F7F7F")

RESULT_HELP = {
    Result.CREATED: "New on the service: created by this push.",
    Result.ADOPTED: "Already on the service (found by your reference, or EVSE ID and period): linked, not created "
                    "twice.",
    Result.UPDATED: "Changed since the last push: the change was sent.",
    Result.UNCHANGED: "Same as at the last push: nothing was sent.",
    Result.LOCKED: "Changed, but the service no longer accepts changes (sent to the UBA).",
    Result.CONFLICT: "Changed here and on the service since the last push (or no fingerprint to tell): nothing "
                     "was overwritten.",
    Result.MISMATCH: "The row's data belongs to another record than its QaaS ID's (rows sorted without their QaaS "
                     "columns?): nothing was sent.",
    Result.DUPLICATE: "Created, but the service now holds the same record twice (two runs at the same moment): "
                      "see the message.",
    Result.INVALID: "Problems found before sending (see the message and the red cells).",
    Result.FAILED: "The service refused the row or could not be reached (see the message).",
    Result.VALID: "Checked (validate or dry run): would be sent as it is.",
    Result.PULLED: "Status and last update refreshed from the service.",
}


def _instructions(ws: Worksheet) -> None:
    ws.title = "Instructions"
    ws.sheet_properties.tabColor = "1F4E78"
    lines: list[tuple[str, str]] = [
        ("title", "QaaS charging points: how to fill this workbook"),
        ("", ""),
        ("h", "Steps"),
        ("", "1. Operators sheet: one row per charge point operator. Give each a unique 'Your reference'."),
        ("", "2. ChargePoints sheet: one row per charge point and period, with the kWh delivered."),
        ("", "   In 'Operator' write the operator's QaaS ID or its 'Your reference' from the Operators sheet."),
        ("", "3. QaaS tab > Validate (or: qaas-excel validate FILE): problems are marked red with a note."),
        ("", "4. QaaS tab > Push (or: qaas-excel push FILE): new rows are created, changed amounts sent,"),
        ("", "   unchanged rows skipped. Nothing is ever created twice."),
        ("", "5. QaaS tab > Pull statuses, later, to see what the Umweltbundesamt has done."),
        ("", ""),
        ("h", "Columns"),
        ("", "White columns are yours to fill (* = required). Grey columns on the right are written by qaas-excel:"),
        ("", "QaaS ID, Status, Last updated, Result, Message, Synced at. Do not type there."),
        ("", "You may add your own columns anywhere; qaas-excel leaves them alone."),
        ("", ""),
        ("h", "What each status means"),
        *[("", f"{k}: {v}") for k, v in STATUS_HELP.items()],
        ("", "An amount can be changed until the record is sent to the UBA; after that it is frozen."),
        ("", ""),
        ("h", "What each result means"),
        *[("", f"{k}: {v}") for k, v in RESULT_HELP.items()],
        ("", ""),
        ("h", "Numbers and dates"),
        ("", "Amounts in kWh with at most 3 decimals. Dates as 31.12.2024. Zip codes keep their leading zero."),
        ("", "A period must lie in one calendar year; the amount cannot exceed max power × hours of the period."),
    ]
    for i, (kind, text) in enumerate(lines, start=1):
        cell = ws.cell(i, 1, text)
        if kind == "title":
            cell.font = Font(bold=True, size=16, color="1F4E78")
        elif kind == "h":
            cell.font = Font(bold=True, size=12)
    ws.column_dimensions["A"].width = 110
    ws.sheet_view.showGridLines = False


def _validation(f: Any, resource: Resource) -> DataValidation | None:
    """Excel's own input check for a column (a first line of defence; qaas-excel checks again)."""
    kwargs: dict[str, Any] = {"allow_blank": True, "showInputMessage": True, "showErrorMessage": True,
                              "promptTitle": f.header[:32], "prompt": f.help[:250], "errorStyle": "warning"}
    if f.type is FieldType.DECIMAL:
        dv = DataValidation(type="decimal", operator="greaterThan", formula1="0",
                            errorTitle="Number expected", error=f"{f.header}: a number greater than 0.", **kwargs)
    elif f.type is FieldType.DATE:
        dv = DataValidation(type="date", operator="between", formula1="36526", formula2="73051",
                            errorTitle="Date expected", error=f"{f.header}: a date such as 31.12.2024.", **kwargs)
    elif f.name == "zip_code":
        dv = DataValidation(type="textLength", operator="equal", formula1="5",
                            errorTitle="Five digits", error="A German zip code has five digits, e.g. 01067.", **kwargs)
    elif f.type is FieldType.STR and f.max_length:
        dv = DataValidation(type="textLength", operator="lessThanOrEqual", formula1=str(f.max_length),
                            errorTitle="Too long", error=f"{f.header}: at most {f.max_length} characters.", **kwargs)
    else:
        dv = DataValidation(**kwargs)
    return dv


def _data_sheet(ws: Worksheet, resource: Resource, rows: Sequence[dict[str, Any]], size: int) -> None:
    ws.title = resource.sheet
    cols = C.columns_for(resource)
    last_row = 1 + max(size, len(rows), 1)
    first_system = next(i for i, c in enumerate(cols, start=1) if c.system)
    for j, col in enumerate(cols, start=1):
        letter = get_column_letter(j)
        head = ws.cell(1, j, col.header)
        head.font = WHITE_BOLD
        head.fill = SYSTEM_HEADER_FILL if col.system else HEADER_FILL
        head.alignment = Alignment(wrap_text=True, vertical="center")
        dim = ws.column_dimensions[letter]
        dim.width = col.width
        if col.hidden:
            dim.hidden = True
        # The whole column carries the format and the lock, so rows typed or pasted below the prepared ones
        # (any number of them) are input cells like the rest; the system block stays locked.
        dim.number_format = col.number_format
        dim.protection = Protection(locked=col.system)
        if col.system:
            dim.fill = SYSTEM_FILL
        for r in range(2, last_row + 1):
            cell = ws.cell(r, j)
            cell.number_format = col.number_format
            if col.system:
                cell.fill = SYSTEM_FILL
                cell.protection = Protection(locked=True)
            else:
                cell.protection = Protection(locked=False)
            if j == first_system:
                cell.border = Border(left=SEPARATOR)
        if not col.system:
            dv = _validation(resource.field(col.key), resource)
            if dv is not None:
                ws.add_data_validation(dv)
                dv.add(f"{letter}2:{letter}{EXCEL_MAX_ROW}")  # whole column: rows beyond the table too
    for i, record in enumerate(rows, start=2):
        for j, col in enumerate(cols, start=1):
            if col.key in record and record[col.key] is not None:
                cell = ws.cell(i, j)
                cell.value = record[col.key]
                if is_formula_like(cell.value):
                    cell.data_type = "s"  # sample data is text, never a formula
    ref = f"A1:{get_column_letter(len(cols))}{last_row}"
    table = Table(displayName=resource.table, ref=ref)
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "B2"
    ws.row_dimensions[1].height = 32
    # Protected against accidental typing in the grey columns; no password, so it can be switched off.
    ws.protection.sheet = True
    for option in ("formatCells", "formatColumns", "formatRows", "insertRows", "deleteRows", "sort", "autoFilter"):
        setattr(ws.protection, option, False)


def _meta_sheet(wb: Workbook) -> None:
    ws = wb.create_sheet(mapping.META_SHEET)
    for row in mapping.meta_rows([(OPERATOR.sheet, OPERATOR), (CHARGEPOINT.sheet, CHARGEPOINT)]):
        ws.append(row)
    ws.sheet_state = "hidden"


def build_workbook(operators: Sequence[dict[str, Any]] = (), charge_points: Sequence[dict[str, Any]] = (),
                   size: int = TEMPLATE_ROWS) -> Workbook:
    wb = Workbook()
    _instructions(wb.worksheets[0])  # the new workbook's one sheet
    _data_sheet(wb.create_sheet(), OPERATOR, operators, size)
    _data_sheet(wb.create_sheet(), CHARGEPOINT, charge_points, size)
    _meta_sheet(wb)
    wb.active = 1
    wb.properties.creator = "qaas-excel"
    wb.properties.title = "QaaS charging points"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    return wb


def write_template(path: Path) -> Path:
    build_workbook().save(path)
    return path


# --- demo data ------------------------------------------------------------------------------------

DEMO_OPERATORS: list[dict[str, Any]] = [
    {"customer_reference": "SW-DD", "organization_name": "Stadtwerke Elbtal GmbH", "street": "Rosa-Luxemburg-Platz 2",
     "zip_code": "01067", "town": "Dresden", "terms_agreed": datetime(2024, 1, 15, 9, 30)},
    {"customer_reference": "LN-HH", "organization_name": "Ladenetz Nord GmbH & Co. KG", "street": "Am Sandtorkai 5",
     "zip_code": "20457", "town": "Hamburg", "terms_agreed": datetime(2024, 2, 1, 14, 0)},
    {"customer_reference": "EM-M", "organization_name": "E-Mobil Isar AG", "street": "Leopoldstraße 110",
     "zip_code": "80802", "town": "München", "terms_agreed": datetime(2024, 3, 4, 8, 15)},
    {"customer_reference": "SW-FR", "organization_name": "Stadtwerke Breisgau GmbH", "street": "Bismarckallee 7",
     # a typical mistake: the town is missing
     "zip_code": "79098", "town": None, "terms_agreed": datetime(2024, 4, 10, 11, 0)},
]


def _cp(ref: str, op: Any, evse: str, street: str, zip_code: Any, town: str, kw: Any, start: date, end: date,
        amount: Any, commissioned: date = date(2021, 6, 1)) -> dict[str, Any]:
    return {"customer_reference": ref, "chargepointoperator_id": op, "evse_id": evse, "street": street,
            "zip_code": zip_code, "town": town, "commissioning_date": commissioned, "max_power_kw": kw,
            "period_start": start, "period_end": end, "amount": amount}


Y24, Y24E = date(2024, 1, 1), date(2024, 12, 31)
Q1, Q1E = date(2025, 1, 1), date(2025, 3, 31)

DEMO_CHARGE_POINTS: list[dict[str, Any]] = [
    _cp("DD-001-2024", "SW-DD", "DE*SWE*E1000001*1", "Postplatz 1", "01067", "Dresden", 22, Y24, Y24E, 18234.512),
    _cp("DD-002-2024", "SW-DD", "DE*SWE*E1000002*1", "Albertplatz 4", "01097", "Dresden", 22, Y24, Y24E, 21877.09),
    _cp("DD-003-2024", "SW-DD", "DE*SWE*E1000003*1", "Königsbrücker Straße 30", "01099", "Dresden", 50, Y24, Y24E,
        96420.3),
    _cp("DD-004-2024", "SW-DD", "DE*SWE*E1000004*1", "Pirnaischer Platz 2", "01067", "Dresden", 150, Y24, Y24E,
        412877.0),
    _cp("DD-005-2025Q1", "SW-DD", "DE*SWE*E1000001*1", "Postplatz 1", "01067", "Dresden", 22, Q1, Q1E, 4811.25),
    _cp("HH-001-2024", "LN-HH", "DE*LNN*E2000001*1", "Am Sandtorkai 5", "20457", "Hamburg", 11, Y24, Y24E, 9120.4),
    _cp("HH-002-2024", "LN-HH", "DE*LNN*E2000002*1", "Jungfernstieg 7", "20354", "Hamburg", 22, Y24, Y24E, 15544.0),
    _cp("HH-003-2024", "LN-HH", "DE*LNN*E2000003*1", "Große Elbstraße 39", "22767", "Hamburg", 50, Y24, Y24E,
        77012.75),
    _cp("HH-004-2025Q1", "LN-HH", "DE*LNN*E2000003*1", "Große Elbstraße 39", "22767", "Hamburg", 50, Q1, Q1E,
        "19.876,5"),  # German decimal comma as text: read correctly
    _cp("M-001-2024", "EM-M", "DE*EMI*E3000001*1", "Leopoldstraße 110", "80802", "München", 22, Y24, Y24E, 23988.8),
    _cp("M-002-2024", "EM-M", "DE*EMI*E3000002*1", "Sonnenstraße 12", "80331", "München", 150, Y24, Y24E, 388140.0),
    _cp("M-003-2024", "EM-M", "DE*EMI*E3000003*1", "Tegernseer Landstraße 161", "81539", "München", 22, Y24, Y24E,
        12654.3),
    _cp("M-004-2025Q1", "EM-M", "DE*EMI*E3000002*1", "Sonnenstraße 12", "80331", "München", 150, Q1, Q1E, 95320.5),
    _cp("DD-006-2024", "SW-DD", "DE*SWE*E1000006*1", "Bautzner Straße 20", 1099, "Dresden", 11, Y24, Y24E,
        8433.1),  # zip code typed as a number (lost its zero): restored to 01099
    # typical mistakes, so validation has something to show:
    _cp("DD-007-2024", "SW-DD", "DE*SWE*E1000007*1", "Hauptstraße 3", "01097", "Dresden", 11, Y24, Y24E,
        120000.0),  # more than 11 kW x 8,784 h can deliver
    _cp("HH-005-2024", "LN-HH", "DE*LNN*E2000005*1", "Spitalerstraße 1", "20095", "Hamburg", 22, date(2024, 7, 1),
        date(2025, 6, 30), 30500.0),  # period across two calendar years
    _cp("M-005-2024", "EM-M", "DE-EMI-3000005", "Rosenheimer Straße 15", "81667", "München", 22, Y24, Y24E,
        14000.0),  # malformed EVSE ID
    _cp("M-006-2024", "EM-M", "DE*EMI*E3000006*1", "Wörthstraße 8", "81667", "München", 22, Y24, Y24E,
        -250.0),  # negative amount
    _cp("HH-002-2024", "LN-HH", "DE*LNN*E2000007*1", "Mönckebergstraße 9", "20095", "Hamburg", 22, Y24, Y24E,
        11020.0),  # duplicate reference
    _cp("K-001-2024", "RK-K", "DE*RHK*E4000001*1", "Domkloster 4", "50667", "Köln", 22, Y24, Y24E,
        10500.0),  # operator reference that does not exist
]


def write_demo_workbook(path: Path) -> Path:
    build_workbook(DEMO_OPERATORS, DEMO_CHARGE_POINTS, size=0).save(path)
    return path


def write_all(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_template(out_dir / "qaas_template.xlsx"), write_demo_workbook(out_dir / "demo.xlsx")]
