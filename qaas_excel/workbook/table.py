"""The small interface every workbook backend implements (openpyxl headless, xlwings in Excel).

Data flows one way: ``read`` gives the rows of one sheet as a DataFrame of raw cell
values keyed by column meaning; the pipeline decides; ``write_back`` puts the outcome
into the same rows; ``save`` makes it durable. Backends read and write whole ranges.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Protocol

import pandas as pd

from qaas_excel.problems import Problem
from qaas_excel.resources import Resource
from qaas_excel.results import Result

# Result of a row -> fill colour (RGB hex) of its system block; None leaves the fill as it is.
RESULT_FILLS: dict[str, str | None] = {
    Result.CREATED: "C6EFCE",  # green
    Result.UPDATED: "C6EFCE",
    Result.ADOPTED: "C6EFCE",
    Result.UNCHANGED: "EDEDED",  # light grey
    Result.PULLED: "DDEBF7",  # light blue
    Result.VALID: "DDEBF7",
    Result.LOCKED: "FFEB9C",  # amber
    Result.CONFLICT: "F8CBAD",  # orange
    Result.MISMATCH: "FFC7CE",  # red
    Result.DUPLICATE: "FFC7CE",
    Result.INVALID: "FFC7CE",  # red
    Result.FAILED: "FFC7CE",
}
# Fill and note of a cell a problem was found in.
PROBLEM_FILL = "FFC7CE"
# Headers of the system block a run adds to a hand-made sheet (grey, as in the template).
SYSTEM_HEADER_FILL = "7F7F7F"
# Rows of one sheet whose problem cells get a note (the first ones, by row number). Every problem cell is filled and
# every row's Message column says what is wrong; beyond this, notes (each a drawn shape) make Excel slow to open,
# scroll and save, and a sheet of 200,000 invalid rows would carry 400,000 of them.
MAX_NOTED_ROWS = 1_000
_NO_MESSAGES: tuple[str, ...] = ()  # a marked cell without a note (``marked_cells``)


class WorkbookError(Exception):
    """The workbook cannot be read or written: names the file, sheet, row and column where known."""

    def __init__(self, message: str, *, path: str | None = None, sheet: str | None = None,
                 row: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.path, self.sheet, self.row, self.column = path, sheet, row, column


@dataclass
class SheetTable:
    """The rows of one data sheet, as read."""

    source: str  # file name (or book name in Excel), for messages
    sheet: str
    resource: Resource
    header_row: int  # Excel row number of the header
    columns: dict[str, int]  # key (API field or system key) -> 1-based sheet column
    headers: dict[str, str]  # key -> header text as the sheet spells it
    # Index: Excel row numbers of the non-empty data rows, in sheet order.
    # Columns: the keys found; values: the cells' raw (cached) values, None where empty.
    data: pd.DataFrame
    last_row: int  # last row of the table/used range (or of a table's totals row); new rows go below it
    # The workbook counts dates from 1904 (Excel for Mac's old default): date serials are read and written so.
    date1904: bool = False
    # Problems found while reading, before any rule: a merged range over a data row's columns, a formula Excel
    # has not calculated yet. Each names its row, field and cell.
    problems: list[Problem] = field(default_factory=list)
    # (Excel row, key) of the cells those problems make unreadable: validation's own findings there give way.
    unusable: set[tuple[int, str]] = field(default_factory=set)
    # Data rows hidden by a filter or by hand: read and processed like every other row, counted in the summary.
    hidden_rows: frozenset[int] = frozenset()
    # Headers that look like ours ("ID", "Status", "Result", "Message") but are the user's own columns:
    # header text -> column. They are never read or written; the run adds its own, unmistakable, column.
    theirs: dict[str, int] = field(default_factory=dict)

    def header(self, key: str) -> str:
        return self.headers.get(key, key)

    def marked_cells(self, marks: list[Problem]) -> tuple[dict[tuple[int, int], Sequence[str]], set[tuple[int, int]]]:
        """What every backend marks: (cell -> the messages of its problems, each once, for the cells that get a note;
        none for the others, which get the fill only) and the cells that get a note: those of problems in
        the first ``MAX_NOTED_ROWS`` rows with problems. At 400,000 problems, a list of messages for every cell held
        some 40 MiB that no note used."""
        cells = [self.mark_cell(p) for p in marks]
        rows: dict[tuple[int, int], int] = {}  # cell -> the first problem row it is marked for
        for p, cell in zip(marks, cells, strict=True):
            if cell is not None:
                row = int(p.row) if p.row is not None else cell[0]
                first = rows.get(cell)
                if first is None or row < first:
                    rows[cell] = row
        noted_rows = set(sorted(set(rows.values()))[:MAX_NOTED_ROWS])
        noted = {cell for cell, row in rows.items() if row in noted_rows}
        messages: dict[tuple[int, int], list[str]] = {}
        for p, cell in zip(marks, cells, strict=True):
            if cell in noted:
                lines = messages.setdefault(cell, [])
                if p.message not in lines:
                    lines.append(p.message)
        return {cell: messages.get(cell, _NO_MESSAGES) for cell in rows}, noted

    def mark_cell(self, problem: Problem) -> tuple[int, int] | None:
        """(row, column) a problem's fill and note go on: its ``cell`` if it names one (a merged range's first
        cell), else the field's cell in its row; None when it belongs to no cell of this sheet."""
        if problem.cell:
            return cell_position(problem.cell)
        col = self.columns.get(problem.field or "")
        if col is None or problem.row is None:
            return None
        return int(problem.row), col


