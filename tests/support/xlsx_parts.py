"""Look inside an .xlsx/.xlsm package part by part, to prove what a write left untouched.

A package is read as {part name: bytes}. For a worksheet part, every ``<c>`` element is cut out of
the part's bytes exactly as written (no re-serialisation), so a test can assert that a foreign
cell's XML is byte-identical after a run; lxml (entities and network off) checks that the cut
matches the parsed document.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path

from lxml import etree

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOCUMENT = f"{REL_NS}/officeDocument"


def read_package(path: Path) -> dict[str, bytes]:
    """Every part of the package by its name in the zip (``xl/worksheets/sheet1.xml``...)."""
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info.filename) for info in z.infolist() if not info.is_dir()}


def changed_parts(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    """Names of the parts added, removed or with other bytes, sorted."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def parse_xml(data: bytes) -> etree._Element:
    """A part's root element; entities are not expanded and nothing is fetched."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    return etree.fromstring(data, parser)


def sheet_part(package: dict[str, bytes], sheet: str) -> str:
    """The worksheet part of the sheet named ``sheet``, found through workbook.xml and its relationships."""
    workbook = _target(package, "", OFFICE_DOCUMENT)
    root = parse_xml(package[workbook])
    for node in root.iter(f"{{{MAIN_NS}}}sheet"):
        if node.get("name") == sheet:
            return _relationships(package, workbook)[node.get(f"{{{REL_NS}}}id")]
    raise KeyError(f"no sheet named {sheet!r} in {workbook}")


def _rels_name(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _relationships(package: dict[str, bytes], part: str) -> dict[str, str]:
    """Relationship id -> part name (internal targets only) of ``part`` ("" for the package itself)."""
    out: dict[str, str] = {}
    rels = _rels_name(part) if part else "_rels/.rels"
    base = posixpath.dirname(part)
    for rel in parse_xml(package[rels]).iter(f"{{{PKG_REL_NS}}}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target", "")
        name = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(base, target))
        out[rel.get("Id", "")] = name
    return out


def _target(package: dict[str, bytes], part: str, rel_type: str) -> str:
    rels = _rels_name(part) if part else "_rels/.rels"
    for rel in parse_xml(package[rels]).iter(f"{{{PKG_REL_NS}}}Relationship"):
        if rel.get("Type") == rel_type:
            return _relationships(package, part)[rel.get("Id", "")]
    raise KeyError(f"{rels} has no relationship of type {rel_type}")


# A tag, a comment, a CDATA section or a processing instruction, from its "<" to its ">" (quotes respected).
_MARKUP = re.compile(
    rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>"
    rb"|<(/?)((?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*))((?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(/?)>",
    re.DOTALL,
)
_ATTR_R = re.compile(rb"""\sr\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _sheet_data_span(xml: bytes) -> tuple[int, int, list[tuple[int, int, bytes, bytes]]]:
    """(start, end) of the ``<sheetData>`` element and its ``<row>``/``<c>`` tags as (start, end, kind, attrs)."""
    start = end = -1
    tags: list[tuple[int, int, bytes, bytes]] = []
    for m in _MARKUP.finditer(xml):
        local = m.group(3)
        if local is None:
            continue
        closing, attrs, empty = m.group(1) == b"/", m.group(4), m.group(5) == b"/"
        if local == b"sheetData":
            if closing:
                end = m.end()
                break
            start = m.start()
            if empty:
                end = m.end()
                break
        elif start >= 0 and local in (b"row", b"c"):
            kind = b"/" + local if closing else local + (b"/" if empty else b"")
            tags.append((m.start(), m.end(), kind, attrs))
    if start < 0 or end < 0:
        raise ValueError("the worksheet has no sheetData element")
    return start, end, tags


def cell_xml(sheet_xml: bytes) -> dict[str, bytes]:
    """Cell reference (``B7``) -> the exact bytes of its ``<c>`` element in a worksheet part."""
    _, _, tags = _sheet_data_span(sheet_xml)
    cells: dict[str, bytes] = {}
    row, col, open_at = 0, 0, -1
    ref = ""
    for start, end, kind, attrs in tags:
        if kind in (b"row", b"row/"):
            m = _ATTR_R.search(attrs)
            row = int((m.group(1) or m.group(2)).decode()) if m else row + 1
            col = 0
        elif kind in (b"c", b"c/"):
            m = _ATTR_R.search(attrs)
            ref = (m.group(1) or m.group(2)).decode() if m else f"{_letters(col + 1)}{row}"
            col = _column_number(ref)
            if kind == b"c/":
                cells[ref] = sheet_xml[start:end]
            else:
                open_at = start
        elif kind == b"/c":
            cells[ref] = sheet_xml[open_at:end]
    _check_against_lxml(sheet_xml, cells)
    return cells


def outside_sheet_data(sheet_xml: bytes) -> tuple[bytes, bytes]:
    """The exact bytes of a worksheet part before and after its ``<sheetData>`` element."""
    start, end, _ = _sheet_data_span(sheet_xml)
    return sheet_xml[:start], sheet_xml[end:]


def _check_against_lxml(sheet_xml: bytes, cells: dict[str, bytes]) -> None:
    """The byte cut must find the cells the XML parser finds, in the same number."""
    root = parse_xml(sheet_xml)
    parsed = root.findall(f"{{{MAIN_NS}}}sheetData/{{{MAIN_NS}}}row/{{{MAIN_NS}}}c")
    with_ref = [c.get("r") for c in parsed if c.get("r")]
    if len(parsed) != len(cells) or not set(with_ref) <= cells.keys():
        raise ValueError(f"cell scan found {len(cells)} cells, the XML parser {len(parsed)}")


def _column_number(ref: str) -> int:
    n = 0
    for ch in ref:
        if not ch.isalpha():
            break
        n = n * 26 + ord(ch.upper()) - 64
    return n


def _letters(col: int) -> str:
    out = ""
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out
