"""How records look on a terminal (rich tables) and in --json output.

Everything printed through rich goes through ``text`` or ``plain``: names, references, paths and error
messages come from users and the service, and rich would read ``[/]`` or ``[bold]`` in them as markup
(a crash, or text that silently vanishes) and ``:smile:`` as an emoji.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, TextIO

import msgspec
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from qaas_excel.formatting import german_number
from qaas_excel.resources import Field, FieldType, Resource, encode_value
from qaas_excel.values import json_default

_SLOT = "\x00"  # stands for a value while the template's markup is parsed; never in a template itself


def plain(value: Any) -> Text:
    """A value as literal text: no markup, no emoji codes, no highlighting."""
    return value if isinstance(value, Text) else Text("" if value is None else str(value))


def text(template: str, *values: Any) -> Text:
    """``template`` is rich markup written by us, each ``{}`` in it is filled with a value as literal text.

    ``text("[red]Error:[/] {}", exc)``. Unlike ``rich.markup.escape`` this is exact for every value,
    including one that ends in a backslash (a Windows folder) right before a closing tag.
    """
    styled = Text.from_markup(template.replace("{}", _SLOT))
    slots = [i for i, ch in enumerate(styled.plain) if ch == _SLOT]
    if len(slots) != len(values):
        raise ValueError(f"{len(slots)} placeholders in {template!r}, {len(values)} values")
    cuts = sorted({cut for i in slots for cut in (i, i + 1)})
    pieces, filled = [], iter(values)
    for piece in styled.divide(cuts):
        if piece.plain == _SLOT:
            value = plain(next(filled)).copy()
            for span in piece.spans:  # the styles around the placeholder apply to the whole value
                value.stylize(span.style)
            piece = value
        pieces.append(piece)
    return Text("", style=styled.style).join(pieces)


def record_to_json(resource: Resource, record: dict[str, Any]) -> dict[str, Any]:
    """Wire-format values (decimals as exact strings, UTC timestamps); unknown fields verbatim."""
    known = {f.name: f for f in resource.fields}
    return {k: encode_value(known[k], v) if k in known else v for k, v in record.items()}


# --- JSON -------------------------------------------------------------------------------------------
# ``--json`` of a run of 200,000 rows is some 240 MB: the standard library writes indented JSON in Python, piece by
# piece (7 s for that run); msgspec encodes and indents it in C. Values are first made what ``json.dumps`` with
# ``json_default`` writes (decimals as exact digits, dates as ISO text): the text differs from that of
# ``json.dumps(indent=2, ensure_ascii=False)`` only where a float is written with an exponent (1e-05 or 1e-5, the
# same number) and for NaN and infinity (null, where the standard library writes text no JSON reader must take).

_ENCODER = msgspec.json.Encoder()
_SLICE = 1000  # items of a long list encoded at once: the text is made and written a slice at a time
_SCALARS = frozenset({str, int, float, bool, type(None)})
_TEXT = frozenset({str})


def dumps(data: Any) -> str:
    """``data`` as indented JSON (two spaces, as ``json.dumps(indent=2, ensure_ascii=False)`` lays it out)."""
    return "".join(_pieces(data, "\n"))


def dump(data: Any, stream: TextIO) -> None:
    """``dumps`` written as it is made, then a new line: a long list is never held whole as text."""
    for piece in _pieces(data, "\n"):
        stream.write(piece)
    stream.write("\n")
    stream.flush()


def _pieces(value: Any, newline: str) -> Iterator[str]:
    """The text of ``value`` whose lines after its first start with ``newline`` (a new line and the indent)."""
    if not _heavy(value):
        yield _formatted(_plain(value), newline)
    elif type(value) is dict:
        inner, sep = newline + "  ", "{"
        for key, item in value.items():
            yield sep + inner + _formatted(_key(key), "") + ": "
            yield from _pieces(item, inner)
            sep = ","
        yield newline + "}"
    elif len(value) <= _SLICE:  # a short list holding a long one: item by item
        inner, sep = newline + "  ", "["
        for item in value:
            yield sep + inner
            yield from _pieces(item, inner)
            sep = ","
        yield newline + "]"
    else:
        sep = "["
        for start in range(0, len(value), _SLICE):
            chunk = value[start:start + _SLICE]
            text = _formatted([_plain(item) for item in chunk], newline)
            yield sep + text[1:-len(newline) - 1]  # the items, without the brackets: "\n  a,\n  b"
            sep = ","
        yield newline + "]"


def _heavy(value: Any) -> bool:
    """A dict or list long enough, or holding one, to be written a slice at a time."""
    if type(value) is dict:
        return len(value) > _SLICE or any(_heavy(item) for item in value.values() if type(item) in (dict, list))
    if type(value) is list:
        return len(value) > _SLICE or any(_heavy(item) for item in value if type(item) in (dict, list))
    return False


def _formatted(value: Any, newline: str) -> str:
    text = msgspec.json.format(_ENCODER.encode(value), indent=2).decode()
    return text.replace("\n", newline) if newline != "\n" else text


def _plain(value: Any) -> Any:
    """``value`` with what JSON has no type for as ``json_default`` writes it (and str, int and float subclasses,
    such as enums, as the plain values ``json.dumps`` writes for them). What needs no change is returned as it is,
    not copied: a run's rows are looked at, a type at a time, in C."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        if not _TEXT.issuperset(map(type, value)):
            return {_key(k): _plain(v) for k, v in value.items()}
        if _SCALARS.issuperset(map(type, value.values())):
            return value
        out = value
        for k, v in value.items():
            if type(v) not in _SCALARS and (type(v) is not list or v) and (new := _plain(v)) is not v:  # [] as it is
                if out is value:
                    out = dict(value)
                out[k] = new
        return out
    if kind is list:
        if _SCALARS.issuperset(map(type, value)):
            return value
        items = [_plain(v) for v in value]
        return value if all(map(operator.is_, items, value)) else items
    if kind is tuple:
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict | list | tuple):
        return _plain(dict(value) if isinstance(value, dict) else list(value))
    return _plain(json_default(value))


