"""The sheet writer remembers cells and stretches it wrote once (they differ by row only): remembering must never
change a byte. Whatever the rows, writing them together gives each row exactly what writing it alone gives."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qaas_excel.workbook.xlsx_sheet import CellOp, Sheet

NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def sheet(rows: bytes) -> Sheet:
    return Sheet(b'<?xml version="1.0" encoding="UTF-8"?><worksheet ' + NS + b"><sheetData>" + rows
                 + b"</sheetData></worksheet>", "xl/worksheets/sheet1.xml")


def green(own: int) -> int:
    return own + 100


def red(own: int) -> int:
    return own + 200


GREEN, RED, BOTH = (green,), (red,), (green, red)

# Values whose equal twins are written otherwise (1 == 1.0 == True, 0.0 == -0.0, Decimal trailing zeros), texts
# that look like references or rows, and cells as other programs write them.
VALUES: list[Any] = [None, "", "valid", "5\"", ' r="A2"', "<c r=\"B3\"/>", 1, True, 1.0, 0.0, -0.0, Decimal("1.0"),
                     Decimal("1.00"), 0, False, datetime(2026, 1, 2, 3, 4, 5), date(2026, 1, 2)]
OLD = ['<c r="{c}{r}" s="7" t="n"></c>', '<c r="{c}{r}" s="7"/>', '<c r="{c}{r}"><v>{r}</v></c>',
       '<c r="{c}{r}" t="inlineStr"><is><t>row {r}"</t></is></c>', '<c r="{c}{r}" s="3"><f>A{r}*2</f><v>4</v></c>',
       '<c r="{c}{r}" s="5" t="s"><v>0</v></c>', None]

ops_strategy = st.builds(
    lambda set_value, value, style, restyle: (set_value, value, style, restyle),
    st.booleans(), st.sampled_from(VALUES), st.sampled_from([None, 4]), st.sampled_from([(), GREEN, RED, BOTH]))


def build(rows: list[tuple[int, list[int | None], dict[int, tuple[Any, ...]]]]) -> tuple[bytes, dict[int, dict[int,
                                                                                                              CellOp]]]:
    xml, ops = [], {}
    for number, olds, row_ops in rows:
        cells = "".join(OLD[o].format(c="ABCDE"[i], r=number) for i, o in enumerate(olds) if o is not None
                        and OLD[o] is not None)
        xml.append(f'<row r="{number}">{cells}</row>')
        ops[number] = {col: CellOp(set_value=s, value=v, style=y, restyle=r) for col, (s, v, y, r) in row_ops.items()}
    return "".join(xml).encode(), ops


def row_xml(out: bytes, number: int) -> bytes:
    m = re.search(rb'<row r="%d"[^>]*>.*?</row>' % number, out, re.S)
    assert m is not None
    return m.group(0)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, len(OLD) - 1), min_size=5, max_size=5),
                          st.dictionaries(st.integers(1, 5), ops_strategy, min_size=1, max_size=5)),
                min_size=1, max_size=8),
       st.data())
def test_rows_written_together_are_each_what_writing_it_alone_gives(rows: list[Any], data: Any) -> None:
    # rows repeat (the memo's case): each drawn row may be written again further down with the same cells and ops
    repeats = data.draw(st.lists(st.integers(0, len(rows) - 1), max_size=6))
    spec = [(2 + i, olds, row_ops) for i, (olds, row_ops) in enumerate(rows + [rows[k] for k in repeats])]
    xml, ops = build(spec)
    together = sheet(xml).render(ops)
    for number, olds, row_ops in spec:
        alone_xml, alone_ops = build([(number, olds, row_ops)])
        alone = sheet(alone_xml).render(alone_ops)
        assert row_xml(together, number) == row_xml(alone, number)


def test_a_remembered_stretch_keeps_each_rows_own_cells_and_references() -> None:
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c><c r="B%d" s="7"><v>%d</v></c><c r="C%d" s="7"/></row>'
                    % (r, r, r, r, r % 2, r) for r in range(2, 12))
    ops = {r: {2: CellOp(restyle=GREEN), 3: CellOp(set_value=True, value="valid", restyle=GREEN)} for r in range(2, 12)}
    ws = sheet(rows)
    out = ws.render(ops)
    for r in range(2, 12):
        assert row_xml(out, r) == (b'<row r="%d"><c r="A%d"><v>%d</v></c><c r="B%d" s="107"><v>%d</v></c>'
                                   b'<c r="C%d" s="107" t="inlineStr"><is><t xml:space="preserve">valid</t></is></c>'
                                   b"</row>" % (r, r, r, r, r % 2, r))
    # one stretch remembered as the bytes around each cell's own text (B's value): the rows after the first came
    # from it, B alternating, and none of them from the row before (its B differs)
    assert len(ws._slots) == 1


def test_a_formula_overwritten_on_any_row_is_known_though_the_row_came_from_the_memo() -> None:
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (r, r) for r in range(2, 5))
    rows += b'<row r="5"><c r="A5"><f>B5</f><v>1</v></c></row>'
    ws = sheet(rows)
    ws.render({r: {1: CellOp(set_value=True, value="x")} for r in range(2, 6)})
    assert ws.replaced_formula


def test_equal_values_written_otherwise_never_share_what_was_remembered() -> None:
    twins: list[Any] = [1, True, 1.0, Decimal("1"), Decimal("1.0"), Decimal("1.00"), 0, False, 0.0, -0.0,
                        Decimal("0"), Decimal("-0"), Decimal("0E+2")]
    for olds in ([0, 0], [6, 6], [2, 2]):  # existing empty cells (a stretch), missing cells, cells with values
        spec = [(2 + i, olds, {1: (True, v, None, GREEN), 2: (False, None, None, GREEN)}) for i, v in enumerate(twins)]
        xml, ops = build(spec)
        together = sheet(xml).render(ops)
        for number, row_olds, row_ops in spec:
            alone_xml, alone_ops = build([(number, row_olds, row_ops)])
            assert row_xml(together, number) == row_xml(sheet(alone_xml).render(alone_ops), number)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, len(OLD) - 1), min_size=5, max_size=5),
                          st.dictionaries(st.integers(1, 5), ops_strategy, min_size=1, max_size=5)),
                min_size=1, max_size=6))
# A and B missing, C to E there: A's new cell goes right before the stretch C:E
@example([([6, 6, 0, 2, 1], {1: (True, "x", None, ()), 3: (False, None, None, GREEN), 4: (True, 5, None, ()),
                             5: (True, "valid", None, RED)})])
def test_cells_spliced_by_reference_are_what_walking_each_row_writes(rows: list[Any]) -> None:
    """The fast way finds a row's cells by reference and writes a stretch of adjacent ones (the system block) in
    one piece, the cells around it one by one; walking every cell of the row is the way that assumes nothing."""
    spec = [(2 + i, olds, row_ops) for i, (olds, row_ops) in enumerate(rows)]
    xml, ops = build(spec)
    fast = sheet(xml)
    assert fast.refs_everywhere
    walking = sheet(xml)
    walking._refs = False  # as in a sheet where some cell has no reference
    _, again = build(spec)
    assert fast.render(ops) == walking.render(again)


def test_a_row_like_the_one_before_but_for_one_byte_or_one_op_is_written_as_it_is() -> None:
    # Rows alike but for their number are made from the row before at once; a row whose old cells differ by one
    # byte (a format, a value, a formula) or whose ops differ (a value, the type of an equal value) must not be.
    base = [0, 0, 0, 0, 0]
    same_ops = {2: (True, "valid", None, GREEN), 3: (True, None, None, GREEN), 4: (False, None, None, GREEN)}
    odd: dict[int, tuple[list[int | None], dict[int, tuple[Any, ...]]]] = {
        5: ([0, 1, 0, 0, 0], same_ops),  # B's old cell self-closed
        7: ([0, 0, 4, 0, 0], same_ops),  # C held a formula
        9: (base, {**same_ops, 2: (True, "invalid", None, GREEN)}),
        10: (base, {**same_ops, 3: (True, 1, None, GREEN)}),
        11: (base, {**same_ops, 3: (True, True, None, GREEN)}),
        12: (base, {**same_ops, 4: (False, None, None, RED)}),
        13: (base, {**same_ops, 4: (False, None, 4, GREEN)}),
    }
    spec = [(r, *odd.get(r, (base, same_ops))) for r in range(2, 18)]
    xml, ops = build(spec)
    ws = sheet(xml)
    together = ws.render(ops)
    for number, olds, row_ops in spec:
        alone_xml, alone_ops = build([(number, olds, row_ops)])
        assert row_xml(together, number) == row_xml(sheet(alone_xml).render(alone_ops), number), number
    assert ws.replaced_formula  # row 7's formula, though rows alike came before it


def test_cells_of_a_column_with_values_of_their_own_are_each_what_writing_it_alone_gives() -> None:
    # IDs, times and fingerprints differ on every row: the cell is made from one a row before wrote in the same
    # column over the same old cell, but for the value's text, which must be this row's, in this row's form.
    values: list[Any] = [1, 22, -3, 1.5, -0.0, 0.0, 2.0**60, Decimal("1.50"), Decimal("-7"), datetime(2026, 1, 2, 3),
                         date(2026, 1, 3), "abc", "a<b & \"c\"", " padded ", "", True, False, None, float("nan"),
                         Decimal("NaN"), 123456789, "DE*ABC*E1", datetime(2024, 2, 29), 0.1 + 0.2]
    for olds in ([0, 0], [6, 6], [2, 3], [4, 4]):  # empty cells, missing ones, values, a formula
        for restyle in ((), GREEN):
            spec = [(2 + i, olds, {1: (True, v, None, restyle), 2: (True, v, 4, restyle)})
                    for i, v in enumerate(values)]
            xml, ops = build(spec)
            together = sheet(xml).render(ops)
            for number, row_olds, row_ops in spec:
                alone_xml, alone_ops = build([(number, row_olds, row_ops)])
                assert row_xml(together, number) == row_xml(sheet(alone_xml).render(alone_ops), number)


def test_cells_marked_alike_keep_each_their_own_value() -> None:
    # A problem's cell gets a red fill: only its start tag changes, the same way for the same tag, while what
    # follows (a value, a formula, a text with a ">" of its own, nothing) stays each cell's own.
    cells = ['<c r="A{r}" s="7"><v>{r}</v></c>', '<c r="A{r}" s="7"><f>B{r}*2</f><v>{r}</v></c>',
             '<c r="A{r}" s="7" t="inlineStr"><is><t>a>b {r}</t></is></c>', '<c r="A{r}" s="7"/>',
             '<c r="A{r}"><v>{r}</v></c>', '<c r="A{r}" t="s"><v>0</v></c>', '<c r="A{r}" s="0" t="n"><v>1.5</v></c>']
    for restyle, style in ((RED, None), (BOTH, None), ((), 4), (GREEN, 4)):
        rows = "".join(f'<row r="{r}">{cells[r % len(cells)].format(r=r)}</row>' for r in range(2, 30)).encode()
        ops = {r: {1: CellOp(style=style, restyle=restyle)} for r in range(2, 30)}
        together = sheet(rows).render(ops)
        for r in range(2, 30):
            alone = f'<row r="{r}">{cells[r % len(cells)].format(r=r)}</row>'.encode()
            assert row_xml(together, r) == row_xml(sheet(alone).render({r: {1: CellOp(style=style, restyle=restyle)}}),
                                                   r)


def test_an_op_once_made_cannot_be_changed() -> None:
    """Cells that change alike share one op (and a memo keys on its fields): changing one would change them all."""
    op = CellOp(set_value=True, value="valid", restyle=GREEN)
    with pytest.raises(AttributeError):
        op.value = "invalid"  # type: ignore[misc]
    assert op == CellOp(True, "valid", None, GREEN) and op.format_of(3) == CellOp(style=3, restyle=GREEN).format_of(0)


def _stretch_rows(count: int) -> bytes:
    """Rows with an input in A and existing empty system cells B:D (as the template's rows are)."""
    return b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c><c r="B%d" s="7"/><c r="C%d" s="7"/><c r="D%d" s="7"/></row>'
                    % (r, r, r, r, r) for r in range(2, 2 + count))


