"""The headless backend: a workbook file edited in place, touching only the cells a run owns.

Reading streams each sheet's cells out of its XML (cached values of formulas, dates by their format),
keeping only non-empty cells, so a stray cell at A1048576 costs nothing. Writing splices into the
package exactly what a run owns: the system columns' cells, the fill of marked input cells and the
notes it wrote, new cell formats appended to the style sheet, the table's range when rows are added,
and the parts a new note or the Reconciliation sheet needs. Every other part of the file, and every
other cell of a touched sheet, is saved byte for byte as it was (see ``xlsx_package``).

openpyxl is used only to make new workbooks (templates, the Reconciliation sheet's parts) and as an
independent reader in tests; an existing workbook is never rebuilt.
"""

from __future__ import annotations

import mmap
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from openpyxl.utils.cell import get_column_letter

from qaas_excel.gcpause import collector_paused, give_back_freed_memory
from qaas_excel.resources import Resource
from qaas_excel.values import NOTE_AUTHOR, converted_once, is_missing
from qaas_excel.workbook import columns as C
from qaas_excel.workbook import mapping
from qaas_excel.workbook.files import DATETIME_FORMAT, check_file, check_writable
from qaas_excel.workbook.table import (
    PROBLEM_FILL,
    RESULT_FILLS,
    SYSTEM_HEADER_FILL,
    SheetTable,
    WorkbookError,
    WriteBack,
    range_bounds,
)
from qaas_excel.workbook.xlsx_notes import Notes
from qaas_excel.workbook.xlsx_package import OFFICE_REL, Package, save_atomically
from qaas_excel.workbook.xlsx_sheet import CellOp, Sheet, read_shared_strings
from qaas_excel.workbook.xlsx_styles import Styles, set_attr

MAX_DATA_ROWS = 200_000  # rows of one sheet a run accepts (stated in the README)
NOTE_HEADING = "qaas-excel:"


