"""A sheet read as columns made a frame of our rows (``mapping.columns_frame``): a row whose every cell in our
columns is empty (blank text, nothing, NaN) is not ours, wherever its values are; every other row is, as read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from qaas_excel.workbook.mapping import Layout, columns_frame

_CELL = st.sampled_from(["x", " ", "", "\u00a0", 0, 1.5, float("nan"), datetime(2024, 1, 1), False, "  a "])
_KEYS = {"a": 1, "b": 2, "c": 4}  # column 3 is the user's own


def _expected(columns: dict[int, dict[int, Any]], layout: Layout, skip: set[int]) -> pd.DataFrame:
    """What the rule says, spelled out: every row past the header but the skipped, a row kept if one of our columns
    holds a value that is not blank text and not NA."""
    rows = sorted({r for col in layout.columns.values() for r in columns.get(col, {})
                   if r > layout.header_row and r not in skip})
    data = {key: [None if isinstance(v, str) and not v.strip() else v for v in map(columns.get(col, {}).get, rows)]
            for key, col in layout.columns.items()}
    frame = pd.DataFrame(data, index=pd.Index(rows, name="row"), columns=list(layout.columns), dtype=object)
    return frame[frame.notna().any(axis=1)] if len(frame) else frame


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([1, 2, 3, 4]), st.dictionaries(st.integers(1, 12), _CELL, max_size=12),
                       max_size=4),
       st.sets(st.integers(1, 12), max_size=2))
def test_a_row_empty_in_our_columns_is_left_out_and_every_other_kept_as_read(
        columns: dict[int, dict[int, Any]], skip: set[int]) -> None:
    layout = Layout(1, dict(_KEYS), {k: k.upper() for k in _KEYS})
    frame, _last = columns_frame(columns, layout, skip=skip)
    expected = _expected(columns, layout, skip)
    assert list(frame.index) == list(expected.index)
    assert list(frame.columns) == list(expected.columns)
    for key in _KEYS:
        assert [repr(v) for v in frame[key]] == [repr(v) for v in expected[key]]


def test_rows_whose_only_values_are_blank_or_nan_are_not_ours_whichever_column_is_fullest() -> None:
    layout = Layout(1, dict(_KEYS), {k: k.upper() for k in _KEYS})
    columns = {1: {2: "x", 3: " ", 4: float("nan"), 5: "y"},  # the fullest column: blank at 3, NaN at 4
               2: {3: "", 6: 7.0},  # row 6 only here
               3: {3: "theirs", 4: "theirs"},  # the user's own column: never makes a row ours
               4: {4: "\t"}}
    frame, last = columns_frame(columns, layout)
    assert list(frame.index) == [2, 5, 6] and last == 6
