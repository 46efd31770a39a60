"""The cell formats of a package (``xl/styles.xml``), extended without touching what is there.

A cell the tool colours gets a *clone* of its own format with another fill (or number format), so its
font, borders, alignment, protection and number format stay. Clones are appended at the end of
``cellXfs`` (new fills and number formats likewise), every existing entry keeps its bytes and index,
and a clone is reused when an identical format exists already, so running again adds nothing.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import quoteattr

from qaas_excel.workbook.table import WorkbookError

# Number formats Excel builds in that show dates or times.
_BUILTIN_DATE_FORMATS = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47})
_DATE_TOKENS = re.compile(r"[dmyhs]", re.I)
_QUOTED = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def is_date_format(code: str) -> bool:
    """A custom format that shows a date or time (quoted text, escapes and [colours] ignored)."""
    bare = _QUOTED.sub("", code)
    return bool(_DATE_TOKENS.search(bare)) and "General" not in bare


# A font's children in the order Microsoft's Open XML SDK accepts and Excel writes (openpyxl writes name, charset,
# family, b, ..., color, sz: the SDK flags "Unexpected element" and Excel may repair the file).
FONT_CHILDREN = (b"b", b"i", b"strike", b"condense", b"extend", b"outline", b"shadow", b"u", b"vertAlign", b"sz",
                 b"color", b"name", b"family", b"charset", b"scheme")
_FONT = re.compile(rb"<(\w+:)?font\b[^>]*?(?:/>|>.*?</(?:\w+:)?font>)", re.S)


def font_in_sdk_order(font: bytes) -> bytes:
    """A ``<font>`` element with its children in ``FONT_CHILDREN`` order (others, such as extLst, after them)."""
    m = re.fullmatch(rb"(<(\w+:)?font\b[^>]*>)(.*)(</(?:\w+:)?font>)", font, re.S)
    if m is None:  # <font/>
        return font
    p = re.escape(m.group(2) or b"")
    children = list(re.finditer(rb"<" + p + rb"(\w+)\b[^>]*?(?:/>|>.*?</" + p + rb"\1>)", m.group(3), re.S))
    if re.sub(rb"\s", b"", b"".join(c.group(0) for c in children)) != re.sub(rb"\s", b"", m.group(3)):
        return font  # something we do not recognise between the children: leave the element as it is
    rank = {name: i for i, name in enumerate(FONT_CHILDREN)}
    ordered = sorted(children, key=lambda c: rank.get(c.group(1), len(FONT_CHILDREN)))
    return m.group(1) + b"".join(c.group(0) for c in ordered) + m.group(4)


def fonts_in_sdk_order(styles_xml: bytes) -> bytes:
    """A style sheet with every font (of ``fonts`` and of ``dxfs``) in the SDK's order; the rest byte for byte."""
    return _FONT.sub(lambda m: font_in_sdk_order(m.group(0)), styles_xml)


def _attr(tag: bytes, name: bytes) -> bytes | None:
    m = re.search(rb"\s" + name + rb"=\"([^\"]*)\"", tag)
    return m.group(1) if m else None


def set_attr(element: bytes, name: str, value: str) -> bytes:
    """Set an attribute in an element's start tag: in place if present, else appended to the start tag."""
    start_end = element.find(b">")
    if start_end < 0:
        raise ValueError("not an element")
    self_closing = element[start_end - 1:start_end] == b"/"
    tag_end = start_end - 1 if self_closing else start_end
    tag = element[:tag_end]
    key = name.encode()
    new = key + b"=" + quoteattr(value).encode()
    m = re.search(rb"(\s)" + re.escape(key) + rb"=(\"[^\"]*\"|'[^']*')", tag)
    tag = tag[:m.start()] + m.group(1) + new + tag[m.end():] if m else tag.rstrip() + b" " + new
    return tag + element[tag_end:]