@cache  # asked for every problem of a run; openpyxl is imported on first use only
def column_letter(col: int) -> str:
    """11 -> "K"."""
    from openpyxl.utils import get_column_letter

    return get_column_letter(col)


def cell_name(row: int, col: int) -> str:
    """(2, 11) -> "K2"."""
    return f"{column_letter(col)}{row}"


def range_bounds(ref: str) -> tuple[int, int, int, int]:
    """"A1:R25" -> (1, 1, 18, 25): min column, min row, max column, max row."""
    from openpyxl.utils.cell import range_boundaries

    min_col, min_row, max_col, max_row = range_boundaries(ref)
    if min_col is None or min_row is None or max_col is None or max_row is None:
        raise WorkbookError(f"{ref!r} is not a range of cells.")
    return min_col, min_row, max_col, max_row


_CELL_NAME = re.compile(r"([A-Z]{1,3})([1-9]\d{0,6})")


def cell_position(name: str) -> tuple[int, int]:
    """"K2" -> (2, 11)."""
    m = _CELL_NAME.fullmatch(name)  # the names problems carry, as ``cell_name`` makes them (one per problem)
    if m is not None:
        return int(m[2]), _column_index(m[1])
    from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

    letters, row = coordinate_from_string(name)  # anything else as openpyxl reads it (and refuses it)
    return row, column_index_from_string(letters)


@cache
def _column_index(letters: str) -> int:
    from openpyxl.utils.cell import column_index_from_string

    return column_index_from_string(letters)


@dataclass
class WriteBack:
    """What to put into a sheet after a run; every row in ``values`` is one the run touched."""

    # Index: Excel rows; columns: keys to set (system keys, or data keys for pulled values).
    # None clears a cell; NaN (a row without a value for that column) leaves it as it is.
    values: pd.DataFrame
    # Excel row -> result name (see RESULT_FILLS), for the row colour.
    results: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    # Cells to mark with PROBLEM_FILL and a note; marks from earlier runs on touched rows are cleared.
    marks: list[Problem] = field(default_factory=list)
    # Records to append below the table (``pull --add-missing``): columns are keys.
    append: pd.DataFrame | None = None


class TableBook(Protocol):
    """One open workbook."""

    name: str  # file or book name, for messages

    def sheet_names(self) -> list[str]: ...

    def read(self, resource: Resource, sheet: str | None = None) -> SheetTable: ...

    def write_back(self, table: SheetTable, changes: WriteBack) -> None: ...

    def let_go(self) -> None:
        """Let go of what reading kept that writing can read again (a push does, before it plans)."""

    def save(self, output: Path | None = None) -> Path | None: ...
