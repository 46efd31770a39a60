"""The system-column values a run's outcomes give: a cell per row and column, told apart as a value, None (clear the
cell) and NaN (nothing for it), in the columns' order as the rows first name them."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from qaas_excel.outcomes import Outcome
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.results import Result
from qaas_excel.workbook import columns as C
from qaas_excel.workbook.writeback import excel_time, outcomes_to_writeback


class TwiceHour(tzinfo):
    """A zone whose clocks go back at 03:00 on 2026-10-25: 02:00-03:00 comes twice, told apart by ``fold`` only."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        back = dt is not None and dt.replace(tzinfo=None, fold=0) >= datetime(2026, 10, 25, 3 if not dt.fold else 2)
        return timedelta(hours=1 if back else 2)

    def dst(self, dt: datetime | None) -> timedelta:
        return self.utcoffset(dt) - timedelta(hours=1)

    def tzname(self, dt: datetime | None) -> str:
        return "TWICE"


NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
FIRST = datetime(2026, 10, 25, 2, 30, tzinfo=TwiceHour())  # 00:30 UTC
SECOND = FIRST.replace(fold=1)  # 01:30 UTC, equal to FIRST in Python (one zone: compared on the clock)
records = st.none() | st.fixed_dictionaries({"id": st.integers(1, 99), "status": st.sampled_from(["created", None]),
                                             "last_updated": st.sampled_from([NOW, None, FIRST, SECOND,
                                                                              NOW.astimezone(TwiceHour())])})
outcomes = st.lists(st.builds(Outcome, st.integers(2, 10_000), st.sampled_from(list(Result)),
                              st.sampled_from(["", "Created.", "x"]), records,
                              st.sampled_from([None, "v1:abc"])), max_size=12)


def one_dict_a_row(resource: Any, outs: list[Outcome]) -> pd.DataFrame:
    """What each row says, as a dict of the columns it gives a value (the frame such dicts make is the spec)."""
    exchanged = {Result.CREATED, Result.UPDATED, Result.ADOPTED, Result.PULLED}
    dicts = []
    for o in outs:
        v: dict[str, Any] = {C.RESULT: o.result.value, C.MESSAGE: o.message or None}
        if o.record is not None and o.result is Result.MISMATCH:
            v[C.ID] = o.record.get("id")
        elif o.record is not None:
            if o.result is not Result.CONFLICT:
                v[C.ID] = o.record.get("id")
            v[C.LAST_UPDATED] = excel_time(o.record.get("last_updated"))
            if resource.has_status:
                v[C.STATUS] = o.record.get("status")
        if o.fingerprint is not None:
            v[C.FINGERPRINT] = o.fingerprint
        if o.result in exchanged:
            v[C.SYNCED_AT] = excel_time(NOW)
        dicts.append(v)
    return pd.DataFrame(dicts, index=pd.Index([o.row for o in outs], name="row"), dtype=object)


def cells(frame: pd.DataFrame) -> list[tuple[str, list[Any]]]:
    """Each column's cells with their types, None and NaN told apart (pandas' own comparison takes both for missing,
    and 5 == 5.0: an id must stay a whole number)."""
    def kind(v: Any) -> Any:
        return "<None>" if v is None else "<NaN>" if isinstance(v, float) and math.isnan(v) else (type(v), v)
    return [(str(k), [kind(v) for v in frame[k].tolist()]) for k in frame.columns]


@given(outcomes, st.sampled_from([CHARGEPOINT, OPERATOR]))
def test_the_values_are_what_one_dict_a_row_would_give(outs: list[Outcome], resource: Any) -> None:
    got = outcomes_to_writeback(resource, outs, now=NOW).values
    expected = one_dict_a_row(resource, outs)
    assert cells(got) == cells(expected)
    assert got.index.equals(expected.index) and got.index.name == "row"
    assert all(dtype.kind == "O" for dtype in got.dtypes)


class _Text(str):
    """A text of another type (as some readers give): never taken for the sheet's own."""


def test_a_cell_shows_a_value_already_only_when_it_holds_the_same_of_the_same_kind() -> None:
    from qaas_excel.workbook.writeback import _same

    assert _same("adopted", "adopted") and not _same("adopted", "created")
    assert not _same("7", 7) and not _same("7", 7.0) and not _same("a", None) and not _same("a", float("nan"))
    assert not _same("a", _Text("a")) and not _same("True", True)
    assert _same("", None) and _same("", "") and _same(None, float("nan")) and not _same("", "x")
    assert _same(7, 7) and _same(7, 7.0) and not _same(7, "7") and not _same(1, True) and not _same(True, 1)
    assert _same(datetime(2026, 1, 1, 0, 0, 0), datetime(2026, 1, 1, 0, 0, 0, 400_000))
    assert not _same(float("nan"), float("nan"))  # NaN: nothing for the cell, never "the same"


