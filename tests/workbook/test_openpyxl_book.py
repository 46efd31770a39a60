"""Reading real-world sheets and writing results back, headless."""

from __future__ import annotations

import os
import re
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from qaas_excel.problems import Problem
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.templates import build_workbook, write_all
from qaas_excel.workbook.openpyxl_book import OpenpyxlBook
from qaas_excel.workbook.table import WorkbookError, WriteBack
from qaas_excel.workbook.xlsx_package import backup_path

HEADERS = ["Your reference", "Organization name", "Street", "Zip code", "Town", "Terms agreed (UTC)"]


def hand_made(path: Path, rows: list[list], headers: list[str] = HEADERS, title: str = "Operators") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    ws.append(headers)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def test_hand_made_sheet_is_read_by_header_text_with_extra_columns_kept(tmp_path: Path) -> None:
    path = hand_made(tmp_path / "ops.xlsx", [["A-1", "X GmbH", "Weg 1", "01067", "Dresden", None, "my note"],
                                             [None] * 7,
                                             ["A-2", "Y GmbH", "Weg 2", 1067, "Dresden ", None, "other"]],
                     headers=["  your REFERENCE ", "Organization name *", "Street", "Zip code", "Town",
                              "Terms agreed (UTC)", "Notes"])
    table = OpenpyxlBook.open(path).read(OPERATOR)
    assert list(table.data.index) == [2, 4]  # the empty row in between is skipped
    assert table.columns["customer_reference"] == 1 and "Notes" not in table.headers.values()
    assert table.data.at[4, "zip_code"] == 1067 and table.data.at[4, "town"] == "Dresden "  # raw; parsing cleans


def test_a_required_column_renamed_beyond_recognition_is_reported(tmp_path: Path) -> None:
    wb = build_workbook([{"customer_reference": "A-1", "organization_name": "X", "street": "S", "zip_code": "01067",
                          "town": "T", "terms_agreed": datetime(2024, 1, 1)}], size=0)
    ws = wb["Operators"]
    ws.cell(1, 3).value = "Strasse"  # a required column renamed beyond recognition
    wb.save(tmp_path / "t.xlsx")
    with pytest.raises(WorkbookError, match="'Street' is missing"):
        OpenpyxlBook.open(tmp_path / "t.xlsx").read(OPERATOR)


def test_missing_required_column_is_a_file_level_error_naming_it(tmp_path: Path) -> None:
    path = hand_made(tmp_path / "ops.xlsx", [["A-1", "X", "Weg", "01067"]], headers=HEADERS[:4])
    with pytest.raises(WorkbookError) as caught:
        OpenpyxlBook.open(path).read(OPERATOR)
    assert "'Town'" in str(caught.value) and "ops.xlsx" in str(caught.value) and "Operators" in str(caught.value)


def test_duplicate_headers_are_named(tmp_path: Path) -> None:
    path = hand_made(tmp_path / "ops.xlsx", [], headers=[*HEADERS, "Town"])
    with pytest.raises(WorkbookError, match="'Town' appears twice"):
        OpenpyxlBook.open(path).read(OPERATOR)


def test_missing_sheet_lists_the_sheets(tmp_path: Path) -> None:
    path = hand_made(tmp_path / "ops.xlsx", [])
    with pytest.raises(WorkbookError, match="no sheet 'ChargePoints'.*Operators"):
        OpenpyxlBook.open(path).read(CHARGEPOINT)


def test_formulas_count_by_their_cached_values(tmp_path: Path) -> None:
    path = hand_made(tmp_path / "ops.xlsx", [["A-1", '=CONCAT("X", " GmbH")', "Weg", "01067", "=#REF!", None]])
    # openpyxl does not compute formulas: add the values Excel would have cached.
    patched = tmp_path / "cached.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                text = re.sub(r'(<c r="B2"[^>]*>)(<f>.*?</f>)(<v>.*?</v>)?', r'\1\2<v>X GmbH</v>', text)
                text = re.sub(r'<c r="B2"([^>]*)>', r'<c r="B2" t="str"\1>', text)
                text = re.sub(r'(<c r="E2"[^>]*>)(<f>.*?</f>)(<v>.*?</v>)?', r'\1\2<v>#REF!</v>', text)
                text = re.sub(r'<c r="E2"([^>]*)>', r'<c r="E2" t="e"\1>', text)
                data = text.encode()
            dst.writestr(item, data)
    table = OpenpyxlBook.open(patched).read(OPERATOR)
    assert table.data.at[2, "organization_name"] == "X GmbH"
    assert table.data.at[2, "town"] == "#REF!"


