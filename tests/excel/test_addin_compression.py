"""Modules longer than one 4,096-byte compression chunk, compressed as the build does and read back by an
independent decompressor (oletools)."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest
from oletools.olevba import VBA_Parser, decompress_stream

from qaas_excel.excel.addin import build

CHUNK = 4096


def vba_text(lines: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    out = [f'Attribute VB_Name = "Big{seed}"']
    for i in range(lines):
        name = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(3, 12)))
        out.append(f'    {name}{i} = Application.Run("xlwings.xlam!RunPython", "{name}" & {rnd.randint(0, 10**6)})')
    return ("\r\n".join(out) + "\r\n").encode("ascii")


def olevba_decompress(container: bytes) -> bytes:
    return bytes(decompress_stream(bytearray(container)))


@pytest.mark.parametrize("data", [
    pytest.param(vba_text(200, 1), id="text-several-chunks"),
    pytest.param(vba_text(200, 2)[:3 * CHUNK], id="exactly-three-chunks"),
    pytest.param(vba_text(40, 5) + b"'" + b"=" * (3 * CHUNK) + b"\r\n", id="long-repeats-across-chunks"),
    pytest.param(random.Random(3).randbytes(CHUNK) + vba_text(80, 3), id="raw-chunk-then-text"),
])
def test_multi_chunk_compression_reads_back_with_oletools(data: bytes) -> None:
    compressed = build.compress(data)
    assert len(data) > CHUNK
    assert olevba_decompress(compressed) == data
    chunks, i = 0, 1
    while i < len(compressed):  # walk the chunk headers: one per 4,096 bytes of source
        header = int.from_bytes(compressed[i:i + 2], "little")
        assert (header >> 12) & 0b111 == 0b011  # the chunk signature
        i += (header & 0x0FFF) + 3
        chunks += 1
    assert i == len(compressed) and chunks == -(-len(data) // CHUNK)


def test_a_module_of_several_chunks_in_the_built_project_reads_back_verbatim(tmp_path: Path) -> None:
    source = vba_text(300, 4)
    assert len(source) > 4 * CHUNK
    bas = tmp_path / "Big4.bas"
    bas.write_bytes(source)
    xlam = tmp_path / "big.xlam"
    with zipfile.ZipFile(xlam, "w") as z:  # olevba finds a project inside any OOXML zip
        z.writestr("xl/vbaProject.bin", build.vba_project_bin([bas]))
    parser = VBA_Parser(str(xlam))
    try:
        modules = {name: code for _, _, name, code in parser.extract_macros()}
    finally:
        parser.close()
    assert modules["Big4.bas"] == source.decode("ascii")
