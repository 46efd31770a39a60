"""The one mapping from HTTP answers to errors, and the error-body parser, on every body shape."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qaas_excel.api import errors
from qaas_excel.api.errors import error_for_response, parse_error_body, parse_retry_after


def test_drf_field_errors() -> None:
    body = json.dumps({"amount": ["Ensure this value is greater than 0."], "zip_code": ["Enter 5 digits."]})
    parsed = parse_error_body(body)
    assert parsed.fields == {"amount": ["Ensure this value is greater than 0."], "zip_code": ["Enter 5 digits."]}
    assert parsed.reason == ""


def test_drf_non_field_errors_become_the_reason() -> None:
    parsed = parse_error_body(b'{"non_field_errors": ["Period must lie in one calendar year."]}')
    assert parsed.fields == {}
    assert parsed.reason == "Period must lie in one calendar year."


def test_detail_string_is_the_reason() -> None:
    parsed = parse_error_body(b'{"detail": "The record has been sent to the UBA and is frozen."}')
    assert parsed.reason == "The record has been sent to the UBA and is frozen."
    assert parsed.fields == {}


def test_fastapi_pydantic_detail_list() -> None:
    body = {"detail": [
        {"loc": ["body", "amount"], "msg": "Input should be greater than 0", "type": "greater_than"},
        {"loc": ["body", "evse_id"], "msg": "String should match pattern", "type": "string_pattern_mismatch"},
    ]}
    parsed = parse_error_body(json.dumps(body))
    assert parsed.fields == {"amount": ["Input should be greater than 0"], "evse_id": ["String should match pattern"]}


def test_aspnet_problem_details() -> None:
    body = {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": {"ZipCode": ["The field ZipCode must be 5 digits."], "$.amount": ["Not a number."]},
        "traceId": "00-abc-01",
    }
    parsed = parse_error_body(json.dumps(body))
    assert parsed.fields == {"zip_code": ["The field ZipCode must be 5 digits."], "amount": ["Not a number."]}


@pytest.mark.parametrize("body", [None, b"", b"   ", ""])
def test_empty_body(body: bytes | None) -> None:
    parsed = parse_error_body(body)
    assert parsed.fields == {} and parsed.reason == ""


def test_plain_text_body_is_the_reason() -> None:
    assert parse_error_body(b"Operator unknown").reason == "Operator unknown"


def test_html_body_is_named_not_dumped() -> None:
    parsed = parse_error_body(b"<html><body>Bad gateway</body></html>", "text/html; charset=utf-8")
    assert "HTML" in parsed.reason


def test_invalid_utf8_does_not_crash() -> None:
    assert parse_error_body(b"\xff\xfe reason").reason.endswith("reason")


@given(st.one_of(st.binary(max_size=200), st.text(max_size=200),
                 st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
                              lambda inner: st.lists(inner, max_size=4)
                              | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                              max_leaves=20).map(json.dumps)))
def test_any_body_parses_without_raising(body: bytes | str) -> None:
    parsed = parse_error_body(body)
    assert isinstance(parsed.reason, str)
    assert all(isinstance(k, str) and all(isinstance(m, str) for m in v) for k, v in parsed.fields.items())


def test_summary_uses_column_headers() -> None:
    parsed = parse_error_body(b'{"amount": ["Must be positive."]}')
    assert parsed.summary({"amount": "Amount (kWh)"}) == "Amount (kWh): Must be positive."


@pytest.mark.parametrize(("status", "cls"), [
    (400, errors.BadRequestError), (401, errors.UnauthorizedError), (403, errors.ForbiddenError),
    (404, errors.NotFoundError), (422, errors.UnprocessableError), (429, errors.RateLimitedError),
    (500, errors.ServerError), (502, errors.ServerError), (503, errors.ServerError), (504, errors.ServerError),
    (418, errors.UnexpectedResponseError),
])
def test_status_maps_to_error_by_meaning(status: int, cls: type) -> None:
    exc = error_for_response(status, b"", method="GET", url="https://x/y")
    assert type(exc) is cls
    assert exc.status == status
    assert str(exc)


def test_400_carries_field_messages_and_422_its_reason() -> None:
    exc = error_for_response(400, b'{"amount": ["too big"]}')
    assert isinstance(exc, errors.BadRequestError) and exc.fields == {"amount": ["too big"]}
    assert "amount: too big" in str(exc)
    exc = error_for_response(422, b'{"detail": "Operator 999 is not one of yours."}')
    assert isinstance(exc, errors.UnprocessableError) and exc.reason == "Operator 999 is not one of yours."


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: retry now
    exc = error_for_response(429, b"", retry_after="2")
    assert isinstance(exc, errors.RateLimitedError) and exc.retry_after == 2.0
