"""The workbook's validation and the sandbox judge a charge point record by the same rules (resources.py)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qaas_excel.resources import CHARGEPOINT, RecordRule, Resource, as_numbers, encode_record, max_amount_kwh
from qaas_excel.sandbox.api import validate_record
from qaas_excel.validation import validate

TODAY = date(2026, 1, 1)
RULE_CODES = {rule.code for rule in CHARGEPOINT.rules}


def record(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "customer_reference": "R-1", "chargepointoperator_id": 335, "evse_id": "DE*ABC*E1234567*1",
        "street": "Postplatz 1", "zip_code": "01067", "town": "Dresden", "commissioning_date": date(2021, 5, 17),
        "max_power_kw": Decimal("22"), "period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31),
        "amount": Decimal("1234.5")}
    values.update(overrides)
    return values


def workbook_verdict(values: dict[str, object], resource: Resource = CHARGEPOINT) -> set[str]:
    """The fields validation marks, for the record typed into one sheet row (dates as Excel gives them)."""
    cells = {k: datetime(v.year, v.month, v.day) if isinstance(v, date) else v for k, v in values.items()}
    result = validate(resource, pd.DataFrame([cells], index=[2], dtype=object), today=TODAY)
    return {p.field for p in result.problems}


def service_verdict(values: dict[str, object], resource: Resource = CHARGEPOINT) -> set[str]:
    """The fields the sandbox refuses, for the same record sent as a POST body."""
    _, errors = validate_record(resource, encode_record(resource, values), partial=False, today=TODAY)
    return set(errors)


CASES = {
    "a clean record": ({}, set()),
    "exactly the capacity (22 kW x 8,784 h of leap 2024)": ({"amount": Decimal("193248.000")}, set()),
    "a thousandth above the capacity": ({"amount": Decimal("193248.001")}, {"amount"}),
    "a one-day period at full power": ({"period_end": date(2024, 1, 1), "amount": Decimal("528")}, set()),
    "a period ending before it starts": ({"period_end": date(2023, 12, 31)}, {"period_end"}),
    "a period across two years": ({"period_end": date(2025, 1, 31)}, {"period_end"}),
    "two years and above the capacity": ({"period_end": date(2025, 1, 1), "amount": Decimal("9999999")},
                                         {"period_end", "amount"}),
    "commissioned today": ({"commissioning_date": TODAY}, set()),
    "commissioned tomorrow": ({"commissioning_date": TODAY + timedelta(days=1)}, {"commissioning_date"}),
    "an amount that is not positive is not judged against the capacity": ({"amount": Decimal("0")}, {"amount"}),
    "a power with too many decimals leaves the capacity unjudged": (
        {"max_power_kw": Decimal("0.0001"), "amount": Decimal("5")}, {"max_power_kw"}),
}


@pytest.mark.parametrize(("overrides", "refused"), CASES.values(), ids=CASES.keys())
def test_validation_and_the_sandbox_refuse_the_same_fields(overrides: dict, refused: set[str]) -> None:
    values = record(**overrides)
    assert workbook_verdict(values) == refused
    assert service_verdict(values) == refused


days = st.dates(min_value=date(2022, 11, 1), max_value=date(2027, 2, 28))
thousandths = st.integers(min_value=-2, max_value=400_000).map(lambda n: Decimal(n).scaleb(-3))


@st.composite
def charge_point_records(draw: st.DrawFn) -> dict[str, object]:
    start = draw(days)
    end = draw(st.one_of(days, st.integers(0, 370).map(lambda n: start + timedelta(days=n))))
    power = draw(st.one_of(thousandths, st.just(Decimal("0.0005"))))
    if start <= end and power > 0 and draw(st.booleans()):
        # on the capacity's edge, where a rounding slip would show
        amount = max_amount_kwh(power, start, end) + draw(st.sampled_from([Decimal("-0.001"), 0, Decimal("0.001")]))
    else:
        amount = draw(st.one_of(thousandths.map(lambda d: d * 100), st.just(Decimal("1.2345"))))
    return record(period_start=start, period_end=end, max_power_kw=power, amount=amount,
                  commissioning_date=draw(st.dates(min_value=TODAY - timedelta(days=3),
                                                   max_value=TODAY + timedelta(days=3))))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(charge_point_records())
def test_any_record_is_accepted_or_refused_alike_by_validation_and_the_sandbox(values: dict[str, object]) -> None:
    assert workbook_verdict(values) == service_verdict(values)


def test_a_rule_added_to_the_resource_is_checked_by_both() -> None:
    """Neither side has a copy of the rules: a new one in resources.py reaches both."""
    big = RecordRule("too-big-for-a-test", "max_power_kw", ("max_power_kw",),
                     breached=lambda n: n["max_power_kw"] > 100_000,  # thousandths: above 100 kW
                     note=lambda v: f"{v['max_power_kw']} kW is too much here", api_message=lambda v: "Too much.")
    resource = dataclasses.replace(CHARGEPOINT, rules=(*CHARGEPOINT.rules, big))
    values = record(max_power_kw=Decimal("150"))
    assert workbook_verdict(values, resource) == service_verdict(values, resource) == {"max_power_kw"}
    assert workbook_verdict(values) == service_verdict(values) == set()


def test_the_rules_speak_each_sides_words() -> None:
    values = record(amount=Decimal("193248.001"))
    result = validate(CHARGEPOINT, pd.DataFrame([values], index=[2], dtype=object), today=TODAY)
    [problem] = result.problems
    assert problem.code in RULE_CODES
    assert problem.message.endswith("(22 kW × 8.784 h = 193.248,000 kWh)")
    _, errors = validate_record(CHARGEPOINT, encode_record(CHARGEPOINT, values), partial=False, today=TODAY)
    assert errors == {"amount": ["Ensure the amount does not exceed max_power_kw × hours of the period "
                                 "(193248 kWh)."]}


@given(st.lists(st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**15, max_value=10**15)
                | st.sampled_from([Decimal("0.0005"), Decimal("0.0015"), Decimal("-0.0025"), Decimal("12.3456"),
                                   Decimal("1E+3"), Decimal("-0"), Decimal("1.500"), Decimal("0E-9")]), max_size=30))
def test_amounts_in_thousandths_are_rounded_half_to_even(values) -> None:
    # the rules compare exact thousandths: a whole number of them is taken as it is, a finer value rounded half to
    # even, as Decimal's to_integral_value does it
    amount = CHARGEPOINT.field("amount")
    assert as_numbers(amount, values) == [int((v * 1000).to_integral_value()) for v in values]
    assert all(type(n) is int for n in as_numbers(amount, values))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(charge_point_records(), min_size=1, max_size=6), st.booleans())
def test_rows_validated_together_are_judged_each_as_alone(drawn: list[dict[str, object]], as_floats: bool) -> None:
    # the rules take each distinct power, amount and date to a number once and share it among the rows that hold
    # it (each row here is there twice, and rows share values): every row must be judged as it is alone
    rows = [{**values, "customer_reference": f"R-{i}", "evse_id": f"DE*ABC*E{i}*1"}
            for i, values in enumerate(drawn + drawn)]
    cells = [{k: datetime(v.year, v.month, v.day) if isinstance(v, date) else float(v)
              if as_floats and isinstance(v, Decimal) else v for k, v in row.items()} for row in rows]
    together = validate(CHARGEPOINT, pd.DataFrame(cells, index=range(2, len(cells) + 2), dtype=object), today=TODAY)
    for i, row in enumerate(cells):
        alone = validate(CHARGEPOINT, pd.DataFrame([row], index=[i + 2], dtype=object), today=TODAY)
        assert {(p.field, p.code) for p in together.problems if p.row == i + 2} == \
            {(p.field, p.code) for p in alone.problems}, row
