"""How records look on a terminal (rich tables) and in --json output.

Everything printed through rich goes through ``text`` or ``plain``: names, references, paths and error
messages come from users and the service, and rich would read ``[/]`` or ``[bold]`` in them as markup
(a crash, or text that silently vanishes) and ``:smile:`` as an emoji.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TextIO

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


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=json_default)


def dump(data: Any, stream: TextIO) -> None:
    """``dumps`` written as it is made, then a new line: a run of 200,000 rows is some 240 MB of JSON, not held
    once as text and once more as the bytes written."""
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, default=json_default)
    batch: list[str] = []
    for chunk in encoder.iterencode(data):  # millions of small pieces: written a megabyte or so at a time
        batch.append(chunk)
        if len(batch) >= 100_000:
            stream.write("".join(batch))
            batch.clear()
    batch.append("\n")
    stream.write("".join(batch))
    stream.flush()


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