def test_a_text_or_a_time_written_on_every_row_is_escaped_once_a_sheet(monkeypatch: pytest.MonkeyPatch) -> None:
    """A result's message and the run's time go into every row beside an ID of the row's own: the text is escaped
    (and the time made a serial) once, not once a row; every row still gets its own ID and the same bytes."""
    from qaas_excel.workbook import xlsx_sheet

    escaped: list[str] = []
    real = xlsx_sheet.xml_text
    monkeypatch.setattr(xlsx_sheet, "xml_text", lambda text: escaped.append(text) or real(text))
    when = datetime(2026, 12, 4, 21, 0, 0)
    ops = {r: {2: CellOp(True, 1000 + r, None, GREEN), 3: CellOp(True, "Tom & Jerry <ok>", None, GREEN),
               4: CellOp(True, when, None, GREEN)} for r in range(2, 42)}
    out = sheet(_stretch_rows(40)).render(ops)
    assert escaped.count("Tom & Jerry <ok>") == 1
    for r in range(2, 42):
        assert row_xml(out, r) == (
            b'<row r="%d"><c r="A%d"><v>1</v></c><c r="B%d" s="107"><v>%d</v></c><c r="C%d" s="107" t="inlineStr">'
            b'<is><t xml:space="preserve">Tom &amp; Jerry &lt;ok&gt;</t></is></c><c r="D%d" s="107"><v>46360.875</v>'
            b"</c></row>" % (r, r, r, 1000 + r, r, r))


