"""The Excel backend: the same table interface on any ``xw.Book`` (desktop, or the remote engine in tests).

Whole ranges only: a sheet is read with one call; each written column is one call per run of
consecutive rows; row colours and problem fills one call per run of equal colour. A push of
10,000 rows therefore costs a few dozen workbook operations, not one per cell; ``operations``
counts them (notes are the exception: Excel adds them one cell at a time).

Text that Excel would take for a formula (= + - @ at the start) is written with a leading
apostrophe, Excel's own "this is text" marker. This module never imports ``xlwings.pro``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import xlwings as xw

from qaas_excel.resources import Resource
from qaas_excel.values import NOTE_AUTHOR, is_formula_like, is_missing
from qaas_excel.workbook import columns as C
from qaas_excel.workbook import mapping
from qaas_excel.workbook.table import (
    PROBLEM_FILL,
    RESULT_FILLS,
    SYSTEM_HEADER_FILL,
    SheetTable,
    WorkbookError,
    WriteBack,
)

log = logging.getLogger(__name__)

# Excel makes the signed-in user a note's author, so notes written here start with this line instead.
NOTE_HEADING = "qaas-excel:"
# Keyword arguments of Worksheet.Protect that Worksheet.Protection reports (Windows COM).
_PROTECTION_FLAGS = (
    "AllowFormattingCells", "AllowFormattingColumns", "AllowFormattingRows", "AllowInsertingColumns",
    "AllowInsertingRows", "AllowInsertingHyperlinks", "AllowDeletingColumns", "AllowDeletingRows",
    "AllowSorting", "AllowFiltering", "AllowUsingPivotTables",
)
_XL_FORMULAS, _XL_PART, _XL_BY_ROWS, _XL_PREVIOUS = -4123, 2, 1, 2  # Excel constants for Range.Find


def row_runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    """[2, 3, 4, 7, 8] -> [(2, 4), (7, 8)]: each run is written with one call."""
    out: list[tuple[int, int]] = []
    for _, group in groupby(enumerate(sorted(set(rows))), key=lambda p: p[1] - p[0]):
        items = [r for _, r in group]
        out.append((items[0], items[-1]))
    return out


def _not_given(value: Any) -> bool:
    """NaN/NaT/NA in a WriteBack means "nothing for this cell": leave it as it is (None clears it)."""
    return value is not None and is_missing(value)


def excel_value(value: Any) -> Any:
    """A Python value as Excel should receive it."""
    if value is None or _not_given(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else str(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)  # the sheet's time columns are UTC
    if is_formula_like(value):
        return "'" + value
    return value


def python_value(value: Any) -> Any:
    """A cell value as the headless backend would read it: Excel hands every number over as a float."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def note_text(messages: Iterable[str]) -> str:
    return "\n".join([NOTE_HEADING, *messages])