def test_a_merged_cell_is_never_read_as_each_rows_value_but_named_as_a_problem_of_every_row(tmp_path: Path) -> None:
    path = hand_made(tmp_path / "ops.xlsx", [["A-1", "X", "Weg 1", "01067", "Dresden", None],
                                             ["A-2", "Y", "Weg 2", "01067", None, None]])
    wb = openpyxl.load_workbook(path)
    wb.active.merge_cells("E2:E3")
    wb.save(path)
    table = OpenpyxlBook.open(path).read(OPERATOR)
    assert list(table.data["town"]) == ["Dresden", None]  # the hidden cell holds nothing, as in Excel
    assert [(p.row, p.field, p.code, p.cell) for p in table.problems] == [
        (2, "town", "merged-cells", "E2"), (3, "town", "merged-cells", "E2")]
    assert "E2:E3 is merged over rows 2–3" in table.problems[1].message
    assert table.unusable == {(2, "town"), (3, "town")}


@pytest.mark.parametrize(("content", "words"), [
    (b"reference;name\nA;B\n", "CSV"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Excel 97-2003"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptedPackage".encode("utf-16-le"), "password-protected"),
    (b"PK\x03\x04garbage", "damaged"),
    (b"", "empty"),
])
def test_unreadable_files_are_named_clearly(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "Meldung.xlsx"
    path.write_bytes(content)
    with pytest.raises(WorkbookError) as caught:
        OpenpyxlBook.open(path)
    assert "Meldung.xlsx" in str(caught.value) and words in str(caught.value)


def test_a_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(WorkbookError, match="not an Excel workbook"):
        OpenpyxlBook.open(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WorkbookError, match="no such file"):
        OpenpyxlBook.open(tmp_path / "nope.xlsx")


def _written(tmp_path: Path, values: dict, results: dict | None = None, marks=()) -> tuple[Path, openpyxl.Workbook]:
    path = tmp_path / "book.xlsx"
    write_all(tmp_path)
    (tmp_path / "demo.xlsx").rename(path)
    book = OpenpyxlBook.open(path)
    table = book.read(OPERATOR)
    frame = pd.DataFrame(values, dtype=object)
    book.write_back(table, WriteBack(frame, pd.Series(results or {}, dtype=object), list(marks)))
    book.save()
    return path, openpyxl.load_workbook(path)


def test_write_back_sets_values_fills_and_notes_and_keeps_the_rest(tmp_path: Path) -> None:
    values = {"id": {2: 335}, "result": {2: "created"}, "message": {2: "Created."}}
    marks = [Problem(3, "town", "required", "Town: a value is required")]
    path, wb = _written(tmp_path, values, {2: "created", 3: "invalid"}, marks)
    ws = wb["Operators"]
    hdr = [str(c.value).rstrip(" *") for c in ws[1]]
    assert ws.cell(2, hdr.index("QaaS ID") + 1).value == 335
    assert ws.cell(2, hdr.index("Result") + 1).fill.fgColor.rgb.endswith("C6EFCE")
    note = ws.cell(3, hdr.index("Town") + 1).comment
    assert note is not None and note.author == "qaas-excel" and "required" in note.text
    assert ws.cell(2, hdr.index("Organization name") + 1).value == "Stadtwerke Elbtal GmbH"
    assert "Instructions" in wb.sheetnames and wb["_qaas"].sheet_state == "hidden"
    assert backup_path(path).exists()
    # a later run that touches the row clears our old mark
    book = OpenpyxlBook.open(path)
    table = book.read(OPERATOR)
    book.write_back(table, WriteBack(pd.DataFrame({"result": {3: "valid"}}, dtype=object)))
    assert book.wb["Operators"].cell(3, hdr.index("Town") + 1).comment is None


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+49 30 1234", "-1+1", "@SUM(A1)"])
def test_text_that_looks_like_a_formula_is_written_as_text(tmp_path: Path, text: str) -> None:
    path, wb = _written(tmp_path, {"message": {2: text}})
    ws = wb["Operators"]
    col = [str(c.value).rstrip(" *") for c in ws[1]].index("Message") + 1
    cell = ws.cell(2, col)
    assert cell.data_type == "s" and cell.value == text
    with zipfile.ZipFile(path) as z:
        assert "<f>" not in z.read("xl/worksheets/sheet2.xml").decode()


def test_a_failed_save_leaves_the_original_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "book.xlsx"
    write_all(tmp_path)
    (tmp_path / "demo.xlsx").rename(path)
    before = path.read_bytes()
    book = OpenpyxlBook.open(path)

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(WorkbookError, match="unchanged"):
        book.save()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".book")] == []


