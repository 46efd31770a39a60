"""The system-column values a run's outcomes give: a cell per row and column, told apart as a value, None (clear the
cell) and NaN (nothing for it), in the columns' order as the rows first name them."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from qaas_excel.outcomes import Outcome
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.results import Result
from qaas_excel.workbook import columns as C
from qaas_excel.workbook.writeback import excel_time, outcomes_to_writeback

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
records = st.none() | st.fixed_dictionaries({"id": st.integers(1, 99), "status": st.sampled_from(["created", None]),
                                             "last_updated": st.sampled_from([NOW, None])})
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
