"""Build ``qaas_excel.xlam`` from the text sources, on any OS.

An .xlam is an OOXML zip: a workbook whose content type says "macro-enabled add-in", a
``vbaProject.bin`` (written here with the ms-ovba package from ``QaasRibbon.bas`` and
``QaasFunctions.bas``, shaped like the projects Excel saves), and a ``customUI/customUI14.xml`` part
that Excel shows as the QaaS tab. The ribbon's callbacks call ``RunPython`` of the xlwings add-in and
the worksheet-function stubs call its ``XLPy``, so no xlwings VBA code is copied into ours.
"""

from __future__ import annotations

import contextlib
import io
import random
import tempfile
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import quoteattr

from openpyxl import Workbook

from qaas_excel.excel import ribbon, udf_stubs

SOURCES = Path(__file__).resolve().parent
CUSTOMUI = SOURCES / "customUI14.xml"
VBA_MODULE = SOURCES / f"{ribbon.MODULE_NAME}.bas"
FUNCTIONS_MODULE = SOURCES / f"{udf_stubs.MODULE_NAME}.bas"
XLAM_NAME = "qaas_excel.xlam"

ADDIN_TYPE = "application/vnd.ms-excel.addin.macroEnabled.main+xml"
VBA_TYPE = "application/vnd.ms-office.vbaProject"
UI_REL = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
FIXED_DATE = (2026, 1, 1, 0, 0, 0)
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
ADDIN_TITLE = "QaaS"
ADDIN_DESCRIPTION = "The QaaS ribbon tab and worksheet functions (qaas-excel)"
# Code names tie the VBA document modules to the workbook and its sheet.
WORKBOOK_CODE_NAME, SHEET_CODE_NAME = "ThisWorkbook", "Sheet1"
VERSION_COMPATIBLE32 = "393222000"  # the value in every project Excel (VBA 6 and later) saves


def write_sources(folder: Path = SOURCES) -> list[Path]:
    """(Re)generate the text sources from ribbon.py and the worksheet functions; a test keeps the committed copies
    in step. VBA text is ASCII, so it reads the same in every code page."""
    customui, module, functions = folder / CUSTOMUI.name, folder / VBA_MODULE.name, folder / FUNCTIONS_MODULE.name
    customui.write_text(ribbon.customui_xml(), encoding="utf-8")
    module.write_bytes(ribbon.vba_module().encode("ascii"))
    functions.write_bytes(udf_stubs.vba_module().encode("ascii"))
    return [customui, module, functions]


@contextlib.contextmanager
def _correct_copy_token_length() -> Iterator[None]:
    """ms-ovba-compression 1.0.1 computes MaximumLength as 0xFFFF << (bits + 3); MS-OVBA 2.4.1.3.19.3
    says (0xFFFF >> bits) + 3. Long repeats then overflow the length field and corrupt the module."""
    from ms_ovba_compression.ms_ovba import MsOvba

    original = MsOvba.copytoken_help

    def fixed(difference: int) -> dict[str, int]:
        help_ = original(difference)
        help_["maxLength"] = (0xFFFF >> help_["bitCount"]) + 3
        return help_

    MsOvba.copytoken_help = staticmethod(fixed)  # type: ignore[method-assign]  # the library's bug fixed, here only
    try:
        yield
    finally:
        MsOvba.copytoken_help = staticmethod(original)  # type: ignore[method-assign]  # as it was


def compress(data: bytes) -> bytes:
    """MS-OVBA compression as the build applies it to every module (ms-ovba-compression, corrected)."""
    from ms_ovba_compression.ms_ovba import MsOvba

    with _correct_copy_token_length():
        return MsOvba().compress(data)


def vba_project_bin(modules: Sequence[Path]) -> bytes:
    """A vbaProject.bin holding ThisWorkbook, Sheet1 and our standard modules (ms-ovba), shaped like the
    projects Excel saves and byte for byte the same on every build."""
    with (_correct_copy_token_length(), _fixed_protection_seed(), _project_stream_ends_as_excels(),
          tempfile.TemporaryDirectory() as tmp):
        return _vba_project_bin(modules, Path(tmp))


