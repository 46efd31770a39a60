"""The Excel backend: the same table interface on any ``xw.Book`` (desktop, or the remote engine in tests).

Whole ranges only: a sheet is read with one call, each written column is one call per run of
consecutive touched rows, row colours one call per run of equal results. A push of 10,000 rows
therefore costs a few dozen workbook operations, not one per cell. ``operations`` counts them.

Text that Excel would take for a formula (= + - @ at the start) is written with a leading
apostrophe, Excel's own "this is text" marker. This module never imports ``xlwings.pro``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any

import pandas as pd
import xlwings as xw

from qaas_excel.resources import Resource
from qaas_excel.workbook import columns as C
from qaas_excel.workbook import mapping
from qaas_excel.workbook.table import PROBLEM_FILL, RESULT_FILLS, SheetTable, WorkbookError, WriteBack

log = logging.getLogger(__name__)
FORMULA_PREFIXES = ("=", "+", "-", "@")


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """[2, 3, 4, 7, 8] -> [(2, 4), (7, 8)]"""
    out: list[tuple[int, int]] = []
    for _, group in groupby(enumerate(sorted(rows)), key=lambda p: p[1] - p[0]):
        items = [r for _, r in group]
        out.append((items[0], items[-1]))
    return out


def excel_value(value: Any) -> Any:
    """A Python value as Excel should receive it."""
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class XlwingsBook:
    """Implements ``TableBook`` on an open ``xw.Book``."""

    def __init__(self, book: xw.Book) -> None:
        self.book = book
        self.name = book.name
        self.operations = 0

    def _op(self, n: int = 1) -> None:
        self.operations += n

    @property
    def is_remote(self) -> bool:
        return "_xlremote" in type(self.book.impl).__module__

    def sheet_names(self) -> list[str]:
        return [s.name for s in self.book.sheets if s.name != mapping.META_SHEET]

    def _grid(self, sheet: xw.Sheet) -> list[list[Any]]:
        """All values from A1 to the end of the used range, in one read."""
        used = sheet.used_range
        self._op()
        values = used.options(ndim=2).value or [[]]
        top, left = used.row - 1, used.column - 1
        width = left + max((len(r) for r in values), default=0)
        grid: list[list[Any]] = [[None] * width for _ in range(top)]
        grid.extend([None] * left + list(r) for r in values)
        return grid

    def read(self, resource: Resource, sheet: str | None = None) -> SheetTable:
        name = sheet or resource.sheet
        if name not in [s.name for s in self.book.sheets]:
            raise WorkbookError(f"{self.name} has no sheet '{name}' (sheets: {', '.join(self.sheet_names())}).",
                                path=self.name, sheet=name)
        meta = {}
        if mapping.META_SHEET in [s.name for s in self.book.sheets]:
            meta = mapping.read_meta(self._grid(self.book.sheets[mapping.META_SHEET]))
        values = self._grid(self.book.sheets[name])
        layout = mapping.locate(values, resource, source=self.name, sheet=name, meta=meta.get(name))
        data, last = mapping.rows_frame(values, layout)
        return SheetTable(self.name, name, resource, layout.header_row, layout.columns, layout.headers, data, last)

    def write_back(self, table: SheetTable, changes: WriteBack) -> None:
        ws = self.book.sheets[table.sheet]
        protected = self._unprotect(ws)
        try:
            self._write(ws, table, changes)
        finally:
            if protected:
                self._protect(ws)

    def _write(self, ws: xw.Sheet, table: SheetTable, changes: WriteBack) -> None:
        touched = [int(r) for r in changes.values.index]
        runs = _runs(touched)
        input_cols = sorted(c for k, c in table.columns.items() if k not in C.SYSTEM_KEYS)
        system_cols = sorted(c for k, c in table.columns.items() if k in C.SYSTEM_KEYS)
        # earlier marks on the touched rows: input cells back to no fill, in one call per run
        if input_cols:
            for first, last in runs:
                ws.range((first, input_cols[0]), (last, input_cols[-1])).color = None
                self._op()
        for key in changes.values.columns:
            col = table.columns.get(key)
            if col is None:
                continue
            new = changes.values[key]
            old = table.data[key] if key in table.data else pd.Series(dtype=object)
            for first, last in runs:
                column = []
                for r in range(first, last + 1):
                    if r in new.index:
                        value = new.get(r)
                        if value is pd.NaT or (isinstance(value, float) and value != value):
                            value = old.get(r) if r in old.index else None  # nothing new: keep what is there
                    else:
                        value = old.get(r) if r in old.index else None
                    column.append([excel_value(value)])
                ws.range((first, col), (last, col)).value = column
                self._op()
        if system_cols:
            results = changes.results.sort_index()
            for color, group in groupby(results.items(), key=lambda item: RESULT_FILLS.get(item[1])):
                rows = [int(r) for r, _ in group]
                if color is None:
                    continue
                for first, last in _runs(rows):
                    ws.range((first, system_cols[0]), (last, system_cols[-1])).color = "#" + color
                    self._op()
        notes: dict[tuple[int, int], list[str]] = {}
        for p in changes.marks:
            col = table.columns.get(p.column or "")
            if col is not None and p.row is not None:
                notes.setdefault((p.row, col), []).append(p.message)
        for (row, col), messages in notes.items():
            cell = ws.range((row, col))
            cell.color = "#" + PROBLEM_FILL
            self._note(cell, "\n".join(messages))
            self._op(2)
        if changes.append is not None and len(changes.append):
            self._append(ws, table, changes.append)

    def _note(self, cell: xw.Range, text: str) -> None:
        try:
            if cell.note is not None:
                cell.note.delete()
            cell.add_note(text)
        except (NotImplementedError, AttributeError):
            log.debug("notes are not supported by this engine")

    def _append(self, ws: xw.Sheet, table: SheetTable, rows: pd.DataFrame) -> None:
        first_col, last_col = min(table.columns.values()), max(table.columns.values())
        block = []
        for record in rows.to_dict("records"):
            line: list[Any] = [None] * (last_col - first_col + 1)
            for key, value in record.items():
                if key in table.columns:
                    line[table.columns[key] - first_col] = excel_value(value)
            block.append(line)
        start = table.last_row + 1
        ws.range((start, first_col), (start + len(block) - 1, last_col)).value = block
        self._op()
        table.last_row = start + len(block) - 1

    def write_reconciliation(self, report: Any) -> None:
        """The Reconciliation sheet, replaced: heading and every block as whole-range writes."""
        from qaas_excel.workbook.report_sheet import SHEET, blocks

        if SHEET in [s.name for s in self.book.sheets]:
            self.book.sheets[SHEET].delete()
            self._op()
        ws = self.book.sheets.add(SHEET, after=self.book.sheets[len(self.book.sheets) - 1])
        self._op()
        heading, parts = blocks(report)
        grid: list[list[Any]] = [list(line) for line in heading] + [[]]
        for block in parts:
            grid.append([block.title])
            grid.append(block.headers)
            grid.extend([excel_value(v) for v in row] for row in block.rows)
            grid.append([])
        width = max(len(r) for r in grid)
        ws.range("A1").value = [r + [None] * (width - len(r)) for r in grid]
        self._op()

    # -- protection (desktop only) -----------------------------------------------------------------
    def _unprotect(self, ws: xw.Sheet) -> bool:
        if self.is_remote:
            return False
        try:
            if ws.api.ProtectContents:
                ws.api.Unprotect()
                return True
        except Exception:  # noqa: BLE001 - macOS/AppleScript exposes this differently
            log.debug("could not query sheet protection")
        return False

    def _protect(self, ws: xw.Sheet) -> None:
        try:
            ws.api.Protect(AllowFormattingCells=True, AllowInsertingRows=True, AllowDeletingRows=True,
                           AllowSorting=True, AllowFiltering=True)
        except Exception:  # noqa: BLE001
            log.warning("could not protect sheet %s again", ws.name)

    def save(self, output: Path | None = None) -> Path | None:
        """Desktop: save the workbook where it lives (or to ``output``); remote engine: nothing to save."""
        if self.is_remote:
            return None
        if output is not None:
            self.book.save(str(output))
            return Path(output)
        if not Path(self.book.fullname).is_absolute():
            return None  # a new, never saved workbook: leave saving to the user
        self.book.save()
        return Path(self.book.fullname)
