"""The Office add-in's backend: the table interface on a workbook that arrives as JSON and leaves as instructions.

The add-in (Office.js) reads the sheets a run needs (whole used ranges, a few ``context.sync()`` calls)
and sends them here; ``write_back`` does not touch any workbook but records what the add-in must do,
as a short list of whole-range instructions that it applies in a few batched ``context.sync()`` calls:

- ``{"op": "values", "sheet", "row", "col", "values": [[...]], "formats": [[...]]?}``: one rectangular block
  (1-based top-left cell); ``null`` leaves a cell as it is, ``""`` clears it (Office.js's own rules for
  2-D arrays); ``formats`` sets number formats the same way (dates travel as Excel serial numbers);
- ``{"op": "fill", "sheet", "color": "#RRGGBB" | "", "areas": ["A2:G9", ...]}``: one colour on many areas
  (``""`` clears the fill);
- ``{"op": "note", "sheet", "cell", "text"}`` and ``{"op": "delete_note", "sheet", "cell"}``;
- ``{"op": "hide_column", "sheet", "col"}`` and ``{"op": "replace_sheet", "sheet"}``.

Cells arrive as JSON scalars; a cell Excel formats as a date arrives as ``{"date": "2024-12-31T00:00:00"}``.
Our notes are recognised by their first line, as in the xlwings backend (Excel makes the signed-in user a
note's author). Nothing is saved here: ``save`` returns None and the push journal is settled only once the
add-in says it applied the instructions (see ``qaas_excel.office.runs``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

from qaas_excel.resources import Resource
from qaas_excel.values import is_formula_like, is_missing
from qaas_excel.workbook import columns as C
from qaas_excel.workbook import mapping
from qaas_excel.workbook.files import DATETIME_FORMAT
from qaas_excel.workbook.table import (
    PROBLEM_FILL,
    RESULT_FILLS,
    SYSTEM_HEADER_FILL,
    SheetTable,
    WorkbookError,
    WriteBack,
)

# Excel makes the signed-in user a note's author, so notes written here start with this line (as in xlwings_book).
NOTE_HEADING = "qaas-excel:"
EXCEL_EPOCH = datetime(1899, 12, 30)
MAX_ROWS = 200_000  # as the headless backend: more data rows than this is not a QaaS workbook
MAX_COLUMNS = 16_384  # Excel's own limit
MAX_AREAS_PER_FILL = 400  # Office.js takes a fill for many areas in one call; keep each address list short


def cell_address(row: int, col: int) -> str:
    return f"{get_column_letter(col)}{row}"


def area_address(first_row: int, last_row: int, first_col: int, last_col: int) -> str:
    top_left = cell_address(first_row, first_col)
    if first_row == last_row and first_col == last_col:
        return top_left
    return f"{top_left}:{cell_address(last_row, last_col)}"


def row_runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    """[2, 3, 4, 7, 8] -> [(2, 4), (7, 8)]: each run is one range."""
    out: list[tuple[int, int]] = []
    for _, group in groupby(enumerate(sorted(set(rows))), key=lambda p: p[1] - p[0]):
        items = [r for _, r in group]
        out.append((items[0], items[-1]))
    return out


def excel_serial(value: datetime | date) -> float:
    """A date or a (UTC) time as Excel's day number, which is what a cell holds."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return (value - EXCEL_EPOCH).total_seconds() / 86400
    return float((value - EXCEL_EPOCH.date()).days)