class PackageBook:
    """One workbook file; implements ``TableBook``."""

    def __init__(self, path: Path, pkg: Package) -> None:
        self.path = path
        self.name = path.name
        self.pkg = pkg
        self._workbook_part = self._find_workbook_part()
        self._sheets = self._sheet_parts()
        self._shared: list[str] | None = None
        self._styles: Styles | None = None
        self._styles_part = self._part_of(self._workbook_part, "/styles")
        self._date1904 = bool(re.search(rb"<(?:\w+:)?workbookPr\b[^>]*\bdate1904=\"(?:1|true)\"",
                                        pkg.read(self._workbook_part)))
        self._drop_calc_chain = False
        # worksheet part -> whether each of its cells starts with its reference, as found when it was read from the
        # archive (``Sheet.refs_everywhere``); asked again only of a part the run wrote since
        self._refs_of: dict[str, bool] = {}

    @classmethod
    def open(cls, path: Path | str) -> PackageBook:
        path = Path(path)
        check_file(path)
        with naming(path):
            return cls(path, Package.open(path))

    # -- the workbook's structure ----------------------------------------------------------------------
    def _find_workbook_part(self) -> str:
        for rel in self.pkg.rels(""):
            if rel.type.endswith("/officeDocument") and rel.part:
                return rel.part
        if self.pkg.has("xl/workbook.xml"):
            return "xl/workbook.xml"
        raise WorkbookError(f"{self.name} is a zip archive but not an Excel workbook.", path=str(self.path))

    def _part_of(self, source: str, rel_suffix: str) -> str | None:
        rels = self.pkg.related(source, rel_suffix)
        return rels[0].part if rels else None

    def _sheet_parts(self) -> dict[str, str]:
        """Sheet name -> worksheet part, in workbook order (chart sheets and dialogs left out)."""
        root = self.pkg.xml(self._workbook_part)
        targets = {r.id: r for r in self.pkg.rels(self._workbook_part)}
        out: dict[str, str] = {}
        for el in root.iter("{*}sheet"):
            rel = targets.get(el.get(f"{{{OFFICE_REL}}}id") or "")
            if rel is not None and rel.type.endswith("/worksheet") and rel.part:
                out[el.get("name") or ""] = rel.part
        return out

    def sheet_names(self) -> list[str]:
        return [s for s in self._sheets if s != mapping.META_SHEET]

    def _sheet(self, name: str) -> Sheet:
        part = self._sheets[name]
        return self._sheet_of(part, self.pkg.read(part))

    def _sheet_of(self, part: str, data: bytes | mmap.mmap) -> Sheet:
        """A worksheet part's bytes (or its map, ``Package.mapped``) as a sheet of this workbook (its date system)."""
        ws = Sheet(data, part, date1904=self._date1904)
        return ws if part in self.pkg.changed else ws.knowing_refs(self._refs_of.get(part))

    @property
    def styles(self) -> Styles:
        if self._styles is None:
            if self._styles_part is None or not self.pkg.has(self._styles_part):
                raise WorkbookError(f"{self.name} has no style sheet; it was not written by a spreadsheet program.",
                                    path=str(self.path))
            self._styles = Styles(self.pkg.read(self._styles_part), self._styles_part)
        return self._styles

    def _shared_strings(self) -> list[str]:
        if self._shared is None:
            part = self._part_of(self._workbook_part, "/sharedStrings")
            self._shared = read_shared_strings(self.pkg.read(part)) if part and self.pkg.has(part) else []
        return self._shared

    # -- reading -------------------------------------------------------------------------------------
    def _meta(self) -> dict[str, dict[str, Any]]:
        if mapping.META_SHEET not in self._sheets:
            return {}
        sheet = self._sheet(mapping.META_SHEET)
        grid: dict[int, dict[int, Any]] = defaultdict(dict)
        for r, c, v in sheet.cells(self._shared_strings(), self.styles.is_date, max_row=2000):
            grid[r][c] = v
        return mapping.read_meta(_dense(grid, 4))

    def read(self, resource: Resource, sheet: str | None = None) -> SheetTable:
        with naming(self.path, sheet or resource.sheet):
            return self._read(resource, sheet)

    def let_go(self) -> None:
        """Let go of the worksheets' XML as read (a run reads it again to write a sheet): 40 MB at 50,000 rows,
        170 MB at 200,000, not held while a push lists the service and plans every row. The same bytes are read
        again from the archive opened at the start (``Package.forget``)."""
        for part in self._sheets.values():
            self.pkg.forget(part)

    def _read(self, resource: Resource, sheet: str | None = None) -> SheetTable:
        sheet = sheet or resource.sheet
        if sheet not in self._sheets:
            raise WorkbookError(f"{self.name} has no sheet '{sheet}' (sheets: {', '.join(self.sheet_names())}).",
                                path=self.name, sheet=sheet)
        ws = self._sheet(sheet)
        shared, is_date = self._shared_strings(), self.styles.is_date
        top: dict[int, dict[int, Any]] = defaultdict(dict)
        for r, c, v in ws.cells(shared, is_date, max_row=mapping.HEADER_SEARCH_ROWS):
            top[r][c] = v
        merged = ws.merged()
        _fill_merged(top, merged)  # a merged header reads as the user sees it; data rows never do
        head = _dense(top, max((max(row) for row in top.values()), default=1), rows=mapping.HEADER_SEARCH_ROWS)
        layout = mapping.locate(head, resource, source=self.name, sheet=sheet, meta=self._meta().get(sheet))
        totals = {r for t in self._tables(self._sheets[sheet]) for r in t.totals_rows(layout)}
        columns = ws.columns_of(shared, is_date, set(layout.columns.values()))
        if self._sheets[sheet] not in self.pkg.changed:  # the part as in the archive: the same bytes when written
            self._refs_of[self._sheets[sheet]] = ws.refs_everywhere
        data, last = mapping.columns_frame(columns, layout, skip=totals)
        if len(data) > MAX_DATA_ROWS:
            raise WorkbookError(f"{self.name}, sheet '{sheet}': {len(data):,} rows (at most {MAX_DATA_ROWS:,} are "
                                "accepted in one run). Split the rows over several workbooks.",
                                path=self.name, sheet=sheet)
        return mapping.sheet_table(self.name, sheet, resource, layout, data, last, merged=merged,
                                   uncalculated={rc for rc in ws.uncalculated if rc[0] not in totals},
                                   hidden=ws.hidden_rows(), date1904=self._date1904)

    def _tables(self, sheet_part: str) -> list[_Table]:
        """The Excel tables (list objects) of a sheet."""
        out = []
        for rel in self.pkg.related(sheet_part, "/table"):
            if rel.part and self.pkg.has(rel.part):
                table = _Table.parse(rel.part, self.pkg.read(rel.part))
                if table is not None:
                    out.append(table)
        return out

    # -- writing -------------------------------------------------------------------------------------
    def write_back(self, table: SheetTable, changes: WriteBack) -> None:
        # a million cell changes, none in a cycle; the sheet's map (if made) closed on leaving
        with naming(self.path, table.sheet), collector_paused(), ExitStack() as stack:
            self._write_back(table, changes, stack)

    def _write_back(self, table: SheetTable, changes: WriteBack, stack: ExitStack) -> None:
        part = self._sheets[table.sheet]
        made: list[Sheet] = []

        def sheet() -> Sheet:
            """The sheet as it is, read (again, after ``let_go``) only when something changes: a large one mapped
            from a temporary file, its pages let go of as it is read and written (``Package.mapped``)."""
            if not made:
                give_back_freed_memory()  # what the run let go of, not kept beneath the sheet's XML
                made.append(self._sheet_of(part, stack.enter_context(self.pkg.mapped(part))))
            return made[0]

        styles = self.styles
        ops: dict[int, dict[int, CellOp]] = defaultdict(dict)
        new_cols = self._ensure_system_columns(sheet, table, ops)

        touched = ({int(r) for r in changes.values.index} | {int(r) for r in changes.results.index}
                   | {int(p.row) for p in changes.marks if p.row is not None})
        append = changes.append if changes.append is not None and len(changes.append) else None
        appended_rows = range(table.last_row + 1, table.last_row + 1 + (len(append) if append is not None else 0))
        system_cols = sorted(c for k, c in table.columns.items() if k in C.SYSTEM_KEYS)
        input_cols = {c for k, c in table.columns.items() if k not in C.SYSTEM_KEYS}

        notes = Notes(self.pkg, part)
        authors = notes.authors()
        ours = {cell for cell, author in authors.items() if author == NOTE_AUTHOR and cell[0] in touched}
        marks, noted = table.marked_cells(changes.marks)

        # Formats change relative to each cell's own, which the sheet knows when it writes the cell. The cells that
        # change alike share one tuple of changes.
        shared: dict[tuple[Callable[[int], int], ...], tuple[Callable[[int], int], ...]] = {}

        def restyled(changes: tuple[Callable[[int], int], ...]) -> tuple[Callable[[int], int], ...]:
            return shared.setdefault(changes, changes)

        def fill(rgb: str) -> Any:
            return lambda own: styles.with_fill(own, rgb)

        def unmark(own: int) -> int:
            return styles.unmarked(own, PROBLEM_FILL)

        def mark(own: int) -> int:
            return styles.with_fill(styles.unmarked(own, PROBLEM_FILL), PROBLEM_FILL)

        def dated(own: int) -> int:
            return own if styles.is_date(own) else styles.with_number_format(own, DATETIME_FORMAT)

        # An op, once made, is never changed (a change makes a new one): the cells that change alike share one. A
        # 200,000-row run restyles a million cells in a handful of ways; each its own op held some 130 MiB.
        alike: dict[tuple[Any, ...], CellOp] = {}

        def restyled_op(op: CellOp | None, change: Callable[[int], int]) -> CellOp:
            """``op`` (None: an op that changes nothing) with ``change`` applied after its own changes."""
            if op is None or not op.set_value and op.style is None:
                key = (op.restyle if op is not None else (), change)
                found = alike.get(key)
                if found is None:
                    found = alike[key] = CellOp(restyle=restyled((*key[0], change)))
                return found
            return CellOp(op.set_value, op.value, op.style, restyled((*op.restyle, change)))

        for cell in ours:  # earlier marks of ours on touched rows: the note goes, the cell's own format is back
            if cell[1] in input_cols:
                ops[cell[0]][cell[1]] = restyled_op(None, unmark)

        # A row's result colours its system cells. A cell that gets a value gets it with that colour at once (one
        # op, not a plain one and then a coloured copy); the colour goes after the value's own changes, as it would
        # on a cell that only changes colour.
        fills = {name: fill(rgb) for name, rgb in RESULT_FILLS.items() if rgb}
        changes_made = set(fills.values())
        bare = {change: restyled_op(None, change) for change in changes_made}  # a colour and nothing else

        def colour(row: int, change: Callable[[int], int], cols: Sequence[int]) -> None:
            """``change`` applied to the cells of ``cols`` in ``row``, after what they change already."""
            row_ops = ops[row]
            for col in cols:
                op = row_ops.get(col)
                row_ops[col] = bare[change] if op is None else restyled_op(op, change)

        def put(row: int, key: str, value: Any, change: Callable[[int], int] | None = None) -> None:
            """``value`` into the cell; a time shown as one; then ``change``, if any (the row's colour)."""
            col = table.columns.get(key)
            if col is None:
                return
            if _not_given(value):
                if change is not None:
                    colour(row, change, (col,))
                return  # (a row is in ``ops`` only if something changes in it)
            op = ops[row].get(col)
            value = _cell_value(value)
            restyle = op.restyle if op is not None else ()
            if isinstance(value, datetime) and dated not in restyle:
                restyle = (dated, *restyle)
            if change is not None:
                restyle = (*restyle, change)
            ops[row][col] = CellOp(True, value, op.style if op is not None else None,
                                   restyled(restyle) if restyle else ())

        results, value_rows = changes.results, changes.values.index
        value_cols = [table.columns.get(key) for key in changes.values.columns]
        # each values row's colour, in their order (None: none); None where a column comes twice or a row does
        colour_at: list[Callable[[int], int] | None] | None = None
        if len(set(value_cols)) == len(value_cols) and value_rows.is_unique and results.index.is_unique:
            aligned = results if results.index.equals(value_rows) else results.reindex(value_rows)
            colour_at = [fills.get(result) for result in aligned.tolist()]  # (NaN: a row without a result)
        plain = {change: restyled((change,)) for change in changes_made}
        timed: dict[Callable[[int], int] | None, tuple[Callable[[int], int], ...]] = {
            change: restyled((dated, change)) for change in changes_made}
        timed[None] = restyled((dated,))
        system = set(system_cols)
        times: dict[datetime, datetime] = {}  # a time as the sheet holds it (UTC), each once: the run's time
        for key, col in zip(changes.values.columns, value_cols, strict=True):
            if col is None:
                continue
            series = changes.values[key]
            colours = colour_at if colour_at is not None and col in system else [None] * len(series)
            for row, value, change in zip(series.index.tolist(), series.tolist(), colours, strict=True):  # Excel rows
                kind = type(value)
                if kind is float and value != value:  # NaN: no value for this cell (``put`` would say so; each row
                    if change is not None:  # of an unchanged push has several); its colour all the same
                        colour(row, change, (col,))
                    continue
                if kind is str or kind is int or value is None:  # most cells: nothing to convert
                    row_ops = ops[row]
                    op = row_ops.get(col)
                    if op is None:
                        row_ops[col] = CellOp(True, value) if change is None else CellOp(True, value, None,
                                                                                        plain[change])
                    else:
                        row_ops[col] = CellOp(True, value, op.style, op.restyle if change is None
                                              else restyled((*op.restyle, change)))
                elif kind is datetime and (op := ops[row].get(col)) is None:  # ``put``, each time converted once
                    utc = converted_once(times, value, _cell_value, naive=True)
                    ops[row][col] = CellOp(True, utc, None, timed[change])
                else:
                    put(row, key, value, change)
        if colour_at is None:  # every system cell of a row with a colour, here
            for row, result in zip(results.index.tolist(), results.tolist(), strict=True):
                if (change := fills.get(result)) is not None:
                    colour(row, change, system_cols)
        else:  # the system cells the values did not colour; rows with a result and no values: all
            uncoloured = [col for col in system_cols if col not in value_cols]
            for row, change in zip(value_rows.tolist(), colour_at, strict=True):
                if change is not None:
                    colour(row, change, uncoloured)
            others = results[~results.index.isin(value_rows)]
            for row, result in zip(others.index.tolist(), others.tolist(), strict=True):
                if (change := fills.get(result)) is not None:
                    colour(row, change, system_cols)
        for row, col in marks:
            row_ops = ops[row]
            row_ops[col] = restyled_op(row_ops.get(col), mark)
        if append is not None:
            for i, record in enumerate(append.to_dict("records")):
                for label, value in record.items():
                    put(appended_rows[0] + i, cast(str, label), value)  # the columns of ``append``: keys
            table.last_row = appended_rows[-1]

        new_notes = {cell: "\n".join([NOTE_HEADING, *lines]) for cell, lines in marks.items()
                     if cell in noted and (cell not in authors or authors[cell] == NOTE_AUTHOR)}
        # The sheet made row by row into a temporary file, compared with the sheet as it was while it is made: a
        # 200,000-row sheet is never held twice in memory, and one that comes out the same is not written. Where
        # nothing at all changes (a push of unchanged rows) it is neither read nor made: walking its rows costs
        # 0.3 s at 50,000, and reading it again after ``let_go`` 170 MB at 200,000.
        if ops or new_cols or ours or new_notes:
            ws = sheet()
            tail = notes.apply(ws.tail, ours, new_notes)  # a note's drawing is linked after the cells, if at all
            if ops or new_cols or tail != ws.tail:
                self.pkg.write_pieces(part, ws.pieces(ops, cols=new_cols, tail=tail), old=ws.data)
            if ws.replaced_formula:
                self._drop_calc_chain = True
        self._grow_tables(part, table, max(table.last_row, max(touched, default=0)))

    def _ensure_system_columns(self, sheet: Callable[[], Sheet], table: SheetTable,
                               ops: dict[int, dict[int, CellOp]]) -> list[tuple[int, float | None, bool]]:
        """A hand-made sheet without the system block gets it, right of its last used column."""
        wanted = [c for c in C.columns_for(table.resource) if c.system and c.key not in table.columns]
        if not wanted:
            return []
        ws = sheet()
        first = ws.last_column() + 1
        header_style = ws.styles_of({(table.header_row, c) for c in table.columns.values()})
        style = self.styles.with_fill(min(header_style.values(), default=0), SYSTEM_HEADER_FILL)
        cols: list[tuple[int, float | None, bool]] = []
        for i, col in enumerate(wanted):
            j = first + i
            header = C.added_header(col, table.theirs)
            table.columns[col.key] = j
            table.headers[col.key] = header
            ops[table.header_row][j] = CellOp(set_value=True, value=header, style=style)
            cols.append((j, col.width, col.hidden))
        return cols

    def _grow_tables(self, sheet_part: str, table: SheetTable, last_row: int) -> None:
        """An Excel table headed on our header row covers every row written and the system block; its autoFilter
        range grows with it. A table with a totals row keeps its rows: rows a run adds go below the totals row."""
        last_col = max(table.columns.values())
        for t in self._tables(sheet_part):
            min_col, min_row, max_col, max_row = t.bounds
            if min_row != table.header_row or not (min_col <= min(table.columns.values()) <= max_col):
                continue
            data = t.data
            new_max_row = max_row if t.totals else max(max_row, last_row)
            new_max_col = max_col
            if last_col == max_col + sum(1 for c in table.columns.values() if c > max_col) and last_col > max_col:
                new_max_col = last_col  # the system block we added sits right of the table: it joins it
                data = _add_table_columns(data, t.prefix, [
                    table.headers[k] for k, c in sorted(table.columns.items(), key=lambda kc: kc[1]) if c > max_col])
            if (new_max_row, new_max_col) == (max_row, max_col):
                continue
            ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(new_max_col)}{new_max_row}"
            data = _with_refs(data, t.prefix, t.ref, ref, t.totals)
            self.pkg.write(t.part, data)

    def write_reconciliation(self, report: Any) -> None:
        """Add or replace the Reconciliation sheet as its own parts; no other part changes."""
        from qaas_excel.workbook.report_parts import put_report_sheet

        put_report_sheet(self.pkg, self._workbook_part, self._sheets, self.styles, report)

    # -- saving --------------------------------------------------------------------------------------
    def check_writable(self, output: Path | None = None) -> None:
        check_writable(self.path, output)

    @property
    def changed(self) -> bool:
        """Whether saving would write anything: False when the run left every part as it was."""
        return bool(self.pkg.changed or self._drop_calc_chain or (self._styles is not None and self._styles.changed))

    def save(self, output: Path | None = None) -> Path | None:
        """The file written; None when nothing changed and there is no ``output``: the file is not touched."""
        if self._styles is not None and self._styles.changed:
            self.pkg.write(self._styles.part, self._styles.data())
        if self._drop_calc_chain:
            self._remove_calc_chain()
        target = Path(output) if output else self.path
        if not self.pkg.changed and output is None:
            return None  # nothing to write: the file stays exactly as it is
        check_writable(self.path, output)
        if output is None and self.pkg.replaced():  # never over what another program saved meanwhile
            raise WorkbookError(f"{self.name} was saved by another program while this run worked on it (Excel, or a "
                                "copy from a sync client); it was left as that program saved it.", path=str(self.path))

        def write(tmp: Path) -> None:
            self.pkg.write_to(tmp)
            self.pkg.close()  # before the workbook is replaced (Windows replaces no open file)

        return save_atomically(write, target, keep_backup=output is None or Path(output).exists())

    def close(self) -> None:
        self.pkg.close()

    def _remove_calc_chain(self) -> None:
        """A formula we replaced may be listed in the calculation chain; Excel rebuilds a missing one."""
        for rel in self.pkg.related(self._workbook_part, "/calcChain"):
            if rel.part:
                self.pkg.remove(rel.part)
                self.pkg.remove_content_type(rel.part)
            self.pkg.remove_relationship(self._workbook_part, rel.id)