def test_the_hour_that_comes_twice_is_told_apart_and_a_shared_last_update_made_excels_time_once(monkeypatch) -> None:
    from qaas_excel.workbook import writeback

    assert FIRST == SECOND and FIRST.astimezone(UTC) != SECOND.astimezone(UTC)
    made: list[object] = []
    monkeypatch.setattr(writeback, "excel_time", lambda v: made.append(v) or excel_time(v))
    outs = [Outcome(2 + i, Result.UNCHANGED, "", {"id": i, "last_updated": NOW}) for i in range(50)]
    outs += [Outcome(60, Result.UNCHANGED, "", {"id": 60, "last_updated": FIRST}),
             Outcome(61, Result.UNCHANGED, "", {"id": 61, "last_updated": SECOND})]
    shown = outcomes_to_writeback(CHARGEPOINT, outs, now=NOW).values[C.LAST_UPDATED]
    assert made.count(NOW) == 2  # the run's own time, and the last update of 50 records
    assert shown[2] == shown[51] == datetime(2026, 12, 4, 10, 0)
    assert (shown[60], shown[61]) == (datetime(2026, 10, 25, 0, 30), datetime(2026, 10, 25, 1, 30))


def test_what_the_sheet_shows_already_is_left_out_cell_by_cell_as_same_says() -> None:
    """``only_changes`` compares texts without a call: it must leave out exactly the cells ``_same`` says."""
    from qaas_excel.workbook.table import SheetTable, WriteBack
    from qaas_excel.workbook.writeback import _same, only_changes

    pairs = [("adopted", "adopted"), ("adopted", "created"), ("7", 7), ("7", 7.0), ("a", None), ("a", float("nan")),
             ("a", _Text("a")), (_Text("a"), "a"), ("True", True), ("", None), ("", ""), ("", "x"), (None, None),
             (7, 7), (7, 7.0), (7, "7"), (1, True), (datetime(2026, 1, 1), datetime(2026, 1, 1, 0, 0, 0, 400_000)),
             (datetime(2026, 1, 1), datetime(2026, 1, 1)), (datetime(2026, 1, 1), datetime(2026, 1, 3)), (True, True),
             (True, False), (False, 0), (1.5, 1.5), (1.5, 1), (Decimal("1.50"), Decimal("1.5")),
             (_Text(""), _Text("")), (_Text("a"), _Text("a")), (_Text("a"), _Text("b")), (None, ""),
             (None, float("nan")), ("", _Text(""))]
    rows = list(range(2, 2 + len(pairs)))
    data = pd.DataFrame({C.STATUS: pd.Series([old for _new, old in pairs], index=rows, dtype=object)})
    table = SheetTable("x.xlsx", "ChargePoints", CHARGEPOINT, 1, {C.STATUS: 14}, {}, data, rows[-1])
    new = pd.DataFrame({C.STATUS: pd.Series([n for n, _old in pairs], index=rows, dtype=object)})
    left = only_changes(table, WriteBack(new, pd.Series(dtype=object), [])).values[C.STATUS]
    for row, (n, o) in zip(rows, pairs, strict=True):
        kept = left[row]
        assert (isinstance(kept, float) and math.isnan(kept)) == _same(n, o), (n, o)


def test_status_and_fingerprint_are_read_stripped_and_blank_as_none() -> None:
    from qaas_excel.values import is_blank
    from qaas_excel.workbook.table import SheetTable
    from qaas_excel.workbook.writeback import system_values

    cells = [" created ", "  ", "", None, 5, float("nan"), _Text(" x "), "a:b.c", "\u00a0"]
    rows = list(range(2, 2 + len(cells)))
    data = pd.DataFrame({C.STATUS: pd.Series(cells, index=rows, dtype=object),
                         C.FINGERPRINT: pd.Series(cells[::-1], index=rows, dtype=object)})
    table = SheetTable("x.xlsx", "ChargePoints", CHARGEPOINT, 1, {C.STATUS: 14, C.FINGERPRINT: 18}, {}, data, rows[-1])
    got = system_values(table)
    for key, column in ((C.STATUS, cells), (C.FINGERPRINT, cells[::-1])):
        assert got[key].tolist() == [None if is_blank(v) else str(v).strip() for v in column]
    assert got[C.STATUS].tolist()[:5] == ["created", None, None, None, "5"]
