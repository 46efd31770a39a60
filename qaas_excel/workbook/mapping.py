"""Backend-independent table logic: find the header row, map columns by meaning, collect the rows.

Both backends (openpyxl headless, xlwings in Excel) read a sheet as a 2-D list of values and
hand it here, so a workbook is understood the same way everywhere.

The hidden ``_qaas`` sheet written by the templates records how columns map to API fields:

    row 1:  "qaas-excel template" | <template version>
    row 2:  sheet | resource | key | header
    row 3+: one row per column of each data sheet (key = API field name or system key)

A workbook made by hand has no ``_qaas`` sheet; its columns are then recognised by header text
(the template header, the API field name, case and spacing ignored, a trailing " *" allowed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from qaas_excel.resources import Resource
from qaas_excel.workbook import columns as C
from qaas_excel.workbook.table import WorkbookError

META_SHEET = "_qaas"
META_TITLE = "qaas-excel template"
TEMPLATE_VERSION = "1"
META_HEADER = ("sheet", "resource", "key", "header")
HEADER_SEARCH_ROWS = 30


@dataclass(frozen=True)
class Layout:
    header_row: int  # 1-based Excel row
    columns: dict[str, int]  # key -> 1-based column
    headers: dict[str, str]  # key -> header text as in the sheet


def meta_rows(sheets: Sequence[tuple[str, Resource]]) -> list[list[Any]]:
    """The content of the ``_qaas`` sheet for template sheets."""
    rows: list[list[Any]] = [[META_TITLE, TEMPLATE_VERSION], list(META_HEADER)]
    for sheet, resource in sheets:
        for col in C.columns_for(resource):
            rows.append([sheet, resource.name, col.key, col.header])
    return rows


def read_meta(values: Sequence[Sequence[Any]] | None) -> dict[str, dict[str, Any]]:
    """sheet -> {"resource": name, "headers": {header text: key}} from the ``_qaas`` sheet's values."""
    out: dict[str, dict[str, Any]] = {}
    if not values:
        return out
    for row in values[2:]:
        if len(row) < 4 or not row[0] or not row[2]:
            continue
        entry = out.setdefault(str(row[0]), {"resource": str(row[1]), "headers": {}})
        entry["headers"][C.normalise_header(row[3])] = str(row[2])
    return out


def locate(values: Sequence[Sequence[Any]], resource: Resource, *, source: str, sheet: str,
           meta: dict[str, Any] | None = None) -> Layout:
    """Find the header row and map its columns to keys; WorkbookError naming what is wrong."""
    known = dict(C.header_aliases(resource))
    if meta and meta.get("resource") == resource.name:
        known.update(meta["headers"])
    best: tuple[int, int] | None = None  # (matches, row index)
    for i, row in enumerate(values[:HEADER_SEARCH_ROWS]):
        matches = sum(1 for v in row if v is not None and C.normalise_header(v) in known)
        if matches and (best is None or matches > best[0]):
            best = (matches, i)
    required = [f for f in resource.required_fields]
    if best is None or best[0] < 2:
        names = ", ".join(f"'{f.header}'" for f in required)
        raise WorkbookError(f"{source}, sheet '{sheet}': no header row found. The {resource.title} columns "
                            f"{names} are expected in one row.", path=source, sheet=sheet)
    header_index = best[1]
    columns: dict[str, int] = {}
    headers: dict[str, str] = {}
    for j, text in enumerate(values[header_index]):
        if text is None:
            continue
        key = known.get(C.normalise_header(text))
        if key is None:
            continue  # a user's own column: kept untouched
        if key in columns:
            raise WorkbookError(
                f"{source}, sheet '{sheet}', row {header_index + 1}: the column '{text}' appears twice "
                f"(columns {_letter(columns[key])} and {_letter(j + 1)}); remove or rename one.",
                path=source, sheet=sheet, row=header_index + 1, column=str(text))
        columns[key] = j + 1
        headers[key] = str(text).strip().rstrip("*").strip()  # "Town *" -> "Town" in messages
    missing = [f for f in required if f.name not in columns]
    if missing:
        names = ", ".join(f"'{f.header}'" for f in missing)
        raise WorkbookError(
            f"{source}, sheet '{sheet}': the required column{'s' if len(missing) > 1 else ''} {names} "
            f"{'are' if len(missing) > 1 else 'is'} missing from the header row {header_index + 1}.",
            path=source, sheet=sheet, row=header_index + 1, column=missing[0].header)
    return Layout(header_index + 1, columns, headers)


def rows_frame(values: Sequence[Sequence[Any]], layout: Layout) -> tuple[pd.DataFrame, int]:
    """(the data rows as a DataFrame indexed by Excel row, the last used row)."""
    keys = list(layout.columns)
    cols = [layout.columns[k] - 1 for k in keys]
    index: list[int] = []
    data: list[list[Any]] = []
    last = layout.header_row
    for i in range(layout.header_row, len(values)):
        row = values[i]
        cells = [_clean(row[c]) if c < len(row) else None for c in cols]
        if any(v is not None for v in cells):
            index.append(i + 1)
            data.append(cells)
            last = i + 1
    frame = pd.DataFrame(data, index=pd.Index(index, name="row"), columns=keys, dtype=object)
    return frame, last


def rows_frame_sparse(rows: Mapping[int, Mapping[int, Any]], layout: Layout) -> tuple[pd.DataFrame, int]:
    """``rows_frame`` for a sheet read as {Excel row: {column: value}} holding only non-empty cells."""
    order = sorted(r for r in rows if r > layout.header_row)
    lines = [rows[r] for r in order]
    data = {}
    for key, col in layout.columns.items():  # column by column: one pass each, blank text as empty
        data[key] = [None if v.__class__ is str and not v.strip() else v
                     for v in (line.get(col) for line in lines)]
    frame = pd.DataFrame(data, index=pd.Index(order, name="row"), columns=list(layout.columns), dtype=object)
    if len(frame):
        frame = frame[frame.notna().any(axis=1)]  # a row with values only in the user's own columns is not ours
    last = int(frame.index[-1]) if len(frame) else layout.header_row
    return frame, last


def _clean(value: Any) -> Any:
    """Empty strings are empty cells."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col)
