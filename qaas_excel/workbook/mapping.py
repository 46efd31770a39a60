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

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qaas_excel.problems import Problem
from qaas_excel.resources import Resource
from qaas_excel.workbook import columns as C
from qaas_excel.workbook.table import SheetTable, WorkbookError, cell_name

META_SHEET = "_qaas"
META_TITLE = "qaas-excel template"
TEMPLATE_VERSION = "1"
META_HEADER = ("sheet", "resource", "key", "header")
HEADER_SEARCH_ROWS = 30


class HeaderNotFound(WorkbookError):
    """No row of the sheet holds the resource's columns: the sheet is not one of ours (or is empty)."""


@dataclass(frozen=True)
class Layout:
    header_row: int  # 1-based Excel row
    columns: dict[str, int]  # key -> 1-based column
    headers: dict[str, str]  # key -> header text as in the sheet
    # Headers that look like our system columns but are the user's own: header text -> column.
    theirs: dict[str, int] = field(default_factory=dict)


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
    """Find the header row and map its columns to keys; WorkbookError naming what is wrong.

    Input columns are recognised by their header. A system column is ours when its header is unmistakably ours
    ("QaaS ID", "_qaas_fingerprint", "QaaS status", ...), or when its common header ("ID", "Status", "Result",
    "Message") stands in one unbroken block of system columns beside such a header, or is listed in the
    ``_qaas`` sheet and no other column claims it. Any other "Status" is the user's own: never read or written.
    """
    known = dict(C.header_aliases(resource))
    listed: set[str] = set()
    if meta and meta.get("resource") == resource.name:
        known.update(meta["headers"])
        listed = set(meta["headers"])
    best: tuple[int, int] | None = None  # (matches, row index)
    for i, row in enumerate(values[:HEADER_SEARCH_ROWS]):
        matches = sum(1 for v in row if v is not None and C.normalise_header(v) in known)
        if matches and (best is None or matches > best[0]):
            best = (matches, i)
    required = [f for f in resource.required_fields]
    if best is None or best[0] < 2:
        names = ", ".join(f"'{f.header}'" for f in required)
        raise HeaderNotFound(f"{source}, sheet '{sheet}': no header row found. The {resource.title} columns "
                             f"{names} are expected in one row.", path=source, sheet=sheet)
    header_index = best[1]
    row_number = header_index + 1
    found = [(j + 1, str(text), known[C.normalise_header(text)]) for j, text in enumerate(values[header_index])
             if text is not None and C.normalise_header(text) in known]
    theirs = _users_own_columns(found, C.distinct_headers(resource), listed)
    columns: dict[str, int] = {}
    headers: dict[str, str] = {}
    for col, text, key in found:
        if col in theirs.values():
            continue  # a user's own column under a common header: kept untouched
        if key in columns:
            raise WorkbookError(
                f"{source}, sheet '{sheet}', row {row_number}: the column '{text}' appears twice "
                f"(columns {_letter(columns[key])} and {_letter(col)}); remove or rename one.",
                path=source, sheet=sheet, row=row_number, column=_letter(col))
        columns[key] = col
        headers[key] = text.strip().rstrip("*").strip()  # "Town *" -> "Town" in messages
    missing = [f for f in required if f.name not in columns]
    if missing:
        names = ", ".join(f"'{f.header}'" for f in missing)
        raise WorkbookError(
            f"{source}, sheet '{sheet}': the required column{'s' if len(missing) > 1 else ''} {names} "
            f"{'are' if len(missing) > 1 else 'is'} missing from the header row {row_number}.",
            path=source, sheet=sheet, row=row_number, column=missing[0].header)
    return Layout(row_number, columns, headers, theirs)