@contextlib.contextmanager
def _project_stream_ends_as_excels() -> Iterator[None]:
    """Excel ends the PROJECT stream with an empty line after the [Workspace] section; ms-ovba does not."""
    from ms_ovba.Views import project_ole_file
    from ms_ovba.Views.project import Project

    class ExcelProject(Project):  # type: ignore[misc]  # ms-ovba is untyped: Project is Any
        def __str__(self) -> str:
            return str(super().__str__()) + "\r\n"

    project_ole_file.Project = ExcelProject
    try:
        yield
    finally:
        project_ole_file.Project = Project


@contextlib.contextmanager
def _fixed_protection_seed() -> Iterator[None]:
    """ms-ovba-crypto draws a random seed to obfuscate the PROJECT stream's CMG/DPB/GC lines (MS-OVBA 2.4.3);
    any seed is valid, so a fixed one makes the build reproducible."""
    from ms_ovba_crypto import ms_ovba_crypto

    # its own `import random`, which the stubs it ships leave out
    original = ms_ovba_crypto.random  # type: ignore[attr-defined]  # see above
    ms_ovba_crypto.random = random.Random(20260101)  # type: ignore[attr-defined]  # see above
    try:
        yield
    finally:
        ms_ovba_crypto.random = original  # type: ignore[attr-defined]  # see above


def _document_module(name: str) -> str:
    """The text Excel exports for a sheet's or the workbook's (empty) code module."""
    return ("VERSION 1.0 CLASS\nBEGIN\n  MultiUse = -1  'True\nEND\n"
            f'Attribute VB_Name = "{name}"\nAttribute VB_GlobalNameSpace = False\nAttribute VB_Creatable = False\n'
            "Attribute VB_PredeclaredId = True\nAttribute VB_Exposed = True\n")


def _vba_project_bin(modules: Sequence[Path], tmp: Path) -> bytes:
    # ms-ovba writes its intermediate files next to each source (appending to some), so every source is a
    # fresh copy in ``tmp``: nothing is written into the installed package, nothing piles up between builds.
    from ms_ovba.Models.Entities.doc_module import DocModule
    from ms_ovba.Models.Entities.reference import Reference
    from ms_ovba.Models.Entities.reference_registered import ReferenceRegistered
    from ms_ovba.Models.Entities.std_module import StdModule
    from ms_ovba.Models.Fields.libid_reference import LibidReference
    from ms_ovba.vbaProject import VbaProject
    from ms_ovba.Views.project_ole_file import ProjectOleFile

    project = VbaProject()
    project.project_id = "{6B1F8F0E-3C55-4D0B-9E55-51A0A5C0DE01}"
    # What Excel writes and a generated project lacks by default: the PROJECTwm stream of module names (Excel
    # has been seen to drop the macros of projects without it) and the VersionCompatible32 line.
    project.include_projectwm()
    project.add_attribute("VersionCompatible32", VERSION_COMPATIBLE32)
    for name, guid in ((WORKBOOK_CODE_NAME, "0002081900000000C000000000000046"),
                       (SHEET_CODE_NAME, "0002082000000000C000000000000046")):  # Excel's order
        source = tmp / f"{name}.cls"
        source.write_text(_document_module(name), encoding="ascii")
        module = DocModule(name)
        module.add_file(str(source))
        module.add_guid(uuid.UUID(guid))
        module.normalize_file()
        module.add_workspace(0, 0, 0, 0, "C")
        project.add_module(module)
    for bas in modules:
        source = tmp / bas.name
        source.write_bytes(bas.read_bytes())
        module = StdModule(bas.stem)
        module.add_file(str(source))
        module.normalize_file()
        module.add_workspace(0, 0, 0, 0, "C")  # a closed code window, as Excel records it
        project.add_module(module)
    stdole = LibidReference(uuid.UUID("0002043000000000C000000000000046"), "2.0", "0",
                            "C:\\Windows\\System32\\stdole2.tlb", "OLE Automation")
    office = LibidReference(uuid.UUID("2DF8D04C5BFA101BBDE500AA0044DE52"), "2.0", "0",
                            r"C:\Program Files\Common Files\Microsoft Shared\OFFICE16\MSO.DLL",
                            "Microsoft Office 16.0 Object Library")  # IRibbonControl lives here
    project.add_reference(Reference(ReferenceRegistered(stdole), "stdole"))
    project.add_reference(Reference(ReferenceRegistered(office), "Office"))
    with contextlib.chdir(tmp):  # ms-ovba writes ./vbaProject.bin
        ProjectOleFile.write_file(project)
    return (tmp / "vbaProject.bin").read_bytes()


