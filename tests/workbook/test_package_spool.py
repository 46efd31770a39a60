"""A part a run writes piece by piece (a sheet of 200,000 rows is some 190 MB): held in a temporary file, compared
with the part as it was while it is made, and written into the saved file exactly as a part held whole is."""

from __future__ import annotations

import mmap
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qaas_excel.workbook import xlsx_package
from qaas_excel.workbook.xlsx_package import Package, _same_at, _Spooled

PART = "xl/worksheets/sheet1.xml"


def package(folder: Path, data: bytes) -> Package:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "book.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", b"<Types/>")
        z.writestr(PART, data)
    return Package.open(path)


def cut(data: bytes, sizes: list[int]) -> list[bytes | memoryview]:
    """``data`` in pieces of the given sizes (the rest last), alternately bytes and views, as a sheet's are."""
    out: list[bytes | memoryview] = []
    pos = 0
    for i, n in enumerate([*sizes, len(data)]):
        piece = data[pos:pos + n]
        out.append(memoryview(piece) if i % 2 else piece)
        pos += len(piece)
    return out


@given(st.binary(max_size=64), st.integers(0, 70), st.integers(0, 64), st.none() | st.integers(0, 63),
       st.binary(max_size=3))
def test_a_piece_is_found_at_its_place_exactly(old: bytes, at: int, n: int, flip: int | None, extra: bytes) -> None:
    """Pieces cut from ``old`` itself, one byte changed or not, maybe running past its end."""
    piece = bytearray(old[at:at + n] + extra)
    if flip is not None and flip < len(piece):
        piece[flip] ^= 0xFF
    with pytest.MonkeyPatch.context() as m, tempfile.TemporaryFile() as f:
        m.setattr(xlsx_package, "_WINDOW", 3)  # views compared across many windows
        f.write(old or b"-")
        f.flush()
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:  # a sheet read to be written
            for p in (bytes(piece), memoryview(bytes(piece))):
                assert _same_at(old, at, p) == (at <= len(old) and old[at:at + len(piece)] == piece)
                if old:
                    assert _same_at(mapped, at, p) == _same_at(old, at, p)


def test_the_same_part_made_again_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_package, "_WINDOW", 7)
    data = bytes(range(256)) * 40
    pkg = package(tmp_path, data)
    assert pkg.write_pieces(PART, cut(data, [5, 300, 1, 2000])) is False
    assert not pkg.changed


@pytest.mark.parametrize("change", ["last byte", "longer", "shorter", "first byte", "in a view"])
def test_any_difference_is_a_change(tmp_path: Path, change: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_package, "_WINDOW", 7)
    data = bytes(range(256)) * 40
    new = {"last byte": data[:-1] + b"\x00", "longer": data + b"x", "shorter": data[:-1],
           "first byte": b"\x01" + data[1:], "in a view": data[:304] + b"\x00" + data[305:]}[change]
    pkg = package(tmp_path, data)
    assert pkg.write_pieces(PART, cut(new, [5, 300, 1, 2000])) is True
    assert pkg.read(PART) == new


@pytest.mark.parametrize("in_memory", [1, 10**9], ids=["temporary-file", "in-memory"])
def test_a_spooled_part_is_saved_as_a_part_held_whole(tmp_path: Path, in_memory: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_package, "SPOOL_IN_MEMORY", in_memory)
    old, new = b"<a>" + b"x" * 100_000 + b"</a>", b"<a>" + b"y" * 100_000 + b"</a>"
    whole, spooled = package(tmp_path / "1", old), package(tmp_path / "2", old)
    whole.write(PART, new)
    assert spooled.write_pieces(PART, cut(new, [10, 50_000]))
    held = spooled._changed[PART]
    assert isinstance(held, _Spooled) and held.spool._rolled == (in_memory == 1)  # on disk past the threshold
    whole.write_to(tmp_path / "whole.xlsx")
    spooled.write_to(tmp_path / "spooled.xlsx")
    assert (tmp_path / "whole.xlsx").read_bytes() == (tmp_path / "spooled.xlsx").read_bytes()
    with zipfile.ZipFile(tmp_path / "spooled.xlsx") as z:
        assert z.read(PART) == new and z.testzip() is None


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.lists(st.integers(0, 40), max_size=12), st.integers(1, 50))
def test_a_part_made_of_pieces_is_written_whole_and_in_order(tmp_path_factory: pytest.TempPathFactory,
                                                                            new: bytes, sizes: list[int],
                                                                            window: int) -> None:
    # pieces of every length, bytes and views, compared a window at a time: every byte, once, in its place
    with pytest.MonkeyPatch.context() as m:
        m.setattr(xlsx_package, "_WINDOW", window)
        pkg = package(tmp_path_factory.mktemp("spool"), b"")  # no piece is the same: all is written
        assert pkg.write_pieces(PART, cut(new, sizes)) is True
        assert pkg.read(PART) == new