def test_open_in_excel_or_read_only_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    path = hand_made(tmp_path / "ops.xlsx", [])
    (tmp_path / "~$ops.xlsx").write_bytes(b"lock")
    with pytest.raises(WorkbookError, match="open in Excel"):
        OpenpyxlBook.open(path).check_writable()


def test_committed_templates_are_up_to_date(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2] / "workbook_templates"
    write_all(tmp_path)
    for name in ("qaas_template.xlsx", "demo.xlsx"):
        assert _dump(repo / name) == _dump(tmp_path / name), f"{name} is stale: run `qaas-excel templates --out " \
                                                             "workbook_templates`"


def _dump(path: Path) -> list:
    wb = openpyxl.load_workbook(path)
    out = []
    for ws in wb.worksheets:
        out.append((ws.title, ws.sheet_state, ws.freeze_panes, bool(ws.protection.sheet),
                    sorted((t.displayName, t.ref) for t in ws.tables.values()),
                    sorted((str(dv.sqref), dv.type, dv.prompt) for dv in ws.data_validations.dataValidation)))
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None or c.number_format != "General":
                    out.append((ws.title, c.coordinate, c.value, c.number_format))
    return out


def test_template_has_tables_validation_protection_and_help(tmp_path: Path) -> None:
    write_all(tmp_path)
    wb = openpyxl.load_workbook(tmp_path / "qaas_template.xlsx")
    assert wb.sheetnames == ["Instructions", "Operators", "ChargePoints", "_qaas"]
    ws = wb["ChargePoints"]
    assert [t.displayName for t in ws.tables.values()] == ["QaasChargePoints"]
    assert ws.freeze_panes == "B2" and ws.protection.sheet
    prompts = [dv.prompt for dv in ws.data_validations.dataValidation if dv.prompt]
    assert any("eMI3" in p for p in prompts)
    hdr = [str(c.value).rstrip(" *") for c in ws[1]]
    amount = ws.cell(2, hdr.index("Amount (kWh)") + 1)
    assert amount.number_format == "#,##0.000" and amount.protection.locked is False
    assert ws.cell(2, hdr.index("QaaS ID") + 1).protection.locked is True
    assert ws.cell(2, hdr.index("Zip code") + 1).number_format == "@"
    assert ws.column_dimensions[openpyxl.utils.get_column_letter(hdr.index("_qaas_fingerprint") + 1)].hidden


def test_pandas_na_in_a_write_back_leaves_the_cell_as_it_is(tmp_path: Path) -> None:
    """pd.NA means "nothing for this cell" here as in the other two backends."""
    path, wb = _written(tmp_path, {"message": {2: "first"}})
    book = OpenpyxlBook.open(path)
    book.write_back(book.read(OPERATOR), WriteBack(pd.DataFrame({"message": {2: pd.NA}, "result": {2: "valid"}},
                                                                dtype=object)))
    ws = book.wb["Operators"]
    col = [str(c.value).rstrip(" *") for c in ws[1]].index("Message") + 1
    assert ws.cell(2, col).value == "first"
