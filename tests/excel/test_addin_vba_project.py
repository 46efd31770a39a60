"""The VBA project inside the .xlam, read back stream by stream (MS-OVBA) and compared with a project Excel
saved: the add-in shipped inside the xlwings package."""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path

import olefile
import pytest
import xlwings
from oletools.olevba import decompress_stream

from qaas_excel.excel.addin.build import VERSION_COMPATIBLE32, build_addin

EXCEL_MADE = Path(xlwings.__file__).parent / "addin" / "xlwings.xlam"
MODULE_LINE = re.compile(r"^(Document|Module|Class|BaseClass|Package)=")
MODULE_NAME, STREAM_NAME, MODULE_OFFSET, MODULE_END = 0x0019, 0x001A, 0x0031, 0x002B
STD_MODULE, DOC_MODULE = 0x0021, 0x0022


class VbaProject:
    """The streams of one vbaProject.bin, parsed as MS-OVBA describes them."""

    def __init__(self, xlam: Path) -> None:
        with zipfile.ZipFile(xlam) as z:
            ole = olefile.OleFileIO(z.read("xl/vbaProject.bin"))
        try:
            self.streams = {"/".join(p): ole.openstream(p).read() for p in ole.listdir(streams=True)}
        finally:
            ole.close()
        self.project_lines = self.streams["PROJECT"].decode("cp1252").split("\r\n")
        self.dir = dir_records(bytes(decompress_stream(bytearray(self.streams["VBA/dir"]))))

    @property
    def header(self) -> list[tuple[int, bytes]]:
        """The dir records before the first module: project information, references, module count."""
        first = next(i for i, (rid, _) in enumerate(self.dir) if rid == MODULE_NAME)
        return self.dir[:first]

    @property
    def modules(self) -> list[list[tuple[int, bytes]]]:
        blocks, block = [], []
        for record in self.dir[len(self.header):]:
            block.append(record)
            if record[0] == MODULE_END:
                blocks.append(block)
                block = []
        assert block == [(0x0010, b"")], "the dir stream ends with the project terminator"
        return blocks

    def source(self, name: str) -> str:
        block = next(b for b in self.modules if dict(b)[MODULE_NAME].decode() == name)
        offset = struct.unpack("<I", dict(block)[MODULE_OFFSET])[0]
        stream = self.streams[f"VBA/{dict(block)[STREAM_NAME].decode()}"]
        return bytes(decompress_stream(bytearray(stream[offset:]))).decode("cp1252")

    def project_modules(self) -> list[str]:
        return [MODULE_LINE.sub("", line).split("/")[0] for line in self.project_lines if MODULE_LINE.match(line)]


def dir_records(data: bytes) -> list[tuple[int, bytes]]:
    """(id, data) of every dir stream record; PROJECTVERSION's size field leaves out its 2-byte minor version."""
    records, i = [], 0
    while i < len(data):
        rid, size = struct.unpack_from("<HI", data, i)
        size += 2 if rid == 0x0009 else 0
        records.append((rid, data[i + 6:i + 6 + size]))
        i += 6 + size
    assert i == len(data)
    return records


def projectwm_names(data: bytes) -> list[str]:
    """Module names of a PROJECTwm stream: each in the code page, NUL, in UTF-16LE, NUL NUL; then NUL NUL."""
    names, i = [], 0
    while data[i:i + 1] != b"\x00":
        end = data.index(b"\x00", i)
        name = data[i:end].decode("cp1252")
        i = end + 1
        unicode = name.encode("utf-16-le")
        assert data[i:i + len(unicode) + 2] == unicode + b"\x00\x00", name
        i += len(unicode) + 2
        names.append(name)
    assert data[i:] == b"\x00\x00"
    return names


def project_shape(lines: list[str]) -> list[str]:
    """PROJECT stream keys in order: module lines and workspace lines collapsed into one entry each."""
    shape, section = [], ""
    for line in lines:
        if line.startswith("["):
            section = line
            key = line
        elif MODULE_LINE.match(line):
            key = "<module>"
        elif section == "[Workspace]" and line:
            key = "<workspace>"
        else:
            key = line.split("=", 1)[0]
        if not shape or shape[-1] != key or key not in ("<module>", "<workspace>"):
            shape.append(key)
    return shape


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> VbaProject:
    return VbaProject(build_addin(tmp_path_factory.mktemp("addin")))