def _users_own_columns(found: list[tuple[int, str, str]], distinct: set[str], listed: set[str]) -> dict[str, int]:
    """Header -> column of each recognised system header that is the user's own column, not ours.

    Each claim ranks: an unmistakable header 3, a common one in a block of system columns holding an unmistakable
    one 2, a common one the ``_qaas`` sheet lists 1. Per key the best claim wins; a tie stays for ``locate`` to
    report as a column that appears twice.
    """
    system = [(col, text, key) for col, text, key in found if key in C.SYSTEM_KEYS]
    by_col = {col: C.normalise_header(text) for col, text, _key in system}
    in_block: set[int] = set()
    run: list[int] = []
    for col in sorted(by_col) + [0]:  # 0 ends the last run
        if run and col != run[-1] + 1:
            if any(by_col[c] in distinct for c in run):
                in_block.update(run)
            run = []
        if col:
            run.append(col)

    def rank(col: int) -> int:
        text = by_col[col]
        return 3 if text in distinct else 2 if col in in_block else 1 if text in listed else 0

    theirs: dict[str, int] = {}
    for key in dict.fromkeys(key for _c, _t, key in system):
        claims = [(rank(col), col, text) for col, text, k in system if k == key]
        top = max(r for r, _c, _t in claims)
        theirs.update({text: col for r, col, text in claims if r == 0 or r < top})
    return theirs


def rows_frame(values: Sequence[Sequence[Any]], layout: Layout, *,
               skip: Collection[int] = ()) -> tuple[pd.DataFrame, int]:
    """(the data rows as a DataFrame indexed by Excel row, the last used row); rows in ``skip`` (a table's
    totals row) are not data."""
    keys = list(layout.columns)
    cols = [layout.columns[k] - 1 for k in keys]
    index: list[int] = []
    data: list[list[Any]] = []
    last = layout.header_row
    for i in range(layout.header_row, len(values)):
        if i + 1 in skip:
            continue
        row = values[i]
        cells = [_clean(row[c]) if c < len(row) else None for c in cols]
        if any(v is not None for v in cells):
            index.append(i + 1)
            data.append(cells)
            last = i + 1
    frame = pd.DataFrame(data, index=pd.Index(index, name="row"), columns=keys, dtype=object)
    return frame, _below(last, layout, skip)


def columns_frame(columns: Mapping[int, Mapping[int, Any]], layout: Layout, *,
                  skip: Collection[int] = ()) -> tuple[pd.DataFrame, int]:
    """``rows_frame`` for a sheet read as {column: {Excel row: value}} holding only non-empty cells."""
    rows: set[int] = set()
    for col in layout.columns.values():
        rows.update(columns.get(col, ()))
    order = sorted(r for r in rows if r > layout.header_row and r not in skip)
    data = {}
    for key, col in layout.columns.items():  # column by column: one pass each, blank text as empty
        values = columns.get(col, {})
        data[key] = [None if v.__class__ is str and not v.strip() else v for v in map(values.get, order)]
    frame = pd.DataFrame(data, index=pd.Index(order, name="row"), columns=list(layout.columns), dtype=object)
    if len(frame):  # a row with values only in the user's own columns is not ours
        keep = _any_value(frame, sorted(layout.columns, key=lambda k: -len(columns.get(layout.columns[k], ()))))
        if not keep.all():
            frame = frame[keep]
    last = int(frame.index[-1]) if len(frame) else layout.header_row
    return frame, _below(last, layout, skip)


