"""The in-place headless backend: reads like the openpyxl reader, saves without damage, refuses hostile files."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.outcomes import Outcome
from qaas_excel.pipeline import validate_book
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.results import Result
from qaas_excel.templates import write_template
from qaas_excel.workbook import files, package_book, xlsx_package
from qaas_excel.workbook.openpyxl_book import OpenpyxlBook
from qaas_excel.workbook.package_book import PackageBook
from qaas_excel.workbook.table import WorkbookError
from qaas_excel.workbook.writeback import outcomes_to_writeback

runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize("resource", [OPERATOR, CHARGEPOINT])
def test_reads_the_same_rows_as_the_openpyxl_reader(demo_book: Path, resource) -> None:
    mine, theirs = PackageBook.open(demo_book).read(resource), OpenpyxlBook.open(demo_book).read(resource)
    assert (mine.header_row, mine.columns, mine.headers, mine.last_row) == \
        (theirs.header_row, theirs.columns, theirs.headers, theirs.last_row)
    pd.testing.assert_frame_equal(mine.data, theirs.data)


def test_a_second_run_adds_no_formats_and_changes_nothing(demo_book: Path) -> None:
    book = PackageBook.open(demo_book)
    validate_book(book)
    book.save()
    first = {n: zipfile.ZipFile(demo_book).read(n) for n in zipfile.ZipFile(demo_book).namelist()}
    book = PackageBook.open(demo_book)
    validate_book(book)
    book.save()
    second = {n: zipfile.ZipFile(demo_book).read(n) for n in zipfile.ZipFile(demo_book).namelist()}
    assert second == first


@pytest.mark.parametrize("let_go", [False, True])
def test_a_write_back_that_changes_nothing_neither_reads_nor_makes_the_sheet_again(
        demo_book: Path, monkeypatch: pytest.MonkeyPatch, let_go: bool) -> None:
    from qaas_excel.workbook import xlsx_sheet

    book = PackageBook.open(demo_book)
    validate_book(book)
    book.save()
    book = PackageBook.open(demo_book)
    table = book.read(CHARGEPOINT)
    if let_go:
        book.let_go()
        monkeypatch.setattr(xlsx_package.Package, "mapped", lambda *a, **k: pytest.fail("the sheet was read again"))
    monkeypatch.setattr(xlsx_sheet.Sheet, "pieces", lambda *a, **k: pytest.fail("the sheet was made again"))
    book.write_back(table, outcomes_to_writeback(CHARGEPOINT, []))
    assert book.pkg.changed == set()


def test_memory_the_run_freed_is_given_back_before_a_sheet_is_read_again_to_be_written(
        demo_book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    real_mapped = xlsx_package.Package.mapped
    monkeypatch.setattr(package_book, "give_back_freed_memory", lambda: order.append("given back") or True)

    def mapped(self: xlsx_package.Package, part: str) -> object:
        order.append(f"read {part}")
        return real_mapped(self, part)

    monkeypatch.setattr(xlsx_package.Package, "mapped", mapped)
    book = PackageBook.open(demo_book)
    table = book.read(CHARGEPOINT)
    book.let_go()
    order.clear()
    row = int(table.data.index[0])
    book.write_back(table, outcomes_to_writeback(CHARGEPOINT, [Outcome(row, Result.VALID, "checked")]))
    assert order == ["given back", f"read {book._sheets['ChargePoints']}"]


def test_a_sheet_let_go_after_reading_is_written_from_the_same_bytes(demo_book: Path, tmp_path: Path) -> None:
    """``let_go`` drops the worksheets' XML (40 MB at 50,000 rows) while a push plans; writing reads it again from
    the archive opened at the start: the saved file is byte for byte the one written without letting go, even if
    the file on disk was replaced meanwhile (the open handle still reads the original)."""
    outputs = []
    for let_go in (False, True):
        path = tmp_path / f"{let_go}.xlsx"
        shutil.copy(demo_book, path)
        book = PackageBook.open(path)
        table = book.read(CHARGEPOINT)
        if let_go:
            book.let_go()
            parts = set(book._sheets.values())
            assert not parts & set(book.pkg._cache), "the worksheets' XML is still held"
            replacement = tmp_path / "other.xlsx"  # another program saves over the file meanwhile
            write_template(replacement)
            os.replace(replacement, path)
        rows = [int(r) for r in table.data.index]
        book.write_back(table, outcomes_to_writeback(CHARGEPOINT, [Outcome(r, Result.VALID) for r in rows]))
        out = tmp_path / f"out-{let_go}.xlsx"
        book.save(out)
        with zipfile.ZipFile(out) as z:
            outputs.append({n: z.read(n) for n in z.namelist()})
    assert outputs[0] == outputs[1]


def _look(cell) -> tuple:
    return cell.fill.fgColor.rgb, cell.fill.fill_type, cell.number_format, cell.protection.locked, cell.font.b


def test_marks_are_cleared_with_the_cells_own_format_back(demo_book: Path) -> None:
    original = openpyxl.load_workbook(demo_book)
    book = PackageBook.open(demo_book)
    report = validate_book(book)
    book.save()
    sheet = next(s for s in report.sheets if any(o.problems for o in s.outcomes))
    invalid = next(o for o in sheet.outcomes if o.result is Result.INVALID and o.problems)
    ws = openpyxl.load_workbook(demo_book)[sheet.sheet]
    marked = [c for row in ws.iter_rows(min_row=invalid.row, max_row=invalid.row) for c in row if c.comment]
    assert marked and all(c.fill.fgColor.rgb.endswith("FFC7CE") for c in marked)
    assert all(c.comment.author == "qaas-excel" for c in marked)
    # the row is fixed: our notes go, and each cell looks as it did before it was marked
    book = PackageBook.open(demo_book)
    table = book.read(CHARGEPOINT if sheet.sheet == "ChargePoints" else OPERATOR)
    book.write_back(table, outcomes_to_writeback(table.resource, [Outcome(invalid.row, Result.VALID)]))
    book.save()
    ws = openpyxl.load_workbook(demo_book)[sheet.sheet]
    for c in marked:
        assert ws[c.coordinate].comment is None
        assert _look(ws[c.coordinate]) == _look(original[sheet.sheet][c.coordinate])


def test_text_that_looks_like_a_formula_is_written_as_text(demo_book: Path) -> None:
    book = PackageBook.open(demo_book)
    table = book.read(OPERATOR)
    row = int(table.data.index[0])
    book.write_back(table, outcomes_to_writeback(OPERATOR, [Outcome(row, Result.FAILED, "=HYPERLINK(\"x\")")]))
    book.save()
    ws = openpyxl.load_workbook(demo_book)["Operators"]
    cell = next(c for c in ws[row] if c.value == "=HYPERLINK(\"x\")")
    assert cell.data_type == "s"


def test_a_write_back_writes_a_number_clears_for_none_and_leaves_a_cell_given_nan(demo_book: Path) -> None:
    # NaN says "nothing for this cell" (what a run's unchanged values become), None clears a cell, a number is
    # written: the three are told apart cell by cell
    from qaas_excel.workbook import columns as C
    from qaas_excel.workbook.table import WriteBack

    def write(message: dict[int, object], status: dict[int, object]) -> dict[str, int]:
        book = PackageBook.open(demo_book)
        table = book.read(CHARGEPOINT)
        values = pd.DataFrame({k: pd.Series(list(v.values()), index=list(v), dtype=object)  # (None stays None)
                               for k, v in ((C.MESSAGE, message), (C.STATUS, status))})
        book.write_back(table, WriteBack(values, pd.Series(dtype=object), []))
        book.save()
        return {k: table.columns[k] for k in (C.MESSAGE, C.STATUS)}

    first, second, third = 2, 3, 4
    write({first: "M1", second: "M2", third: "M3"}, {first: "S1", second: "S2", third: "S3"})
    col = write({first: 12.5, second: float("nan"), third: None}, {first: float("nan"), second: 7.25, third: None})
    ws = openpyxl.load_workbook(demo_book)["ChargePoints"]
    assert [ws.cell(r, col[C.MESSAGE]).value for r in (first, second, third)] == [12.5, "M2", None]
    assert [ws.cell(r, col[C.STATUS]).value for r in (first, second, third)] == ["S1", 7.25, None]


def test_saving_writes_through_a_symlink_and_keeps_the_files_mode(demo_book: Path, tmp_path: Path) -> None:
    os.chmod(demo_book, 0o644)
    link = tmp_path / "link.xlsx"
    link.symlink_to(demo_book)
    assert cli("validate", str(link)).exit_code == 1  # the demo has mistakes
    assert link.is_symlink() and link.resolve() == demo_book.resolve()
    assert stat.S_IMODE(demo_book.stat().st_mode) == 0o644
    assert any(c.comment for row in openpyxl.load_workbook(demo_book)["ChargePoints"].iter_rows() for c in row)
    assert (tmp_path / "demo.backup.xlsx").exists()


def test_a_workbook_in_a_read_only_folder_is_refused_before_any_work(sandbox, signed_in, demo_book: Path,
                                                                      tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    book = folder / "demo.xlsx"
    shutil.copyfile(demo_book, book)
    before = book.read_bytes()
    real_access = os.access
    # as the tests run as root, who may write anywhere, the folder is made read-only where the check asks
    monkeypatch.setattr(files.os, "access", lambda p, mode: False if Path(p) == folder else real_access(p, mode))
    for command in (["pull", str(book), "--env", "sandbox"], ["reconcile", str(book), "--env", "sandbox"]):
        result = cli(*command)
        assert result.exit_code == 2 and "cannot be written" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert book.read_bytes() == before


def test_output_naming_a_folder_or_a_missing_folder_is_refused_before_sending(sandbox, signed_in,
                                                                              demo_book: Path, tmp_path: Path) -> None:
    result = cli("push", str(demo_book), "--env", "sandbox", "--output", str(tmp_path))
    assert result.exit_code == 2 and "is a folder" in result.stderr
    result = cli("push", str(demo_book), "--env", "sandbox", "--output", str(tmp_path / "nowhere" / "out.xlsx"))
    assert result.exit_code == 2 and "does not exist" in result.stderr and "nowhere" in result.stderr
    assert sandbox.admin.records("chargepoint") == [] and sandbox.admin.records("operator") == []


def _with_sheet_xml(source: Path, target: Path, sheet_part: str, data: bytes) -> Path:
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, data if item.filename == sheet_part else src.read(item))
    return target


def _charge_point_part(path: Path) -> str:
    book = PackageBook.open(path)
    return book._sheets["ChargePoints"]


def test_a_stray_cell_far_below_costs_neither_time_nor_memory(demo_book: Path, tmp_path: Path) -> None:
    part = _charge_point_part(demo_book)
    xml = zipfile.ZipFile(demo_book).read(part)
    stray = b'<row r="1048576"><c r="Z1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
    book = _with_sheet_xml(demo_book, tmp_path / "stray.xlsx", part, xml.replace(b"</sheetData>", stray, 1))
    tracemalloc.start()
    table = PackageBook.open(book).read(CHARGEPOINT)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(table.data) == 20 and table.last_row == 21  # the stray cell is in no column of the table
    assert peak < 30 * 2**20


def test_a_zip_bomb_is_refused_with_a_clear_message(demo_book: Path, tmp_path: Path) -> None:
    part = _charge_point_part(demo_book)
    xml = zipfile.ZipFile(demo_book).read(part)
    padding = b" " * (8 * 2**20)  # 8 MiB of blanks compress about 1000 to 1
    bomb = _with_sheet_xml(demo_book, tmp_path / "bomb.xlsx", part,
                           xml.replace(b"<sheetData>", padding + b"<sheetData>", 1))
    result = cli("validate", str(bomb))
    assert result.exit_code == 2 and "compressed" in result.stderr and "bomb.xlsx" in result.stderr
    with pytest.raises(WorkbookError, match="unpacks to"):
        xlsx_package.check_limits(bomb, [_big_info()])


def _big_info() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("xl/worksheets/sheet1.xml")
    info.file_size, info.compress_size = xlsx_package.MAX_PART_BYTES + 1, xlsx_package.MAX_PART_BYTES // 10
    return info


def test_more_rows_than_a_run_accepts_is_refused_naming_the_sheet(demo_book: Path, monkeypatch) -> None:
    monkeypatch.setattr(package_book, "MAX_DATA_ROWS", 10)
    result = cli("validate", str(demo_book))
    assert result.exit_code == 2 and "sheet 'ChargePoints'" in result.stderr and "at most 10" in result.stderr


def test_a_part_with_a_doctype_is_refused(demo_book: Path, tmp_path: Path) -> None:
    part = _charge_point_part(demo_book)
    xml = zipfile.ZipFile(demo_book).read(part)
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + xml.split(b"?>", 1)[-1]
    book = _with_sheet_xml(demo_book, tmp_path / "evil.xlsx", part, evil)
    result = cli("validate", str(book))
    assert result.exit_code == 2 and "DOCTYPE" in result.stderr


def test_a_new_template_is_read_as_empty(tmp_path: Path) -> None:
    book = PackageBook.open(write_template(tmp_path / "t.xlsx"))
    assert book.read(CHARGEPOINT).data.empty and book.read(OPERATOR).data.empty


def _rewrite_sheet(demo_book: Path, tmp_path: Path, name: str, change) -> Path:
    part = _charge_point_part(demo_book)
    return _with_sheet_xml(demo_book, tmp_path / name, part, change(zipfile.ZipFile(demo_book).read(part)))


def _prefixed(xml: bytes) -> bytes:
    """The same sheet as the .NET Open XML SDK writes it: every element with an ``x:`` prefix."""
    xml = xml.replace(b'<worksheet xmlns="', b'<x:worksheet xmlns:x="', 1)
    return re.sub(rb"<(/?)(?!x:|\?)([A-Za-z]+)", rb"<\1x:\2", xml)


def _without_references(xml: bytes) -> bytes:
    """Cells without their r attribute (allowed: a cell is then the one after its left neighbour)."""
    return re.sub(rb'(<c) r="[A-Z]+\d+"', rb"\1", xml)


@pytest.mark.parametrize("change", [_prefixed, _without_references], ids=["prefixed", "no-references"])
def test_other_spellings_of_a_sheet_are_read_and_written_alike(demo_book: Path, tmp_path: Path, change) -> None:
    book = _rewrite_sheet(demo_book, tmp_path, "other.xlsx", change)
    expected = PackageBook.open(demo_book).read(CHARGEPOINT)
    table = PackageBook.open(book).read(CHARGEPOINT)
    pd.testing.assert_frame_equal(table.data, expected.data)
    reference = PackageBook.open(demo_book)
    validate_book(reference)
    reference.save()
    other = PackageBook.open(book)
    validate_book(other)
    other.save()
    theirs, mine = openpyxl.load_workbook(demo_book)["ChargePoints"], openpyxl.load_workbook(book)["ChargePoints"]
    assert [[c.value for c in row] for row in mine.iter_rows()] == \
        [[c.value for c in row] for row in theirs.iter_rows()]
    assert {c.coordinate for row in mine.iter_rows() for c in row if c.comment} == \
        {c.coordinate for row in theirs.iter_rows() for c in row if c.comment}
    assert [_look(c) for row in mine.iter_rows() for c in row] == [_look(c) for row in theirs.iter_rows() for c in row]


@pytest.mark.parametrize(("part", "change", "said"), [
    ("xl/workbook.xml", lambda d: d[:-20], "not well-formed"),
    ("xl/_rels/workbook.xml.rels", lambda d: d.replace(b"sheet3.xml", b"sheet9.xml"), "is missing"),
    ("xl/worksheets/sheet3.xml", lambda d: d[: len(d) // 2], "cut short"),
    ("xl/styles.xml", lambda d: b"<nonsense/>", "not a style sheet"),
])
def test_a_damaged_package_gets_a_message_naming_the_file(demo_book: Path, tmp_path: Path, part, change,
                                                           said) -> None:
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(demo_book) as src, zipfile.ZipFile(broken, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, change(data) if name == part else data)
    result = cli("validate", str(broken))
    assert result.exit_code == 2, result.stderr
    assert "broken.xlsx" in result.stderr and said in result.stderr and "Traceback" not in result.stderr


def test_a_workbook_replaced_while_a_run_reads_it_is_read_whole_and_not_overwritten(demo_book: Path,
                                                                                  tmp_path: Path) -> None:
    """Excel (or another program) saves by writing a new file and renaming it over the workbook: a run that opened
    the workbook before keeps reading the file it opened, never a mix of both, and does not save over the new one."""
    expected = {r: OpenpyxlBook.open(demo_book).read(r).data for r in (OPERATOR, CHARGEPOINT)}
    book = PackageBook.open(demo_book)
    other = write_template(tmp_path / "other.xlsx")
    os.replace(other, demo_book)
    theirs = demo_book.read_bytes()
    for resource in (OPERATOR, CHARGEPOINT):  # the parts not yet read come from the file as it was opened
        pd.testing.assert_frame_equal(book.read(resource).data, expected[resource])
    validate_book(book)
    with pytest.raises(WorkbookError, match="saved by another program while this run worked on it"):
        book.save()
    assert demo_book.read_bytes() == theirs
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("~$")]


def test_forgetting_a_part_lets_go_of_it_as_read_never_of_what_a_run_wrote(demo_book: Path) -> None:
    pkg = xlsx_package.Package.open(demo_book)
    part = next(n for n in pkg.names() if n.startswith("xl/worksheets/"))
    original = pkg.read(part)
    pkg.forget(part)
    assert pkg.read(part) == original  # read again: the same bytes
    pkg.write(part, original + b"<!-- written -->")
    pkg.forget(part)
    assert pkg.read(part) == original + b"<!-- written -->"


def test_a_large_part_is_read_holding_little_more_than_its_own_bytes(tmp_path: Path) -> None:
    """``ZipFile.read`` inflates a part in one call and joins its output at the end: a 56 MB sheet took 111 MiB more
    to read (2.45 times its size here). A part is read in small pieces into one buffer made its full size at once
    (1.13 times grown as written), with the same bytes and the same CRC check."""
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>DE*SWE*E%07d*1</t></is></c></row>' % (i, i, i)
                    for i in range(1, 120_000))
    xml = b"<worksheet><sheetData>" + rows + b"</sheetData></worksheet>"
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", xml)
    pkg = xlsx_package.Package.open(path)
    tracemalloc.start()
    data = pkg.read("xl/worksheets/sheet1.xml")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert data == xml and len(xml) > 8 * 2**20
    assert peak < 1.08 * len(xml), f"{peak / len(xml):.2f} times the part's size"


@pytest.mark.parametrize("where", [0, 1 / 3])  # at its start: zlib fails; further on: its CRC does not match
def test_a_part_whose_compressed_bytes_are_damaged_gets_a_message_naming_the_file(demo_book: Path, tmp_path: Path,
                                                                                  where: float) -> None:
    part = _charge_point_part(demo_book)
    broken = tmp_path / "broken.xlsx"
    data = bytearray(demo_book.read_bytes())
    with zipfile.ZipFile(demo_book) as z:
        info = z.getinfo(part)
    name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    at_first = start + int(info.compress_size * where)
    for at in range(at_first, at_first + 16):
        data[at] ^= 0x5A
    broken.write_bytes(bytes(data))
    result = cli("validate", str(broken))
    assert result.exit_code == 2, result.stderr
    assert "broken.xlsx" in result.stderr and "damaged" in result.stderr and "Traceback" not in result.stderr
    assert "Restore it from a backup" in " ".join(result.stderr.split())  # what the user can do about it


@pytest.mark.parametrize("unknown_keys", [False, True])
def test_a_rows_colour_reaches_each_system_cell_whatever_its_value_as_the_openpyxl_writer_does(
        demo_book: Path, tmp_path: Path, unknown_keys: bool) -> None:
    """A row's result colours its whole system block: cells given a text, a number, a time, None (cleared) or
    nothing (NaN) alike, and a time keeps its date format under the colour; rows with a result but no values too.
    The in-place writer colours a valued cell as it writes it: the cells come out as the openpyxl writer's do.
    (``unknown_keys``: values for keys the sheet has no column for, which the writer leaves out and which make it
    colour each row's cells after its values, as it always did.)"""
    from datetime import datetime

    from qaas_excel.workbook import columns as C
    from qaas_excel.workbook.table import RESULT_FILLS, WriteBack

    other = tmp_path / "other.xlsx"
    shutil.copy(demo_book, other)
    first = PackageBook.open(demo_book).read(CHARGEPOINT)
    rows = [int(r) for r in first.data.index[:5]]
    nan = float("nan")
    when = datetime(2026, 12, 4, 21, 30, 15)
    values = pd.DataFrame({
        C.ID: pd.Series([7001, nan, None, 7004], index=rows[:4], dtype=object),
        C.MESSAGE: pd.Series(["made", nan, "again", None], index=rows[:4], dtype=object),
        C.LAST_UPDATED: pd.Series([when, when, nan, None], index=rows[:4], dtype=object),
        C.RESULT: pd.Series(["created", "failed", "unchanged", "valid"], index=rows[:4], dtype=object),
    })
    if unknown_keys:
        values["not_a_column"] = values["other_unknown"] = "x"
    results = pd.Series([Result.CREATED, Result.FAILED, Result.UNCHANGED, Result.VALID, Result.CONFLICT], index=rows,
                        dtype=object)

    def written(book: PackageBook | OpenpyxlBook, path: Path) -> dict[tuple[int, int], tuple]:
        table = book.read(CHARGEPOINT)
        book.write_back(table, WriteBack(values.copy(), results.copy(), []))
        book.save()
        ws = openpyxl.load_workbook(path)[table.sheet]
        cols = sorted(c for k, c in table.columns.items() if k in C.SYSTEM_KEYS)
        # (the colour without its alpha: the two writers differ there, and Excel does not show it)
        return {(r, c): (ws.cell(r, c).value, ws.cell(r, c).fill.fgColor.rgb[-6:], ws.cell(r, c).number_format)
                for r in rows for c in cols}

    ours = written(PackageBook.open(demo_book), demo_book)
    assert ours == written(OpenpyxlBook.open(other), other)
    table = first
    for r, result in zip(rows, results, strict=True):
        for c in sorted(c for k, c in table.columns.items() if k in C.SYSTEM_KEYS):
            assert ours[r, c][1] == RESULT_FILLS[result]  # every system cell, valued or not
    id_col, at_col = table.columns[C.ID], table.columns[C.LAST_UPDATED]
    assert ours[rows[0], id_col][0] == 7001 and ours[rows[2], id_col][0] is None
    assert ours[rows[0], at_col][0] == when and "yy" in ours[rows[0], at_col][2]


def test_a_time_on_every_row_is_converted_once_and_each_is_written_in_utc(demo_book: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's time goes into every row: it is made the sheet's UTC time once, not once a row. Times of other
    zones are written as their UTC time: the same instant alike whatever its zone, another instant as its own."""
    from datetime import UTC, datetime, timedelta, timezone

    from qaas_excel.workbook import columns as C
    from qaas_excel.workbook.table import WriteBack

    converted: list[object] = []
    real = package_book._cell_value
    monkeypatch.setattr(package_book, "_cell_value", lambda v: converted.append(v) or real(v))
    book = PackageBook.open(demo_book)
    table = book.read(CHARGEPOINT)
    rows = [int(r) for r in table.data.index]
    run = datetime(2026, 12, 4, 21, 0, 5, tzinfo=UTC)
    berlin = timezone(timedelta(hours=1))
    updated = [run.astimezone(berlin) if i % 2 else run + timedelta(minutes=i) for i in range(len(rows))]
    values = pd.DataFrame({C.SYNCED_AT: pd.Series([run] * len(rows), index=rows, dtype=object),
                           C.LAST_UPDATED: pd.Series(updated, index=rows, dtype=object)})
    book.write_back(table, WriteBack(values, pd.Series(dtype=object), []))
    book.save()
    assert len(rows) >= 4 and converted.count(run) == 1
    ws = openpyxl.load_workbook(demo_book)[table.sheet]
    naive = run.replace(tzinfo=None)
    for i, r in enumerate(rows):
        assert ws.cell(r, table.columns[C.SYNCED_AT]).value == naive
        assert ws.cell(r, table.columns[C.LAST_UPDATED]).value == (naive if i % 2 else naive + timedelta(minutes=i))


def test_times_converted_once_are_held_up_to_a_bound(demo_book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime, timedelta

    from qaas_excel import values
    from qaas_excel.workbook import columns as C
    from qaas_excel.workbook.table import WriteBack

    monkeypatch.setattr(values, "TIMES_HELD", 2)
    converted: list[object] = []
    real = package_book._cell_value
    monkeypatch.setattr(package_book, "_cell_value", lambda v: converted.append(v) or real(v))
    book = PackageBook.open(demo_book)
    table = book.read(CHARGEPOINT)
    rows = [int(r) for r in table.data.index[:9]]
    times = [datetime(2026, 12, 4, tzinfo=UTC) + timedelta(hours=i % 3) for i in range(len(rows))]
    book.write_back(table, WriteBack(pd.DataFrame({C.SYNCED_AT: pd.Series(times, index=rows, dtype=object)}),
                                     pd.Series(dtype=object), []))
    assert [converted.count(t) for t in times[:3]] == [1, 1, 3]  # the third different time: each time


def test_the_hour_that_comes_twice_is_written_as_two_times(demo_book: Path) -> None:
    """Two times of one zone an hour apart in the hour that comes twice compare equal in Python: each is written as
    its own UTC time, never one remembered for the other."""
    from datetime import datetime

    from qaas_excel.workbook import columns as C
    from qaas_excel.workbook.table import WriteBack

    from .test_writeback_values import FIRST, SECOND

    book = PackageBook.open(demo_book)
    table = book.read(CHARGEPOINT)
    rows = [int(r) for r in table.data.index[:2]]
    book.write_back(table, WriteBack(pd.DataFrame({C.LAST_UPDATED: pd.Series([FIRST, SECOND], index=rows,
                                                                             dtype=object)}),
                                     pd.Series(dtype=object), []))
    book.save()
    ws = openpyxl.load_workbook(demo_book)[table.sheet]
    assert [ws.cell(r, table.columns[C.LAST_UPDATED]).value for r in rows] == [datetime(2026, 10, 25, 0, 30),
                                                                               datetime(2026, 10, 25, 1, 30)]


def test_a_sheet_read_and_then_written_is_searched_once_for_cells_without_a_reference(
        demo_book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether every cell starts with its reference takes a pass over the whole sheet (0.2 s at 200,000 rows): found
    when the sheet is read, it holds for the same bytes written; a sheet the run wrote since is asked again."""
    from qaas_excel.workbook import xlsx_sheet

    passes: list[str] = []
    real = xlsx_sheet._search

    def spy(pattern: Any, data: Any, start: int, end: int) -> Any:
        if b'(?!r="))' in pattern.pattern:
            passes.append("refs")
        return real(pattern, data, start, end)

    monkeypatch.setattr(xlsx_sheet, "_search", spy)
    book = PackageBook.open(demo_book)
    table = book.read(CHARGEPOINT)  # (the hidden sheet of column maps is read too: a pass of its own)
    read = len(passes)
    assert read >= 1
    row = int(table.data.index[0])
    book.write_back(table, outcomes_to_writeback(CHARGEPOINT, [Outcome(row, Result.FAILED, "first")]))
    assert len(passes) == read  # written without another pass
    again = book.read(CHARGEPOINT)  # the sheet as written: its own bytes, asked of them
    before = len(passes)
    book.write_back(again, outcomes_to_writeback(CHARGEPOINT, [Outcome(row, Result.FAILED, "second")]))
    assert len(passes) == before + 1  # a sheet written since: not taken from what its first bytes said
    book.save()
    ws = openpyxl.load_workbook(demo_book)[table.sheet]
    assert any(c.value == "second" for c in ws[row])
