"""A sheet a run reads once more to write it (40 MB at 50,000 rows, 170 MB at 200,000) is mapped from a temporary
file, not held in memory, and its pages are let go of as it is read and written (``Package.mapped``): the same
bytes are written as from a sheet held whole."""

from __future__ import annotations

import errno
import gc
import mmap
import os
import re
import tempfile
import zipfile
from pathlib import Path

import pytest

from qaas_excel.gcpause import give_back_freed_memory
from qaas_excel.pipeline import validate_book
from qaas_excel.workbook import xlsx_package
from qaas_excel.workbook.package_book import PackageBook
from qaas_excel.workbook.table import WorkbookError
from qaas_excel.workbook.xlsx_package import Package
from qaas_excel.workbook.xlsx_sheet import CellOp, Sheet

PART = "xl/worksheets/sheet1.xml"
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def sheet_xml(rows: int, *, filler: int = 1000) -> bytes:
    """A worksheet of ``rows`` rows, each a number, a text and a long text, some 1.2 KB a row."""
    pad = "x" * filler
    body = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}" t="inlineStr"><is><t>row {r}</t></is></c>'
                   f'<c r="C{r}" t="inlineStr"><is><t>{pad}</t></is></c></row>' for r in range(1, rows + 1))
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{NS}">'
            f'<dimension ref="A1:C{rows}"/><sheetData>{body}</sheetData></worksheet>').encode()


def package(folder: Path, data: bytes) -> Package:
    path = folder / "book.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", b"<Types/>")
        z.writestr(PART, data)
    return Package.open(path)


def test_a_large_part_is_mapped_a_small_one_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = sheet_xml(50)
    pkg = package(tmp_path, data)
    monkeypatch.setattr(xlsx_package, "MAP_FROM", len(data) - 1)
    with pkg.mapped(PART) as mapped:
        assert isinstance(mapped, mmap.mmap) and mapped[:] == data
        xlsx_package.release(mapped)  # pages let go of are read again from the file
        assert mapped[:] == data
    assert mapped.closed
    assert PART not in pkg._cache  # not kept in memory besides
    monkeypatch.setattr(xlsx_package, "MAP_FROM", len(data))
    with pkg.mapped(PART) as held:
        assert held == data and isinstance(held, bytes)


def test_a_part_read_already_or_written_is_not_mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = sheet_xml(50)
    pkg = package(tmp_path, data)
    monkeypatch.setattr(xlsx_package, "MAP_FROM", 0)
    assert pkg.read(PART) == data  # cached
    with pkg.mapped(PART) as held:
        assert held is pkg.read(PART)
    pkg.forget(PART)
    pkg.write(PART, data + b" ")
    with pkg.mapped(PART) as written:
        assert written == data + b" "


