"""Reading a table a run of alike rows at a time (``row_shapes``) reads every cell as reading a cell at a time does:
the same values of the same kinds, the same formulas without a value, the same errors, on rows as other programs
write them."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from qaas_excel.workbook import row_shapes, xlsx_sheet
from qaas_excel.workbook.table import WorkbookError
from qaas_excel.workbook.xlsx_sheet import Sheet

NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
SHARED = ["", "one", "two & three", "vier", "fünf"]


def is_date(style: int) -> bool:
    return style in (2, 5)


def sheet(rows: bytes, prefix: bytes = b"") -> Sheet:
    p = prefix + b":" if prefix else b""
    ns = NS.replace(b"xmlns=", b"xmlns:" + prefix + b"=") if prefix else NS
    return Sheet(b'<?xml version="1.0" encoding="UTF-8"?><' + p + b"worksheet " + ns + b"><" + p + b"sheetData>"
                 + rows.replace(b"<", b"<" + p).replace(b"<" + p + b"/", b"</" + p) + b"</" + p + b"sheetData></" + p
                 + b"worksheet>", "xl/worksheets/sheet1.xml")


def read(data: bytes, by_shape: bool, monkeypatch: pytest.MonkeyPatch, prefix: bytes = b"",
         columns: set[int] | None = None) -> tuple[Any, ...]:
    """What ``columns_of`` reads (each value with its kind) and which formulas had no value; or the error."""
    monkeypatch.setattr(xlsx_sheet, "READ_BY_SHAPE", by_shape)
    ws = sheet(data, prefix)
    assert ws.refs_everywhere
    try:
        got = ws.columns_of(SHARED, is_date, columns or set(range(1, 12)))
    except WorkbookError as e:
        return ("error", str(e))
    return ({c: {r: (type(v).__name__, v) for r, v in col.items()} for c, col in got.items()}, ws.uncalculated)


# what a cell can be, as Excel, LibreOffice, openpyxl and xlsxwriter write them: (column, row number) -> XML
CellMaker = Callable[[str, int, random.Random], str]
CELLS: list[CellMaker] = [
    lambda c, n, r: f'<c r="{c}{n}" s="1" t="inlineStr"><is><t>{r.choice(["", "a &amp; b", "Görlitz", "x", "  "])}'
                    "</t></is></c>",
    lambda c, n, r: f'<c r="{c}{n}" t="inlineStr"><is><t xml:space="preserve"> {r.randint(0, 9)} </t></is></c>',
    lambda c, n, r: f'<c r="{c}{n}"><v>{r.choice(["42", "1.5", "1E3", "-3", "", "007", "0.1", "2.50"])}</v></c>',
    lambda c, n, r: f'<c r="{c}{n}" s="2" t="n"><v>{r.choice(["45292", "45292.5", "", "1", "60"])}</v></c>',
    lambda c, n, r: f'<c r="{c}{n}" s="3"><v>{r.choice(["45292", "12"])}</v></c>',
    lambda c, n, r: f'<c r="{c}{n}" t="s"><v>{r.randint(0, len(SHARED) - 1)}</v></c>',
    lambda c, n, r: f'<c r="{c}{n}" t="b"><v>{r.randint(0, 1)}</v></c>',
    lambda c, n, r: f'<c r="{c}{n}" t="str"><f>A1&amp;"x"</f><v>txt</v></c>',
    lambda c, n, r: f'<c r="{c}{n}"><f>B{n}*2</f><v>{r.randint(0, 99)}</v></c>',
    lambda c, n, r: f'<c r="{c}{n}"><f>1+1</f></c>',
    lambda c, n, r: f'<c r="{c}{n}" s="4"/>',
    lambda c, n, r: f'<c r="{c}{n}" t="e"><v>#N/A</v></c>',
    lambda c, n, r: f'<c r="{c}{n}" t="inlineStr"><is><r><t>a</t></r><r><t>{r.randint(0, 9)}</t></r></is></c>',
    lambda c, n, r: f'<c r="{c}{n}" s="5" t="inlineStr"><is><t>45292</t></is></c>',
    lambda c, n, r: f'<c r="{c}{n}" s="2"><v>{r.choice(["45292", "45293"])}</v></c>',
    # as no program should write them; read as the cell regex reads them all the same
    lambda c, n, r: f'<c r="{c}{n}" t="str"><is><t>{r.choice(["", "x"])}</t></is></c>',
    lambda c, n, r: f'<c r="{c}{n}"><v>{r.choice(["", "5"])}</v><f>1+1</f></c>',
    lambda c, n, r: f'<c r="{c}{n}" t="inlineStr"><is><t>{r.choice(["", "y"])}</t></is><extLst/></c>',
    lambda c, n, r: f'<c r="{c}{n}" t="str"><v>{r.choice(["", "z"])}</v></c>',
]
ROW_TAGS = ['<row r="{n}">', '<row r="{n}" spans="1:6">', '<row r="{n}" ht="20" customHeight="1">']


UNIQUE = (8, 12)  # cells that differ from row to row in more than a value (a formula naming its row, rich text)


def random_sheet(seed: int, rows: int = 400) -> bytes:
    """Rows made from a few layouts (so that runs of alike rows come, and change), each with its own values; now
    and then a row as no layout has it: without its number, empty, a cell naming another row, a column twice, a row
    number again, a layout of its own (maybe with cells that differ from row to row), blank space before it."""
    r = random.Random(seed)
    kinds = [k for k in range(len(CELLS)) if k not in UNIQUE]
    layouts = [[(c, r.choice(kinds)) for c in "ABCDEF" if r.random() < 0.85] for _ in range(r.randint(1, 5))]
    tags = [r.choice(ROW_TAGS) for _ in layouts]
    out: list[str] = []
    n = 1
    for _ in range(rows):
        n += 1 if r.random() < 0.9 else r.randint(2, 4)
        odd = r.random()
        if odd < 0.005:
            out.append(f'<row r="{n}"/>')
            continue
        which = r.randrange(len(layouts))
        layout, tag = layouts[which], tags[which]
        if odd > 0.98:
            layout = [(c, r.randrange(len(CELLS))) for c in "ABCDEF" if r.random() < 0.7]
        cells = [CELLS[k](c, n, r) for c, k in layout]
        if odd < 0.01:
            tag = "<row>"
        elif odd < 0.015 and cells:
            cells[0] = cells[0].replace(f'r="{layout[0][0]}{n}"', f'r="{layout[0][0]}{n + 1}"', 1)
        elif odd < 0.02 and len(cells) > 1:
            cells.append(CELLS[layout[0][1]](layout[0][0], n, r))
        elif odd < 0.025 and n > 2:
            n -= 1
        space = "\n  " if 0.97 < odd < 0.98 else ""
        out.append(space + tag.format(n=n) + "".join(cells) + "</row>")
    return "".join(out).encode()


@pytest.mark.parametrize("seed", range(12))
def test_rows_read_by_shape_read_as_cells_read_one_at_a_time(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    data = random_sheet(seed)
    cells_first = read(data, False, monkeypatch)
    assert cells_first[0] and any(cells_first[0].values()) and cells_first[0] != ("error",)
    taken: list[int] = []
    take = row_shapes.RowShapes.take

    def counted(self: row_shapes.RowShapes, *args: Any) -> Any:
        got = take(self, *args)
        taken.append(len(got[1]) if got else 0)
        return got

    monkeypatch.setattr(row_shapes.RowShapes, "take", counted)
    assert read(data, True, monkeypatch) == cells_first
    assert sum(taken) > 0.8 * data.count(b"</row>")  # most rows were read by a shape
    assert read(data, True, monkeypatch, prefix=b"x") == read(data, False, monkeypatch, prefix=b"x")
    assert read(data, True, monkeypatch, columns={2, 4}) == read(data, False, monkeypatch, columns={2, 4})


def plain_cells(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many cells ``_plain_into`` (the cell-at-a-time reading) is given, call by call."""
    calls: list[int] = []
    plain_into = Sheet._plain_into

    def counted(self: Sheet, found: list[tuple[bytes, ...]], *args: Any) -> None:
        calls.append(len(found))
        plain_into(self, found, *args)

    monkeypatch.setattr(Sheet, "_plain_into", counted)
    return calls