def _key(key: Any) -> str:
    """A key as ``json.dumps`` writes it: text as it is, numbers, true, false and null as their JSON."""
    if isinstance(key, str):
        return str.__str__(key)
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _cell(f_type: FieldType | None, value: Any) -> Text:
    if value is None:
        return Text()
    if f_type is FieldType.DECIMAL and isinstance(value, Decimal):
        return plain(german_number(value))
    if f_type is FieldType.DATETIME and hasattr(value, "strftime"):
        return plain(value.strftime("%Y-%m-%d %H:%M"))
    return plain(value)


# What a terminal too narrow for every column shows (names stay readable; --json always has every field).
COMPACT_FIELDS = {"operator": ("id", "customer_reference", "organization_name", "town"),
                  "chargepoint": ("id", "customer_reference", "evse_id", "amount", "status")}


def _table(records: list[dict[str, Any]], fields: list[Field], title: str | None) -> tuple[Table, int]:
    """The table and the width it needs to show every cell on one line."""
    table = Table(title=plain(title) if title else None, header_style="bold")
    widths = [cell_len(f.header) for f in fields]
    for f in fields:
        table.add_column(f.header, justify="right" if f.type in (FieldType.INT, FieldType.DECIMAL) else "left",
                         overflow="fold")
    for record in records:
        cells = [_cell(f.type, record.get(f.name)) for f in fields]
        widths = [max(w, c.cell_len) for w, c in zip(widths, cells, strict=True)]
        table.add_row(*cells)
    return table, 1 + sum(w + 3 for w in widths)  # a space either side and a border after each column


def records_table(resource: Resource, records: Iterable[dict[str, Any]], *, title: str | None = None,
                  width: int | None = None) -> Table:
    """Every field but ``created``; if that needs more than ``width``, the compact columns and a caption."""
    records = list(records)
    fields = [f for f in resource.fields if f.name not in ("created",)]
    table, needed = _table(records, fields, title)
    compact = COMPACT_FIELDS.get(resource.name)
    if width is None or not compact or needed <= width:
        return table
    table, _ = _table(records, [f for f in fields if f.name in compact], title)
    table.caption = "Narrow terminal: some columns left out; --json shows every field."
    return table
