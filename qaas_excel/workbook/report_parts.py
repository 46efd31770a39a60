"""The Reconciliation sheet put into a package as its own parts, chart included.

openpyxl draws the sheet in a workbook of its own (``report_sheet.render_openpyxl``); its parts (the
worksheet, its tables, its drawing and chart) are then carried into the user's package: cell formats
imported into the user's style sheet, shared strings written inline, table ids and names made unique,
part names chosen free. An earlier Reconciliation sheet is replaced in place (same position, same
relationship id), with the parts that were its own; nothing else in the package changes.
"""

from __future__ import annotations

import posixpath
import re
import tempfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from openpyxl import Workbook

from qaas_excel.workbook.report_sheet import SHEET, render_openpyxl
from qaas_excel.workbook.xlsx_package import OFFICE_REL, Package, relative_target, rels_part, xml_text
from qaas_excel.workbook.xlsx_styles import Styles

WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_NAME_PATTERNS = {"/drawing": "xl/drawings/drawing{}.xml", "/chart": "xl/charts/chart{}.xml",
                  "/table": "xl/tables/table{}.xml"}


def put_report_sheet(pkg: Package, workbook_part: str, sheets: dict[str, str], styles: Styles, report: Any) -> None:
    """Render the report into ``pkg`` as its own parts; ``sheets`` (sheet name -> part) learns the new sheet."""
    wb = Workbook()
    wb.remove(wb.worksheets[0])  # the new workbook's one sheet
    render_openpyxl(wb, report)
    with tempfile.TemporaryDirectory(prefix="qaas-report-") as tmp:
        path = Path(tmp) / "report.xlsx"
        wb.save(path)
        src = Package.open(path)
        try:
            _transplant(pkg, workbook_part, sheets, styles, src)
        finally:
            src.close()


def _transplant(pkg: Package, workbook_part: str, sheets: dict[str, str], styles: Styles, src: Package) -> None:
    src_workbook = "xl/workbook.xml"
    src_sheet = next(r.part for r in src.rels(src_workbook) if r.type.endswith("/worksheet") and r.part)
    src_styles = Styles(src.read(next(r.part for r in src.rels(src_workbook) if r.type.endswith("/styles") and r.part)))
    shared_part = next((r.part for r in src.rels(src_workbook) if r.type.endswith("/sharedStrings")), None)
    from qaas_excel.workbook.xlsx_sheet import read_shared_strings

    shared = read_shared_strings(src.read(shared_part)) if shared_part else []

    target = sheets.get(SHEET)
    if target is not None:
        _remove_own_parts(pkg, target)
    else:
        target = pkg.free_name("xl/worksheets/sheet{}.xml")
        rid = pkg.add_relationship(workbook_part, OFFICE_REL + "/worksheet", target)
        pkg.set_content_type(target, WORKSHEET_TYPE)
        _add_sheet_entry(pkg, workbook_part, rid)
        sheets[SHEET] = target

    xml = src.read(src_sheet)
    xml = re.sub(rb'(<c\b[^>]*?\bs=")(\d+)(")', lambda m: m.group(1) + str(styles.import_xf(
        src_styles, int(m.group(2)))).encode() + m.group(3), xml)
    xml = re.sub(rb'<c\b([^>]*?)\bt="s"([^>]*)><v>(\d+)</v></c>', lambda m: b"<c" + m.group(1) + b't="inlineStr"'
                 + m.group(2) + b"><is><t xml:space=\"preserve\">" + xml_text(shared[int(m.group(3))])
                 + b"</t></is></c>", xml)
    pkg.write(target, xml)
    _copy_related(src, src_sheet, pkg, target)


