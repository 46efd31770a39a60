"""The in-place sheet writer's cell edits, on worksheet XML as other programs write it."""

from __future__ import annotations

from qaas_excel.workbook.xlsx_sheet import CellOp, Sheet

NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def sheet(rows: bytes) -> Sheet:
    return Sheet(b'<?xml version="1.0" encoding="UTF-8"?><worksheet ' + NS + b"><sheetData>" + rows
                 + b"</sheetData></worksheet>", "xl/worksheets/sheet1.xml")


def test_a_new_format_changes_the_start_tag_only_never_a_text_that_looks_like_an_attribute() -> None:
    text = b'<c r="A2" t="inlineStr"><is><t>size s="5" of 7</t></is></c>'
    styled = b'<c r="B2" s="4" t="inlineStr"><is><t>x s="9"</t></is></c>'
    ws = sheet(b'<row r="2">' + text + styled + b"</row>")
    out = ws.render({2: {1: CellOp(restyle=[lambda own: own + 7]), 2: CellOp(restyle=[lambda own: own + 7])}})
    assert b'<c r="A2" s="7" t="inlineStr"><is><t>size s="5" of 7</t></is></c>' in out
    assert b'<c r="B2" s="11" t="inlineStr"><is><t>x s="9"</t></is></c>' in out


def test_the_same_change_to_the_same_format_is_worked_out_once_per_sheet_and_right_for_each_format() -> None:
    calls: list[int] = []

    def green(own: int) -> int:
        calls.append(own)
        return own + 100

    ws = sheet(b"".join(b'<row r="%d"><c r="A%d" s="%d"><v>1</v></c></row>' % (r, r, 3 if r % 2 else 4)
                        for r in range(2, 502)))
    out = ws.render({r: {1: CellOp(restyle=[green])} for r in range(2, 502)})
    assert sorted(set(calls)) == [3, 4] and len(calls) == 2
    assert out.count(b's="103"') == 250 and out.count(b's="104"') == 250


def test_a_columns_equal_texts_are_read_once_and_held_once_up_to_a_bound(monkeypatch) -> None:
    """50,000 rows of one operator, town or result held a text each: they are decoded once a column and shared
    (the dry run's peak 262 to 250 MiB), up to ``SHARED_TEXTS`` different texts a column; past that each is read
    on its own, and every value is what the cell says, entities and all."""
    from qaas_excel.workbook import xlsx_sheet

    monkeypatch.setattr(xlsx_sheet, "SHARED_TEXTS", 3)

    def cell(ref: str, text: str) -> bytes:
        return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'.encode()

    towns = ["Dresden", "Leipzig &amp; Halle", "Dresden", "Görlitz", "Chemnitz", "Zwickau", "Chemnitz",
             "Leipzig &amp; Halle"]
    ws = sheet(b"".join(b'<row r="%d">' % r + cell(f"A{r}", t) + cell(f"B{r}", f"E-{r}") + b"</row>"
                        for r, t in enumerate(towns, start=2)))
    got = ws.columns_of([], lambda _s: False, {1, 2})
    assert [got[1][r] for r in range(2, 10)] == [t.replace("&amp;", "&") for t in towns]
    assert got[2] == {r: f"E-{r}" for r in range(2, 10)}
    a = got[1]
    assert a[2] is a[4] and a[3] is a[9]  # among the first three different texts: one object each
    assert a[6] == a[8] and a[6] is not a[8]  # the fourth different text on: read each time
    assert [v for _r, c, v in ws.cells([], lambda _s: False) if c == 1] == [t.replace("&amp;", "&") for t in towns]