def _base_workbook() -> dict[str, bytes]:
    wb = Workbook()
    wb.code_name = WORKBOOK_CODE_NAME
    sheet = wb.worksheets[0]  # the new workbook's one sheet
    sheet.title = "QaaS"
    sheet.sheet_properties.codeName = SHEET_CODE_NAME
    sheet["A1"] = "qaas-excel add-in: adds the QaaS tab to Excel."
    buffer = io.BytesIO()
    wb.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        return {name: z.read(name) for name in z.namelist()}


def _xml(root: ElementTree.Element, namespace: str) -> bytes:
    """A flat package document (content types, relationships) with its namespace as the default, as Office
    writes it (ElementTree would prefix every element)."""
    def element(e: ElementTree.Element) -> str:
        attributes = "".join(f" {name}={quoteattr(value)}" for name, value in e.attrib.items())
        return f"<{e.tag.removeprefix(f'{{{namespace}}}')}{attributes}/>"

    tag = root.tag.removeprefix(f"{{{namespace}}}")
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<{tag} xmlns="{namespace}">'
            + "".join(element(e) for e in root) + f"</{tag}>").encode()


def _content_types(xml: bytes) -> bytes:
    """The workbook part typed as a macro-enabled add-in, and the VBA project typed by name, as Excel does."""
    root = ElementTree.fromstring(xml)
    for override in root.iter(f"{{{CT_NS}}}Override"):
        if override.get("PartName") == "/xl/workbook.xml":
            override.set("ContentType", ADDIN_TYPE)
    ElementTree.SubElement(root, f"{{{CT_NS}}}Override", PartName="/xl/vbaProject.bin", ContentType=VBA_TYPE)
    return _xml(root, CT_NS)


def _with_relationship(xml: bytes, rel_id: str, rel_type: str, target: str) -> bytes:
    root = ElementTree.fromstring(xml)
    ElementTree.SubElement(root, f"{{{REL_NS}}}Relationship", Id=rel_id, Type=rel_type, Target=target)
    return _xml(root, REL_NS)


def _core_properties() -> bytes:
    """Our own core properties: a fixed date keeps the build reproducible; Excel's Add-ins dialog shows the title."""
    stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*FIXED_DATE)
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:title>{ADDIN_TITLE}</dc:title><dc:description>{ADDIN_DESCRIPTION}</dc:description>"
            "<dc:creator>qaas-excel</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
            "</cp:coreProperties>").encode()


def build_addin(out_dir: Path) -> Path:
    """Write qaas_excel.xlam into ``out_dir``: the same bytes for the same sources."""
    parts = _base_workbook()
    parts["[Content_Types].xml"] = _content_types(parts["[Content_Types].xml"])
    parts["_rels/.rels"] = _with_relationship(parts["_rels/.rels"], "qaasUi", UI_REL, "customUI/customUI14.xml")
    parts["xl/_rels/workbook.xml.rels"] = _with_relationship(
        parts["xl/_rels/workbook.xml.rels"], "qaasVba", VBA_REL, "vbaProject.bin")
    parts["docProps/core.xml"] = _core_properties()  # openpyxl's carries the time of the build
    parts["customUI/customUI14.xml"] = CUSTOMUI.read_bytes()
    parts["xl/vbaProject.bin"] = vba_project_bin([VBA_MODULE, FUNCTIONS_MODULE])
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / XLAM_NAME
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(parts, key=lambda n: (n != "[Content_Types].xml", n)):
            z.writestr(zipfile.ZipInfo(name, FIXED_DATE), parts[name], zipfile.ZIP_DEFLATED)
    return target