@contextmanager
def naming(path: Path, sheet: str | None = None) -> Iterator[None]:
    """A problem found inside the package names the file (and the sheet), as every message to the user does."""
    try:
        yield
    except WorkbookError as exc:
        if exc.path is not None:
            raise
        where = f"{path.name}, sheet '{sheet}'" if sheet else path.name
        raise WorkbookError(f"{where}: {exc} The file is damaged or was not written by a spreadsheet program; "
                            "open it in Excel (which may repair it) and save it again.", path=str(path),
                            sheet=sheet) from None


@dataclass
class _Table:
    """An Excel table part, as far as reading and growing need it."""

    part: str
    data: bytes
    prefix: bytes  # the XML namespace prefix of its elements ("" or "x:")
    ref: str  # "A1:R25": header, body and totals rows
    bounds: tuple[int, int, int, int]  # (min column, min row, max column, max row)
    totals: int  # totals rows at its bottom (totalsRowCount)

    @classmethod
    def parse(cls, part: str, data: bytes) -> _Table | None:
        m = re.search(rb'<(\w+:)?table\b([^>]*)>', data)
        if m is None:
            return None
        attrs = dict(re.findall(rb'([\w:]+)="([^"]*)"', m.group(2)))
        ref = attrs.get(b"ref", b"").decode()
        if not re.fullmatch(r"[A-Z]+\d+:[A-Z]+\d+", ref):
            return None
        totals = attrs.get(b"totalsRowCount", b"0")
        return cls(part, data, m.group(1) or b"", ref, range_bounds(ref), int(totals) if totals.isdigit() else 0)

    def totals_rows(self, layout: mapping.Layout) -> set[int]:
        """The totals rows, when the table holds our columns below our header row."""
        min_col, min_row, max_col, max_row = self.bounds
        if not self.totals or max_row <= layout.header_row or \
                not any(min_col <= c <= max_col for c in layout.columns.values()):
            return set()
        return set(range(max_row - self.totals + 1, max_row + 1))