def json_cell(value: Any) -> Any:
    """A write-back value as the add-in writes it: None clears (""), "not given" (NaN) leaves the cell (null)."""
    if value is None:
        return ""
    if is_missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else str(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime | date):
        return excel_serial(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if is_formula_like(value):
        return "'" + value  # Excel's own "this is text" marker, as the xlwings backend writes it
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _is_date(value: Any) -> bool:
    return isinstance(value, datetime | date | pd.Timestamp) and not is_missing(value)


def read_cell(value: Any) -> Any:
    """A cell as the add-in sent it -> the value the other backends would read."""
    if isinstance(value, dict):
        text = value.get("date")
        if isinstance(text, str):
            try:
                return datetime.fromisoformat(text.removesuffix("Z"))
            except ValueError:
                return text
        raise ValueError("a cell is a number, text, true/false, null or {\"date\": ISO text}")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # Excel hands every number over as a double
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise ValueError("a cell is a number, text, true/false, null or {\"date\": ISO text}")


@dataclass
class SheetGrid:
    """One sheet's used range as the add-in read it."""

    top: int  # 1-based row of values[0]
    left: int  # 1-based column of values[0][0]
    values: list[list[Any]]
    notes: list[tuple[int, int]] = field(default_factory=list)  # cells that carry one of OUR notes
    other_notes: set[tuple[int, int]] = field(default_factory=set)  # cells with someone else's note

    @property
    def width(self) -> int:
        return self.left - 1 + max((len(r) for r in self.values), default=0)

    def grid(self) -> list[list[Any]]:
        """All values from A1, as the backends hand them to ``mapping``."""
        pad = [None] * (self.left - 1)
        out: list[list[Any]] = [[] for _ in range(self.top - 1)]
        out.extend(pad + [read_cell(v) for v in row] for row in self.values)
        return out


def _int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise WorkbookError(f"The add-in sent {what} = {value!r}: expected a whole number from {low} to {high}.")
    return value


def _grid(name: str, raw: Any) -> SheetGrid:
    if not isinstance(raw, dict):
        raise WorkbookError(f"The add-in sent sheet {name!r} in an unknown form.", sheet=name)
    values = raw.get("values")
    if not isinstance(values, list) or not all(isinstance(r, list) for r in values):
        raise WorkbookError(f"The add-in sent sheet {name!r} without a grid of values.", sheet=name)
    top = _int(raw.get("top", 1), "top", 1, 1_048_576)
    left = _int(raw.get("left", 1), "left", 1, MAX_COLUMNS)
    if len(values) > MAX_ROWS + 1000:
        raise WorkbookError(f"Sheet {name!r} has {len(values):,} rows; at most {MAX_ROWS:,} data rows are supported.",
                            sheet=name)
    if any(len(r) > MAX_COLUMNS for r in values):
        raise WorkbookError(f"Sheet {name!r} is wider than Excel allows.", sheet=name)
    try:
        for row in values:
            for v in row:
                read_cell(v)
    except ValueError as exc:
        raise WorkbookError(f"Sheet {name!r}: {exc}.", sheet=name) from None
    ours: list[tuple[int, int]] = []
    others: set[tuple[int, int]] = set()
    notes = raw.get("notes") or []
    if not isinstance(notes, list):
        raise WorkbookError(f"The add-in sent the notes of sheet {name!r} in an unknown form.", sheet=name)
    for note in notes:
        if not isinstance(note, dict):
            raise WorkbookError(f"The add-in sent a note of sheet {name!r} in an unknown form.", sheet=name)
        cell = (_int(note.get("row"), "a note's row", 1, 1_048_576), _int(note.get("col"), "a note's column", 1,
                                                                         MAX_COLUMNS))
        (ours.append(cell) if note.get("ours") is True else others.add(cell))
    return SheetGrid(top, left, values, ours, others)


class JsonBook:
    """Implements ``TableBook`` on the JSON the Office add-in sends; collects the write-back as instructions."""

    def __init__(self, name: str, sheets: list[str], grids: dict[str, SheetGrid]) -> None:
        self.name = name
        self._sheets = sheets
        self._grids = grids
        self.instructions: list[dict[str, Any]] = []

    @classmethod
    def from_payload(cls, payload: Any) -> JsonBook:
        """Check the add-in's JSON (any shape may arrive) and build the book; WorkbookError says what is wrong."""
        if not isinstance(payload, dict):
            raise WorkbookError("The add-in sent no workbook.")
        name = payload.get("name")
        sheets = payload.get("sheets")
        grids = payload.get("grids") or {}
        if not isinstance(name, str) or not name or len(name) > 1000:
            raise WorkbookError("The add-in sent a workbook without a name.")
        if not isinstance(sheets, list) or not all(isinstance(s, str) for s in sheets) or len(sheets) > 10_000:
            raise WorkbookError(f"The add-in sent {name} without its list of sheets.", path=name)
        if not isinstance(grids, dict):
            raise WorkbookError(f"The add-in sent the sheets of {name} in an unknown form.", path=name)
        unknown = [s for s in grids if s not in sheets]
        if unknown:
            raise WorkbookError(f"The add-in sent sheet {unknown[0]!r}, which {name} does not list.", path=name)
        return cls(name, list(sheets), {s: _grid(s, g) for s, g in grids.items()})

    @property
    def operations(self) -> int:
        """Instructions for the add-in: each is one range call in Excel (a note is one cell)."""
        return len(self.instructions)

    def _emit(self, op: str, sheet: str, **fields: Any) -> None:
        self.instructions.append({"op": op, "sheet": sheet, **fields})

    def sheet_names(self) -> list[str]:
        return [s for s in self._sheets if s != mapping.META_SHEET]

    def _sheet(self, name: str) -> SheetGrid:
        if name not in self._sheets:
            raise WorkbookError(f"{self.name} has no sheet '{name}' (sheets: {', '.join(self.sheet_names())}).",
                                path=self.name, sheet=name)
        grid = self._grids.get(name)
        if grid is None:
            raise WorkbookError(f"The add-in did not send sheet '{name}' of {self.name}; run the command again.",
                                path=self.name, sheet=name)
        return grid

    # -- reading -----------------------------------------------------------------------------------
    def read(self, resource: Resource, sheet: str | None = None) -> SheetTable:
        name = sheet or resource.sheet
        grid = self._sheet(name)
        meta = mapping.read_meta(self._grids[mapping.META_SHEET].grid()) if mapping.META_SHEET in self._grids else {}
        values = grid.grid()
        layout = mapping.locate(values, resource, source=self.name, sheet=name, meta=meta.get(name))
        data, last = mapping.rows_frame(values, layout)
        if len(data) > MAX_ROWS:
            raise WorkbookError(f"{self.name}, sheet '{name}' has {len(data):,} data rows; at most {MAX_ROWS:,} are "
                                "supported.", path=self.name, sheet=name)
        return SheetTable(self.name, name, resource, layout.header_row, layout.columns, layout.headers, data, last)

    # -- writing -----------------------------------------------------------------------------------
    def let_go(self) -> None:
        """Nothing to let go: this backend keeps no copy of a sheet's XML that writing could read again."""

    def write_back(self, table: SheetTable, changes: WriteBack) -> None:
        grid = self._sheet(table.sheet)
        self._ensure_system_columns(grid, table)
        touched = ({int(r) for r in changes.values.index} | {int(r) for r in changes.results.index}
                   | {int(p.row) for p in changes.marks if p.row is not None})
        self._clear_marks(grid, table, touched)
        self._write_values(table, changes.values)
        system_cols = sorted(c for k, c in table.columns.items() if k in C.SYSTEM_KEYS)
        if system_cols:
            colours: dict[str, list[int]] = defaultdict(list)
            for row, result in zip(changes.results.index, changes.results, strict=True):
                colour = RESULT_FILLS.get(result)
                if colour:
                    colours[colour].append(int(row))
            for colour, rows in colours.items():
                self._fill(table.sheet, "#" + colour,
                           [area_address(a, b, system_cols[0], system_cols[-1]) for a, b in row_runs(rows)])
        self._mark(grid, table, changes)
        if changes.append is not None and len(changes.append):
            self._append(table, changes.append)

    def _fill(self, sheet: str, color: str, areas: list[str]) -> None:
        for i in range(0, len(areas), MAX_AREAS_PER_FILL):
            self._emit("fill", sheet, color=color, areas=areas[i:i + MAX_AREAS_PER_FILL])

    def _ensure_system_columns(self, grid: SheetGrid, table: SheetTable) -> None:
        """A hand-made sheet gets the system block right of its last used column (grey header, fingerprint hidden)."""
        wanted = [c for c in C.columns_for(table.resource) if c.system and c.key not in table.columns]
        if not wanted:
            return
        first = grid.width + 1
        self._emit("values", table.sheet, row=table.header_row, col=first, values=[[c.header for c in wanted]])
        self._fill(table.sheet, "#" + SYSTEM_HEADER_FILL,
                   [area_address(table.header_row, table.header_row, first, first + len(wanted) - 1)])
        for i, col in enumerate(wanted):
            table.columns[col.key] = first + i
            table.headers[col.key] = col.header
            if col.hidden:
                self._emit("hide_column", table.sheet, col=first + i)

    def _clear_marks(self, grid: SheetGrid, table: SheetTable, touched: set[int]) -> None:
        """Our notes (and their fill) in the table's cells of touched rows go, as in the other backends."""
        table_cols = set(table.columns.values())
        cleared: dict[int, list[int]] = defaultdict(list)
        kept: list[tuple[int, int]] = []
        for row, col in grid.notes:
            if row in touched and col in table_cols:
                self._emit("delete_note", table.sheet, cell=cell_address(row, col))
                cleared[col].append(row)
            else:
                kept.append((row, col))
        grid.notes = kept
        areas = [area_address(a, b, col, col) for col, rows in sorted(cleared.items()) for a, b in row_runs(rows)]
        if areas:
            self._fill(table.sheet, "", areas)

    def _write_values(self, table: SheetTable, values: pd.DataFrame) -> None:
        """One rectangular block per run of consecutive rows, over the columns written; null where nothing is given."""
        keys = {table.columns[k]: k for k in values.columns if k in table.columns}
        if not keys or not len(values):
            return
        order = sorted(keys)
        left, right = order[0], order[-1]
        formats = {c.key: c.number_format for c in C.columns_for(table.resource)}
        frame = values[[keys[c] for c in order]]
        lines = {int(row): line for row, line in zip(frame.index, frame.itertuples(index=False, name=None),
                                                      strict=True)}
        for first, last in row_runs(lines):
            block: list[list[Any]] = []
            number_formats: list[list[Any]] = []
            dated = False
            for row in range(first, last + 1):
                cells: list[Any] = [None] * (right - left + 1)
                fmts: list[Any] = [None] * (right - left + 1)
                for col, value in zip(order, lines[row], strict=True):
                    cells[col - left] = json_cell(value)
                    if _is_date(value):
                        fmt = formats.get(keys[col], "General")
                        fmts[col - left] = fmt if fmt != "General" else DATETIME_FORMAT
                        dated = True
                block.append(cells)
                number_formats.append(fmts)
            if all(v is None for line in block for v in line):
                continue  # nothing to change in this run (only_changes left every cell out)
            extra = {"formats": number_formats} if dated else {}
            self._emit("values", table.sheet, row=first, col=left, values=block, **extra)

    def _mark(self, grid: SheetGrid, table: SheetTable, changes: WriteBack) -> None:
        """PROBLEM_FILL on each cell a problem was found in, and our note unless someone else's is there."""
        messages, noted = table.marked_cells(changes.marks)
        by_column: dict[int, list[int]] = defaultdict(list)
        for row, col in messages:
            by_column[col].append(row)
        areas = [area_address(a, b, col, col) for col, rows in sorted(by_column.items()) for a, b in row_runs(rows)]
        if areas:
            self._fill(table.sheet, "#" + PROBLEM_FILL, areas)
        for (row, col), lines in messages.items():
            if (row, col) not in noted or (row, col) in grid.other_notes:
                continue  # beyond the first rows with problems, or the user's own note: the fill and Message tell
            self._emit("note", table.sheet, cell=cell_address(row, col), text="\n".join([NOTE_HEADING, *lines]))

    def _append(self, table: SheetTable, rows: pd.DataFrame) -> None:
        first_col, last_col = min(table.columns.values()), max(table.columns.values())
        block = []
        for record in rows.to_dict("records"):
            line: list[Any] = [None] * (last_col - first_col + 1)
            for key, value in record.items():
                if key in table.columns:
                    line[table.columns[key] - first_col] = json_cell(value)
            block.append(line)
        self._emit("values", table.sheet, row=table.last_row + 1, col=first_col, values=block)
        table.last_row += len(block)

    def write_reconciliation(self, report: Any) -> None:
        """The Reconciliation sheet, replaced: heading and every block in one write, with their number formats
        (the chart is the headless backend's; in Excel one can be inserted from the totals)."""
        from qaas_excel.workbook.report_sheet import KWH_FORMAT, MWH_FORMAT, SHEET, blocks

        heading, parts = blocks(report)
        lines: list[tuple[list[Any], dict[int, str]]] = [(list(line), {}) for line in heading]
        lines[-1] = (lines[-1][0], {1: KWH_FORMAT, 3: KWH_FORMAT, 5: KWH_FORMAT, 7: MWH_FORMAT})
        lines.append(([], {}))
        for block in parts:
            lines += [([block.title], {}), (list(block.headers), {})]
            lines += [(list(row), block.formats) for row in block.rows]
            lines.append(([], {}))
        width = max(len(line) for line, _ in lines)
        cells = [[json_cell(v) if v is not None else None for v in line] + [None] * (width - len(line))
                 for line, _ in lines]
        formats = [[fmts.get(j) if j < len(line) and line[j] is not None else None for j in range(width)]
                   for line, fmts in lines]
        self._emit("replace_sheet", SHEET)
        self._emit("values", SHEET, row=1, col=1, values=cells, formats=formats)

    # -- saving ------------------------------------------------------------------------------------
    def check_writable(self, output: Path | None = None) -> None:
        """The add-in writes into the open workbook: nothing to check here."""

    def save(self, output: Path | None = None) -> Path | None:
        """Nothing is saved here: the add-in applies the instructions in Excel."""
        return None