class Styles:
    """Read the formats; append clones; ``data()`` gives the new styles.xml (or the same bytes)."""

    def __init__(self, data: bytes, part: str = "xl/styles.xml") -> None:
        self.part = part
        self._data = data
        root = re.search(rb"<(\w+:)?styleSheet\b", data)
        if root is None:
            raise WorkbookError(f"The workbook part {part} is not a style sheet.")
        self.p = root.group(1) or b""
        self.xfs = self._children(b"cellXfs", b"xf")
        self.fills = self._children(b"fills", b"fill")
        self.fonts = self._children(b"fonts", b"font")
        self.borders = self._children(b"borders", b"border")
        self.num_fmts: dict[int, str] = {}
        for el in self._children(b"numFmts", b"numFmt"):
            fid, code = _attr(el, b"numFmtId"), _attr(el, b"formatCode")
            if fid is not None and code is not None:
                self.num_fmts[int(fid)] = _unescape(code.decode("utf-8"))
        self._new_xfs: list[bytes] = []
        self._new_fills: list[bytes] = []
        self._new_fmts: list[bytes] = []
        self._new_fonts: list[bytes] = []
        self._memo: dict[tuple[Any, ...], int] = {}
        self._new_borders: list[bytes] = []
        self._xf_index = {x: i for i, x in reversed(list(enumerate(self.xfs)))}
        self._fill_index = {f: i for i, f in reversed(list(enumerate(self.fills)))}
        self._date_xfs = {i for i, x in enumerate(self.xfs) if self._is_date_xf(x)}

    # -- reading -------------------------------------------------------------------------------------
    def _section(self, name: bytes) -> re.Match[bytes] | None:
        p = re.escape(self.p)
        return re.search(rb"<" + p + name + rb"\b[^>]*?(?:/>|>(.*?)</" + p + name + rb">)", self._data, re.S)

    def _children(self, section: bytes, child: bytes) -> list[bytes]:
        m = self._section(section)
        if m is None or m.group(1) is None:
            return []
        p = re.escape(self.p)
        pattern = rb"<" + p + child + rb"\b[^>]*?(?:/>|>.*?</" + p + child + rb">)"
        return re.findall(pattern, m.group(1), re.S)

    def _is_date_xf(self, xf: bytes) -> bool:
        fid = _attr(xf, b"numFmtId")
        if fid is None:
            return False
        n = int(fid)
        return n in _BUILTIN_DATE_FORMATS or (n in self.num_fmts and is_date_format(self.num_fmts[n]))

    def is_date(self, xf_index: int) -> bool:
        return xf_index in self._date_xfs

    def xf(self, index: int) -> bytes:
        all_xfs = self.xfs + self._new_xfs
        return all_xfs[index] if 0 <= index < len(all_xfs) else (all_xfs[0] if all_xfs else b"<xf/>")

    def fill_rgb(self, xf_index: int) -> str | None:
        """The solid fill colour of a format (RRGGBB), if it has one."""
        fid = _attr(self.xf(xf_index), b"fillId")
        fills = self.fills + self._new_fills
        if fid is None or int(fid) >= len(fills):
            return None
        m = re.search(rb"fgColor\b[^>]*\brgb=\"(?:[0-9A-Fa-f]{2})?([0-9A-Fa-f]{6})\"", fills[int(fid)])
        return m.group(1).decode().upper() if m and b'patternType="solid"' in fills[int(fid)] else None

    # -- cloning -------------------------------------------------------------------------------------
    def with_fill(self, xf_index: int, rgb: str | None) -> int:
        """The format ``xf_index`` with a solid fill of ``rgb`` (None: no fill)."""
        key = ("fill", xf_index, rgb)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = index = self._with_fill(xf_index, rgb)
        return index

    def _with_fill(self, xf_index: int, rgb: str | None) -> int:
        fill_id = self._fill(rgb) if rgb else 0
        xf = set_attr(self.xf(xf_index), "fillId", str(fill_id))
        return self._xf(set_attr(xf, "applyFill", "1"))

    def with_number_format(self, xf_index: int, code: str) -> int:
        key = ("format", xf_index, code)
        if key not in self._memo:
            self._memo[key] = self._with_number_format(xf_index, code)
        return self._memo[key]

    def _with_number_format(self, xf_index: int, code: str) -> int:
        fmt_id = self._num_fmt(code)
        xf = set_attr(self.xf(xf_index), "numFmtId", str(fmt_id))
        return self._xf(set_attr(xf, "applyNumberFormat", "1"))

    def unmarked(self, xf_index: int, mark_rgb: str) -> int:
        """A marked cell's format before it was marked: the earliest format alike but for the fill."""
        key = ("unmarked", xf_index, mark_rgb)
        if key not in self._memo:
            self._memo[key] = self._unmarked(xf_index, mark_rgb)
        return self._memo[key]

    def _unmarked(self, xf_index: int, mark_rgb: str) -> int:
        if self.fill_rgb(xf_index) != mark_rgb:
            return xf_index
        key = _without_fill(self.xf(xf_index))
        for i, xf in enumerate(self.xfs + self._new_xfs):
            if i != xf_index and _without_fill(xf) == key and self.fill_rgb(i) != mark_rgb:
                return i
        return self.with_fill(xf_index, None)

    def import_xf(self, src: Styles, index: int) -> int:
        """A format of another style sheet (fonts, fill, border, number format with it) as one of ours."""
        xf = src.xf(index)
        for attr, items, new in ((b"fontId", src.fonts, self._new_fonts), (b"fillId", src.fills, self._new_fills),
                                 (b"borderId", src.borders, self._new_borders)):
            ref = _attr(xf, attr)
            if ref is None or int(ref) >= len(items):
                continue
            element = self._with_prefix(items[int(ref)], src.p)
            if attr == b"fontId":
                element = font_in_sdk_order(element)  # openpyxl (which draws the Reconciliation sheet) writes another
            mine = {b"fontId": self.fonts, b"fillId": self.fills, b"borderId": self.borders}[attr]
            if element in mine:
                target = mine.index(element)
            elif element in new:
                target = len(mine) + new.index(element)
            else:
                target = len(mine) + len(new)
                new.append(element)
            xf = set_attr(xf, attr.decode(), str(target))
        fmt = _attr(xf, b"numFmtId")
        if fmt is not None and int(fmt) >= 164 and int(fmt) in src.num_fmts:
            xf = set_attr(xf, "numFmtId", str(self._num_fmt(src.num_fmts[int(fmt)])))
        xf = set_attr(self._with_prefix(xf, src.p), "xfId", "0")
        return self._xf(xf)

    def _with_prefix(self, element: bytes, prefix: bytes) -> bytes:
        if prefix == self.p:
            return element
        return re.sub(rb"(</?)" + re.escape(prefix) if prefix else rb"(</?)(?=\w)", rb"\g<1>" + self.p, element)

    def _xf(self, xf: bytes) -> int:
        index = self._xf_index.get(xf)
        if index is None:
            index = len(self.xfs) + len(self._new_xfs)
            self._new_xfs.append(xf)
            self._xf_index[xf] = index
            if self._is_date_xf(xf):
                self._date_xfs.add(index)
        return index

    def _fill(self, rgb: str) -> int:
        p = self.p
        fill = (b"<" + p + b"fill><" + p + b'patternFill patternType="solid"><' + p + b'fgColor rgb="FF'
                + rgb.upper().encode() + b'"/><' + p + b'bgColor indexed="64"/></' + p + b"patternFill></"
                + p + b"fill>")
        index = self._fill_index.get(fill)
        if index is None:
            index = len(self.fills) + len(self._new_fills)
            self._new_fills.append(fill)
            self._fill_index[fill] = index
        return index

    def _num_fmt(self, code: str) -> int:
        for fid, existing in self.num_fmts.items():
            if existing == code:
                return fid
        fid = max([163, *self.num_fmts]) + 1
        self.num_fmts[fid] = code
        self._new_fmts.append(b"<" + self.p + b'numFmt numFmtId="' + str(fid).encode() + b'" formatCode='
                              + quoteattr(code).encode() + b"/>")
        return fid

    # -- writing -------------------------------------------------------------------------------------
    @property
    def changed(self) -> bool:
        return bool(self._new_xfs or self._new_fills or self._new_fmts or self._new_fonts or self._new_borders)

    def data(self) -> bytes:
        data = self._data
        data = self._append(data, b"numFmts", self._new_fmts, len(self.num_fmts), before=(b"fonts", b"fills"))
        data = self._append(data, b"fonts", self._new_fonts, len(self.fonts) + len(self._new_fonts),
                            before=(b"fills",))
        data = self._append(data, b"fills", self._new_fills, len(self.fills) + len(self._new_fills),
                            before=(b"borders",))
        data = self._append(data, b"borders", self._new_borders, len(self.borders) + len(self._new_borders),
                            before=(b"cellStyleXfs", b"cellXfs"))
        return self._append(data, b"cellXfs", self._new_xfs, len(self.xfs) + len(self._new_xfs),
                            before=(b"cellStyles",))

    def _append(self, data: bytes, section: bytes, items: list[bytes], count: int, *,
                before: tuple[bytes, ...]) -> bytes:
        if not items:
            return data
        p = re.escape(self.p)
        m = re.search(rb"<" + p + section + rb"\b([^>]*?)(/?)>", data)
        body = b"".join(items)
        if m is None:  # the section does not exist yet (numFmts): create it where the schema wants it
            new = b"<" + self.p + section + b' count="' + str(count).encode() + b'">' + body + b"</" + self.p \
                + section + b">"
            for name in before:
                pos = re.search(rb"<" + p + name + rb"\b", data)
                if pos:
                    return data[:pos.start()] + new + data[pos.start():]
            raise WorkbookError(f"The workbook part {self.part} has no {section.decode()} where one is needed.")
        start = set_attr(m.group(0), "count", str(count))
        if m.group(2) == b"/":  # <cellXfs count="0"/>
            start = start[:-2].rstrip() + b">"
            return data[:m.start()] + start + body + b"</" + self.p + section + b">" + data[m.end():]
        close = data.find(b"</" + self.p + section + b">", m.end())
        return data[:m.start()] + start + data[m.end():close] + body + data[close:]


def _without_fill(xf: bytes) -> bytes:
    return re.sub(rb"\s(?:fillId|applyFill)=\"[^\"]*\"", b"", xf)


def _unescape(text: str) -> str:
    return (text.replace("&quot;", '"').replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">")
            .replace("&amp;", "&"))