def _with_refs(data: bytes, p: bytes, old: str, new: str, totals: int) -> bytes:
    """A table part with a new ``ref``; its autoFilter (which leaves the totals row out) follows it."""
    data = re.sub(rb'(<' + re.escape(p) + rb'table\b[^>]*\bref=")' + old.encode() + rb'"',
                  lambda m: m.group(1) + new.encode() + b'"', data, count=1)
    min_col, min_row, max_col, max_row = range_bounds(new)
    filtered = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max_row - totals}"
    return re.sub(rb'(<' + re.escape(p) + rb'autoFilter\b[^>]*\bref=")[^"]*"',
                  lambda m: m.group(1) + filtered.encode() + b'"', data, count=1)


def _add_table_columns(data: bytes, p: bytes, headers: list[str]) -> bytes:
    from xml.sax.saxutils import quoteattr

    m = re.search(rb"<" + re.escape(p) + rb"tableColumns\b[^>]*>", data)
    end = data.find(b"</" + p + b"tableColumns>")
    if m is None or end < 0:
        return data
    ids = [int(x) for x in re.findall(rb"<" + re.escape(p) + rb'tableColumn\b[^>]*\bid="(\d+)"', data)]
    next_id = max(ids, default=0) + 1
    new = b"".join(b"<" + p + b'tableColumn id="' + str(next_id + i).encode() + b'" name='
                   + quoteattr(h).encode() + b"/>" for i, h in enumerate(headers))
    count = len(ids) + len(headers)
    start = set_attr(m.group(0), "count", str(count))
    return data[:m.start()] + start + data[m.end():end] + new + data[end:]


def _dense(grid: dict[int, dict[int, Any]], width: int, *, rows: int | None = None) -> list[list[Any]]:
    last = max(grid, default=0) if rows is None else min(rows, max(grid, default=0))
    return [[grid.get(r, {}).get(c) for c in range(1, width + 1)] for r in range(1, last + 1)]


def _fill_merged(grid: dict[int, dict[int, Any]], merged: list[tuple[int, int, int, int]]) -> None:
    """A merged range gives its value to every cell it covers (as a user sees it)."""
    for r1, c1, r2, c2 in merged:
        top = grid.get(r1, {}).get(c1)
        if top is None or (r2 - r1 + 1) * (c2 - c1 + 1) > 10_000:
            continue
        for r in range(r1, r2 + 1):
            row = grid[r]
            for c in range(c1, c2 + 1):
                row[c] = top


def _not_given(value: Any) -> bool:
    """NaN/NaT/NA in a WriteBack means "nothing for this cell" (None clears it)."""
    return value is not None and is_missing(value)


def _cell_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        from datetime import UTC

        value = value.astimezone(UTC).replace(tzinfo=None)  # the sheet's time columns are UTC
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return value
