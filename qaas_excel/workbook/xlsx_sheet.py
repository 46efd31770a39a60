"""One worksheet part read as bytes: its cell values streamed out, and the cells a run owns spliced in.

Rows and cells are found by position in the part's bytes, not rebuilt from a model: a row the run does
not touch is copied as it is, and in a touched row every cell the run does not own keeps its exact XML
(formulas, cached values, styles, whatever extension it carries). Owned cells are written with inline
strings, so the shared string table is never rewritten, and text is never read as a formula.
"""

from __future__ import annotations

import html
import io
import math
import mmap
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl.utils.cell import column_index_from_string, get_column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel, to_excel

from qaas_excel.values import decimal_text
from qaas_excel.workbook import row_shapes, xlsx_package
from qaas_excel.workbook.row_shapes import ROW_NUMBER, RowShapes, Shape
from qaas_excel.workbook.table import WorkbookError
from qaas_excel.workbook.xlsx_package import release, xml_text
from qaas_excel.workbook.xlsx_styles import set_attr

_ATTRS = re.compile(rb'([\w:]+)="([^"]*)"')
_REF = re.compile(rb"([A-Z]{1,3})(\d+)")
_FAST_ATTRS = re.compile(rb'(?:\s+r="([A-Z]{1,3})\d+")?(?:\s+s="(\d+)")?(?:\s+t="(\w+)")?\s*')
_COLUMNS: dict[bytes, int] = {}
SHARED_TEXTS = 1000  # a column's different texts read once and shared (``Sheet._plain_into``)


_CHUNK = 4 * 2**20  # bytes of sheet XML read per regex pass
READ_BY_SHAPE = True  # a table's rows read a run of alike rows at a time (``row_shapes``); False: a cell at a time
_LETTERS: dict[int, bytes] = {}


def _letters(col: int) -> bytes:
    letters = _LETTERS.get(col)
    if letters is None:
        letters = _LETTERS[col] = get_column_letter(col).encode()
    return letters


def _longest_run(cols: list[int]) -> list[int]:
    """The longest stretch of adjacent columns in ``cols`` (sorted, distinct); the first of equally long ones."""
    best_at, best_len, at = 0, 0, 0
    for i in range(1, len(cols) + 1):
        if i == len(cols) or cols[i] != cols[i - 1] + 1:
            if i - at > best_len:
                best_at, best_len = at, i - at
            at = i
    return cols[best_at:best_at + best_len]


def _head(head: bytes) -> tuple[bytes | None, dict[bytes, bytes]]:
    """A cell's start tag (its attributes): (column letters or None, {b"s": ..., b"t": ...})."""
    fast = _FAST_ATTRS.fullmatch(head)  # r, s, t in Excel's order and nothing else: no dict parse
    if fast is not None:
        letters, s, t = fast.groups()
        attrs = {}
        if s is not None:
            attrs[b"s"] = s
        if t is not None:
            attrs[b"t"] = t
        return letters, attrs
    attrs = dict(_ATTRS.findall(head))
    ref = _REF.fullmatch(attrs.get(b"r", b""))
    return (ref.group(1) if ref else None), attrs


def _column(letters: bytes) -> int:
    col = _COLUMNS.get(letters)
    if col is None:
        col = _COLUMNS[letters] = column_index_from_string(letters.decode())
    return col


@dataclass(slots=True, frozen=True)  # cells that change alike share one: never changed once made
class CellOp:
    """What a run does to one cell: set its value (``set_value``) and/or its format.

    The format is ``style`` if given, else the cell's own (or its column's, for a new cell), passed through
    each of ``restyle`` in turn (e.g. "this format with a green fill"), decided when the cell's own is known.
    """

    set_value: bool = False
    value: Any = None
    style: int | None = None
    # A tuple, which the cells that change alike share: 1.4 million cells of a 200,000-row run would otherwise
    # each hold a list of their own.
    restyle: tuple[Callable[[int], int], ...] = ()

    def format_of(self, own: int) -> int:
        style = self.style if self.style is not None else own
        for change in self.restyle:
            style = change(style)
        return style


@dataclass(slots=True)
class Row:
    number: int
    start: int  # offsets in the part's bytes
    end: int


