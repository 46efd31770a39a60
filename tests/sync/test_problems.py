"""Problems are data: code, field, row, value and sheet, and a message rendered from them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from qaas_excel.api import errors
from qaas_excel.problems import (
    SERVICE_BAD_REQUEST,
    SERVICE_FIELD,
    SERVICE_REFUSED,
    Problem,
    by_row,
    count_by_code,
    from_rejection,
)
from qaas_excel.resources import CHARGEPOINT
from qaas_excel.results import Result
from qaas_excel.sync import Action, Planned, run_plan
from qaas_excel.validation import validate

FIELDS = [f.name for f in CHARGEPOINT.fields]
HEADERS = {f.name: f.header for f in CHARGEPOINT.fields}


def answer(status: int, body: bytes) -> errors.RejectedError:
    exc = errors.error_for_response(status, body, content_type="application/json")
    assert isinstance(exc, errors.RejectedError)
    return exc


def test_the_message_is_rendered_from_the_column_and_the_note() -> None:
    p = Problem(4, "amount", "not-positive", "0 must be greater than 0", "ChargePoints", Decimal(0), "Menge")
    assert p.message == "Menge: 0 must be greater than 0"
    assert p.to_dict() == {"row": 4, "field": "amount", "code": "not-positive", "message": p.message,
                           "note": "0 must be greater than 0", "value": Decimal(0), "sheet": "ChargePoints",
                           "cell": None}
    assert Problem(None, None, "missing-column", "The column is missing.").message == "The column is missing."


def test_validation_problems_carry_the_cell_and_the_users_header_apart_from_the_note() -> None:
    frame = pd.DataFrame([{"amount": "-3,5", "town": None, "zip_code": "1234567"}], index=[7], dtype=object)
    result = validate(CHARGEPOINT, frame, sheet="Ladepunkte", headers={"amount": "Menge"}, today=date(2026, 1, 1))
    amount = next(p for p in result.problems if p.field == "amount")
    assert (amount.row, amount.code, amount.value, amount.sheet) == (7, "not-positive", "-3,5", "Ladepunkte")
    assert amount.label == "Menge" and amount.note == "-3,5 must be greater than 0"
    assert amount.message == "Menge: -3,5 must be greater than 0"
    town = next(p for p in result.problems if p.field == "town")
    assert (town.code, town.value, town.message) == ("required", None, "Town: a value is required")
    assert result.counts == count_by_code(result.problems) and result.counts["required"] >= 1


def test_a_400_gives_one_problem_per_field_with_the_value_sent() -> None:
    exc = answer(400, b'{"amount": ["Ensure this value is greater than 0."], "colour": ["Unknown field."]}')
    found = from_rejection(exc, row=5, sheet="ChargePoints", fields=FIELDS, headers=HEADERS,
                           sent={"amount": Decimal("-1")})
    amount, colour = found
    assert (amount.field, amount.code, amount.value, amount.row) == ("amount", SERVICE_FIELD, Decimal("-1"), 5)
    assert amount.message == "Amount (kWh): Ensure this value is greater than 0."
    assert (colour.field, colour.code, colour.message) == (None, SERVICE_FIELD, "colour: Unknown field.")


def test_a_400_about_the_whole_record_is_a_row_problem() -> None:
    [p] = from_rejection(answer(400, b'{"non_field_errors": ["Duplicate record."]}'), row=3, sheet=None,
                         fields=FIELDS)
    assert (p.row, p.field, p.code, p.message) == (3, None, SERVICE_BAD_REQUEST, "Duplicate record.")


def test_a_422_reason_is_a_row_problem_even_without_field_errors() -> None:
    [p] = from_rejection(answer(422, b'{"detail": "Operator 9 does not exist in your account."}'), row=8,
                         sheet="ChargePoints", fields=FIELDS)
    assert (p.row, p.field, p.code) == (8, None, SERVICE_REFUSED)
    assert p.message == "Operator 9 does not exist in your account."
    [empty] = from_rejection(answer(422, b""), row=8, sheet=None, fields=FIELDS)
    assert empty.code == SERVICE_REFUSED and "422" in empty.message


def test_a_422_with_field_errors_only_is_not_repeated_as_a_reason() -> None:
    found = from_rejection(answer(422, b'{"amount": ["Too late to change."]}'), row=2, sheet=None, fields=FIELDS,
                           headers=HEADERS)
    assert [(p.field, p.code) for p in found] == [("amount", SERVICE_REFUSED)]


class _Refusing:
    """A client whose service refuses every create with the given answer."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    def create(self, resource: object, payload: object) -> object:
        raise errors.error_for_response(self.status, self.body, content_type="application/json")


def test_a_push_refused_with_422_leaves_a_problem_on_the_row() -> None:
    plan = [Planned(4, Action.CREATE, payload={"amount": Decimal(5)}, fingerprint="f")]
    [outcome] = run_plan(_Refusing(422, b'{"detail": "Charge point operator 9 does not exist."}'),  # type: ignore[arg-type]
                         CHARGEPOINT, plan, sheet="ChargePoints", workers=1)
    assert outcome.result is Result.FAILED
    assert [(p.row, p.field, p.code, p.sheet) for p in outcome.problems] == [(4, None, SERVICE_REFUSED, "ChargePoints")]
    [field_outcome] = run_plan(_Refusing(400, b'{"amount": ["Ensure this value is greater than 0."]}'),  # type: ignore[arg-type]
                               CHARGEPOINT, plan, sheet="ChargePoints", workers=1)
    [p] = field_outcome.problems
    assert (p.field, p.code, p.value, p.label) == ("amount", SERVICE_FIELD, Decimal(5), "Amount (kWh)")


def test_by_row_groups_problems_and_keeps_sheet_level_ones_apart() -> None:
    problems = [Problem(3, "a", "x", "n"), Problem(None, "b", "y", "n"), Problem(3, "c", "x", "n")]
    grouped = by_row(problems)
    assert [p.field for p in grouped[3]] == ["a", "c"] and [p.field for p in grouped[None]] == ["b"]
    assert count_by_code(problems) == {"x": 2, "y": 1}
