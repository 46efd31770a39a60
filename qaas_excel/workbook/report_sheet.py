"""The Reconciliation sheet: the same blocks for every backend, drawn natively by each.

Layout: a title and the run's totals, the detail table (both sides' values and the verdict),
then summaries by status, operator and year, and a bar chart of kWh by status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from qaas_excel.values import is_formula_like, is_missing

SHEET = "Reconciliation"
VERDICT_FILLS = {"in sync": "C6EFCE", "amount differs": "FFC7CE", "status changed": "FFEB9C",
                 "only in workbook": "DDEBF7", "only on service": "F8CBAD", "missing on service": "FFC7CE",
                 "invalid in workbook": "FFC7CE", "claimed by two rows": "FFC7CE",
                 "QaaS ID of another record": "FFC7CE"}

DETAIL_HEADERS = {
    "verdict": "Verdict", "sheet": "Sheet", "row": "Row", "id": "QaaS ID", "service_id": "Matched record",
    "customer_reference": "Your reference",
    "operator": "Operator", "evse_id": "EVSE ID", "period_start": "Period start", "period_end": "Period end",
    "workbook_kwh": "Workbook kWh", "service_kwh": "Service kWh", "difference_kwh": "Difference kWh",
    "difference_mwh": "Difference MWh", "workbook_status": "Workbook status", "service_status": "Service status",
    "note": "Note",
}
SUMMARY_HEADERS = {"records": "Records", "workbook_kwh": "Workbook kWh", "service_kwh": "Service kWh",
                   "difference_kwh": "Difference kWh", "service_mwh": "Service MWh", "differences": "Differences"}
KWH_FORMAT, MWH_FORMAT, DATE_FORMAT = "#,##0.000", "#,##0.000000", "dd.mm.yyyy"


@dataclass
class Block:
    title: str
    headers: list[str]
    rows: list[list[Any]]
    formats: dict[int, str]  # column index in the block -> number format
    table_name: str


def _cell(value: Any) -> Any:
    """Excel holds doubles: exact decimals are written as numbers (shown with their formats)."""
    if isinstance(value, Decimal):
        return float(value)
    if is_missing(value):
        return None
    return value


def _block(title: str, frame: pd.DataFrame, headers: dict[str, str], table: str, first: str | None = None) -> Block:
    cols = list(frame.columns)
    names = [headers.get(c, first or c.capitalize()) for c in cols]
    formats = {}
    for i, c in enumerate(cols):
        if c.endswith("_kwh"):
            formats[i] = KWH_FORMAT
        elif c.endswith("_mwh"):
            formats[i] = MWH_FORMAT
        elif c.startswith("period_"):
            formats[i] = DATE_FORMAT
    rows = [[_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return Block(title, names, rows, formats, table)


def blocks(report: Any) -> tuple[list[list[Any]], list[Block]]:
    """(heading lines, blocks) of a ReconcileReport."""
    totals = report.totals
    counts = ", ".join(f"{v} {k}" for k, v in report.counts.items())
    heading = [
        [f"Reconciliation of {report.book} (sheet {report.sheet}) against the service"],
        [f"Run at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {counts or 'no records'}"],
        ["Workbook kWh", _cell(totals["workbook_kwh"]), "Service kWh", _cell(totals["service_kwh"]),
         "Difference kWh", _cell(totals["difference_kwh"]), "Service MWh", _cell(totals["service_mwh"])],
    ]
    return heading, [
        _block("Records", report.detail, DETAIL_HEADERS, "QaasReconDetail"),
        _block("By status", report.by_status, SUMMARY_HEADERS, "QaasReconByStatus", "Status"),
        _block("By operator", report.by_operator, SUMMARY_HEADERS, "QaasReconByOperator", "Operator"),
        _block("By year", report.by_year, SUMMARY_HEADERS, "QaasReconByYear", "Year"),
    ]


def render_openpyxl(wb: Any, report: Any) -> None:
    """Replace the Reconciliation sheet of an openpyxl workbook (nothing else is touched)."""
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.table import Table, TableStyleInfo

    if SHEET in wb.sheetnames:
        del wb[SHEET]
    ws = wb.create_sheet(SHEET)
    heading, parts = blocks(report)
    for line in heading:
        ws.append(line)
    ws["A1"].font = Font(bold=True, size=14)
    for col in (2, 4, 6):
        ws.cell(3, col).number_format = KWH_FORMAT
    ws.cell(3, 8).number_format = MWH_FORMAT
    row = 5
    status_block: tuple[int, int] | None = None
    for block in parts:
        ws.cell(row, 1, block.title).font = Font(bold=True, size=12)
        row += 1
        header_row = row
        for j, name in enumerate(block.headers, start=1):
            ws.cell(row, j, name).font = Font(bold=True)
        for values in block.rows or [[None] * len(block.headers)]:
            row += 1
            for j, value in enumerate(values, start=1):
                cell = ws.cell(row, j, value)
                if j - 1 in block.formats:
                    cell.number_format = block.formats[j - 1]
                if is_formula_like(value):
                    cell.data_type = "s"
            if block.title == "Records" and values and values[0] in VERDICT_FILLS:
                ws.cell(row, 1).fill = PatternFill("solid", fgColor=VERDICT_FILLS[values[0]])
        ref = f"A{header_row}:{get_column_letter(len(block.headers))}{row}"
        table = Table(displayName=block.table_name, ref=ref)
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
        ws.add_table(table)
        if block.title == "By status":
            status_block = (header_row, row)
        row += 2
    # The summaries share these columns with the detail table, so every column fits a kWh total.
    for j, width in enumerate((18, 16, 16, 18, 28, 22, 14, 12, 16, 16, 16, 16, 16, 16), start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    if status_block and parts[1].rows:
        chart = BarChart()
        chart.type = "col"
        chart.title = "kWh by status"
        chart.y_axis.title = "kWh"
        first, last = status_block
        chart.add_data(Reference(ws, min_col=3, max_col=4, min_row=first, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=first + 1, max_row=last))
        chart.height, chart.width = 8, 16
        ws.add_chart(chart, f"P{5}")
    ws.freeze_panes = "A5"
