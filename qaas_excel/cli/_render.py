"""How records look on a terminal (rich tables) and in --json output."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from rich.table import Table

from qaas_excel.formatting import german_number
from qaas_excel.resources import FieldType, Resource, encode_value


def record_to_json(resource: Resource, record: dict[str, Any]) -> dict[str, Any]:
    """Wire-format values (decimals as exact strings, UTC timestamps); unknown fields verbatim."""
    known = {f.name: f for f in resource.fields}
    return {k: encode_value(known[k], v) if k in known else v for k, v in record.items()}


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=lambda v: format(v, "f") if isinstance(v, Decimal)
                      else str(v))


def _cell(f_type: FieldType | None, value: Any) -> str:
    if value is None:
        return ""
    if f_type is FieldType.DECIMAL and isinstance(value, Decimal):
        return german_number(value)
    if f_type is FieldType.DATETIME and hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def records_table(resource: Resource, records: Iterable[dict[str, Any]], *, title: str | None = None) -> Table:
    fields = [f for f in resource.fields if f.name not in ("created",)]
    table = Table(title=title, header_style="bold")
    for f in fields:
        table.add_column(f.header, justify="right" if f.type in (FieldType.INT, FieldType.DECIMAL) else "left",
                         overflow="fold")
    for record in records:
        table.add_row(*(_cell(f.type, record.get(f.name)) for f in fields))
    return table