@dataclass
class Sheet:
    """A worksheet part; ``cells()`` reads, ``render(ops)`` returns the new part."""

    data: bytes | mmap.mmap  # a sheet a run writes may be mapped (``Package.mapped``)
    part: str = ""
    date1904: bool = False
    p: bytes = b""
    body: tuple[int, int] = (0, 0)  # sheetData content
    data_tag: tuple[int, int] = (0, 0)  # the <sheetData ...> start tag (or the whole self-closed element)
    replaced_formula: bool = False  # a cell the run wrote held a formula (the calculation chain must go)
    # (row, column) of each formula read that has no cached value: the program that wrote the file never
    # calculated it (Excel would have). ``cells()`` leaves them out, as empty.
    uncalculated: set[tuple[int, int]] = field(default_factory=set)
    _column_styles: dict[int, int] = field(default_factory=dict, repr=False)
    _refs: bool | None = field(default=None, repr=False)
    _dates: dict[bytes, Any] = field(default_factory=dict, repr=False)
    _rows: list[Row] | None = field(default=None, repr=False)
    _formats: dict[tuple[Any, ...], int] = field(default_factory=dict, repr=False)  # (own, style, *restyle) -> format
    _memo: dict[tuple[Any, ...], bytes] = field(default_factory=dict, repr=False)  # see ``_cell``
    _around: dict[tuple[Any, ...], bytes] = field(default_factory=dict, repr=False)  # see ``_cell``
    _restyled: dict[tuple[Any, ...], bytes] = field(default_factory=dict, repr=False)  # see ``_restyled_cell``
    _slots: dict[tuple[Any, ...], tuple[bytes, ...]] = field(default_factory=dict, repr=False)  # ``_learn_slots``
    _written: dict[Any, tuple[int, bytes]] = field(default_factory=dict, repr=False)  # see ``_value_text``
    _forms: tuple[tuple[bytes, bytes], ...] = field(default=(), repr=False, init=False)
    # the last stretch made by ``_edit_block`` (``_remember_block``, ``_ready_block``); the next row, alike but for its
    # number, is made from it at once
    _last_block: tuple[Any, ...] = field(default=(), repr=False)
    # the old cells of the last stretch ``_edit_block`` took apart (``_remember_stretch``), and rows since that were
    # otherwise
    _last_stretch: tuple[Any, ...] = field(default=(), repr=False)
    _stretch_misses: int = field(default=0, repr=False)
    _shapes: dict[tuple[int, ...], tuple[list[int], list[int], list[int], list[bytes]]] = field(default_factory=dict,
                                                                                               repr=False)

    def __post_init__(self) -> None:
        if b"<!DOCTYPE" in self.data[:4096] or b"<!ENTITY" in self.data[:4096]:
            raise WorkbookError(f"The worksheet {self.part} declares a DOCTYPE; Excel never writes one. Refusing it.")
        root = re.search(rb"<(\w+:)?worksheet\b", self.data)
        if root is None:
            raise WorkbookError(f"The part {self.part} is not a worksheet.")
        self.p = root.group(1) or b""
        p = re.escape(self.p)
        m = re.search(rb"<" + p + rb"sheetData\b[^>]*?(/?)>", self.data)
        if m is None:
            raise WorkbookError(f"The worksheet {self.part} has no sheetData.")
        self.data_tag = (m.start(), m.end())
        if m.group(1) == b"/":
            self.body = (m.end(), m.end())
        else:
            end = _find(self.data, b"</" + self.p + b"sheetData>", m.end())
            if end < 0:
                raise WorkbookError(f"The worksheet {self.part} is cut short (no end of sheetData).")
            self.body = (m.end(), end)
        self._row_tag_re = re.compile(rb"<" + p + rb"row\b([^>]*?)(/?)>")
        self._cell_re = re.compile(rb"<" + p + rb"c\b([^>]*?)(?:/>|>(.*?)</" + p + rb"c>)", re.S)
        self._v_re = re.compile(rb"<" + p + rb"v\b[^>]*>(.*?)</" + p + rb"v>", re.S)
        self._t_re = re.compile(rb"<" + p + rb"t\b[^>]*>(.*?)</" + p + rb"t>|<" + p + rb"t\b[^>]*/>", re.S)
        # <c r="B7" s="3" t="s"><v>12</v></c> and its kin: reference, format, type, a lone value, other content
        self._plain_cell_re = re.compile(
            rb"<" + p + rb'c r="([A-Z]{1,3})(\d+)"(?: s="(\d+)")?(?: t="(\w+)")?\s*(?:/>|>(?:<' + p + rb"v>([^<]*)</"
            + p + rb"v>|<" + p + rb"is><" + p + rb"t(?:\s[^>]*)?>([^<]*)</" + p + rb"t></" + p + rb"is>)?(.*?)</" + p
            + rb"c>)", re.S)
        self._ref_re = re.compile(rb"<" + p + rb'c r="([A-Z]{1,3})\d+"')
        self._fast_cell_re = re.compile(rb"<" + p + rb'c r="([A-Z]{1,3})(\d+)"([^>]*?)(?:/>|>(.*?)</' + p + rb"c>)",
                                        re.S)
        self._inline_re = re.compile(rb"<" + p + rb"is><" + p + rb"t(?:\s[^>]*)?>([^<]*)</" + p + rb"t></" + p
                                     + rb"is>")
        self._rph_re = re.compile(rb"<" + p + rb"rPh\b.*?</" + p + rb"rPh>", re.S)
        # what comes before and after a value's text in a cell, after its reference and format, for each form of
        # ``_value_text``: empty, TRUE/FALSE, a number, a text
        v, c = self.p + b"v>", b"</" + self.p + b"c>"
        self._forms = ((b"/>", b""), (b' t="b"><' + v, b"</" + v + c), (b"><" + v, b"</" + v + c),
                       (b' t="inlineStr"><' + self.p + b"is><" + self.p + b't xml:space="preserve">',
                        b"</" + self.p + b"t></" + self.p + b"is>" + c))

    # -- reading -------------------------------------------------------------------------------------
    def rows(self) -> list[Row]:
        if self._rows is None:
            rows, last = [], 0
            data = self.data
            pos, end = self.body
            close = b"</" + self.p + b"row>"
            number = ROW_NUMBER.search
            released, step = pos, xlsx_package.RELEASE_EVERY
            while (m := self._row_tag_re.search(data, pos, end)) is not None:  # the start tag by regex, the end by find
                if pos - released >= step:  # a mapped sheet's pages read so far let go of
                    release(data)
                    released = pos
                if m.group(2):
                    pos = m.end()  # <row .../>
                else:
                    at = data.find(close, m.end(), end)
                    if at < 0:
                        raise WorkbookError(f"The worksheet {self.part} is cut short (a row without its end).")
                    pos = at + len(close)
                r = number(m.group(1))
                last = int(r.group(1)) if r else last + 1
                rows.append(Row(last, m.start(), pos))
            self._rows = rows
        return self._rows

    def raw_cells(self, row: Row) -> Iterator[tuple[int, dict[bytes, bytes], bytes | None, int, int]]:
        """(column, attributes, content, start, end) of each cell of a row."""
        col = 0
        for m in self._cell_re.finditer(self.data, row.start, row.end):
            letters, attrs = _head(m.group(1))
            col = _column(letters) if letters is not None else col + 1
            yield col, attrs, m.group(2), m.start(), m.end()

    def cells(self, shared: list[str], is_date: Callable[[int], bool], *,
              columns: set[int] | None = None, max_row: int | None = None) -> Iterator[tuple[int, int, Any]]:
        """(row, column, value) of every non-empty cell: formulas by their cached values, dates as datetimes."""
        if self.refs_everywhere:
            yield from self._cells_fast(shared, is_date, columns=columns, max_row=max_row)
            return
        for row in self.rows():
            if max_row is not None and row.number > max_row:
                break
            for col, attrs, content, _s, _e in self.raw_cells(row):
                if content is None or (columns is not None and col not in columns):
                    continue
                value = self._value(attrs, content, shared, is_date)
                if value is _UNCALCULATED:
                    self.uncalculated.add((row.number, col))
                elif value is not None and value != "":
                    yield row.number, col, value

    def columns_of(self, shared: list[str], is_date: Callable[[int], bool], columns: set[int]) -> dict[int, dict[
            int, Any]]:
        """{column: {row: value}} of the non-empty cells of ``columns``, as ``cells()`` reads them: a whole table's
        worth filled straight from the regex's tuples, without a generator step or a row dict per cell."""
        into: dict[int, dict[int, Any]] = {col: {} for col in columns}
        if not self.refs_everywhere:
            for r, c, v in self.cells(shared, is_date, columns=columns):
                into[c][r] = v
            return into
        texts: dict[int, dict[bytes, str]] = defaultdict(dict)
        shapes = RowShapes(self.p, self._plain_cell_re, self._row_tag_re) if READ_BY_SHAPE else None
        for start, stop in self._chunk_bounds(None):
            if shapes is not None and shapes.active:
                self._shaped_into(start, stop, shapes, shared, is_date, columns, into, texts)
            else:
                self._span_into(start, stop, shared, is_date, columns, into, texts)
        return into

    def _span_into(self, start: int, stop: int, shared: list[str], is_date: Callable[[int], bool],
                   columns: set[int] | None, into: dict[int, dict[int, Any]],
                   texts: dict[int, dict[bytes, str]]) -> bool:
        """The cells of ``data[start:stop]`` into ``into``: by the plain cell regex when every cell is in its shape
        (then True), else cell by cell."""
        found = self._plain_cell_re.findall(self.data, start, stop)
        if len(found) == self._cell_count(start, stop):
            self._plain_into(found, shared, is_date, columns, into, texts)
            return True
        for r, c, v in self._cells_matched(start, stop, shared, is_date, columns):
            into[c][r] = v
        return False

    def _shaped_into(self, start: int, stop: int, shapes: RowShapes, shared: list[str], is_date: Callable[[int], bool],
                     columns: set[int] | None, into: dict[int, dict[int, Any]],
                     texts: dict[int, dict[bytes, str]]) -> None:
        """``_span_into`` a run of rows at a time, each run read by a shape (``row_shapes``); a row no shape matches
        is read on its own as ``_span_into`` reads, and its shape learnt. Rows are read in the order they come."""
        data, pos = self.data, start
        close = b"</" + self.p + b"row>"
        while pos < stop:
            got = shapes.take(data, pos, stop)
            if got is not None:
                shape, run, pos = got
                self._run_into(shape, run, shared, is_date, columns, into, texts)
                continue
            if not shapes.active:
                self._span_into(pos, stop, shared, is_date, columns, into, texts)
                return
            m = self._row_tag_re.search(data, pos, stop)
            if m is None:  # no row left in the span
                self._span_into(pos, stop, shared, is_date, columns, into, texts)
                return
            if m.group(2):
                end = m.end()
            else:
                at = data.find(close, m.end(), stop)
                end = stop if at < 0 else at + len(close)
            if self._span_into(pos, end, shared, is_date, columns, into, texts) and not m.group(2):
                shapes.learn(data[m.start():end])
            pos = end

    def _run_into(self, shape: Shape, run: list[tuple[bytes, ...]], shared: list[str], is_date: Callable[[int], bool],
                  columns: set[int] | None, into: dict[int, dict[int, Any]],
                  texts: dict[int, dict[bytes, str]]) -> None:
        """The rows one shape matched, a cell of the shape at a time, each value read as ``_plain_into`` reads that
        cell's value: a column's texts through ``texts``, dates through the sheet's memory of serials."""
        by_group = list(zip(*run, strict=True))
        numbers = by_group[0]
        rows = list(map(int, numbers))
        known = self._dates
        value: Any  # a number, a text or a date: as the cell says
        for cell in shape.cells:
            col = _column(cell.letters)
            if cell.kind == row_shapes.EMPTY or (columns is not None and col not in columns):
                continue
            if cell.kind == row_shapes.OTHER:
                if cell.group:
                    varying = by_group[cell.group]
                    found: list[tuple[bytes, ...]] = [
                        (cell.letters, n, cell.s, cell.t, b"", x, cell.rest) if cell.in_text else
                        (cell.letters, n, cell.s, cell.t, x, b"", cell.rest)
                        for n, x in zip(numbers, varying, strict=True)]
                else:
                    found = [(cell.letters, n, cell.s, cell.t, cell.v, cell.text, cell.rest) for n in numbers]
                self._plain_into(found, shared, is_date, columns, into, texts)
                continue
            out = into[col]
            raw = by_group[cell.group]
            s = cell.s
            if cell.kind == row_shapes.TEXT:
                seen = texts[col]
                for row, text in zip(rows, raw, strict=True):
                    if text:
                        value = seen.get(text)
                        if value is None:
                            value = _text(text)
                            if len(seen) < SHARED_TEXTS:
                                seen[text] = value
                        out[row] = value  # (a text that is not empty in the XML is not empty read)
            elif cell.kind == row_shapes.SHARED:
                for row, v in zip(rows, raw, strict=True):
                    if v:
                        try:
                            value = shared[int(v)]
                        except (ValueError, IndexError):
                            raise WorkbookError(f"The worksheet {self.part} refers to a shared string that does not "
                                                "exist; the file is damaged.") from None
                        if value is not None and value != "":
                            out[row] = value
            elif s and s != b"0" and is_date(int(s)):
                for row, v in zip(rows, raw, strict=True):
                    if v:
                        value = known.get(v)
                        if value is None:
                            value = self._number(v, s, is_date)
                        if value is not None and value != "":
                            out[row] = value
            else:
                for row, v in zip(rows, raw, strict=True):
                    if v:
                        value = int(v) if v.isdigit() else self._number(v, s, is_date)
                        if value is not None:
                            out[row] = value

    @property
    def refs_everywhere(self) -> bool:
        """Every cell starts ``<c r="..."`` (as Excel, LibreOffice and most writers do): cells can be found by
        their reference alone, without walking each row."""
        if self._refs is None:
            start, end = self.body
            # one pass for a cell start tag that does not begin with its reference
            other = re.compile(rb"<" + re.escape(self.p) + rb'c(?:[\t\n\r>/]| (?!r="))')
            self._refs = _search(other, self.data, start, end) is None
        return self._refs

    def knowing_refs(self, refs_everywhere: bool | None) -> Sheet:
        """This sheet, told ``refs_everywhere`` as found on the same bytes before (None: found when asked): a pass
        over the whole part (0.2 s at 200,000 rows) not made twice for a sheet read and then written."""
        if refs_everywhere is not None:
            self._refs = refs_everywhere
        return self

    def _cells_fast(self, shared: list[str], is_date: Callable[[int], bool], *, columns: set[int] | None,
                    max_row: int | None) -> Iterator[tuple[int, int, Any]]:
        """``cells()`` of a sheet whose cells all name their reference, a chunk at a time as ``_span_into`` reads
        it: a chunk's cells column by column, each column's in row order."""
        texts: dict[int, dict[bytes, str]] = defaultdict(dict)
        for start, stop in self._chunk_bounds(max_row):
            into: dict[int, dict[int, Any]] = defaultdict(dict)
            self._span_into(start, stop, shared, is_date, columns, into, texts)
            for col, values in into.items():
                for row, value in values.items():
                    yield row, col, value

    def _chunk_bounds(self, max_row: int | None) -> Iterator[tuple[int, int]]:
        """(start, end) of the sheetData a few MiB at a time, each cut at a row's end."""
        start, end = self.body
        if max_row is not None:  # rows are in order: stop at the first row past max_row
            m = re.compile(rb"<" + re.escape(self.p) + rb'row\b[^>]*\br="(\d+)"')
            for r in m.finditer(self.data, start, end):
                if int(r.group(1)) > max_row:
                    end = r.start()
                    break
        row_end = b"</" + self.p + b"row>"
        while start < end:  # a few MiB at a time, cut at a row's end: memory stays bounded
            cut = self.data.find(row_end, min(start + _CHUNK, end), end)
            stop = end if cut < 0 else cut + len(row_end)
            yield start, stop
            start = stop

    def _cells_matched(self, start: int, end: int, shared: list[str], is_date: Callable[[int], bool],
                       columns: set[int] | None) -> Iterator[tuple[int, int, Any]]:
        for m in self._fast_cell_re.finditer(self.data, start, end):
            letters, number, head, content = m.groups()
            if content is None:
                continue
            col = _column(letters)
            if columns is not None and col not in columns:
                continue
            value = self._value(_head(head)[1], content, shared, is_date)
            if value is _UNCALCULATED:
                self.uncalculated.add((int(number), col))
            elif value is not None and value != "":
                yield int(number), col, value

    def _cell_count(self, start: int, end: int) -> int:
        tag = b"<" + self.p + b'c r="'
        data = self.data
        return data.count(tag, start, end) if isinstance(data, bytes) else data[start:end].count(tag)

    def _plain_into(self, found: list[tuple[bytes, ...]], shared: list[str], is_date: Callable[[int], bool],
                    columns: set[int] | None, into: dict[int, dict[int, Any]],
                    texts: dict[int, dict[bytes, str]]) -> None:
        """Cells read by one regex (reference, format, type, and the value when it is a lone <v> or one run of
        inline text) into ``into[column][row]``.

        ``texts``: column -> a cell's inline text as written -> the text, up to ``SHARED_TEXTS`` a column, filled
        as cells are read: a column's repeated texts (an operator, a town, a result and its message) are decoded
        once and held once, as shared strings are."""
        cols = _COLUMNS
        dates: dict[bytes, bool] = {}  # format -> shows a date, asked once per format
        value: Any  # a number, a text, a date or a bool: as the cell says
        last, row = b"", 0  # a row's cells come together: its number made an int once, shared by its cells
        known = self._dates  # serial -> date, as ``_number`` keeps them
        for letters, number, s, t, v, text, rest in found:
            col = cols.get(letters) or _column(letters)
            if columns is not None and col not in columns:
                continue
            if text and t == b"inlineStr" and not rest:  # one run of text, as most writers (and this program) write it
                seen = texts[col]
                value = seen.get(text)
                if value is None:
                    value = _text(text)
                    if len(seen) < SHARED_TEXTS:
                        seen[text] = value
            elif v:
                if not t or t == b"n":
                    if s and s != b"0" and (dates[s] if s in dates else dates.setdefault(s, is_date(int(s)))):
                        value = known.get(v)  # a date column holds the same few serials: each converted once
                        if value is None:
                            value = self._number(v, s, is_date)
                    elif v.isdigit():
                        value = int(v)  # the most common number: a whole one in a plain format
                    else:
                        value = self._number(v, s, is_date)
                elif t == b"s":
                    try:
                        value = shared[int(v)]
                    except (ValueError, IndexError):
                        raise WorkbookError(f"The worksheet {self.part} refers to a shared string that does not "
                                            "exist; the file is damaged.") from None
                else:
                    value = self._value({b"t": t, b"s": s or b"0"}, b"<" + self.p + b"v>" + v + b"</" + self.p
                                        + b"v>", shared, is_date)
            elif rest:
                simple = self._inline_re.fullmatch(rest) if t == b"inlineStr" else None
                if simple is not None:  # one run of text, as most writers (and this program) write it
                    value = _text(simple.group(1))
                else:
                    value = self._value({b"t": t or b"n", b"s": s or b"0"}, rest, shared, is_date)
                    if value is _UNCALCULATED:
                        self.uncalculated.add((int(number), col))
                        continue
            else:
                continue
            if value is not None and value != "":
                if number != last:
                    last, row = number, int(number)
                into[col][row] = value

    def _number(self, raw: bytes, s: bytes, is_date: Callable[[int], bool]) -> Any:
        text = raw.decode().strip()
        if not text:
            return None
        if s and s != b"0" and is_date(int(s)):
            when = self._dates.get(raw)  # the same few dates fill whole columns: convert each once
            if when is None:
                try:
                    when = from_excel(float(text), epoch=CALENDAR_MAC_1904 if self.date1904 else CALENDAR_WINDOWS_1900)
                except (ValueError, OverflowError):
                    return float(text)
                self._dates[raw] = when
            return when
        if "." in text or "e" in text or "E" in text:
            number = float(text)
            return int(number) if number.is_integer() and abs(number) < 2**53 and "e" not in text.lower() \
                else number
        return int(text)

    def _value(self, attrs: dict[bytes, bytes], content: bytes, shared: list[str],
               is_date: Callable[[int], bool]) -> Any:
        t = attrs.get(b"t", b"n")
        if t == b"inlineStr":
            simple = self._inline_re.fullmatch(content)  # one run of text, as this program writes it
            if simple is not None:
                return _text(simple.group(1))
            if b"rPh" in content:
                content = self._rph_re.sub(b"", content)
            return "".join(_text(m.group(1) or b"") for m in self._t_re.finditer(content))
        v = self._v_re.search(content)
        if v is None or (t == b"n" and not v.group(1).strip()):
            # a formula without a cached value (never calculated), or a cell with a format only
            return _UNCALCULATED if b"<" + self.p + b"f" in content else None
        raw = v.group(1)
        if t == b"s":
            try:
                return shared[int(raw)]
            except (ValueError, IndexError):
                raise WorkbookError(f"The worksheet {self.part} refers to a shared string that does not "
                                    "exist; the file is damaged.") from None
        if t in (b"str", b"e"):
            return _text(raw)
        if t == b"b":
            return raw.strip() in (b"1", b"true")
        if t == b"d":
            return datetime.fromisoformat(raw.decode())
        return self._number(raw, attrs.get(b"s", b"0"), is_date)

    def last_column(self) -> int:
        """The rightmost column that holds a cell (with a value or a format)."""
        last = 0
        for row in self.rows():
            for col, _attrs, _content, _s, _e in self.raw_cells(row):
                last = max(last, col)
        return last

    def hidden_rows(self) -> set[int]:
        """Rows hidden by a filter or by hand (``<row hidden="1">``)."""
        start, end = self.body
        if self.data.find(b'hidden="', start, end) < 0:
            return set()
        out = set()
        for m in re.compile(rb"<" + re.escape(self.p) + rb"row\b([^>]*)>").finditer(self.data, start, end):
            attrs = dict(_ATTRS.findall(m.group(1)))
            if attrs.get(b"hidden") in (b"1", b"true") and b"r" in attrs:
                out.add(int(attrs[b"r"]))
        return out

    def merged(self) -> list[tuple[int, int, int, int]]:
        """(min_row, min_col, max_row, max_col) of each merged range."""
        p = re.escape(self.p)
        out = []
        for m in re.finditer(rb"<" + p + rb'mergeCell\b[^>]*\bref="([A-Z]+)(\d+):([A-Z]+)(\d+)"',
                             self.data[self.body[1]:]):
            out.append((int(m.group(2)), column_index_from_string(m.group(1).decode()),
                        int(m.group(4)), column_index_from_string(m.group(3).decode())))
        return out

    def column_styles(self) -> dict[int, int]:
        """Column -> default format (``<col style=...>``), for cells a run creates."""
        out: dict[int, int] = {}
        p = re.escape(self.p)
        head = self.data[:self.data_tag[0]]
        for m in re.finditer(rb"<" + p + rb"col\b([^>]*?)/?>", head):
            attrs = dict(_ATTRS.findall(m.group(1)))
            if b"style" in attrs and b"min" in attrs and b"max" in attrs:
                lo, hi = int(attrs[b"min"]), min(int(attrs[b"max"]), 16384)
                if hi - lo < 16384:
                    for c in range(lo, hi + 1):
                        out[c] = int(attrs[b"style"])
        return out

    def styles_of(self, cells: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
        """The current format of the given (row, column) cells that exist."""
        wanted_rows = {r for r, _c in cells}
        out = {}
        for row in self.rows():
            if row.number not in wanted_rows:
                continue
            for col, attrs, _content, _s, _e in self.raw_cells(row):
                if (row.number, col) in cells:
                    out[(row.number, col)] = int(attrs.get(b"s", b"0"))
        return out

    # -- writing -------------------------------------------------------------------------------------
    @property
    def _self_closed(self) -> bool:
        """The sheet's data is one self-closed tag (``<sheetData/>``): a sheet without cells."""
        return self.data[self.data_tag[1] - 2:self.data_tag[1]] == b"/>"

    @property
    def tail(self) -> bytes:
        """What follows the cells: from ``</sheetData>`` on (after a self-closed ``<sheetData/>``: what follows it).
        Where notes link their drawing (``xlsx_notes``)."""
        return self.data[self.data_tag[1]:] if self._self_closed else self.data[self.body[1]:]

    def render(self, ops: dict[int, dict[int, CellOp]], *,
               cols: Sequence[tuple[int, float | None, bool]] = ()) -> bytes:
        """``pieces`` joined: the whole part at once (a run writes a sheet through ``Package.write_pieces``)."""
        if not ops and not cols:
            return self.data if isinstance(self.data, bytes) else self.data[:]
        return b"".join(self.pieces(ops, cols=cols))

    def pieces(self, ops: dict[int, dict[int, CellOp]], *, cols: Sequence[tuple[int, float | None, bool]] = (),
               tail: bytes | None = None) -> Iterator[bytes | memoryview]:
        """The part with the cells of ``ops`` (row -> column -> op) written and everything else as it was, one piece
        after another, never whole: the rows a run leaves alone as views of the part, rows made anew as they are
        made. ``ops`` is used up: a row's ops are let go once the row is written (at 200,000 rows they are some
        150 MiB).

        ``cols``: (column, width, hidden) definitions for columns the run adds. ``tail``: what follows the sheet's
        data, if not the sheet's own ``tail`` (a note's drawing linked in).
        """
        self._column_styles = self.column_styles()
        pending = sorted(ops)
        max_row = max(pending, default=0)
        max_col = max((max(ops[n], default=0) for n in pending), default=0)
        head = self.data[:self.data_tag[0]]
        head = self._with_cols(head, cols)
        yield self._with_dimension(head, max_row, max_col)
        tag = self.data[self.data_tag[0]:self.data_tag[1]]
        yield tag[:-2].rstrip() + b">" if self._self_closed else tag
        yield from self._assemble(ops, pending)
        if self._self_closed:
            yield b"</" + self.p + b"sheetData>"
        yield self.tail if tail is None else tail

    def _assemble(self, ops: dict[int, dict[int, CellOp]], pending: list[int]) -> Iterator[bytes | memoryview]:
        """The sheetData's content in order: untouched stretches as views of the part (no copy), rows made anew."""
        start, end = self.body
        data = memoryview(self.data)
        pos = start
        i = 0
        for row in self.rows():
            new_before: list[bytes] = []
            while i < len(pending) and pending[i] < row.number:
                new_before.append(self._new_row(pending[i], ops.pop(pending[i])))
                i += 1
            if new_before:
                yield data[pos:row.start]
                yield from new_before
                pos = row.start
            if i < len(pending) and pending[i] == row.number:
                # The row made anew as one piece: a memoryview costs some 180 bytes, more than most stretches of a
                # row between its changes, and 200,000 rows of a dozen pieces each would hold a gigabyte of them.
                if pos < row.start:
                    yield data[pos:row.start]
                pieces, at_row = [], row.start
                for at, until, new in self._edit_row(row, ops.pop(row.number)):  # splices, in order, within the row
                    pieces.append(self.data[at_row:at])
                    pieces.append(new)
                    at_row = until
                pieces.append(self.data[at_row:row.end])
                yield b"".join(pieces)
                pos = row.end
                i += 1
        yield data[pos:end]
        for n in pending[i:]:
            yield self._new_row(n, ops.pop(n))

    def _new_row(self, number: int, ops: dict[int, CellOp]) -> bytes:
        row = str(number).encode()
        cells = b"".join(self._cell(row, col, op, None) for col, op in sorted(ops.items()))
        return b"<" + self.p + b'row r="' + row + b'">' + cells + b"</" + self.p + b"row>"

    def _cell(self, row: bytes, col: int, op: CellOp, old: bytes | None) -> bytes:
        """``_new_cell`` through a memo: a run writes the same few cells (a result, a colour over an empty cell) on
        thousands of rows, which differ only in their reference. The memo holds what follows the reference, for
        the cell's old XML after its reference and the op; values whose equal twins can be written otherwise (a
        float's -0.0, a Decimal's trailing zeros) are never looked up."""
        lead = b"<" + self.p + b'c r="' + _letters(col) + row + b'"'
        if old is not None and op.set_value and not self.replaced_formula and b"<" + self.p + b"f" in old:
            self.replaced_formula = True  # a formula the run overwrites: the calculation chain must go
        value = op.value
        restyle = op.restyle
        if old is not None and not op.set_value and type(restyle) is tuple:
            return self._restyled_cell(lead, col, op, old)
        key: tuple[Any, ...] | None = None
        if type(value) in _MEMO_KINDS and type(restyle) is tuple:
            key = (col, old[len(lead):] if old is not None else None, op.set_value, type(value), value, op.style,
                   restyle)
            tail = self._memo.get(key)
            if tail is not None:
                return lead + tail
        # A value of its own (an ID, a time, a fingerprint): the cell as a row before wrote one in this column over the
        # same old cell, with the same changes and a value of the same form, but for the value's text.
        shape: tuple[Any, ...] | None = None
        if op.set_value and type(restyle) is tuple:
            form, text = self._value_text(value)
            shape = (col, old[len(lead):] if old is not None else None, op.style, restyle, form)
            around = self._around.get(shape)
            if around is not None:
                return lead + around + text + self._forms[form][1]
        if old is None:
            new = self._new_cell(int(row), col, op, None)
        else:
            head = self._cell_re.match(old)
            assert head is not None
            new = self._new_cell(int(row), col, op, (int(_head(head.group(1))[1].get(b"s", b"0")), old))
        if key is not None and len(self._memo) < _MEMO_MAX and new.startswith(lead):
            self._memo[key] = new[len(lead):]
        if shape is not None and len(self._around) < _MEMO_MAX and new.startswith(lead):
            end = text + self._forms[shape[-1]][1]
            if new.endswith(end) and len(new) >= len(lead) + len(end):
                self._around[shape] = new[len(lead):len(new) - len(end)]
        return new

    def _restyled_cell(self, lead: bytes, col: int, op: CellOp, old: bytes) -> bytes:
        """An existing cell whose format alone changes (a problem marked, a row coloured): only its start tag changes
        (``_with_style``), and that only by the tag itself, so a tag met before (the same attributes after the
        reference, the same changes) is changed as it was then; the value after it stays the cell's own."""
        close = old.find(b">") + 1
        tag, rest = old[len(lead):close], old[close:]
        key = (tag, op.style, op.restyle)
        new_tag = self._restyled.get(key)
        if new_tag is not None:
            return lead + new_tag + rest
        head = self._cell_re.match(old)
        assert head is not None
        new = self._new_cell(0, col, op, (int(_head(head.group(1))[1].get(b"s", b"0")), old))
        if len(self._restyled) < _MEMO_MAX and close > len(lead) and new.startswith(lead) and new.endswith(rest):
            self._restyled[key] = new[len(lead):len(new) - len(rest)]
        return new

    def _edit_row(self, row: Row, ops: dict[int, CellOp]) -> list[tuple[int, int, bytes]]:
        """The row's changes as splices (start, end, new bytes) of the part, in order: the bytes between them are
        never copied until the part is joined once."""
        if not self.refs_everywhere:
            return [(row.start, row.end, self._edit_row_walking(row, ops))]
        data, p = self.data, self.p
        tag_end = data.find(b">", row.start) + 1
        if data[tag_end - 2:tag_end] == b"/>":
            return [(row.start, row.end, self._edit_row_walking(row, ops))]
        close = row.end - len(b"</" + p + b"row>")
        number = str(row.number).encode()
        lead = b"<" + p + b'c r="'
        edits: list[tuple[int, int, bytes]] = []
        cols, run, others, run_letters = self._shape(ops)
        if len(run) > 1:  # a run's columns side by side (the system block): one stretch
            block = self._edit_block(row, ops, run, number, tag_end, close, run_letters)
            if block is not None:
                edits.append(block)
                cols = others
        refs: list[tuple[int, int]] | None = None  # (column, start) of the row's cells, when needed
        k = 0  # refs[k:] are the cells right of the column before; ops come in column order
        for col in cols:
            op = ops[col]
            at = data.find(lead + _letters(col) + number + b'"', tag_end, close)
            if at >= 0:
                m = self._cell_re.match(data, at)
                assert m is not None
                edits.append((at, m.end(), self._cell(number, col, op, m.group(0))))
                continue
            if refs is None:
                refs = [(_column(r.group(1)), r.start()) for r in self._ref_re.finditer(data, tag_end, close)]
            while k < len(refs) and refs[k][0] <= col:
                k += 1
            if k < len(refs):
                after = refs[k][1]
            else:  # right of every cell: before the row's end (or its extLst)
                ext = data.find(b"<" + p + b"extLst", tag_end, close)
                after = ext if ext >= 0 else close
            edits.append((after, after, self._cell(number, col, op, None)))
        edits.sort(key=lambda x: (x[0], x[1]))  # a new cell put right before the stretch comes before it
        return self._spans(row, ops, tag_end) + edits

    def _shape(self, ops: dict[int, CellOp]) -> tuple[list[int], list[int], list[int], list[bytes]]:
        """A row's columns to write in order, their longest stretch of adjacent ones, the others, and the stretch's
        column letters; rows written alike share one answer."""
        key = tuple(ops)
        shape = self._shapes.get(key)
        if shape is None:
            cols = sorted(ops)
            run = _longest_run(cols)
            shape = (cols, run, [col for col in cols if col < run[0] or col > run[-1]] if run else cols,
                     [_letters(col) for col in run])
            if len(self._shapes) < _MEMO_MAX:
                self._shapes[key] = shape
        return shape

    def _edit_block(self, row: Row, ops: dict[int, CellOp], cols: list[int], number: bytes, tag_end: int,
                    close: int, letters: list[bytes]) -> tuple[int, int, bytes] | None:
        """A row whose cells of ``cols`` (adjacent columns) all exist, side by side: the splice of that stretch made
        anew: from the row before's at once where the two are alike but for their number (a validation writes the
        same result in the same cells of every valid row), else through the memo of stretches with texts of their
        own (``_slots``), else cell by cell. None where the row is otherwise (a cell missing, another in between): the
        general way does it."""
        data, lead, suffix = self.data, b"<" + self.p + b'c r="', number + b'"'  # ``letters``: of ``cols``
        start = data.find(lead + letters[0] + suffix, tag_end, close)
        last = data.find(lead + letters[-1] + suffix, start, close) if start >= 0 else -1
        if last < 0:
            return None
        m = self._cell_re.match(data, last)
        assert m is not None
        stretch = data[start:m.end()]
        row_ops = list(map(ops.__getitem__, cols))
        sig = tuple([(op.set_value, type(op.value), op.value, op.style, op.restyle) for op in row_ops])
        before = self._last_block
        if before and before[0] == cols and before[1] == sig:
            if len(before) > 4:  # as ``_remember_block`` left it: made ready once, for the rows alike that follow
                before = self._last_block = self._ready_block(*before)
            if before and stretch == before[2].replace(b"\x00", number):
                return start, m.end(), before[3].replace(b"\x00", number)  # the row before's, with this row's number
        known = self._last_stretch
        if known and known[0] == cols and stretch == known[1].replace(b"\x00", number):
            tails, heads = known[2], known[3]  # the old cells as the row before's (empty system cells, mostly)
            self._stretch_misses = 0
        else:
            found = self._stretch_tails(stretch, letters, suffix)
            if found is None:
                return None
            tails, heads = found, None
            self._stretch_misses += 1
            if self._stretch_misses < 8 or self._stretch_misses % 256 == 0:  # rows whose old cells differ: seldom
                self._remember_stretch(cols, letters, tails, stretch, number)
        tupled = all([type(op.restyle) is tuple for op in row_ops])
        # ops equal in these values write the same bytes (not so for 0.0 and -0.0): such a stretch is the next row's
        alike = tupled and all([type(op.value) in _MEMO_KINDS for op in row_ops])
        slot: tuple[Any, ...] | None = None  # see ``_learn_slots``
        if tupled and b"<" + self.p + b"f" not in stretch:
            # each cell: its start tag (its format), what changes, and its own text: the value written, or what
            # follows the start tag of a cell whose format alone changes (an amount marked as a problem)
            shapes, texts = [], []
            for tail, op, (head, close) in zip(tails, row_ops, heads or _heads(tails), strict=True):
                if op.set_value:
                    form, text = self._value_text(op.value)
                else:
                    form, text = -1, tail[close:]
                shapes.append((head, op.set_value, form, op.style, op.restyle))
                texts.append((form, text))
            values = [text for _form, text in texts]
            if b"\x00" not in b"".join(values):  # XML never holds a NUL; the row's number goes where one is
                slot = (tuple(cols), *shapes)
                parts = self._slots.get(slot)
                if parts is not None:
                    template = _interleaved(parts, values)
                    if alike:
                        self._remember_block(cols, sig, letters, number, template, stretch)
                    return start, m.end(), template.replace(b"\x00", number)
        cells = [self._cell(number, col, op, lead + ref + suffix + tail)
                 for ref, tail, col, op in zip(letters, tails, cols, row_ops, strict=True)]
        new = b"".join(cells)
        if alike and b"\x00" not in new:  # XML never holds a NUL
            self._remember_block(cols, sig, letters, number, self._unnumbered(new, letters, number), stretch)
        if slot is not None and len(self._slots) < _MEMO_MAX:
            self._learn_slots(slot, cells, texts, values, letters, number, new)
        return start, m.end(), new

    def _stretch_tails(self, stretch: bytes, letters: list[bytes], suffix: bytes) -> list[bytes] | None:
        """Each cell of a stretch after its reference (``<c r="L7"``), if the stretch is the cells of ``letters`` in
        that order and nothing else."""
        lead = b"<" + self.p + b'c r="'
        pieces = stretch.split(lead)  # b"", then each cell without its "<c r=": a text never holds "<c "
        if len(pieces) != len(letters) + 1 or pieces[0]:
            return None
        tails = []  # each cell after its reference: the stretch as on any row
        for piece, ref in zip(pieces[1:], letters, strict=True):
            if not piece.startswith(ref + suffix):  # another cell between, or cells out of column order
                return None
            tails.append(piece[len(ref) + len(suffix):])
        return tails

    def _remember_stretch(self, cols: list[int], letters: list[bytes], tails: list[bytes], stretch: bytes,
                          number: bytes) -> None:
        """The old cells of a row's stretch, for a next row whose old cells are the same but for its number
        (``_last_stretch``): (columns, the stretch with NUL for the row's number, each cell after its reference, and
        each cell's start tag after its reference with its length). Not where the stretch holds a NUL of its own."""
        old = self._unnumbered(stretch, letters, number)
        if old.count(b"\x00") == len(cols) and b"\x00" not in stretch:
            self._last_stretch = (list(cols), old, tails, _heads(tails))

    def _learn_slots(self, slot: tuple[Any, ...], cells: list[bytes], texts: list[tuple[int, bytes]],
                     values: list[bytes], letters: list[bytes], number: bytes, new: bytes) -> None:
        """Remember a stretch whose cells got texts of their own (an ID, a message, a fingerprint written on every
        row; the amount of a cell marked as a problem, its format alone changed) as the bytes between those texts,
        each row's number left out: a row over cells with the same start tags, the same changes and values of the
        same forms is then its texts put in their places (``_slots``). Not where taking it apart and putting it
        together again would not give the same bytes."""
        made, constant = [], b""
        for cell, (form, text) in zip(cells, texts, strict=True):
            after = self._forms[form][1] if form >= 0 else b""
            if not cell.endswith(text + after):
                return
            made.append(constant + cell[:len(cell) - len(text) - len(after)])
            constant = after
        made.append(constant)
        made = [self._unnumbered(part, letters, number) for part in made]
        remade = _interleaved(made, values)
        if sum(part.count(b"\x00") for part in made) == len(cells) and remade.replace(b"\x00", number) == new:
            self._slots[slot] = tuple(made)

    def _unnumbered(self, xml: bytes, letters: list[bytes], number: bytes) -> bytes:
        """Cells' XML with the row's number left out of each reference to ``letters`` (a NUL in its place): what a
        row alike but for its number is made from."""
        lead, suffix = b"<" + self.p + b'c r="', number + b'"'
        for ref in letters:
            xml = xml.replace(lead + ref + suffix, lead + ref + b'\x00"')
        return xml

    def _remember_block(self, cols: list[int], sig: tuple[Any, ...], letters: list[bytes], number: bytes,
                        template: bytes, stretch: bytes) -> None:
        """The stretch just made, for the next row (``_last_block``), as it was made: it is made ready
        (``_ready_block``) only when a row comes with the same ops (rows whose ops hold an ID or a time of their own
        never do)."""
        self._last_block = (list(cols), sig, letters, number, template, stretch)

    def _ready_block(self, cols: list[int], sig: tuple[Any, ...], letters: list[bytes], number: bytes,
                     template: bytes, stretch: bytes) -> tuple[Any, ...]:
        """A remembered stretch as (columns, ops' signature, its old XML and its new, each with NUL where the row's
        number goes); none where the old one holds a NUL of its own (XML never does) or where the new one's count
        of them is not one per cell."""
        old = self._unnumbered(stretch, letters, number)
        if old.count(b"\x00") == len(cols) == template.count(b"\x00") and b"\x00" not in stretch:
            return cols, sig, old, template
        return ()

    def _spans(self, row: Row, ops: dict[int, CellOp], tag_end: int) -> list[tuple[int, int, bytes]]:
        """The splice of the row's start tag where its ``spans`` hint must widen; none where it covers ``ops``."""
        open_tag = self.data[row.start:tag_end]
        wider = _with_spans(open_tag, ops)
        return [] if wider is open_tag else [(row.start, tag_end, wider)]

    def _edit_row_walking(self, row: Row, ops: dict[int, CellOp]) -> bytes:
        """The general way: every cell of the row parsed (cells without a reference, a self-closed row)."""
        data = self.data
        tag_end = data.find(b">", row.start) + 1
        self_closed = data[tag_end - 2:tag_end] == b"/>"
        open_tag = data[row.start:tag_end - 2].rstrip() + b">" if self_closed else data[row.start:tag_end]
        existing = list(self.raw_cells(row))
        out: list[bytes] = []
        todo = dict(sorted(ops.items()))
        last_end = tag_end
        for col, attrs, content, s, e in existing:
            gap = data[last_end:s]
            out.append(gap if not gap.strip() else b"")  # white space between cells stays
            for new_col in [c for c in todo if c < col]:
                out.append(self._new_cell(row.number, new_col, todo.pop(new_col), None))
            op = todo.pop(col, None)
            if op is not None and op.set_value and content is not None and b"<" + self.p + b"f" in content:
                self.replaced_formula = True
            out.append(data[s:e] if op is None else self._new_cell(row.number, col, op,
                                                                     (int(attrs.get(b"s", b"0")), data[s:e])))
            last_end = e
        for new_col, op in todo.items():
            out.append(self._new_cell(row.number, new_col, op, None))
        rest = b"" if self_closed else data[last_end:row.end - len(b"</" + self.p + b"row>")]
        if rest.strip() and not rest.lstrip().startswith(b"<"):
            rest = b""
        return _with_spans(open_tag, ops) + b"".join(out) + rest + b"</" + self.p + b"row>"

    def _new_cell(self, row: int, col: int, op: CellOp, old: tuple[int, bytes] | None) -> bytes:
        """The XML of a cell the run writes; ``old`` is the existing cell's (format, XML), if there is one."""
        p = self.p
        own = old[0] if old is not None else self._column_styles.get(col, 0)
        if op.style is None and not op.restyle:
            style = own
        else:  # the same few changes to the same few formats, over thousands of rows: each worked out once
            key = (own, op.style, *op.restyle)
            found = self._formats.get(key)
            style = self._formats[key] = op.format_of(own) if found is None else found
        if old is not None and not op.set_value:  # only the format changes: the cell's XML stays otherwise
            return _with_style(old[1], style) if style != own else old[1]
        ref = f"{get_column_letter(col)}{row}".encode()
        head = b"<" + p + b'c r="' + ref + b'"' + (b' s="' + str(style).encode() + b'"' if style else b"")
        form, text = self._value_text(op.value)
        before, after = self._forms[form]
        return head + before + text + after

    def _value_text(self, value: Any) -> tuple[int, bytes]:
        """How a value is written: its form (an index into ``_forms``: empty, TRUE/FALSE, a number, a text) and its
        text in that form. A text or a time without a zone written before (a result, its message, the time of the
        run, the service's last update shared by many records) is looked up, up to ``_MEMO_MAX`` of them."""
        kind = type(value)
        if kind is int:  # an ID: each its own
            return 2, str(value).encode()
        if kind is str or kind is datetime and value.tzinfo is None:
            known = self._written.get(value)
            if known is None:
                known = self._value_text_of(value)
                if len(self._written) < _MEMO_MAX:
                    self._written[value] = known
            return known
        return self._value_text_of(value)

    def _value_text_of(self, value: Any) -> tuple[int, bytes]:
        if value is None or (isinstance(value, float) and not math.isfinite(value)) or \
                (isinstance(value, Decimal) and not value.is_finite()):
            return 0, b""
        if isinstance(value, bool):
            return 1, b"1" if value else b"0"
        if isinstance(value, int | float | Decimal):
            text = repr(value) if isinstance(value, float) else decimal_text(value) if isinstance(value, Decimal) \
                else str(value)
            return 2, text.encode()
        if isinstance(value, datetime | date):
            serial = to_excel(value, epoch=CALENDAR_MAC_1904 if self.date1904 else CALENDAR_WINDOWS_1900)
            return 2, repr(float(serial)).removesuffix(".0").encode()
        return 3, xml_text(str(value))

    def _with_dimension(self, head: bytes, max_row: int, max_col: int) -> bytes:
        p = re.escape(self.p)
        m = re.search(rb"<" + p + rb'dimension\b[^>]*\bref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"', head)
        if m is None or not max_row:
            return head
        lo_col, lo_row = m.group(1).decode(), int(m.group(2))
        hi_col = column_index_from_string((m.group(3) or m.group(1)).decode())
        hi_row = int(m.group(4) or m.group(2))
        if max_row <= hi_row and max_col <= hi_col:
            return head
        ref = f"{lo_col}{lo_row}:{get_column_letter(max(hi_col, max_col))}{max(hi_row, max_row)}"
        return head[:m.start(1)] + ref.encode() + head[m.end(4) if m.group(4) else m.end(2):]

    def _with_cols(self, head: bytes, cols: Sequence[tuple[int, float | None, bool]]) -> bytes:
        if not cols:
            return head
        p = re.escape(self.p)
        m = re.search(rb"<" + p + rb"cols\b[^>]*>(.*?)</" + p + rb"cols>", head, re.S)
        entries: list[tuple[int, int, bytes]] = []  # (min, max, element)
        if m:
            for found in re.finditer(rb"<" + p + rb"col\b[^>]*?/>", m.group(1)):
                attrs = dict(_ATTRS.findall(found.group(0)))
                entries.append((int(attrs.get(b"min", b"1")), int(attrs.get(b"max", b"1")), found.group(0)))
        for col, width, hidden in cols:
            split: list[tuple[int, int, bytes]] = []
            placed = False
            for lo, hi, el in entries:
                if lo <= col <= hi:
                    if lo < col:
                        split.append((lo, col - 1, set_attr(el, "max", str(col - 1))))
                    mine = set_attr(set_attr(el, "min", str(col)), "max", str(col))
                    split.append((col, col, _col_attrs(mine, width, hidden)))
                    if col < hi:
                        split.append((col + 1, hi, set_attr(el, "min", str(col + 1))))
                    placed = True
                else:
                    split.append((lo, hi, el))
            if not placed:
                el = b"<" + self.p + b'col min="' + str(col).encode() + b'" max="' + str(col).encode() + b'"/>'
                split.append((col, col, _col_attrs(el, width, hidden)))
            entries = sorted(split)
        new = b"".join(el for _lo, _hi, el in entries)
        if m:
            return head[:m.start(1)] + new + head[m.end(1):]
        return head + b"<" + self.p + b"cols>" + new + b"</" + self.p + b"cols>"


_UNCALCULATED = object()  # what ``Sheet._value`` gives for a formula without a cached value
_MEMO_KINDS = frozenset({str, int, bool, type(None), datetime, date})  # equal values of these are written alike
_MEMO_MAX = 4096  # cells remembered per sheet: the common ones come first; unique ids and messages are not worth it

_STYLE_ATTR = re.compile(rb'(\ss=")\d+(")')
_REF_ATTR_END = re.compile(rb'\sr="[A-Z]+\d+"')


def _with_spans(open_tag: bytes, ops: dict[int, CellOp]) -> bytes:
    """A row's start tag whose ``spans`` hint (if it has one) covers the columns written; the same tag if it does."""
    spans = _SPANS.search(open_tag)
    if spans is None:
        return open_tag
    lo, hi = int(spans.group(1)), int(spans.group(2))
    if lo <= min(ops) and max(ops) <= hi:
        return open_tag
    return set_attr(open_tag, "spans", f"{min(lo, min(ops))}:{max(hi, max(ops))}")


_SPANS = re.compile(rb'\sspans="(\d+):(\d+)"')


def _heads(tails: list[bytes]) -> list[tuple[bytes, int]]:
    """Each cell's start tag after its reference, and where its content starts (``_edit_block``)."""
    heads = []
    for tail in tails:
        close = tail.find(b">") + 1
        heads.append((tail[:close], close))
    return heads


def _interleaved(parts: Sequence[bytes], texts: list[bytes]) -> bytes:
    """A slotted stretch put together: its constant parts with each cell's own text between them (``_learn_slots``)."""
    if len(parts) != len(texts) + 1:
        raise ValueError(f"{len(parts)} parts cannot hold {len(texts)} texts")
    joined: list[bytes] = [b""] * (2 * len(texts) + 1)
    joined[0::2] = parts
    joined[1::2] = texts
    return b"".join(joined)


def _with_style(cell: bytes, style: int) -> bytes:
    """A cell element with another format; every other byte of it unchanged."""
    tag_end = cell.find(b">")  # only the start tag: a text such as ' s="5"' in the value is never touched
    m = _STYLE_ATTR.search(cell, 0, tag_end)
    if m is not None:
        return cell[:m.end(1)] + str(style).encode() + cell[m.start(2):]
    ref = _REF_ATTR_END.search(cell, 0, tag_end)  # no s attribute yet: put it right after the reference
    at = ref.end() if ref else cell.index(b"c", 1) + 1
    return cell[:at] + b' s="' + str(style).encode() + b'"' + cell[at:]


def _col_attrs(el: bytes, width: float | None, hidden: bool) -> bytes:
    if width is not None:
        el = set_attr(set_attr(el, "width", f"{width:g}"), "customWidth", "1")
    if hidden:
        el = set_attr(el, "hidden", "1")
    return el


def _find(data: bytes | mmap.mmap, sub: bytes, start: int) -> int:
    """``data.find(sub, start)`` (``sub`` under 64 bytes); in a mapped sheet through ``_search``."""
    if isinstance(data, bytes):
        return data.find(sub, start)
    m = _search(re.compile(re.escape(sub)), data, start, len(data))
    return m.start() if m is not None else -1


def _search(pattern: re.Pattern[bytes], data: bytes | mmap.mmap, start: int, end: int) -> re.Match[bytes] | None:
    """``pattern.search(data, start, end)`` for a pattern whose matches are short (under 64 bytes); in a mapped
    sheet a ``RELEASE_EVERY`` at a time, its pages let go of after each. A window reaches 64 bytes into the next, so
    that a match near its end is seen whole; one that starts beyond it is left to the next."""
    if isinstance(data, bytes):
        return pattern.search(data, start, end)
    step = xlsx_package.RELEASE_EVERY
    for at in range(start, end, step):
        m = pattern.search(data, at, min(end, at + step + 64))
        release(data)
        if m is not None and m.start() < at + step:
            return m
    return None


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8")
    return html.unescape(text) if "&" in text else text


def read_shared_strings(data: bytes) -> list[str]:
    """The shared string table: the text of each item, rich-text runs joined, phonetic runs left out."""
    from lxml import etree

    if b"<!DOCTYPE" in data[:4096]:
        raise WorkbookError("The shared strings part declares a DOCTYPE; Excel never writes one. Refusing it.")
    out: list[str] = []
    ns = None
    for _event, el in etree.iterparse(io.BytesIO(data), events=("end",), resolve_entities=False,
                                      no_network=True, load_dtd=False, huge_tree=False):
        tag = el.tag if isinstance(el.tag, str) else ""
        if ns is None and tag.startswith("{"):
            ns = tag[1:tag.index("}")]
        if tag.endswith("}si") or tag == "si":
            parts = []
            for t in el.iter():
                t_tag = t.tag if isinstance(t.tag, str) else ""
                if t_tag.endswith("}t") or t_tag == "t":
                    parent = t.getparent()
                    if parent is not None and str(parent.tag).endswith("rPh"):
                        continue
                    parts.append(t.text or "")
            out.append("".join(parts))
            el.clear()
    return out
