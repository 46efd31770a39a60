"""A workbook file read and written through openpyxl's model: the reference reader the tests compare the
in-place backend (``package_book``) with, and the writer of workbooks this program makes. It is not used on a
user's workbook: openpyxl rebuilds the whole file on save and drops what it does not model (sparklines,
shapes, form controls, cached formula values).

- The file is checked before loading (``files.check_file``, shared with the in-place backend), so an
  ``.xls``, a CSV renamed to ``.xlsx``, a password-protected or a corrupt file gets a clear message, not a traceback.
- Formulas count by their cached values (as Excel last computed them); a formula error such
  as ``#REF!`` comes through as that text, so validation can name it.
- A merged range in the header row gives its value to every cell it covers; in the data rows it does not (see
  ``mapping.sheet_table``): a cell a merge hides is empty, as Excel stores it.
- A table's totals row is not data; rows hidden by a filter or by hand are, and are counted.
- Saving is atomic (``xlsx_package.save_atomically``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import openpyxl
import pandas as pd
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from qaas_excel.resources import Resource
from qaas_excel.values import NOTE_AUTHOR, is_formula_like, is_missing
from qaas_excel.workbook import columns as C
from qaas_excel.workbook import mapping
from qaas_excel.workbook.files import DATETIME_FORMAT, check_file, check_writable
from qaas_excel.workbook.table import PROBLEM_FILL, RESULT_FILLS, SheetTable, WorkbookError, WriteBack, range_bounds

NO_FILL = PatternFill(fill_type=None)


class OpenpyxlBook:
    """One workbook file; implements ``TableBook``."""

    def __init__(self, path: Path, workbook: Workbook) -> None:
        self.path = path
        self.name = path.name
        self.wb = workbook
        self._cached: Workbook | None = None

    @classmethod
    def open(cls, path: Path | str) -> OpenpyxlBook:
        path = Path(path)
        check_file(path)
        try:
            wb = openpyxl.load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm", keep_links=True)
        except Exception as exc:  # openpyxl raises many kinds on broken parts
            raise WorkbookError(f"{path.name} could not be read as a workbook ({type(exc).__name__}: {exc}).",
                                path=str(path)) from None
        return cls(path, wb)

    def sheet_names(self) -> list[str]:
        return [ws.title for ws in self.wb.worksheets if ws.title != mapping.META_SHEET]

    # -- reading -----------------------------------------------------------------------------------
    def _meta(self) -> dict[str, dict[str, Any]]:
        if mapping.META_SHEET not in self.wb.sheetnames:
            return {}
        return mapping.read_meta(list(self.wb[mapping.META_SHEET].iter_rows(values_only=True)))

    def _cached_values(self, sheet: str) -> Worksheet:
        """The values Excel last computed for formulas (a second, read-only load; only when needed)."""
        if self._cached is None:
            self._cached = openpyxl.load_workbook(self.path, data_only=True, read_only=True, keep_links=False)
        return self._cached[sheet]

    def read(self, resource: Resource, sheet: str | None = None) -> SheetTable:
        sheet = sheet or resource.sheet
        if sheet not in self.wb.sheetnames:
            raise WorkbookError(f"{self.name} has no sheet '{sheet}' (sheets: {', '.join(self.sheet_names())}).",
                                path=self.name, sheet=sheet)
        ws = self.wb[sheet]
        # Formatting alone (a million styled empty rows) must not make us read a million rows.
        last = max((r for (r, _c), cell in ws._cells.items() if cell.value is not None), default=1)
        values = [list(r) for r in ws.iter_rows(min_row=1, max_row=last, values_only=True)]
        uncalculated = self._resolve_formulas(ws, values)
        head = [list(r) for r in values[:mapping.HEADER_SEARCH_ROWS]]
        self._fill_merged(ws, head)  # a merged header reads as the user sees it; data rows never do
        layout = mapping.locate(head, resource, source=self.name, sheet=sheet, meta=self._meta().get(sheet))
        totals = self._totals_rows(ws, layout)
        data, last = mapping.rows_frame(values, layout, skip=totals)
        merged = [(m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges]
        hidden = {r for r, dim in ws.row_dimensions.items() if dim.hidden}
        return mapping.sheet_table(self.name, sheet, resource, layout, data, last, merged=merged,
                                   uncalculated={rc for rc in uncalculated if rc[0] not in totals}, hidden=hidden,
                                   date1904=self.wb.epoch == CALENDAR_MAC_1904)

    @staticmethod
    def _totals_rows(ws: Worksheet, layout: mapping.Layout) -> set[int]:
        """Rows of a table's totals row under our header: not data."""
        out: set[int] = set()
        for t in ws.tables.values():
            count = t.totalsRowCount or 0
            min_col, _min_row, max_col, max_row = range_bounds(t.ref)
            if count and max_row > layout.header_row and any(min_col <= c <= max_col for c in layout.columns.values()):
                out.update(range(max_row - count + 1, max_row + 1))
        return out

    def _resolve_formulas(self, ws: Worksheet, values: list[list[Any]]) -> set[tuple[int, int]]:
        """Formulas by their cached values; returns (row, column) of those without one (never calculated)."""
        formula_cells = [(i, j) for i, row in enumerate(values) for j, v in enumerate(row)
                         if isinstance(v, str) and v.startswith("=")]
        if not formula_cells:
            return set()
        cached = [list(r) for r in self._cached_values(ws.title).iter_rows(values_only=True)]
        missing = set()
        for i, j in formula_cells:
            values[i][j] = cached[i][j] if i < len(cached) and j < len(cached[i]) else None
            if values[i][j] is None:
                missing.add((i + 1, j + 1))
        return missing

    @staticmethod
    def _fill_merged(ws: Worksheet, values: list[list[Any]]) -> None:
        for rng in ws.merged_cells.ranges:
            top = values[rng.min_row - 1][rng.min_col - 1] if rng.min_row - 1 < len(values) else None
            for r in range(rng.min_row - 1, min(rng.max_row, len(values))):
                for c in range(rng.min_col - 1, min(rng.max_col, len(values[r]))):
                    values[r][c] = top

    # -- writing -----------------------------------------------------------------------------------
    def let_go(self) -> None:
        """Nothing to let go: this backend keeps no copy of a sheet's XML that writing could read again."""

    def write_back(self, table: SheetTable, changes: WriteBack) -> None:
        ws = self.wb[table.sheet]
        touched = list(changes.values.index)
        input_cols = [c for k, c in table.columns.items() if k not in C.SYSTEM_KEYS]
        system_cols = [c for k, c in table.columns.items() if k in C.SYSTEM_KEYS]
        cells = ws._cells  # only existing cells can carry a note: no need to create the others
        for row in touched:
            for col in input_cols:
                cell = cells.get((row, col))
                if cell is not None and cell.comment is not None and cell.comment.author == NOTE_AUTHOR:
                    cell.comment = None
                    cell.fill = NO_FILL
        for key in changes.values.columns:
            key_col = table.columns.get(key)
            if key_col is None:
                continue
            for row, value in changes.values[key].items():
                if _not_given(value):
                    continue  # NaN: this row has nothing for this column; None: clear the cell
                _set(ws.cell(int(cast(int, row)), key_col), value)  # the index: Excel rows
        # Register each fill once and set its index per cell: assigning a Fill object hashes it every time,
        # which made colouring 50,000 rows cost seconds.
        fill_ids = {name: self.wb._fills.add(PatternFill("solid", fgColor=rgb))  # type: ignore[attr-defined]  # private
                    for name, rgb in RESULT_FILLS.items() if rgb}
        for row, result in changes.results.items():
            fill_id = fill_ids.get(result)
            if fill_id is None:
                continue
            for col in system_cols:
                styled: Any = ws.cell(int(cast(int, row)), col)  # Any: _style is private, not in openpyxl's stubs
                styled._style = StyleArray(styled._style)
                styled._style.fillId = fill_id
        problem_fill = PatternFill("solid", fgColor=PROBLEM_FILL)
        notes, noted = table.marked_cells(changes.marks)
        for (row, col), messages in notes.items():
            cell = ws.cell(row, col)
            cell.fill = problem_fill
            if (row, col) in noted:  # the first rows with problems; every row's Message column tells
                cell.comment = Comment("\n".join(messages), NOTE_AUTHOR, width=300, height=120)
        if changes.append is not None and len(changes.append):
            self._append(ws, table, changes.append)

    def _append(self, ws: Worksheet, table: SheetTable, rows: pd.DataFrame) -> None:
        start = table.last_row + 1
        for i, record in enumerate(rows.to_dict("records")):
            for key, value in record.items():
                col = table.columns.get(cast(str, key))  # the columns of ``rows`` are keys
                if col is not None and not is_missing(value):
                    _set(ws.cell(start + i, col), value)
        end = start + len(rows) - 1
        table.last_row = end
        for t in ws.tables.values():
            min_col, min_row, max_col, max_row = range_bounds(t.ref)
            if min_row == table.header_row and max_row < end and not t.totalsRowCount:
                t.ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{end}"
                if t.autoFilter is not None:
                    t.autoFilter.ref = t.ref

    def write_reconciliation(self, report: Any) -> None:
        """Replace the Reconciliation sheet (detail, summaries, chart); nothing else is touched."""
        from qaas_excel.workbook.report_sheet import render_openpyxl

        render_openpyxl(self.wb, report)

    # -- saving ------------------------------------------------------------------------------------
    def check_writable(self, output: Path | None = None) -> None:
        check_writable(self.path, output)

    def save(self, output: Path | None = None) -> Path:
        """Rebuilds the whole file from openpyxl's model: for workbooks this program made (templates, tests).
        A user's workbook is saved by the in-place backend (``package_book``), which keeps what openpyxl drops."""
        from qaas_excel.workbook.xlsx_package import save_atomically

        return save_atomically(lambda tmp: self.wb.save(tmp), Path(output) if output else self.path)


def _not_given(value: Any) -> bool:
    """NaN/NaT/NA in a WriteBack means "nothing for this cell" (None clears it)."""
    return value is not None and is_missing(value)


def _set(cell: Any, value: Any) -> None:
    """Write a value; text that looks like a formula stays text (no formula injection)."""
    from datetime import datetime

    cell.value = value
    if is_formula_like(value):
        cell.data_type = "s"
    elif isinstance(value, datetime) and cell.number_format == "General":
        cell.number_format = DATETIME_FORMAT