def test_a_damaged_mapped_part_names_the_file_and_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = sheet_xml(200)
    path = package(tmp_path, data).path
    raw = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo(PART)
    raw[info.header_offset + 30 + len(PART) + info.compress_size // 2] ^= 0xFF  # inside its compressed bytes
    path.write_bytes(bytes(raw))
    monkeypatch.setattr(xlsx_package, "MAP_FROM", 0)
    with pytest.raises(WorkbookError) as err, Package.open(path).mapped(PART):
        pass
    assert "book.xlsx: the part xl/worksheets/sheet1.xml cannot be read" in str(err.value)
    assert xlsx_package.REPAIR_HINT in str(err.value)


def written(pkg: Package, rows: int) -> tuple[bytes, int]:
    """The sheet with a value set in a new column D of every row and B changed on every 7th, as read through
    ``mapped`` and made by ``Sheet.pieces``; and how far the peak memory rose meanwhile (Linux's VmHWM, reset)."""
    ops = {r: {4: CellOp(True, f"result {r}"), **({2: CellOp(True, "changed")} if r % 7 == 0 else {})}
           for r in range(1, rows + 1)}
    gc.collect()
    give_back_freed_memory()
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM is now VmRSS
    before = _status("VmRSS")
    with pkg.mapped(PART) as data:
        ws = Sheet(data, PART)
        assert pkg.write_pieces(PART, ws.pieces(ops), old=data)
    rise = _status("VmHWM") - before
    out = pkg.read(PART)
    pkg._changed.pop(PART).spool.close()  # type: ignore[union-attr]  # as it was, for the next
    return out, rise


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(key)


def test_a_mapped_sheet_is_written_alike_without_being_held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = 6_000  # long rows: what a write holds besides the sheet (its rows' offsets, ops, buffers) kept small
    data = sheet_xml(rows, filler=4000)  # some 23 MiB
    pkg = package(tmp_path, data)
    del data
    monkeypatch.setattr(xlsx_package, "RELEASE_EVERY", 2 * 2**20)
    monkeypatch.setattr(xlsx_package, "SPOOL_IN_MEMORY", 2**20)  # what is written: in a file beyond a MiB
    monkeypatch.setattr(xlsx_package, "MAP_FROM", 2**40)  # held whole, as before
    held, held_rise = written(pkg, rows)
    monkeypatch.setattr(xlsx_package, "MAP_FROM", 2**20)
    mapped, mapped_rise = written(pkg, rows)
    assert mapped == held
    assert b'<c r="D6000" t="inlineStr"><is><t xml:space="preserve">result 6000</t></is></c>' in mapped
    size = pkg._infos[PART].file_size
    assert held_rise > 0.9 * size  # the measure sees a sheet held whole
    assert mapped_rise < size / 2, (mapped_rise, size)  # its pages let go of (held all: over ``size``)


@pytest.mark.parametrize("release_every", [4096, 2**20])
def test_a_workbook_written_through_a_mapped_sheet_is_the_same(demo_book: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               release_every: int) -> None:
    """The demo workbook validated (every row's cells written, problems marked) with its sheets mapped and their
    pages let go of every few KiB, and held whole: the same bytes saved, part by part. A validate lets go of each
    sheet once read, as a push does, so that it is read again to be written."""
    opened: list[bool] = []
    real_mapped = Package.mapped
    monkeypatch.setattr(Package, "mapped", lambda self, part: opened.append(part in self._cache)
                        or real_mapped(self, part))
    saved = {}
    for mapped in (False, True):
        copy = tmp_path / f"{mapped}.xlsx"
        copy.write_bytes(demo_book.read_bytes())
        monkeypatch.setattr(xlsx_package, "MAP_FROM", 0 if mapped else 2**40)
        monkeypatch.setattr(xlsx_package, "RELEASE_EVERY", release_every)
        book = PackageBook.open(copy)
        validate_book(book)
        book.save()
        with zipfile.ZipFile(copy) as z:
            saved[mapped] = {n: z.read(n) for n in z.namelist()}
    assert saved[True] == saved[False]
    assert opened == [False] * 4  # two sheets, each run, each let go of before it is read again to be written
    assert saved[True] != {n: zipfile.ZipFile(demo_book).read(n) for n in zipfile.ZipFile(demo_book).namelist()}


def test_a_mapped_sheet_made_again_the_same_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compared with the mapped part while it is made (a push of unchanged rows says nothing was saved)."""
    monkeypatch.setattr(xlsx_package, "MAP_FROM", 0)
    monkeypatch.setattr(xlsx_package, "RELEASE_EVERY", 4096)
    monkeypatch.setattr(xlsx_package, "_WINDOW", 1000)
    pkg = package(tmp_path, sheet_xml(300))
    with pkg.mapped(PART) as data:
        ws = Sheet(data, PART)
        same = {r: {1: CellOp(True, r)} for r in range(1, 301)}  # each row's number, as it stands
        assert pkg.write_pieces(PART, ws.pieces(same), old=data) is False
        assert pkg.write_pieces(PART, ws.pieces({300: {1: CellOp(True, 301)}}), old=data) is True
    assert b'<c r="A300"><v>301</v></c>' in pkg.read(PART)


def test_a_search_of_a_mapped_sheet_finds_what_one_of_bytes_finds(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A window at a time, its pages let go of after each, with a cell tag at every place about a window's end: a
    tag cut by the end of a window is not taken for one without its reference."""
    from qaas_excel.workbook.xlsx_sheet import _search

    monkeypatch.setattr(xlsx_package, "RELEASE_EVERY", 4096)
    refless = re.compile(rb'<c(?:[\t\n\r>/]| (?!r="))')  # what ``refs_everywhere`` looks for
    for tag in (b'<c r="A1"/>', b'<c s="2"/>'):
        for at in range(4096 - 8, 4096 + 72):
            data = b"." * at + tag + b"." * 100
            with tempfile.TemporaryFile() as f:
                f.write(data)
                f.flush()
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    found = _search(refless, mapped, 0, len(data))
                    expected = refless.search(data)
                    assert (found and found.start()) == (expected and expected.start()), (tag, at)


class _FullFile:
    """A temporary file on a full disk: writes fail as the system's do."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.closed = False

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.mark.parametrize("where", ["TemporaryFile", "SpooledTemporaryFile"])
def test_a_full_temporary_folder_is_named_not_taken_for_a_damaged_workbook(demo_book: Path,
                                                                           monkeypatch: pytest.MonkeyPatch,
                                                                           where: str) -> None:
    """The sheet read again (mapped) or made (spooled) in the temporary folder, which is full: the message says so
    and what to do; the workbook is untouched."""
    before = demo_book.read_bytes()
    monkeypatch.setattr(xlsx_package, "MAP_FROM", 0)
    monkeypatch.setattr(xlsx_package.tempfile, where, _FullFile)
    if where == "SpooledTemporaryFile":
        monkeypatch.setattr(xlsx_package, "MAP_FROM", 2**40)  # the sheet held: only the spool fails
    book = PackageBook.open(demo_book)
    with pytest.raises(WorkbookError) as err:
        validate_book(book)
    message = str(err.value)
    assert message.startswith("demo.xlsx could not be written: the temporary folder ")
    assert "is full (No space left on device); the workbook is unchanged" in message and "TMPDIR" in message
    assert "damaged" not in message
    assert demo_book.read_bytes() == before
