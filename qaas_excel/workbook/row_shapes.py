"""Rows that repeat another row in all but their values, read a row at a time by one regex.

A table's rows mostly look alike: the same cells with the same formats and types, only the values and the row
number differ. A *shape* is one such row's XML with its values and its row number cut out, made a regex: a row the
regex matches is byte for byte that row but for those, so each of its cells reads as that row's cell would, with
its own value. Matching a whole row finds its 18 values at once, where the cell regex makes a tuple of seven for
each cell (0.12 s against 0.50 s for 50,000 rows of 18 cells).

A shape is learnt only from a row the cell regex read in full (every cell in the plain shape, each naming the
row's own number, no column twice), and only if it matches that row again; a row no shape matches is read the
usual way. ``Sheet._shaped_into`` does the reading.
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass

# what a cell's value is to reading (``Sheet._plain_into``): a shape's cell of each kind reads alike in every row
EMPTY = 0  # no value (a cell with a format only): nothing read
TEXT = 1  # one run of inline text
NUMBER = 2  # a lone <v> without a type or of type n: a number, or a date by its format
SHARED = 3  # a lone <v> of type s: a shared string
OTHER = 4  # anything else: read by ``_plain_into`` from the cell's tuple, rebuilt for each row

SHAPES_HELD = 8  # shapes kept per sheet read, the most recently used first
ROW_NUMBER = re.compile(rb'\br="(\d+)"')  # a row's number in its start tag (``Sheet.rows`` finds rows by it too)


@dataclass(frozen=True)
class ShapeCell:
    """One cell of a shape: what the cell regex reads of it in every row the shape matches."""
    letters: bytes
    s: bytes
    t: bytes
    v: bytes  # the cell's <v> and inline text as in the row learnt from: what a row has unless ``group`` says
    text: bytes
    rest: bytes
    group: int  # where its value is in a match's groups (0 for the row number): 0 when the value is literal
    in_text: bool  # the value the group holds is the inline text (else the <v>)
    kind: int


@dataclass(frozen=True)
class Shape:
    pattern: re.Pattern[bytes]
    cells: tuple[ShapeCell, ...]


def learn(row: bytes, prefix: bytes, cell_re: re.Pattern[bytes], row_tag_re: re.Pattern[bytes]) -> Shape | None:
    """The shape of ``row`` (one whole ``<row>`` element), or None when it cannot be one: a row without its number,
    an empty row, a cell not in the plain shape or naming another row, a column twice."""
    tag = row_tag_re.match(row)
    if tag is None or tag.group(2):
        return None
    number = ROW_NUMBER.search(row, tag.start(1), tag.end(1))
    if number is None:
        return None
    digits = number.group(1)
    parts = [rb"[ \t\r\n]*", re.escape(row[:number.start(1)]), rb"(\d+)", re.escape(row[number.end(1):tag.end()])]
    cells: list[ShapeCell] = []
    seen: set[bytes] = set()
    groups = 0
    pos = tag.end()
    for c in cell_re.finditer(row, pos):
        letters = c.group(1)
        if c.group(2) != digits or letters in seen:
            return None
        seen.add(letters)
        parts += [re.escape(row[pos:c.start(2)]), rb"(?:\1)"]
        s, t, rest = c.group(3) or b"", c.group(4) or b"", c.group(7) or b""
        at = 5 if c.group(5) is not None else 6 if c.group(6) is not None else 0
        if at:
            groups += 1
            parts += [re.escape(row[c.end(2):c.start(at)]), rb"([^<]*)", re.escape(row[c.end(at):c.end()])]
        else:
            parts.append(re.escape(row[c.end(2):c.end()]))
        if not at:
            kind = OTHER if rest else EMPTY
        elif rest:
            kind = OTHER
        elif at == 6:
            kind = TEXT if t == b"inlineStr" else OTHER
        else:
            kind = NUMBER if t in (b"", b"n") else SHARED if t == b"s" else OTHER
        cells.append(ShapeCell(letters, s, t, c.group(5) or b"", c.group(6) or b"", rest, groups if at else 0,
                               at == 6, kind))
        pos = c.end()
    if not cells or len(re.findall(rb"<" + re.escape(prefix) + rb"c[\s>/]", row)) != len(cells):
        return None
    parts.append(re.escape(row[pos:]))
    pattern = re.compile(b"".join(parts))
    if pattern.fullmatch(row) is None:  # a shape reads the row it was learnt from, or it is no shape
        return None
    return Shape(pattern, tuple(cells))


class RowShapes:
    """The shapes of one sheet's reading, and whether they are worth trying: a sheet whose rows each differ (a
    formula naming its own row) stops trying after some rows and is read the usual way."""

    def __init__(self, prefix: bytes, cell_re: re.Pattern[bytes], row_tag_re: re.Pattern[bytes]) -> None:
        self._prefix, self._cell_re, self._row_tag_re = prefix, cell_re, row_tag_re
        self._shapes: list[Shape] = []
        self.hits = self.misses = 0
        self.active = True

    def take(self, data: bytes | mmap.mmap, pos: int, stop: int) -> tuple[Shape, list[tuple[bytes, ...]], int] | None:
        """The rows from ``pos`` on that one shape matches, one after the other: (shape, each row's groups, where
        they end); None when no shape matches the row at ``pos``."""
        for shape in self._shapes:
            m = shape.pattern.match(data, pos, stop)
            if m is not None:
                break
        else:
            self.misses += 1
            if self.misses > 64 and self.misses * 8 > self.hits:
                self.active = False
            return None
        if shape is not self._shapes[0]:
            self._shapes.remove(shape)
            self._shapes.insert(0, shape)
        run = [m.groups()]
        match, pos = shape.pattern.match, m.end()
        while (m := match(data, pos, stop)) is not None:
            run.append(m.groups())
            pos = m.end()
        self.hits += len(run)
        return shape, run, pos

    def learn(self, row: bytes) -> None:
        shape = learn(row, self._prefix, self._cell_re, self._row_tag_re)
        if shape is not None:
            self._shapes.insert(0, shape)
            del self._shapes[SHAPES_HELD:]
