"""The JSON the command line writes (``--json``): the layout and values of ``json.dumps(indent=2,
ensure_ascii=False, default=json_default)``, made in C and written a slice at a time."""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qaas_excel.cli import _render
from qaas_excel.cli._render import dump, dumps
from qaas_excel.values import json_default


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


def standard(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=json_default)


# Floats without an exponent in either spelling (the one place the texts may differ): thousandths, as amounts are.
plain_floats = st.integers(-10**12, 10**12).map(lambda n: n / 1000)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**30, 10**30), plain_floats, st.text(),
    st.decimals(allow_nan=False, allow_infinity=False), st.dates(), st.datetimes(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=1))])), st.times(),
    st.sampled_from([Colour.RED, Level.HIGH, Path("/tmp/Ä b.xlsx"), b"\x00bytes", {3}]))
keys = st.one_of(st.text(), st.integers(-5, 5), st.sampled_from([None, True, False, 1.5, Colour.RED]))


def distinct_in_json(d: dict[Any, Any]) -> bool:
    """No two keys that JSON writes alike (None and "null"): see the test of those below."""
    return len({str.__str__(k) if isinstance(k, str) else json.dumps(k) for k in d}) == len(d)


documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=8), st.tuples(inner, inner),
    st.dictionaries(keys, inner, max_size=6).filter(distinct_in_json)), max_leaves=60)


@settings(max_examples=300, deadline=None)
@given(data=documents, slice_=st.sampled_from([1, 2, 3, 1000]))
@example(data={"rows": [{"row": 2, "problems": []}, {"row": 3, "problems": [{"cell": "K3"}]}], "stopped": False},
         slice_=1)
@example(data=[[[1, 2, 3]], [], {}, {"a": [[], {}]}], slice_=1)
def test_the_text_is_the_standard_librarys_whatever_the_values_and_however_it_is_sliced(data: Any, slice_: int) -> None:
    """Sliced as small as one item, so that every way of walking a document (a long list, a short one holding a
    long one, a dict holding either) is taken; a mutant that drops a separator or an indent fails here."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(_render, "_SLICE", slice_)
        text = dumps(data)
        out = io.StringIO()
        dump(data, out)
    assert text == standard(data)
    assert out.getvalue() == text + "\n"


@given(st.recursive(st.floats(allow_nan=False, allow_infinity=False), lambda inner: st.lists(inner, max_size=5),
                    max_leaves=20))
def test_a_float_may_be_spelt_otherwise_but_is_the_same_number(data: Any) -> None:
    assert json.loads(dumps(data)) == json.loads(standard(data))


def test_a_number_that_is_not_one_is_null() -> None:
    """The standard library writes NaN and Infinity, which are not JSON (a strict reader rejects the document)."""
    assert json.loads(dumps({"a": math.nan, "b": [math.inf, -math.inf]})) == {"a": None, "b": [None, None]}


def test_values_json_has_no_type_for_are_written_as_before() -> None:
    data = {"amount": Decimal("1E+3"), "small": Decimal("1E-7"), "exact": Decimal("1.500"),
            "day": date(2024, 2, 29), "naive": datetime(2024, 1, 1, 9, 30),
            "aware": datetime(2024, 1, 1, 10, 30, tzinfo=timezone(timedelta(hours=1))), "at": time(8, 15),
            "colour": Colour.RED, "level": Level.HIGH, "path": Path("/tmp/x.xlsx"), Colour.RED: 1, 2: "two"}
    assert json.loads(dumps(data)) == {"amount": "1000", "small": "0.0000001", "exact": "1.500", "day": "2024-02-29",
                                       "naive": "2024-01-01T09:30:00", "aware": "2024-01-01T09:30:00Z",
                                       "at": "08:15:00", "colour": "red", "level": 3, "path": "/tmp/x.xlsx",
                                       "red": 1, "2": "two"}


def test_keys_json_writes_alike_are_one_key_the_last_value_as_any_reader_takes_them() -> None:
    """The standard library writes {None: 1, "null": 2} with "null" twice; a JSON reader keeps the last."""
    data = {None: 1, "null": 2, 1: "a", "1": "b"}
    assert json.loads(dumps(data)) == json.loads(standard(data)) == {"null": 2, "1": "b"}


def test_a_key_json_cannot_have_is_refused_as_the_standard_library_refuses_it() -> None:
    with pytest.raises(TypeError):
        standard({(1, 2): 1})
    with pytest.raises(TypeError, match="keys must be"):
        dumps({(1, 2): 1})
