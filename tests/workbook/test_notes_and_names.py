"""Where a sheet's first note drawing is linked, and how problems' cell names are read back."""

from __future__ import annotations

import pytest
from openpyxl.utils.cell import column_index_from_string
from openpyxl.utils.exceptions import CellCoordinatesException

from qaas_excel.workbook.table import cell_position
from qaas_excel.workbook.xlsx_notes import _with_legacy_drawing

NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def test_the_drawing_link_goes_after_the_data_even_when_a_row_carries_an_extlst() -> None:
    sheet = (b"<worksheet " + NS + b"><sheetData><row r=\"1\"><c r=\"A1\"><v>1</v></c><extLst/></row></sheetData>"
             b"<extLst><ext uri=\"x\"/></extLst></worksheet>")
    out = _with_legacy_drawing(sheet, "rId9")
    link = out.index(b"<legacyDrawing")
    assert out.index(b"</sheetData>") < link < out.index(b"<extLst><ext")
    assert out.replace(out[link:out.index(b"/>", link) + 2], b"") == sheet  # nothing else moved


def test_without_any_later_element_the_link_closes_the_sheet() -> None:
    sheet = b"<x:worksheet xmlns:x=\"urn:x\"><x:sheetData/></x:worksheet>"
    out = _with_legacy_drawing(sheet, "rId2")
    assert out.startswith(b"<x:worksheet xmlns:x=\"urn:x\"><x:sheetData/><x:legacyDrawing ")
    assert out.endswith(b"/></x:worksheet>")


@pytest.mark.parametrize(("name", "expected"), [("A1", (1, 1)), ("K2", (2, 11)), ("XFD1048576", (1048576, 16384)),
                                                ("AA10", (10, 27)), ("$K$2", (2, 11)), ("k2", (2, 11))])
def test_cell_names_read_as_excel_reads_them(name: str, expected: tuple[int, int]) -> None:
    assert cell_position(name) == expected
    letters = "".join(ch for ch in name if ch.isalpha()).upper()
    assert expected[1] == column_index_from_string(letters)


@pytest.mark.parametrize("name", ["A0", "1A", "", "K"])
def test_what_is_no_cell_name_is_refused(name: str) -> None:
    with pytest.raises(CellCoordinatesException):
        cell_position(name)


@pytest.mark.parametrize("sheet", [
    b"<x:worksheet xmlns:x=\"urn:x\"><x:sheetData><x:row r=\"1\"/></x:sheetData><x:extLst/></x:worksheet>",
    b"<x:worksheet xmlns:x=\"urn:x\"><x:sheetData/><x:tableParts count=\"0\"/></x:worksheet>",
    b"<worksheet " + NS + b"><sheetData><row r=\"1\"><c r=\"A1\"><v>1</v></c></row></sheetData></worksheet>"],
    ids=["prefixed", "self-closed", "plain"])
def test_the_link_made_in_the_sheets_tail_alone_is_the_link_made_in_the_whole_sheet(sheet: bytes) -> None:
    """A run links the drawing in what follows the cells (``Sheet.tail``), never holding the sheet twice: the
    prefix comes from the end tag there."""
    from qaas_excel.workbook.xlsx_sheet import Sheet

    ws = Sheet(sheet, "xl/worksheets/sheet1.xml")
    assert sheet.endswith(ws.tail) and b"<row" not in ws.tail
    whole = _with_legacy_drawing(sheet, "rId7")
    assert sheet[:-len(ws.tail)] + _with_legacy_drawing(ws.tail, "rId7") == whole
    assert (b"<x:legacyDrawing " in whole) == sheet.startswith(b"<x:")
