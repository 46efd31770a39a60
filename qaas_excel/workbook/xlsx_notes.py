"""Cell notes in a package: the sheet's comments part and the legacy VML drawing Excel shows them with.

Only notes whose author is ``qaas-excel`` are ever removed or replaced; a cell that carries anyone
else's note (or a threaded comment, whose legacy note is the placeholder Excel writes) gets no note from
us. The parts are created (with their relationships, content types and the sheet's ``legacyDrawing``)
when the sheet has none; the VML shapes of other notes and of form controls stay as they are.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

from lxml import etree
from openpyxl.utils.cell import column_index_from_string, get_column_letter

from qaas_excel.values import NOTE_AUTHOR
from qaas_excel.workbook.xlsx_package import MAIN_NS, OFFICE_REL, Package, legal_text

COMMENTS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
VML_TYPE = "application/vnd.openxmlformats-officedocument.vmlDrawing"
REL_COMMENTS = OFFICE_REL + "/comments"
REL_VML = OFFICE_REL + "/vmlDrawing"
_NOTE_SHAPETYPE = (b'<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" '
                   b'path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/>'
                   b'<v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>')
# Children of a worksheet that must come after <legacyDrawing> (schema order).
_AFTER_LEGACY = (b"legacyDrawingHF", b"drawingHF", b"picture", b"oleObjects", b"controls", b"webPublishItems",
                 b"tableParts", b"extLst")


class Notes:
    """The notes of one sheet; ``apply`` removes ours where asked and adds new ones."""

    def __init__(self, pkg: Package, sheet_part: str) -> None:
        self.pkg, self.sheet_part = pkg, sheet_part
        comments = pkg.related(sheet_part, "/comments")
        vml = pkg.related(sheet_part, "/vmlDrawing")
        self.comments_part = comments[0].part if comments else None
        self.vml_part = vml[0].part if vml else None
        self._tree = pkg.xml(self.comments_part) if self.comments_part and pkg.has(self.comments_part) else None

    def _ns(self) -> str:
        return etree.QName(self._tree).namespace or "" if self._tree is not None else MAIN_NS

    def _q(self, name: str) -> str:
        ns = self._ns()
        return f"{{{ns}}}{name}" if ns else name

    def authors(self) -> dict[tuple[int, int], str]:
        """(row, column) -> author of every note on the sheet."""
        if self._tree is None:
            return {}
        names = [a.text or "" for a in self._tree.iter(self._q("author"))]
        out = {}
        for c in self._tree.iter(self._q("comment")):
            cell = _cell(c.get("ref") or "")
            if cell:
                i = int(c.get("authorId") or 0)
                out[cell] = names[i] if i < len(names) else ""
        return out

    def apply(self, sheet_xml: bytes, remove: set[tuple[int, int]], add: dict[tuple[int, int], str]) -> bytes:
        """Remove our notes on ``remove`` cells, add ``add`` notes; returns the (possibly changed) sheet XML, given
        whole or as what follows its cells (``Sheet.tail``: the only place notes change in a sheet)."""
        mine = {cell for cell, author in self.authors().items() if author == NOTE_AUTHOR}
        drop = (remove | set(add)) & mine
        if not drop and not add:
            return sheet_xml
        if self._tree is None:
            self._tree = etree.fromstring(f'<comments xmlns="{MAIN_NS}"><authors/><commentList/></comments>'.encode())
        root = self._tree
        authors = root.find(self._q("authors"))
        if authors is None:
            authors = etree.SubElement(root, self._q("authors"))
            root.insert(0, authors)
        names = [a.text or "" for a in authors]
        if NOTE_AUTHOR not in names:
            etree.SubElement(authors, self._q("author")).text = NOTE_AUTHOR
            names.append(NOTE_AUTHOR)
        author_id = str(names.index(NOTE_AUTHOR))
        comment_list = root.find(self._q("commentList"))
        if comment_list is None:
            comment_list = etree.SubElement(root, self._q("commentList"))
        for c in list(comment_list):
            if _cell(c.get("ref") or "") in drop and c.get("authorId") == author_id:
                comment_list.remove(c)
        for (row, col), text in sorted(add.items()):
            c = etree.SubElement(comment_list, self._q("comment"), ref=f"{get_column_letter(col)}{row}",
                                 authorId=author_id)
            t = etree.SubElement(etree.SubElement(c, self._q("text")), self._q("t"))
            t.text = legal_text(text)
            t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
        if self.comments_part is None:
            self.comments_part = self.pkg.free_name("xl/comments{}.xml")
            self.pkg.add_relationship(self.sheet_part, REL_COMMENTS, self.comments_part)
            self.pkg.set_content_type(self.comments_part, COMMENTS_TYPE)
        self.pkg.write(self.comments_part, data)
        return self._apply_vml(sheet_xml, drop, sorted(add))

    def _apply_vml(self, sheet_xml: bytes, drop: set[tuple[int, int]], add: list[tuple[int, int]]) -> bytes:
        if self.vml_part is None:
            self.vml_part = self.pkg.free_name("xl/drawings/vmlDrawing{}.vml")
            block = self._free_idmap()
            vml = (b'<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
                   b'xmlns:x="urn:schemas-microsoft-com:office:excel"><o:shapelayout v:ext="edit"><o:idmap '
                   b'v:ext="edit" data="' + str(block).encode() + b'"/></o:shapelayout>' + _NOTE_SHAPETYPE + b"</xml>")
            rid = self.pkg.add_relationship(self.sheet_part, REL_VML, self.vml_part)
            if not self.pkg.content_type(self.vml_part):
                self.pkg.set_content_type(self.vml_part, VML_TYPE, default_extension=True)
            sheet_xml = _with_legacy_drawing(sheet_xml, rid)
        else:
            vml = self.pkg.read(self.vml_part)
        vml = _drop_note_shapes(vml, drop)
        if b'id="_x0000_t202"' not in vml:
            vml = _insert_before_end(vml, _NOTE_SHAPETYPE)
        ids = [int(n) for n in re.findall(rb'id="_x0000_s(\d+)"', vml)]
        m = re.search(rb'<o:idmap\b[^>]*\bdata="(\d+)', vml)
        next_id = max(ids, default=(int(m.group(1)) if m else 1) * 1024) + 1
        shapes = b"".join(_note_shape(next_id + i, row, col) for i, (row, col) in enumerate(add))
        self.pkg.write(self.vml_part, _insert_before_end(vml, shapes))
        return sheet_xml

    def _free_idmap(self) -> int:
        used: set[int] = set()
        for name in self.pkg.names():
            if name.endswith(".vml"):
                used.update(int(n) for n in re.findall(rb'<o:idmap\b[^>]*\bdata="(\d+)', self.pkg.read(name)))
        n = 1
        while n in used:
            n += 1
        return n


def _cell(ref: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"([A-Z]{1,3})(\d+)", ref)
    return (int(m.group(2)), column_index_from_string(m.group(1))) if m else None


def _note_shape(shape_id: int, row: int, col: int) -> bytes:
    r0, c0 = row - 1, col - 1
    return (f'<v:shape id="_x0000_s{shape_id}" type="#_x0000_t202" style="position:absolute;margin-left:80pt;'
            f'margin-top:2pt;width:200pt;height:80pt;z-index:{shape_id};visibility:hidden" fillcolor="#ffffe1" '
            f'o:insetmode="auto"><v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/>'
            f'<v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto"><div style="text-align:left">'
            f'</div></v:textbox><x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
            f"<x:Anchor>{c0 + 1}, 15, {r0}, 2, {c0 + 4}, 15, {r0 + 5}, 4</x:Anchor><x:AutoFill>False</x:AutoFill>"
            f"<x:Row>{r0}</x:Row><x:Column>{c0}</x:Column></x:ClientData></v:shape>").encode()


def _drop_note_shapes(vml: bytes, cells: set[tuple[int, int]]) -> bytes:
    if not cells:
        return vml

    def keep(m: re.Match[bytes]) -> bytes:
        shape = m.group(0)
        if b'ObjectType="Note"' not in shape:
            return shape
        row = re.search(rb"<x:Row>\s*(\d+)\s*</x:Row>", shape)
        col = re.search(rb"<x:Column>\s*(\d+)\s*</x:Column>", shape)
        if row and col and (int(row.group(1)) + 1, int(col.group(1)) + 1) in cells:
            return b""
        return shape

    return re.sub(rb"<v:shape\b.*?</v:shape>", keep, vml, flags=re.S)


def _insert_before_end(vml: bytes, block: bytes) -> bytes:
    end = vml.rfind(b"</xml>")
    return vml[:end] + block + vml[end:] if end >= 0 else vml + block


def _with_legacy_drawing(sheet_xml: bytes, rid: str) -> bytes:
    """``sheet_xml``: the sheet, or what follows its cells (``Sheet.tail``: the end tag names the prefix)."""
    root = re.search(rb"<(\w+:)?worksheet\b", sheet_xml) or re.search(rb"</(\w+:)?worksheet>", sheet_xml)
    p = root.group(1) or b"" if root else b""
    el = (b"<" + p + b'legacyDrawing xmlns:r="' + OFFICE_REL.encode() + b'" r:id=' + quoteattr(rid).encode() + b"/>")
    # Every element it goes before follows the sheet's data: looked for there only (a row or cell has an extLst of
    # its own), and the sheet of 200,000 rows copied once.
    after_data = max(sheet_xml.rfind(b"</" + p + b"sheetData>"), sheet_xml.rfind(b"<" + p + b"sheetData"), 0)
    at = sheet_xml.rfind(b"</" + p + b"worksheet>")
    for name in _AFTER_LEGACY:
        m = re.compile(rb"<" + re.escape(p) + name + rb"\b").search(sheet_xml, after_data)
        if m:
            at = m.start()
            break
    view = memoryview(sheet_xml)
    return b"".join((view[:at], el, view[at:]))