def _copy_related(src: Package, src_part: str, pkg: Package, part: str) -> None:
    """Copy what ``src_part`` relates to (recursively) under free names, with a rels file of the same ids."""
    rels = src.rels(src_part)
    if not rels:
        return
    entries = []
    for rel in rels:
        if rel.external or not rel.part:
            entries.append((rel.id, rel.type, rel.target, True))
            continue
        kind = next((k for k in _NAME_PATTERNS if rel.type.endswith(k)), None)
        new = pkg.free_name(_NAME_PATTERNS[kind]) if kind else pkg.free_name(
            posixpath.splitext(rel.part)[0] + "_{}" + posixpath.splitext(rel.part)[1])
        data = src.read(rel.part)
        if kind == "/table":
            data = _unique_table(pkg, data)
        pkg.write(new, data)
        content_type = src.content_type(rel.part)
        if content_type:
            pkg.set_content_type(new, content_type)
        entries.append((rel.id, rel.type, relative_target(part, new), False))
        _copy_related(src, rel.part, pkg, new)
    body = b"".join(
        f'<Relationship Id={quoteattr(rid)} Type={quoteattr(rtype)} Target={quoteattr(target)}'
        f'{" TargetMode=" + quoteattr("External") if external else ""}/>'.encode()
        for rid, rtype, target, external in entries)
    pkg.write(rels_part(part), b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="'
              b'http://schemas.openxmlformats.org/package/2006/relationships">' + body + b"</Relationships>")


def _unique_table(pkg: Package, data: bytes) -> bytes:
    """Table ids and names are unique in a workbook: take the next free id, and a free name."""
    ids, names = set(), set()
    for name in pkg.names():
        if name.startswith("xl/tables/") and name.endswith(".xml"):
            other = pkg.read(name)
            m = re.search(rb'<(?:\w+:)?table\b[^>]*\bid="(\d+)"', other)
            if m:
                ids.add(int(m.group(1)))
            n = re.search(rb'<(?:\w+:)?table\b[^>]*\bdisplayName="([^"]*)"', other)
            if n:
                names.add(n.group(1).decode().casefold())
    new_id = max(ids, default=0) + 1
    data = re.sub(rb'(<(?:\w+:)?table\b[^>]*\bid=")\d+(")', lambda m: m.group(1) + str(new_id).encode() + m.group(2),
                  data, count=1)
    m = re.search(rb'\bdisplayName="([^"]*)"', data)
    if m and m.group(1).decode().casefold() in names:
        base, k = m.group(1).decode(), 2
        while f"{base}_{k}".casefold() in names:
            k += 1
        new_name = f"{base}_{k}".encode()
        data = re.sub(rb'\b(name|displayName)="' + re.escape(m.group(1)) + rb'"',
                      lambda x: x.group(1) + b'="' + new_name + b'"', data)
    return data


def _remove_own_parts(pkg: Package, sheet_part: str) -> None:
    """The parts an earlier Reconciliation sheet brought (drawing, chart, tables), and its rels file."""
    for rel in pkg.rels(sheet_part):
        if rel.part and not rel.external:
            for inner in pkg.rels(rel.part):
                if inner.part and not inner.external:
                    pkg.remove(inner.part)
                    pkg.remove_content_type(inner.part)
            pkg.remove(rels_part(rel.part))
            pkg.remove(rel.part)
            pkg.remove_content_type(rel.part)
    pkg.remove(rels_part(sheet_part))


def _add_sheet_entry(pkg: Package, workbook_part: str, rid: str) -> None:
    data = pkg.read(workbook_part)
    m = re.search(rb"<(\w+:)?sheets\b[^>]*>", data)
    if m is None:
        raise ValueError("workbook without sheets")
    p = m.group(1) or b""
    ids = [int(x) for x in re.findall(rb"<" + re.escape(p) + rb'sheet\b[^>]*\bsheetId="(\d+)"', data)]
    end = data.find(b"</" + p + b"sheets>", m.end())
    entry = (b"<" + p + b"sheet name=" + quoteattr(SHEET).encode() + b' sheetId="' + str(max(ids, default=0) + 1)
             .encode() + b'" xmlns:r="' + OFFICE_REL.encode() + b'" r:id=' + quoteattr(rid).encode() + b"/>")
    pkg.write(workbook_part, data[:end] + entry + data[end:])