def test_texts_and_times_remembered_for_writing_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from qaas_excel.workbook import xlsx_sheet

    monkeypatch.setattr(xlsx_sheet, "_MEMO_MAX", 2)
    ws = sheet(b"")
    first = ws._value_text("a & b")
    assert first == (3, b"a &amp; b") and ws._value_text("a & b") is first
    when = datetime(2026, 1, 2, 12, 0)
    assert ws._value_text(when) is ws._value_text(when) == (2, b"46024.5")
    past = ws._value_text("c")
    assert past == (3, b"c") and ws._value_text("c") is not past  # the third: worked out each time


def test_a_stretch_is_made_ready_for_the_next_row_only_when_a_row_alike_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows that each get an ID of their own never match the row before: what the row before wrote is kept as it
    was made, and taken apart for reuse only when a row with the same ops comes (a validation's results)."""
    ready: list[int] = []
    real = Sheet._ready_block

    def spy(self: Sheet, *args: Any) -> tuple[Any, ...]:
        ready.append(1)
        return real(self, *args)

    monkeypatch.setattr(Sheet, "_ready_block", spy)
    own = {r: {2: CellOp(True, 1000 + r, None, GREEN), 3: CellOp(True, "adopted", None, GREEN)} for r in range(2, 42)}
    sheet(_stretch_rows(40)).render(own)
    assert ready == []
    alike = {r: {2: CellOp(True, "valid", None, GREEN), 3: CellOp(True, "", None, GREEN)} for r in range(2, 42)}
    ws = sheet(_stretch_rows(40))
    out = ws.render(alike)
    assert ready == [1]
    assert row_xml(out, 41) == (b'<row r="41"><c r="A41"><v>1</v></c><c r="B41" s="107" t="inlineStr"><is>'
                                b'<t xml:space="preserve">valid</t></is></c><c r="C41" s="107" t="inlineStr"><is>'
                                b'<t xml:space="preserve"></t></is></c><c r="D41" s="7"/></row>')


def test_old_cells_alike_but_for_their_row_are_taken_apart_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows over the same old cells (the template's empty system cells) are taken apart once; rows whose old cells
    differ (last run's IDs) each on their own, and remembered only now and then; every row written as alone."""
    calls = {"apart": 0, "remember": 0}
    apart, remember = Sheet._stretch_tails, Sheet._remember_stretch

    def spy_apart(self: Sheet, *args: Any) -> Any:
        calls["apart"] += 1
        return apart(self, *args)

    def spy_remember(self: Sheet, *args: Any) -> None:
        calls["remember"] += 1
        remember(self, *args)

    monkeypatch.setattr(Sheet, "_stretch_tails", spy_apart)
    monkeypatch.setattr(Sheet, "_remember_stretch", spy_remember)
    ops = {r: {2: CellOp(True, 1000 + r, None, GREEN), 3: CellOp(True, "adopted", None, GREEN)} for r in range(2, 402)}
    sheet(_stretch_rows(400)).render(ops)
    assert calls == {"apart": 1, "remember": 1}

    calls.update(apart=0, remember=0)
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c><c r="B%d" s="7"><v>%d</v></c><c r="C%d" s="7"/></row>'
                    % (r, r, r, r, r) for r in range(2, 402))
    ops = {r: {2: CellOp(True, 5000 + r, None, GREEN), 3: CellOp(True, "unchanged", None, GREEN)}
           for r in range(2, 402)}
    out = sheet(rows).render(ops)
    assert calls["apart"] == 400 and calls["remember"] < 12
    for r in (2, 9, 401):
        assert row_xml(out, r) == (b'<row r="%d"><c r="A%d"><v>1</v></c><c r="B%d" s="107"><v>%d</v></c>'
                                   b'<c r="C%d" s="107" t="inlineStr"><is><t xml:space="preserve">unchanged</t></is>'
                                   b"</c></row>" % (r, r, r, 5000 + r, r))
