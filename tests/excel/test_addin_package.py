"""The .xlam as an OPC package, checked the way Office reads it: every relationship resolves, every part
has a content type, and no part is left over."""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
import xlwings

from qaas_excel.excel.addin.build import ADDIN_TYPE, VBA_TYPE, build_addin

CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
EXCEL_MADE = Path(xlwings.__file__).parent / "addin" / "xlwings.xlam"  # saved by Excel, shipped by xlwings


@pytest.fixture(scope="module")
def xlam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_addin(tmp_path_factory.mktemp("addin"))


def content_types(z: zipfile.ZipFile) -> tuple[dict[str, str], dict[str, str]]:
    root = ElementTree.fromstring(z.read("[Content_Types].xml"))
    defaults = {d.get("Extension").lower(): d.get("ContentType") for d in root.iter(f"{CT}Default")}
    overrides = {o.get("PartName").lower(): o.get("ContentType") for o in root.iter(f"{CT}Override")}
    return defaults, overrides


def relationships(z: zipfile.ZipFile) -> list[tuple[str, str, str]]:
    """(rels part, relationship type, resolved target part) of every internal relationship."""
    out = []
    for name in z.namelist():
        if not name.endswith(".rels"):
            continue
        folder, rels_file = posixpath.split(name)
        source_folder = posixpath.dirname(folder)  # "xl/_rels/workbook.xml.rels" describes a part in "xl"
        assert rels_file.endswith(".rels") and posixpath.basename(folder) == "_rels", name
        for rel in ElementTree.fromstring(z.read(name)).iter(f"{REL}Relationship"):
            if rel.get("TargetMode") == "External":
                continue
            target = rel.get("Target")
            resolved = target[1:] if target.startswith("/") else posixpath.normpath(
                posixpath.join(source_folder, target))
            out.append((name, rel.get("Type"), resolved))
    return out


def package_problems(path: Path) -> list[str]:
    problems = []
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        defaults, overrides = content_types(z)
        rels = relationships(z)
        for rels_part, _, target in rels:
            if target not in names:
                problems.append(f"{rels_part} points at missing part {target}")
        targets = {target for _, _, target in rels}
        for name in sorted(names - {"[Content_Types].xml"}):
            ext = posixpath.basename(name).rsplit(".", 1)[-1].lower()  # "_rels/.rels" has the extension rels
            if f"/{name}".lower() not in overrides and ext not in defaults:
                problems.append(f"{name} has no content type")
            if not name.endswith(".rels") and name not in targets:
                problems.append(f"{name} is referenced by no relationship")
            if name.endswith(".rels"):
                source = name.replace("_rels/", "").removesuffix(".rels")
                if source and source not in names:
                    problems.append(f"{name} describes missing part {source}")
        for part in overrides:
            if part[1:] not in {n.lower() for n in names}:
                problems.append(f"content type for missing part {part}")
    return problems


def test_the_checks_find_what_office_rejects(tmp_path: Path, xlam: Path) -> None:
    broken = tmp_path / "broken.xlam"
    with zipfile.ZipFile(xlam) as src, zipfile.ZipFile(broken, "w") as dst:
        for name in src.namelist():
            if name != "docProps/core.xml":  # the part the old build dropped, leaving its relationship behind
                dst.writestr(name, src.read(name))
        dst.writestr("xl/orphan.bin", b"x")
    problems = package_problems(broken)
    assert "_rels/.rels points at missing part docProps/core.xml" in problems
    assert "xl/orphan.bin is referenced by no relationship" in problems
    assert "content type for missing part /docprops/core.xml" in problems


def test_an_excel_made_add_in_passes_the_same_checks() -> None:
    assert package_problems(EXCEL_MADE) == []


def test_every_relationship_resolves_every_part_is_typed_and_referenced(xlam: Path) -> None:
    assert package_problems(xlam) == []


def test_the_parts_excel_needs_are_there_with_their_types(xlam: Path) -> None:
    with zipfile.ZipFile(xlam) as z:
        assert z.testzip() is None
        _, overrides = content_types(z)
        rels = {(rel_type.rsplit("/", 1)[1], target) for _, rel_type, target in relationships(z)}
        core = ElementTree.fromstring(z.read("docProps/core.xml"))
    assert overrides["/xl/workbook.xml"] == ADDIN_TYPE
    assert overrides["/xl/vbaproject.bin"] == VBA_TYPE
    assert {("officeDocument", "xl/workbook.xml"), ("extensibility", "customUI/customUI14.xml"),
            ("core-properties", "docProps/core.xml"), ("vbaProject", "xl/vbaProject.bin")} <= rels
    assert core.findtext("{http://purl.org/dc/elements/1.1/}title") == "QaaS"
