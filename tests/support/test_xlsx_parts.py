"""The package helpers, on the foreign corpus and on hand-written worksheet XML."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.support.xlsx_parts import (
    cell_xml,
    changed_parts,
    outside_sheet_data,
    parse_xml,
    read_package,
    sheet_part,
)

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "foreign"
FILES = [entry["file"] for entry in json.loads((CORPUS / "corpus.json").read_text(encoding="utf-8"))]
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _sheet(rows: str, before: str = "", after: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{MAIN}">{before}<sheetData>{rows}'
            f"</sheetData>{after}</worksheet>").encode()


def _rewrite(path: Path, target: Path, changes: dict[str, bytes | None]) -> None:
    """Copies a package, replacing (bytes) or dropping (None) the named parts."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in changes:
                if changes[info.filename] is not None:
                    dst.writestr(info.filename, changes[info.filename])
            else:
                dst.writestr(info, src.read(info.filename))


def test_read_package_gives_every_part_with_its_bytes() -> None:
    path = CORPUS / "excel_quickstart.xlsm"
    package = read_package(path)
    with zipfile.ZipFile(path) as z:
        assert package.keys() == set(z.namelist())
        assert package["xl/vbaProject.bin"] == z.read("xl/vbaProject.bin")


def test_changed_parts_names_changed_added_and_removed_parts(tmp_path: Path) -> None:
    path = CORPUS / "xlsxwriter_features.xlsx"
    copy = tmp_path / "copy.xlsx"
    _rewrite(path, copy, {})
    assert changed_parts(read_package(path), read_package(copy)) == []

    edited = tmp_path / "edited.xlsx"
    _rewrite(path, edited, {"docProps/app.xml": None, "xl/styles.xml": read_package(path)["xl/styles.xml"] + b" "})
    after = read_package(edited)
    after["xl/new.xml"] = b"<new/>"
    assert changed_parts(read_package(path), after) == ["docProps/app.xml", "xl/new.xml", "xl/styles.xml"]


@pytest.mark.parametrize("name", FILES)
def test_sheet_part_follows_workbook_relationships(name: str) -> None:
    package = read_package(CORPUS / name)
    for sheet in ("Operators", "ChargePoints"):
        part = sheet_part(package, sheet)
        root = parse_xml(package[part])
        assert root.tag == f"{{{MAIN}}}worksheet"
    with pytest.raises(KeyError):
        sheet_part(package, "No such sheet")


def test_sheet_part_of_the_excel_file_skips_its_own_sheets() -> None:
    package = read_package(CORPUS / "excel_quickstart.xlsm")
    assert sheet_part(package, "_xlwings.conf") == "xl/worksheets/sheet2.xml"
    assert sheet_part(package, "ChargePoints") == "xl/worksheets/sheet4.xml"


@pytest.mark.parametrize("name", FILES)
def test_cell_xml_cuts_every_cell_exactly(name: str) -> None:
    package = read_package(CORPUS / name)
    for sheet in ("Operators", "ChargePoints"):
        xml = package[sheet_part(package, sheet)]
        cells = cell_xml(xml)
        parsed = parse_xml(xml).findall(f"{{{MAIN}}}sheetData/{{{MAIN}}}row/{{{MAIN}}}c")
        assert len(cells) == len(parsed) > 0
        for ref, raw in cells.items():
            assert xml.count(raw) >= 1
            element = parse_xml(raw.replace(b"<c ", f'<c xmlns="{MAIN}" '.encode(), 1))
            assert element.get("r") == ref


def test_cell_xml_keeps_a_shared_formula_cell_as_excel_wrote_it() -> None:
    package = read_package(CORPUS / "excel_quickstart.xlsm")
    cells = cell_xml(package[sheet_part(package, "ChargePoints")])
    assert cells["K2"] == b'<c r="K2" s="6"><f t="shared" ref="K2:K7" si="0">SUM(L2:O2)</f><v>18234.512</v></c>'
    assert cells["K3"] == b'<c r="K3" s="6"><f t="shared" si="0"/><v>21877.090</v></c>'


def test_cell_xml_survives_markup_characters_quotes_prefixes_and_missing_refs() -> None:
    rows = ('<row r="3"><c r="A3" t="str" x:note=\'a>b\' xmlns:x="urn:x"><f>IF(B3>0,"<&gt;",1)</f><v>1</v></c>'
            '<c s="2"/><!-- <c r="Z9"/> --><c r="D3" t="inlineStr"><is><t><![CDATA[</c> inside]]></t></is></c>'
            "</row><row><c><v>7</v></c></row>")
    xml = _sheet(rows.replace('"<&gt;"', '"&lt;&gt;"'))
    cells = cell_xml(xml)
    assert cells == {
        "A3": b'<c r="A3" t="str" x:note=\'a>b\' xmlns:x="urn:x"><f>IF(B3>0,"&lt;&gt;",1)</f><v>1</v></c>',
        "B3": b'<c s="2"/>',
        "D3": b'<c r="D3" t="inlineStr"><is><t><![CDATA[</c> inside]]></t></is></c>',
        "A4": b"<c><v>7</v></c>",
    }


def test_cell_xml_reads_prefixed_spreadsheetml() -> None:
    xml = (f'<x:worksheet xmlns:x="{MAIN}"><x:sheetData><x:row r="1"><x:c r="A1" t="n"><x:v>5</x:v></x:c>'
           "</x:row></x:sheetData></x:worksheet>").encode()
    assert cell_xml(xml) == {"A1": b'<x:c r="A1" t="n"><x:v>5</x:v></x:c>'}


def test_cell_xml_does_not_expand_entities() -> None:
    xml = (b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY big "xxxxxxxxxx">]>'
           + _sheet('<row r="1"><c r="A1" t="str"><v>&big;</v></c></row>').split(b"?>", 1)[1])
    assert cell_xml(xml)["A1"] == b'<c r="A1" t="str"><v>&big;</v></c>'
    assert parse_xml(xml).find(f".//{{{MAIN}}}v").text is None  # the entity stays a reference


def test_outside_sheet_data_is_the_rest_of_the_part_byte_for_byte() -> None:
    xml = _sheet('<row r="1"><c r="A1"><v>1</v></c></row>', before='<dimension ref="A1"/>',
                 after='<pageMargins left="0.7"/>')
    before, after = outside_sheet_data(xml)
    assert before.endswith(b'<dimension ref="A1"/>') and after == b'<pageMargins left="0.7"/></worksheet>'
    assert before + b'<sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData>' + after == xml
    other_value = xml.replace(b"<v>1</v>", b"<v>2</v>")
    assert outside_sheet_data(other_value) == (before, after)
    assert outside_sheet_data(xml.replace(b'left="0.7"', b'left="0.5"')) != (before, after)


@pytest.mark.parametrize("name", FILES)
def test_outside_sheet_data_keeps_the_foreign_sheet_content(name: str) -> None:
    package = read_package(CORPUS / name)
    xml = package[sheet_part(package, "ChargePoints")]
    before, after = outside_sheet_data(xml)
    assert before.rstrip().endswith(b">") and b"sheetData" not in before + after
    assert len(before) + len(after) < len(xml)


def test_empty_sheet_data_has_no_cells() -> None:
    xml = (f'<worksheet xmlns="{MAIN}"><sheetData/><pageMargins left="1"/></worksheet>').encode()
    assert cell_xml(xml) == {}
    assert outside_sheet_data(xml) == (f'<worksheet xmlns="{MAIN}">'.encode(), b'<pageMargins left="1"/></worksheet>')
