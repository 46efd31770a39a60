"""Sheet validation: every rule, every problem of a row, in the user's column names."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qaas_excel import parsing
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.validation import _too_many_places, check_evse_id, validate

TODAY = date(2026, 1, 1)


def cp_row(**overrides):
    row = {"customer_reference": "R-1", "chargepointoperator_id": 335, "evse_id": "DE*ABC*E1234567*1",
           "street": "Postplatz 1", "zip_code": "01067", "town": "Dresden", "commissioning_date": datetime(2021, 5, 17),
           "max_power_kw": 22, "period_start": datetime(2024, 1, 1), "period_end": datetime(2024, 12, 31),
           "amount": 1234.5}
    row.update(overrides)
    return row


def run(*rows, resource=CHARGEPOINT, **kwargs):
    frame = pd.DataFrame(list(rows), index=range(2, 2 + len(rows)), dtype=object)
    return validate(resource, frame, sheet="ChargePoints", today=TODAY, **kwargs)


def codes(result, row=2):
    return {(p.field, p.code) for p in result.problems if p.row == row}


def test_a_clean_row_has_no_problems_and_typed_values() -> None:
    result = run(cp_row())
    assert result.problems == []
    rec = result.records.loc[2]
    assert rec["amount"] == Decimal("1234.5") and rec["period_start"] == date(2024, 1, 1)
    assert rec["zip_code"] == "01067" and rec["chargepointoperator_id"] == 335


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"town": None}, ("town", "required")),
    ({"town": "   "}, ("town", "required")),
    ({"street": "x" * 201}, ("street", "too-long")),
    ({"zip_code": "123456"}, ("zip_code", "pattern")),
    ({"evse_id": "DE-ABC-1"}, ("evse_id", "pattern")),
    ({"amount": "12,3456"}, ("amount", "too-many-decimals")),
    ({"amount": 0}, ("amount", "not-positive")),
    ({"max_power_kw": -11}, ("max_power_kw", "not-positive")),
    ({"amount": "zwölf"}, ("amount", "not-a-number")),
    ({"amount": "#VALUE!"}, ("amount", "formula-error")),
    ({"period_end": datetime(2023, 12, 31)}, ("period_end", "period-order")),
    ({"period_end": datetime(2025, 1, 31)}, ("period_end", "period-years")),
    ({"amount": 193248.001}, ("amount", "amount-above-capacity")),
    ({"commissioning_date": "02.01.2026"}, ("commissioning_date", "commissioning-in-future")),
    ({"period_start": "32.01.2024"}, ("period_start", "not-a-date")),
])
def test_each_rule(overrides, expected) -> None:
    assert expected in codes(run(cp_row(**overrides)))


def test_capacity_is_exact_to_the_thousandth() -> None:
    assert codes(run(cp_row(amount=193248.0))) == set()  # 22 kW x 8,784 h (2024 is a leap year)
    result = run(cp_row(amount="193.248,001"))
    [problem] = result.problems
    assert problem.code == "amount-above-capacity"
    assert "22 kW × 8.784 h = 193.248,000 kWh" in problem.message


def test_all_problems_of_a_row_are_reported_with_headers_in_the_users_words() -> None:
    result = run(cp_row(town=None, amount=-1, evse_id="x"), headers={"town": "Ort"})
    assert {c for c, _ in codes(result)} == {"town", "amount", "evse_id"}
    assert any(p.message.startswith("Ort:") for p in result.problems)
    assert any(p.message.startswith("Amount (kWh):") for p in result.problems)
    assert result.invalid_rows == {2}


def test_duplicates_within_the_sheet_name_the_other_rows() -> None:
    result = run(cp_row(), cp_row(evse_id="DEABCE1234567*1"), cp_row(customer_reference="R-3", evse_id="DE*ABC*E2*1"))
    dup = [p for p in result.problems if p.code == "duplicate-reference"]
    assert {p.row for p in dup} == {2, 3} and "rows 2, 3" in dup[0].message
    assert {p.row for p in result.problems if p.code == "duplicate-evse-period"} == {2, 3}


def test_operator_references_must_be_known() -> None:
    result = run(cp_row(chargepointoperator_id="SW-DD"), cp_row(customer_reference="R-2", chargepointoperator_id="XX",
                                                                 evse_id="DE*ABC*E2*1"),
                 operator_refs={"SW-DD"}, operator_ids={335})
    assert codes(result, 2) == set()
    assert codes(result, 3) == {("chargepointoperator_id", "unknown-operator")}
    assert ("chargepointoperator_id", "unknown-operator") in codes(run(cp_row(chargepointoperator_id=999),
                                                                       operator_ids={335}))


def test_operators_sheet_rules() -> None:
    op = {"customer_reference": "A", "organization_name": "X GmbH", "street": "Weg 1", "zip_code": 1067,
          "town": "Dresden", "terms_agreed": "2024-01-15T09:30:00Z"}
    result = run(op, {**op, "zip_code": "ABCDE"}, resource=OPERATOR)
    assert result.records.at[2, "zip_code"] == "01067"
    assert ("zip_code", "pattern") in codes(result, 3)
    assert ("customer_reference", "duplicate-reference") in codes(result, 2)


def test_a_missing_required_column_is_one_sheet_level_problem() -> None:
    frame = pd.DataFrame([{"evse_id": "DE*ABC*E1*1"}], index=[2], dtype=object)
    result = validate(CHARGEPOINT, frame, today=TODAY)
    sheet_level = [p for p in result.problems if p.row is None]
    assert {p.field for p in sheet_level} >= {"amount", "town"} and all(p.code == "missing-column"
                                                                         for p in sheet_level)


def test_evse_check_for_the_worksheet_function() -> None:
    assert check_evse_id("DE*ABC*E1234567*1") == "ok"
    assert check_evse_id("de abc e1234567 1") == "ok"
    assert "eMI3" in check_evse_id("hello")
    assert check_evse_id(None) == "a value is required"


@given(st.decimals(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [Decimal("1.2300"), Decimal("1E-7"), Decimal("1.0000"), Decimal("-0.0001"), Decimal("5E+3"), Decimal("0E-10"),
     Decimal("123.4560"), Decimal("-7.0010")]), st.integers(0, 4))
def test_decimal_places_are_counted_without_trailing_zeros(value: Decimal, places: int) -> None:
    # The check reads most values from their text; it must say what decimal_places says (1.500 has one place).
    assert _too_many_places([value], places) == [parsing.decimal_places(value) > places]


@pytest.mark.parametrize(("natural_key", "overlapping"), [
    (("evse_id", "period_start", "period_end"), {2, 3}),  # one column names the charge point
    (("evse_id", "zip_code", "period_start", "period_end"), set()),  # two columns: rows 2 and 3 differ in one
    (("period_start", "period_end"), {2, 3, 4}),  # none: every row's period against every other's
])
def test_overlapping_periods_are_found_whatever_names_the_thing(natural_key, overlapping) -> None:
    # A contract may define the key otherwise; overlaps are looked for among rows alike in all its other parts.
    resource = replace(CHARGEPOINT, natural_key=natural_key)
    rows = [cp_row(customer_reference="R-1"),
            cp_row(customer_reference="R-2", period_start=datetime(2024, 6, 1), amount=1.0, zip_code="01069"),
            cp_row(customer_reference="R-3", evse_id="DE*ABC*E7654321*1", period_end=datetime(2024, 3, 1), amount=1.0)]
    result = run(*rows, resource=resource)
    assert {p.row for p in result.problems if p.code == "overlapping-periods"} == overlapping


amounts = st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-10**6, max_value=10**6) | \
    st.sampled_from([Decimal("0"), Decimal("-0"), Decimal("0.000"), Decimal("-0.001"), Decimal("1.5000"),
                     Decimal("1E+2"), Decimal("1.5E-7"), Decimal("0E-7"), Decimal("12.3456789012345678901234567890"),
                     Decimal("100"), Decimal("0.0001"), Decimal("10.0010"),
                     Decimal("1234567890123456789012345.0001")])  # 29 digits: rounded to 28 by normalize, no places


@given(st.lists(amounts, min_size=1, max_size=25))
def test_decimal_places_and_signs_are_found_in_a_column_as_in_each_value(values) -> None:
    # a column of plain numbers is looked at in its joined text (too many places, at or below zero): the rows it
    # finds must be those each value names alone
    frame = pd.DataFrame({"amount": values, "max_power_kw": values}, index=range(2, len(values) + 2), dtype=object)
    result = validate(CHARGEPOINT, frame)
    for field in ("amount", "max_power_kw"):
        for code, alone in (("too-many-decimals", lambda d: parsing.decimal_places(d) > 3),
                            ("not-positive", lambda d: d <= 0)):
            found = {p.row for p in result.problems if p.field == field and p.code == code}
            assert found == {row for row, d in zip(frame.index, values, strict=True) if alone(d)}, (field, code)


@given(st.lists(st.sampled_from(["R-1", "r-1", " R-1 ", "STRASSE", "straße", "Straße", "ﬁ", "FI", "Ǆ", "ǆ", "#REF!",
                                 "", None, 7, 7.0, "ß\x00", "SS\x00"]), min_size=1, max_size=20))
def test_a_reference_twice_is_found_as_each_reference_folded_alone(refs) -> None:
    # references are compared case-folded, all at once where none has white space at its ends: the rows named
    # must be those whose own reference, folded alone, another row shares
    frame = pd.DataFrame({"customer_reference": refs}, index=range(2, len(refs) + 2), dtype=object)
    result = validate(CHARGEPOINT, frame)
    values = CHARGEPOINT.field("customer_reference").parse(frame["customer_reference"]).values
    folded = {row: str(v).strip().casefold() for row, v in values.items() if v is not None}
    twice = {row for row, key in folded.items() if list(folded.values()).count(key) > 1}
    assert {p.row for p in result.problems if p.code == "duplicate-reference"} == twice


@given(st.lists(st.tuples(st.sampled_from(["01067", "1067", "ABCDE", "123456", " 85123", "8512", None, 1067, "#N/A"]),
                          st.sampled_from(["Dresden", "D" * 101, "x" * 100, " Leipzig ", "", None])),
                min_size=1, max_size=40))
def test_texts_that_repeat_are_checked_once_and_each_row_is_marked_with_its_own(pairs) -> None:
    # a PLZ or a town is checked once per distinct text: the rows marked, and the text each row's note names, must
    # be those of each row's own value
    frame = pd.DataFrame([{"zip_code": z, "town": t} for z, t in pairs], index=range(2, len(pairs) + 2), dtype=object)
    result = validate(CHARGEPOINT, frame)
    for name, code, bad in (("zip_code", "pattern", lambda v: CHARGEPOINT.field("zip_code").regex.fullmatch(v) is None),
                            ("town", "too-long", lambda v: len(v) > 100)):
        values = CHARGEPOINT.field(name).parse(frame[name]).values
        marked = {p.row: p.note for p in result.problems if p.field == name and p.code == code}
        assert set(marked) == {row for row, v in values.items() if v is not None and bad(v)}, name
        for row, note in marked.items():
            assert (repr(values[row]) if code == "pattern" else f"{len(values[row])} characters") in note
