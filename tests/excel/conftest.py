"""Books on xlwings' remote engine (its licence is set for tests only), built from the template workbooks."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
import xlwings as xw


def book_json(path: Path, notes: dict[str, list[str]] | None = None) -> dict:
    """The JSON an Office.js client would send for a workbook: every sheet's values, and where notes are
    (by sheet: cell addresses; the client sends no note text)."""
    wb = openpyxl.load_workbook(path, data_only=True)  # Excel hands over values: a formula's result, not its text
    sheets = []
    for ws in wb.worksheets:
        rows = [[_plain(v) for v in row] for row in ws.iter_rows(values_only=True)] or [[None]]
        width = max(len(r) for r in rows)
        sheets.append({"name": ws.title, "values": [r + [None] * (width - len(r)) for r in rows], "pictures": [],
                       "tables": [_table(t) for t in ws.tables.values()],
                       "notes": [{"address": a} for a in (notes or {}).get(ws.title, [])],
                       "notes_supported": True})
    return {"client": "Office.js", "version": xw.__version__,
            "book": {"name": path.name, "active_sheet_index": 1, "selection": "A1"}, "names": [], "sheets": sheets}


def _table(t) -> dict:
    """A table as the Office.js client describes it (xlwings' xlwings.ts: addresses without the sheet)."""
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.cell import range_boundaries

    c1, r1, c2, r2 = range_boundaries(t.ref)
    totals = t.totalsRowCount or 0

    def rows(first: int, last: int) -> str:
        return f"{get_column_letter(c1)}{first}:{get_column_letter(c2)}{last}"

    return {"name": t.displayName, "range_address": t.ref, "header_row_range_address": rows(r1, r1),
            "data_body_range_address": rows(r1 + 1, r2 - totals),
            "total_row_range_address": rows(r2, r2) if totals else None, "show_headers": True,
            "show_totals": bool(totals), "table_style": "TableStyleMedium2", "show_autofilter": True}


def _plain(value):
    if isinstance(value, datetime | date):
        return datetime(value.year, value.month, value.day, *(value.timetuple()[3:6])).isoformat() + ".000Z"
    return value


@pytest.fixture
def remote_book(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XLWINGS_LICENSE_KEY", "noncommercial")
    from xlwings.pro import _xlremote as remote

    def make(path: Path, notes: dict[str, list[str]] | None = None) -> xw.Book:
        impl = remote.App(remote.Apps(), add_book=False).books.open(book_json(path, notes))
        return xw.Book(impl=impl)

    return make


def actions(book: xw.Book) -> list[dict]:
    return book.impl.json()["actions"]