def _any_value(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Which rows hold a value (not NA) in one of the columns: ``frame.notna().any(axis=1)``, a column at a time in
    the order given (the fullest first) until every row is known to hold one (mostly after the first)."""
    keep = np.zeros(len(frame), dtype=bool)
    for key in keys:
        keep |= frame[key].notna().to_numpy(dtype=bool)
        if keep.all():
            break
    return keep


def _below(last: int, layout: Layout, skip: Collection[int]) -> int:
    """The last row new rows go below: a totals row under the data counts, so nothing is ever added above it."""
    return max([last, *(r for r in skip if r > layout.header_row)])


# --- what reading finds before any rule ------------------------------------------------------------------

Merge = tuple[int, int, int, int]  # (first row, first column, last row, last column), 1-based
MERGED_CELLS = "merged-cells"
FORMULA_NOT_CALCULATED = "formula-not-calculated"


def sheet_table(source: str, sheet: str, resource: Resource, layout: Layout, data: pd.DataFrame, last_row: int,
                *, merged: Sequence[Merge] = (), uncalculated: Collection[tuple[int, int]] = (),
                hidden: Collection[int] = (), date1904: bool = False) -> SheetTable:
    """The sheet as read, with what reading found: every backend builds its ``SheetTable`` here.

    ``data`` holds each cell's own value: a cell a merged range hides is empty, as Excel stores it.
    ``merged``: the sheet's merged ranges; ``uncalculated``: (row, column) of formulas without a cached value
    (read as empty); ``hidden``: rows hidden by a filter or by hand.
    """
    problems: list[Problem] = []
    unusable: set[tuple[int, str]] = set()
    keys = {col: key for key, col in layout.columns.items()}
    formula_rows = sorted({r for r, c in uncalculated if r > layout.header_row and c in keys} - set(data.index))
    if formula_rows:  # a row of nothing but formulas never calculated is still a row
        data = data.reindex(sorted([*data.index, *formula_rows]))
        data.index.name = "row"
        last_row = max(last_row, formula_rows[-1])
    for row, col in sorted(uncalculated):
        key = keys.get(col)
        if key is None or row not in data.index:
            continue
        unusable.add((row, key))
        problems.append(Problem(row, key, FORMULA_NOT_CALCULATED,
                                "holds a formula Excel has not calculated yet (the file was written by a program, "
                                "not saved by Excel): open it in Excel, save it, and run again",
                                sheet, None, _label(layout, key), cell_name(row, col)))
    for merge in merged:
        data = _merge(merge, data, layout, resource, sheet, keys, problems, unusable)
    rows = set(data.index)
    return SheetTable(source, sheet, resource, layout.header_row, layout.columns, layout.headers, data, last_row,
                      date1904=date1904, problems=problems, unusable=unusable,
                      hidden_rows=frozenset(r for r in hidden if r in rows), theirs=dict(layout.theirs))


def _merge(merge: Merge, data: pd.DataFrame, layout: Layout, resource: Resource, sheet: str, keys: dict[int, str],
           problems: list[Problem], unusable: set[tuple[int, str]]) -> pd.DataFrame:
    """A merged range over data rows: read as each row's value where that is safe (``Field.shareable``), otherwise
    a problem of every row it covers, shown on its first cell."""
    r1, c1, r2, c2 = merge
    covered = [keys[c] for c in range(c1, c2 + 1) if c in keys]
    rows = [r for r in range(max(r1, layout.header_row + 1), r2 + 1) if r in data.index]
    if not covered or not rows:
        return data  # only the user's own columns, or no data row
    first = cell_name(r1, c1)
    name = f"{first}:{cell_name(r2, c2)}"
    value: Any = data.at[r1, keys[c1]] if c1 in keys and r1 in data.index else None
    if _shareable(merge, rows, covered, data, layout, resource):
        data[covered[0]] = data[covered[0]].mask(data.index.isin(rows), value)
        return data
    spans = []
    if r2 > r1:
        spans.append(f"rows {r1}–{r2}")
    if c2 > c1:
        spans.append("the columns " + ", ".join(f"'{_label(layout, k)}'" for k in covered))
    note = (f"{name} is merged over {' and '.join(spans)}: a merged cell is not read as each row's value (one "
            "value would count twice). Unmerge it (Home > Merge & Center) and type each row's own value")
    key = keys.get(c1)
    for r in rows:
        unusable.update((r, k) for k in covered)
        problems.append(Problem(r, key, MERGED_CELLS, note, sheet, value, _label(layout, key) if key else None,
                                first if key else None))
    return data


def _shareable(merge: Merge, rows: list[int], covered: list[str], data: pd.DataFrame, layout: Layout,
               resource: Resource) -> bool:
    """One column of a shareable field, merged down over data rows only, every one of them the same thing (the
    same EVSE ID, itself typed in each row): then the value is that thing's, and each row holds it."""
    r1, c1, r2, c2 = merge
    share = resource.share_key
    if c1 != c2 or r1 <= layout.header_row or share is None or share not in data.columns:
        return False
    f = next((f for f in resource.client_fields if f.name == covered[0]), None)
    if f is None or not f.shareable or rows != list(range(r1, r2 + 1)):
        return False
    owners = {resource.field(share).comparable(str(v).strip()) if isinstance(v, str) else v
              for v in data.loc[rows, share]}
    return len(owners) == 1 and not any(v is None or v != v or v == "" for v in owners)


def _label(layout: Layout, key: str) -> str:
    return layout.headers.get(key, key)


def _clean(value: Any) -> Any:
    """Empty strings are empty cells."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col)
