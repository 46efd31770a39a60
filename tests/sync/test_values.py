"""The small conversions every layer shares (values.py) and the tables keyed by result."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qaas_excel import jsonl, resources
from qaas_excel.cli.pipeline_cmds import RESULT_STYLE
from qaas_excel.csv_export import csv_field
from qaas_excel.results import Result
from qaas_excel.sync import canonical_value
from qaas_excel.templates import RESULT_HELP
from qaas_excel.values import as_id, is_blank, is_formula_like, is_missing, json_default, jsonable, utc_text
from qaas_excel.workbook import columns as C
from qaas_excel.workbook.table import RESULT_FILLS
from qaas_excel.workbook.writeback import system_values

MISSING = [None, float("nan"), np.float64("nan"), pd.NaT, pd.NA]


@pytest.mark.parametrize("value", MISSING, ids=repr)
def test_every_kind_of_missing_is_missing_and_blank(value: object) -> None:
    assert is_missing(value) and is_blank(value)


@pytest.mark.parametrize("value", ["", "  \t", "x", 0, 0.0, Decimal(0), False])
def test_text_and_zero_are_values(value: object) -> None:
    assert not is_missing(value)
    assert is_blank(value) == (isinstance(value, str) and not value.strip())


def test_times_are_written_in_utc_with_a_z_whatever_their_zone() -> None:
    assert utc_text(datetime(2024, 1, 15, 9, 30)) == "2024-01-15T09:30:00Z"  # naive: the columns say UTC
    assert utc_text(datetime(2024, 1, 15, 10, 30, tzinfo=timezone(timedelta(hours=1)))) == "2024-01-15T09:30:00Z"
    field = resources.OPERATOR.field("terms_agreed")
    naive = datetime(2024, 1, 15, 9, 30)
    # the wire format and the fingerprint's spelling of a time are the same text
    assert resources.encode_value(field, naive) == canonical_value(field, naive) == "2024-01-15T09:30:00Z"


def test_json_gets_exact_decimals_utc_times_and_no_nan() -> None:
    assert jsonable(Decimal("1E+3")) == "1000" and jsonable(Decimal("1.500")) == "1.500"
    assert jsonable(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00Z"
    assert jsonable(date(2024, 1, 1)) == "2024-01-01" and jsonable(float("nan")) is None
    assert json.dumps({"a": Decimal("1E+3"), "p": Path("x")}, default=json_default) == '{"a": "1000", "p": "x"}'


def test_journal_lines_keep_decimals_exact(tmp_path: Path) -> None:
    jsonl.append_line(tmp_path / "j.jsonl", {"amount": Decimal("1E+3")})
    assert json.loads((tmp_path / "j.jsonl").read_text())["amount"] == "1000"


@pytest.mark.parametrize(("cell", "expected"), [
    (12, 12), (12.0, 12), ("12", 12), (" 12.0 ", 12), (12.5, None), ("12.5", None), ("AB-1", None),
    (True, None), ("١٢", None), (float("nan"), None), (pd.NA, None), (None, None)])
def test_an_id_is_read_from_a_cell_one_way(cell: object, expected: int | None) -> None:
    assert as_id(cell) == expected


def test_system_columns_treat_every_missing_value_as_empty() -> None:
    data = pd.DataFrame({C.ID: [12.0, pd.NA, "x"], C.STATUS: [pd.NA, " created ", float("nan")],
                         C.FINGERPRINT: ["  ", "abc", None]}, index=[2, 3, 4], dtype=object)

    class Table:
        pass

    table = Table()
    table.data = data  # type: ignore[attr-defined]
    out = system_values(table)  # type: ignore[arg-type]
    assert out[C.ID].tolist() == [12, None, None]
    assert out[C.STATUS].tolist() == [None, "created", None]
    assert out[C.FINGERPRINT].tolist() == [None, "abc", None]


@pytest.mark.parametrize("text", ["=1+1", "+HYPERLINK(A1)", "-A1+1", "@SUM(A1)"])
def test_formula_like_text_is_recognised_once_for_sheets_and_csv(text: str) -> None:
    assert is_formula_like(text)
    assert str(csv_field(text)).startswith("'")


def test_every_result_has_a_colour_a_help_text_and_a_style() -> None:
    assert set(RESULT_FILLS) == set(RESULT_HELP) == set(RESULT_STYLE) == set(Result)


def test_a_fingerprint_follows_the_field_as_defined_now_not_a_remembered_one_of_the_same_name() -> None:
    """Fingerprints remember the canonical text of values that repeat; a contract that defines a field anew (here:
    EVSE IDs compared with their case) must not get the spelling remembered for the old definition."""
    from dataclasses import replace

    from qaas_excel.resources import CHARGEPOINT
    from qaas_excel.sync import fingerprint

    strict = replace(CHARGEPOINT, fields=tuple(replace(f, case_insensitive=False) if f.name == "evse_id" else f
                                              for f in CHARGEPOINT.fields))
    lower, upper = {"evse_id": "de*abc*e1"}, {"evse_id": "DE*ABC*E1"}
    assert fingerprint(CHARGEPOINT, lower) == fingerprint(CHARGEPOINT, upper)
    assert fingerprint(strict, lower) != fingerprint(strict, upper)
