"""Outcomes of a run -> what the workbook shows: the system columns' values, row colours and cell marks;
and the system columns read back (QaaS ID, status, fingerprint) as the planner needs them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from qaas_excel.outcomes import Outcome
from qaas_excel.problems import Problem
from qaas_excel.resources import Resource
from qaas_excel.results import NAMES, Result
from qaas_excel.values import as_id, converted_once, is_blank
from qaas_excel.workbook import columns as C
from qaas_excel.workbook.table import SheetTable, WriteBack


def excel_time(value: Any) -> Any:
    """Excel has no time zones: UTC datetimes are written naive (the column header says UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


_NOT_GIVEN = float("nan")


def outcomes_to_writeback(resource: Resource, outcomes: list[Outcome], *, now: datetime | None = None) -> WriteBack:
    """System-column values, row colours and cell marks for every row the run touched."""
    synced_at = excel_time(now or datetime.now(UTC).replace(microsecond=0))
    rows: list[int] = []
    marks: list[Problem] = []
    exchanged = {Result.CREATED, Result.UPDATED, Result.ADOPTED, Result.PULLED}
    # a list per column, made when a row first gives it a value (the columns in that order); NaN where a row gives
    # none ("nothing for this cell"), None where it clears one: what a frame of one dict a row would hold
    columns: dict[str, list[Any]] = {}

    def column(key: str) -> list[Any]:
        found = columns.get(key)
        if found is None:
            found = columns[key] = [_NOT_GIVEN] * len(outcomes)
        return found

    if outcomes:  # every row gives these two (made first, as the first row would make them)
        named, messages = column(C.RESULT), column(C.MESSAGE)
    times: dict[Any, Any] = {}  # a last update many records share, made Excel's time once (equal: the same instant)
    has_status = resource.has_status
    get = columns.get  # (a column made already is found without a call: most rows give the same ones)
    for i, o in enumerate(outcomes):
        named[i] = NAMES[o.result]
        messages[i] = o.message or None
        if o.record is not None and o.result is Result.MISMATCH:
            # the link stays known; nothing of that record goes beside another's
            (get(C.ID) or column(C.ID))[i] = o.record.get("id")
        elif o.record is not None:
            if o.result is not Result.CONFLICT:  # a conflict never links a row to a record: the user decides
                (get(C.ID) or column(C.ID))[i] = o.record.get("id")
            when = o.record.get("last_updated")
            (get(C.LAST_UPDATED) or column(C.LAST_UPDATED))[i] = \
                converted_once(times, when, excel_time, naive=False) if when.__class__ is datetime else excel_time(when)
            if has_status:
                (get(C.STATUS) or column(C.STATUS))[i] = o.record.get("status")
        if o.fingerprint is not None:
            (get(C.FINGERPRINT) or column(C.FINGERPRINT))[i] = o.fingerprint
        if o.result in exchanged:
            column(C.SYNCED_AT)[i] = synced_at  # values exchanged with the service (an unchanged row keeps its time)
        rows.append(o.row)
        if o.problems:
            marks.extend(p for p in o.problems if p.row is not None and (p.field or p.cell))
    index = pd.Index(rows, name="row")
    frame = pd.DataFrame(columns, index=index, dtype=object)
    results = pd.Series(columns.get(C.RESULT, []), index=index, dtype=object)
    return WriteBack(values=frame, results=results, marks=marks)


# What a push keeps of a row's record once the row is planned and sent: what ``outcomes_to_writeback`` writes and a
# run's report names. The rest (some 1 KB a record, 48 MiB at 50,000) is let go before the sheet is written.
RECORD_KEPT = ("id", "status", "last_updated")


def slim_records(outcomes: list[Outcome]) -> None:
    """Cut each outcome's record down to ``RECORD_KEPT``, in place. With the service's list let go of first, each
    record is freed as its outcome lets go of it, and its small copy takes the memory it leaves: 50,000 new
    outcomes and small records made beside the old ones were the dry run's peak."""
    for o in outcomes:
        if o.record is not None:
            o.record = {k: o.record[k] for k in RECORD_KEPT if k in o.record}


def only_changes(table: SheetTable, changes: WriteBack) -> WriteBack:
    """Leave out what the sheet shows already: a value equal to the cell's, a row colour for an unchanged result.

    A push of rows that are all unchanged then writes nothing at all, and the file stays as it is.
    """
    values = changes.values.copy()
    current = table.data
    for key in values.columns:
        if key not in current.columns:
            continue
        now = current[key].reindex(values.index)
        # a value of the cell's own kind and equal to it is the same, as ``_same`` says (most cells), without a call
        same = [True if new.__class__ is old.__class__ and new == old else _same(new, old)
                for new, old in zip(values[key], now, strict=True)]
        if any(same):
            values.loc[same, key] = float("nan")  # NaN: nothing for this cell
    results = changes.results
    if C.RESULT in current.columns and len(results):
        before = current[C.RESULT].reindex(results.index)
        results = results[[new != old for new, old in zip(results, before, strict=True)]]
    return WriteBack(values=values, results=results, marks=changes.marks, append=changes.append)


def _same(new: Any, old: Any) -> bool:
    if type(new) is str and new:  # most cells: a result, a message, a status, a fingerprint
        return type(old) is str and new == old
    if isinstance(new, float) and new != new:
        return False  # not given anyway
    if new is None or (isinstance(new, str) and not new):
        return old is None or (isinstance(old, float) and old != old) or old == ""
    if isinstance(new, datetime) and isinstance(old, datetime):
        return abs((new - old).total_seconds()) < 1  # a time read back from Excel's day fractions
    if isinstance(new, bool) or isinstance(old, bool):
        return new is old
    numbers = (int, float)
    return new == old and (type(new) is type(old) or (isinstance(new, numbers) and isinstance(old, numbers)))


# --- reading system columns -------------------------------------------------------------------------

def system_values(table: SheetTable) -> pd.DataFrame:
    """id / status / fingerprint of each row, cleaned (ids as ints, blanks as None)."""
    data = table.data
    out = pd.DataFrame(index=data.index)
    out[C.ID] = system_ids(table)
    for key in (C.STATUS, C.FINGERPRINT):
        col = data[key] if key in data else pd.Series(None, index=data.index, dtype=object)
        out[key] = pd.Series([(v.strip() or None) if v.__class__ is str else None if is_blank(v) else str(v).strip()
                              for v in col], index=data.index, dtype=object)
    return out


def system_ids(table: SheetTable) -> pd.Series:
    """The QaaS ID of each row, as ``system_values`` has it: a whole number or None."""
    data = table.data
    ids = data[C.ID] if C.ID in data else pd.Series(None, index=data.index, dtype=object)
    return pd.Series([as_id(v) for v in ids], index=data.index, dtype=object)  # object: ints stay ints