class XlwingsBook:
    """Implements ``TableBook`` on an open ``xw.Book``."""

    def __init__(self, book: xw.Book) -> None:
        self.book = book
        self.name = book.name
        # Range operations sent to the workbook: locating, reading or writing values, fills and notes.
        self.operations = 0
        module = type(book.impl).__module__
        self.engine = "remote" if "_xlremote" in module else "windows" if "_xlwindows" in module else (
            "mac" if "_xlmac" in module else module)

    @property
    def is_remote(self) -> bool:
        return self.engine == "remote"

    def _op(self, n: int = 1) -> None:
        self.operations += n

    def _sheet_names(self) -> list[str]:
        return [s.name for s in self.book.sheets]

    def sheet_names(self) -> list[str]:
        return [name for name in self._sheet_names() if name != mapping.META_SHEET]

    # -- reading -----------------------------------------------------------------------------------
    def _grid(self, sheet: xw.Sheet) -> list[list[Any]]:
        """All values from A1 to the last row with content, in one read (errors such as #REF! as text)."""
        used = sheet.used_range
        self._op()
        top, left = used.row, used.column
        rows, cols = used.shape
        last = min(top + rows - 1, self._last_row_with_content(sheet, top + rows - 1))
        if last < top:
            return [[]]
        values = sheet.range((top, left), (last, left + cols - 1)).options(ndim=2, err_to_str=True).value or [[]]
        self._op()
        grid: list[list[Any]] = [[None] * (left - 1 + cols) for _ in range(top - 1)]
        grid.extend([None] * (left - 1) + [python_value(v) for v in row] for row in values)
        return grid

    def _last_row_with_content(self, sheet: xw.Sheet, used_last: int) -> int:
        """Formatting alone (whole columns formatted) makes the used range a million rows tall; Find does not."""
        if self.engine != "windows":
            return used_last
        try:
            found = sheet.api.Cells.Find(What="*", After=sheet.api.Cells(1, 1), LookIn=_XL_FORMULAS, LookAt=_XL_PART,
                                         SearchOrder=_XL_BY_ROWS, SearchDirection=_XL_PREVIOUS)
            self._op()
            return found.Row if found is not None else 0
        except Exception:  # noqa: BLE001 - the used range is still right, only slower to read
            log.debug("Range.Find failed; reading the whole used range", exc_info=True)
            return used_last

    def read(self, resource: Resource, sheet: str | None = None) -> SheetTable:
        name = sheet or resource.sheet
        names = self._sheet_names()
        if name not in names:
            raise WorkbookError(f"{self.name} has no sheet '{name}' (sheets: {', '.join(self.sheet_names())}).",
                                path=self.name, sheet=name)
        meta = mapping.read_meta(self._grid(self.book.sheets[mapping.META_SHEET])) \
            if mapping.META_SHEET in names else {}
        ws = self.book.sheets[name]
        values = self._grid(ws)
        layout = mapping.locate(values, resource, source=self.name, sheet=name, meta=meta.get(name))
        totals = self._totals_rows(ws, layout)
        data, last = mapping.rows_frame(values, layout, skip=totals)
        first_data = layout.header_row + 1
        return mapping.sheet_table(self.name, name, resource, layout, data, last,
                                   merged=self._merged(ws, first_data, last, layout),
                                   hidden=self._hidden_rows(ws, first_data, last, layout),
                                   date1904=self.date1904)

    @property
    def date1904(self) -> bool:
        """The book counts dates from 1904. The remote engine's JSON does not say (its Office.js client converts
        date-formatted cells with the 1900 epoch itself): books there are read in the 1900 system."""
        try:
            if self.engine == "windows":
                return bool(self.book.api.Date1904)
            if self.engine == "mac":
                return bool(self.book.api.date_1904.get())
        except Exception:  # noqa: BLE001 - COM/AppleScript errors have no common type
            log.debug("cannot tell the date system of %s", self.name, exc_info=True)
        return False

    def _totals_rows(self, ws: xw.Sheet, layout: mapping.Layout) -> set[int]:
        """Rows of a table's totals row under our header (ListObject.ShowTotals; the remote engine's table list)."""
        out: set[int] = set()
        try:
            tables = list(ws.tables)
            self._op()
            for t in tables:
                if not t.show_totals:
                    continue
                area = t.totals_row_range
                self._op()
                if area is not None and area.row > layout.header_row and any(
                        area.column <= c <= area.last_cell.column for c in layout.columns.values()):
                    out.update(range(area.row, area.last_cell.row + 1))
        except (AttributeError, NotImplementedError, KeyError):
            log.debug("this engine cannot list tables; no totals row is known")
        return out

    def _hidden_rows(self, ws: xw.Sheet, first: int, last: int, layout: mapping.Layout) -> set[int]:
        """Rows hidden by a filter or by hand (Windows: the visible cells' areas of one column; the remote engine
        and macOS cannot tell synchronously: none are reported there)."""
        if self.engine != "windows" or last < first:
            return set()
        try:
            column = ws.range((first, min(layout.columns.values())), (last, min(layout.columns.values()))).api
            self._op()
            if column.EntireRow.Hidden is False:
                return set()
            hidden = set(range(first, last + 1))
            try:
                areas = column.SpecialCells(12).Areas  # xlCellTypeVisible
            except Exception:  # noqa: BLE001 - "no cells were found": every row is hidden
                return hidden
            for area in areas:
                self._op()
                hidden.difference_update(range(area.Row, area.Row + area.Rows.Count))
            return hidden
        except Exception:  # noqa: BLE001 - reading goes on; the summary then names no hidden rows
            log.debug("cannot tell hidden rows", exc_info=True)
            return set()

    def _merged(self, ws: xw.Sheet, first: int, last: int, layout: mapping.Layout) -> list[mapping.Merge]:
        """Merged ranges over the data rows (Windows: Excel's Find by format, one call per merged area). The
        remote engine cannot tell: there a cell a merge hides reads as empty, as everywhere, so a merged amount is
        never counted twice; it is then "required" in the rows it hides rather than named as a merge."""
        if self.engine != "windows" or last < first:
            return []
        try:
            left, right = min(layout.columns.values()), max(layout.columns.values())
            area = ws.range((first, left), (last, right)).api
            self._op()
            if area.MergeCells is False:
                return []
            app = self.book.app.api
            app.FindFormat.Clear()
            app.FindFormat.MergeCells = True
            out: list[mapping.Merge] = []
            seen: set[str] = set()
            after = area.Cells(area.Rows.Count, area.Columns.Count)
            for _ in range(10_000):
                found = area.Find(What="", After=after, LookIn=_XL_FORMULAS, LookAt=_XL_PART,
                                  SearchOrder=_XL_BY_ROWS, SearchDirection=1, SearchFormat=True)
                self._op()
                if found is None:
                    break
                merge = found.MergeArea
                if merge.Address in seen:
                    break
                seen.add(merge.Address)
                out.append((merge.Row, merge.Column, merge.Row + merge.Rows.Count - 1,
                            merge.Column + merge.Columns.Count - 1))
                after = merge.Cells(merge.Rows.Count, merge.Columns.Count)
            app.FindFormat.Clear()
            return out
        except Exception:  # noqa: BLE001 - then hidden cells read as empty, which is safe
            log.debug("cannot list merged ranges", exc_info=True)
            return []

    # -- writing -----------------------------------------------------------------------------------
    def let_go(self) -> None:
        """Nothing to let go: this backend keeps no copy of a sheet's XML that writing could read again."""

    def write_back(self, table: SheetTable, changes: WriteBack) -> None:
        ws = self.book.sheets[table.sheet]
        protection = self._unprotect(ws)
        try:
            self._write(ws, table, changes)
        finally:
            if protection is not None:
                self._protect(ws, protection)

    def _ensure_system_columns(self, ws: xw.Sheet, table: SheetTable) -> None:
        """A hand-made sheet without the system block gets it right of its last used column: the headers in one
        write, grey in one more, the fingerprint column hidden (as the headless backend does)."""
        wanted = [c for c in C.columns_for(table.resource) if c.system and c.key not in table.columns]
        if not wanted:
            return
        used = ws.used_range
        self._op()
        first = used.column + used.shape[1]
        header = ws.range((table.header_row, first), (table.header_row, first + len(wanted) - 1))
        header.value = [[C.added_header(c, table.theirs) for c in wanted]]
        header.color = "#" + SYSTEM_HEADER_FILL
        self._op(2)
        for i, col in enumerate(wanted):
            table.columns[col.key] = first + i
            table.headers[col.key] = C.added_header(col, table.theirs)
            if col.hidden:
                try:
                    ws.range((table.header_row, first + i)).api.EntireColumn.Hidden = True
                    self._op()
                except (AttributeError, NotImplementedError):  # the remote engine has no column visibility
                    log.debug("cannot hide the fingerprint column on this engine")

    def _write(self, ws: xw.Sheet, table: SheetTable, changes: WriteBack) -> None:
        self._ensure_system_columns(ws, table)
        touched = ({int(r) for r in changes.values.index} | {int(r) for r in changes.results.index}
                   | {int(p.row) for p in changes.marks if p.row is not None})
        system_cols = sorted(c for k, c in table.columns.items() if k in C.SYSTEM_KEYS)
        noted = self._clear_marks(ws, table, touched)
        self._write_values(ws, table, changes.values)
        if system_cols:
            colours: dict[str, list[int]] = defaultdict(list)
            for row, result in changes.results.items():
                fill = RESULT_FILLS.get(result)
                if fill:
                    colours[fill].append(int(cast(int, row)))  # the index: Excel rows
            for colour, rows in colours.items():
                for first, last in row_runs(rows):
                    ws.range((first, system_cols[0]), (last, system_cols[-1])).color = "#" + colour
                    self._op()
        self._mark(ws, table, changes, noted)
        if changes.append is not None and len(changes.append):
            self._append(ws, table, changes.append)

    def _write_values(self, ws: xw.Sheet, table: SheetTable, values: pd.DataFrame) -> None:
        """One 2-D write per block of consecutive rows and adjacent columns that all carry a value."""
        keys = {table.columns[k]: k for k in values.columns if k in table.columns}
        order = sorted(keys)
        if not order:
            return
        cells: dict[int, dict[int, Any]] = {}
        for row, line in zip(values.index, values[[keys[c] for c in order]].itertuples(index=False, name=None),
                             strict=True):
            cells[int(row)] = {c: v for c, v in zip(order, line, strict=True) if not _not_given(v)}
        ordered = sorted(cells)
        # Rows group while they are consecutive and give values for the same columns.
        for (_, given), group in groupby(enumerate(ordered), key=lambda p: (p[1] - p[0], tuple(cells[p[1]]))):
            rows = [r for _, r in group]
            for left, right in row_runs(given):
                ws.range((rows[0], left), (rows[-1], right)).value = [
                    [excel_value(cells[r][c]) for c in range(left, right + 1)] for r in rows]
                self._op()

    def _clear_marks(self, ws: xw.Sheet, table: SheetTable, touched: set[int]) -> set[tuple[int, int]]:
        """Remove our notes (and their fill) from the table's cells in touched rows, as the headless backend
        does; returns the cells that still carry a note (the user's own)."""
        table_cols = set(table.columns.values())
        try:
            notes = list(ws.notes)
        except (AttributeError, NotImplementedError):
            log.debug("this engine cannot list notes; earlier marks stay")
            return set()
        self._op()
        remaining: set[tuple[int, int]] = set()
        cleared: dict[int, list[int]] = defaultdict(list)
        for note in notes:
            row, col = self._note_cell(note)
            self._op()
            if row in touched and col in table_cols and self._is_ours(note):
                note.delete()
                self._op()
                cleared[col].append(row)
            else:
                remaining.add((row, col))
        for col, rows in cleared.items():
            for first, last in row_runs(rows):
                ws.range((first, col), (last, col)).color = None
                self._op()
        return remaining

    @staticmethod
    def _note_cell(note: xw.main.Note) -> tuple[int, int]:
        try:
            cell = note.location
        except NotImplementedError:  # the remote engine (tests) knows a note only by its range
            cell = xw.Range(impl=note.impl.range)
        return cell.row, cell.column

    @staticmethod
    def _is_ours(note: xw.main.Note) -> bool:
        """Written by the headless backend (its author) or by this one (its heading line)."""
        try:
            if note.author == NOTE_AUTHOR:
                return True
        except (AttributeError, NotImplementedError):  # Note.author is new in xlwings 0.37.5
            pass
        try:
            return note.text.startswith(NOTE_HEADING)
        except NotImplementedError:  # the remote engine (tests) sends no note text: every mark there is ours
            return True

    def _mark(self, ws: xw.Sheet, table: SheetTable, changes: WriteBack, noted: set[tuple[int, int]]) -> None:
        """PROBLEM_FILL on each cell a problem was found in (one call per run in a column), and our note
        unless the user has one there."""
        messages, with_note = table.marked_cells(changes.marks)
        by_column: dict[int, list[int]] = defaultdict(list)
        for row, col in messages:
            by_column[col].append(row)
        for col, rows in by_column.items():
            for first, last in row_runs(rows):
                ws.range((first, col), (last, col)).color = "#" + PROBLEM_FILL
                self._op()
        for (row, col), lines in messages.items():
            if (row, col) not in with_note or (row, col) in noted:
                continue  # beyond the first rows with problems, or the user's own note: the fill and Message tell
            try:
                ws.range((row, col)).add_note(note_text(lines))
                self._op()
            except ValueError:
                log.debug("cell %s:%s already has a note (xlwings without Sheet.notes); kept", row, col)
            except NotImplementedError:
                log.debug("notes are not supported by this engine")
                return

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
        end = start + len(block) - 1
        ws.range((start, first_col), (end, last_col)).value = block
        self._op()
        table.last_row = end
        self._grow_tables(ws, table.header_row, end)

    def _grow_tables(self, ws: xw.Sheet, header_row: int, end: int) -> None:
        """An Excel table headed on our header row is extended over the appended rows (Excel does not do
        that for values written by a program; its filter grows with it). A table with a totals row keeps its
        rows: the appended ones are below its totals row."""
        try:
            for t in ws.tables:
                area = t.range
                self._op()
                if area.row == header_row and area.last_cell.row < end and not t.show_totals:
                    t.resize(ws.range((header_row, area.column), (end, area.last_cell.column)))
                    self._op()
        except (AttributeError, NotImplementedError):
            log.debug("this engine cannot resize tables")

    def write_reconciliation(self, report: Any) -> None:
        """The Reconciliation sheet, replaced: heading and every block as whole-range writes."""
        from qaas_excel.workbook.report_sheet import SHEET, blocks

        if SHEET in self._sheet_names():
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

    # -- protection (desktop only: the remote engine has none) -------------------------------------
    def _unprotect(self, ws: xw.Sheet) -> dict[str, Any] | None:
        """Lift the sheet's protection for the write; returns its settings, or None if it was not protected."""
        if self.engine == "windows":
            api = ws.api
            if not api.ProtectContents:
                return None
            settings = {flag: getattr(api.Protection, flag) for flag in _PROTECTION_FLAGS}
            settings.update(DrawingObjects=api.ProtectDrawingObjects, Scenarios=api.ProtectScenarios)
            self._lift(ws, api.Unprotect)
            return settings
        if self.engine == "mac":
            try:  # Excel's AppleScript dictionary; not verified on a Mac here
                if not ws.api.protect_contents.get():
                    return None
            except Exception:  # noqa: BLE001
                log.debug("could not query sheet protection on this Mac", exc_info=True)
                return None
            self._lift(ws, ws.api.unprotect)
            return {}
        return None

    def _lift(self, ws: xw.Sheet, unprotect: Any) -> None:
        try:
            unprotect()
        except Exception:  # noqa: BLE001 - COM/AppleScript errors have no common type
            raise WorkbookError(f"{self.name}, sheet '{ws.name}' is protected with a password. Unprotect it "
                                "(Review > Unprotect Sheet) and try again.", path=self.name, sheet=ws.name) from None

    def _protect(self, ws: xw.Sheet, settings: dict[str, Any]) -> None:
        try:
            if self.engine == "windows":
                ws.api.Protect(Contents=True, **settings)
            else:
                ws.api.protect_worksheet()
        except Exception:  # noqa: BLE001 - the data is written; only the guard against typing is missing
            log.warning("could not protect sheet %s again", ws.name)

    # -- saving ------------------------------------------------------------------------------------
    def save(self, output: Path | None = None) -> Path | None:
        """Desktop: save the workbook where it lives (or to ``output``). Returns None if nothing was saved:
        the remote engine has nothing to save, and a new workbook Excel has never saved is left to the user."""
        if self.is_remote:
            return None
        if output is not None:
            self.book.save(str(output))
            return Path(output)
        fullname = self.book.fullname
        if "://" not in fullname and not any(sep in fullname for sep in ("/", "\\")):
            return None  # "Book1": never saved, so there is no file to save to
        self.book.save()  # also for OneDrive/SharePoint books, whose full name is a URL
        return Path(fullname)