def test_alike_rows_are_read_a_run_at_a_time_and_only_the_first_cell_by_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = plain_cells(monkeypatch)
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>E-%d &amp; co</t></is></c><c r="B%d" s="2">'
                    b'<v>%d</v></c><c r="C%d"><v>%d.25</v></c><c r="D%d" t="s"><v>%d</v></c><c r="E%d" s="4"/>'
                    b"</row>" % (n, n, n, n, 45000 + n % 7, n, n, n, n % 5, n) for n in range(2, 1002))
    got = read(rows, True, monkeypatch)
    assert sum(calls) == 5  # the first row, whose shape the rest share
    values = got[0]
    assert values[1][500] == ("str", "E-500 & co") and values[3][500] == ("float", 500.25)
    assert values[4][501] == ("str", SHARED[1]) and values[2][2] == values[2][9] and values[2][2][0] == "datetime"
    assert 5 not in values or not values[5]
    calls.clear()
    assert read(rows, False, monkeypatch) == got and sum(calls) == 5000


def test_a_row_that_differs_in_more_than_its_values_is_not_read_by_another_rows_shape(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same serial under a date format and under a plain one; a text and a shared string index; one more cell:
    each row read as its own cells say."""
    rows = b"".join([
        b'<row r="2"><c r="A2" s="2"><v>45292</v></c><c r="B2" t="inlineStr"><is><t>7</t></is></c></row>',
        b'<row r="3"><c r="A3" s="3"><v>45292</v></c><c r="B3" t="s"><v>3</v></c></row>',
        b'<row r="4"><c r="A4" s="2"><v>45292</v></c><c r="B4" t="inlineStr"><is><t>8</t></is></c></row>',
        b'<row r="5"><c r="A5" s="2"><v>45292</v></c><c r="B5" t="inlineStr"><is><t>9</t></is></c>'
        b'<c r="C5"><v>1</v></c></row>',
        b'<row r="6"><c r="A6" s="2"><v>45292</v></c><c r="C6" t="inlineStr"><is><t>10</t></is></c></row>',
    ])
    got = read(rows, True, monkeypatch)
    assert got == read(rows, False, monkeypatch)
    values = got[0]
    assert values[1][3] == ("int", 45292) and values[1][2][0] == "datetime" and values[1][6][0] == "datetime"
    assert values[2] == {2: ("str", "7"), 3: ("str", "vier"), 4: ("str", "8"), 5: ("str", "9")}
    assert values[3] == {5: ("int", 1), 6: ("str", "10")}


def test_a_shared_string_that_does_not_exist_is_the_same_error_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = b"".join(b'<row r="%d"><c r="A%d" t="s"><v>%d</v></c></row>' % (n, n, n) for n in range(1, 9))
    got = read(rows, True, monkeypatch)
    assert got[0] == "error" and "shared string that does not exist" in got[1]
    assert got == read(rows, False, monkeypatch)


def test_rows_that_each_differ_stop_being_tried_by_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """A formula naming its own row makes every row a shape of its own: after some rows the sheet is read a cell at
    a time, as before shapes, and still reads the same."""
    learnt: list[int] = []
    learn = row_shapes.RowShapes.learn

    def counted(self: row_shapes.RowShapes, row: bytes) -> None:
        learnt.append(1)
        learn(self, row)

    monkeypatch.setattr(row_shapes.RowShapes, "learn", counted)
    rows = b"".join(b'<row r="%d"><c r="A%d"><f>B%d*2</f><v>%d</v></c><c r="B%d"><v>%d</v></c></row>'
                    % (n, n, n, 2 * n, n, n) for n in range(1, 2001))
    got = read(rows, True, monkeypatch)
    assert got == read(rows, False, monkeypatch)
    assert got[0][1][7] == ("int", 14) and got[0][2][2000] == ("int", 2000)
    assert 60 < len(learnt) < 100  # tried on some rows, not on all 2,000


def test_a_shape_is_learnt_only_from_a_row_it_reads_whole() -> None:
    ws = sheet(b"")
    make = row_shapes.RowShapes(ws.p, ws._plain_cell_re, ws._row_tag_re)
    for row in (b'<row r="2"><c r="A3"><v>1</v></c></row>',  # a cell naming another row
                b'<row r="2"><c r="A2"><v>1</v></c><c r="A2"><v>2</v></c></row>',  # a column twice
                b'<row><c r="A2"><v>1</v></c></row>',  # no number
                b'<row r="2"></row>',  # no cells
                b'<row r="2"><c r="A2"><v>1</v></c><c s="1" r="B2"><v>2</v></c></row>'):  # a cell in another shape
        make.learn(row)
    assert make.take(b'<row r="2"><c r="A2"><v>1</v></c></row>', 0, 40) is None
    make.learn(b'<row r="2" spans="1:2"><c r="A2" s="1"><v>1</v></c><c r="B2"/></row>')
    text = b'<row r="7" spans="1:2"><c r="A7" s="1"><v>5.5</v></c><c r="B7"/></row>' \
           b'<row r="8" spans="1:2"><c r="A8" s="1"><v>6</v></c><c r="B8"/></row>' \
           b'<row r="9" spans="1:2"><c r="A9" s="1"><v>7</v></c><c r="B10"/></row>'
    got = make.take(text, 0, len(text))
    assert got is not None
    shape, run, end = got
    assert run == [(b"7", b"5.5"), (b"8", b"6")] and text[end:].startswith(b'<row r="9"')
    assert [(c.letters, c.kind) for c in shape.cells] == [(b"A", row_shapes.NUMBER), (b"B", row_shapes.EMPTY)]


def test_a_column_twice_in_rows_of_one_number_reads_as_the_last_cell_with_a_value(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A damaged sheet: row 5 twice, column A twice in each. Read a cell at a time, the last cell of A that holds a
    value wins: the second row 5's first A, since its second A is empty. A shape, read column by column, would give
    the first row 5's second A: such rows are never read by a shape."""
    def row(n: int, first: str, second: str) -> bytes:
        return (f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>{first}</t></is></c>'
                f'<c r="A{n}" t="inlineStr"><is><t>{second}</t></is></c></row>').encode()

    rows = row(4, "a", "b") + row(5, "x1", "y1") + row(5, "x2", "")
    got = read(rows, True, monkeypatch)
    assert got == read(rows, False, monkeypatch)
    assert got[0][1] == {4: ("str", "b"), 5: ("str", "x2")}