@pytest.fixture(scope="module")
def excel() -> VbaProject:
    return VbaProject(EXCEL_MADE)


def test_the_same_streams_as_excel_writes(ours: VbaProject, excel: VbaProject) -> None:
    for project in (ours, excel):
        names = project.project_modules()
        assert set(project.streams) == {"PROJECT", "PROJECTwm", "VBA/_VBA_PROJECT", "VBA/dir",
                                        *(f"VBA/{n}" for n in names)}
    assert ours.project_modules() == ["ThisWorkbook", "Sheet1", "QaasRibbon", "QaasFunctions"]


def test_project_stream_has_excels_keys_in_excels_order(ours: VbaProject, excel: VbaProject) -> None:
    assert project_shape(ours.project_lines) == project_shape(excel.project_lines)
    assert project_shape(ours.project_lines) == [
        "ID", "<module>", "Name", "HelpContextID", "VersionCompatible32", "CMG", "DPB", "GC", "",
        "[Host Extender Info]", "&H00000001", "", "[Workspace]", "<workspace>", "", ""]
    for project in (ours, excel):
        assert f'VersionCompatible32="{VERSION_COMPATIBLE32}"' in project.project_lines
        assert project.project_lines[1] == "Document=ThisWorkbook/&H00000000"  # the workbook comes first
        workspace = project.project_lines[project.project_lines.index("[Workspace]") + 1:]
        assert [w.split("=")[0] for w in workspace if w] == project.project_modules()
    host = "[Host Extender Info]"
    assert ours.project_lines[ours.project_lines.index(host) + 1] == excel.project_lines[
        excel.project_lines.index(host) + 1]


def test_projectwm_lists_the_modules_in_excels_byte_format(ours: VbaProject, excel: VbaProject) -> None:
    for project in (ours, excel):
        assert projectwm_names(project.streams["PROJECTwm"]) == project.project_modules()


def test_dir_stream_has_excels_records(ours: VbaProject, excel: VbaProject) -> None:
    assert [rid for rid, _ in ours.header] == [rid for rid, _ in excel.header]
    for rid in (0x0001, 0x0002, 0x0014, 0x0003):  # SYSKIND (64-bit), LCID, LCIDINVOKE, CODEPAGE
        assert dict(ours.header)[rid] == dict(excel.header)[rid], hex(rid)
    libids = [re.search(rb"\{[0-9A-F-]+\}", data).group() for project in (ours, excel)
              for rid, data in project.header if rid == 0x000D]
    assert libids[:2] == libids[2:]  # stdole and Office, as in the Excel-made add-in
    excel_blocks = {tuple(rid for rid, _ in block) for block in excel.modules}
    assert {STD_MODULE, DOC_MODULE} <= {block[-2] for block in excel_blocks}
    for block in ours.modules:
        assert tuple(rid for rid, _ in block) in excel_blocks
    assert struct.unpack("<H", dict(ours.header)[0x000F])[0] == len(ours.modules)
    documents = {MODULE_LINE.sub("", line).split("/")[0] for line in ours.project_lines
                 if line.startswith("Document=")}
    for block in ours.modules:
        name = dict(block)[MODULE_NAME].decode()
        assert dict(block)[STREAM_NAME].decode() == name
        assert block[-2][0] == (DOC_MODULE if name in documents else STD_MODULE), name
    assert [dict(b)[MODULE_NAME].decode() for b in ours.modules] == ours.project_modules()


def test_vba_project_stream_and_document_modules_match_excels(ours: VbaProject, excel: VbaProject) -> None:
    # Reserved1, Version (0xFFFF: no compiled cache, so VBA compiles the source), Reserved2; Reserved3 is ignored
    assert ours.streams["VBA/_VBA_PROJECT"][:5] == excel.streams["VBA/_VBA_PROJECT"][:5] == b"\xcc\x61\xff\xff\x00"
    for name in ("ThisWorkbook", "Sheet1"):
        assert ours.source(name) == excel.source(name)
