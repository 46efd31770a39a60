"""Retries that are safe, and creates that are never duplicated, under injected faults."""

from __future__ import annotations

import pytest

from qaas_excel.api import errors
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from tests.sandbox.test_api import OPERATOR_VALUES, charge_point


@pytest.mark.parametrize("fault", ["503", "429", "drop-before", "drop-after"])
def test_list_is_retried_through_a_fault(sandbox, client, fault: str) -> None:
    sandbox.admin.set_faults(fail_next=[fault], retry_after=0)
    assert client.list(OPERATOR) == []
    assert client.stats.retries == 1
    assert sandbox.admin.stats()["faults"] == {fault: 1}


@pytest.mark.parametrize("fault", ["503", "429", "drop-before", "drop-after"])
def test_create_through_a_fault_creates_exactly_one_record(sandbox, client, fault: str) -> None:
    op = client.create(OPERATOR, OPERATOR_VALUES).record
    sandbox.admin.set_faults(fail_next=[fault], retry_after=0)
    created = client.create(CHARGEPOINT, charge_point(op["id"]))
    records = sandbox.admin.records("chargepoint")
    assert len(records) == 1 and created.record["id"] == records[0]["id"]
    assert created.adopted == (fault == "drop-after")  # it had gone through: found by reference, not re-sent


def test_unknown_outcome_without_reference_is_not_sent_again(sandbox, client) -> None:
    op = client.create(OPERATOR, OPERATOR_VALUES).record
    sandbox.admin.set_faults(fail_next=["drop-after"])
    with pytest.raises(errors.OutcomeUnknownError, match="not sent again"):
        client.create(CHARGEPOINT, charge_point(op["id"], customer_reference=None))
    assert len(sandbox.admin.records("chargepoint")) == 1
    assert sandbox.admin.requests("POST /chargepoint") == 1


def test_patch_is_retried_because_it_sets_absolute_values(sandbox, client) -> None:
    from decimal import Decimal

    op = client.create(OPERATOR, OPERATOR_VALUES).record
    cp = client.create(CHARGEPOINT, charge_point(op["id"])).record
    sandbox.admin.set_faults(fail_next=["503", "drop-after"], retry_after=0)
    assert client.update(CHARGEPOINT, cp["id"], {"amount": Decimal("500")})["amount"] == Decimal("500")
    assert client.stats.retries == 2


def test_a_service_that_keeps_failing_is_given_up_after_max_attempts_with_exit_code_4(sandbox, client) -> None:
    from qaas_excel.cli._app import EXIT_UNREACHABLE, exit_code_for

    client.max_attempts = 3
    sandbox.admin.set_faults(fail_next=["503"] * 3)
    with pytest.raises(errors.ServerError) as caught:
        client.list(OPERATOR)
    assert caught.value.status == 503
    assert client.stats.retries == 2
    assert sandbox.admin.requests(f"GET {OPERATOR.list_path}") == 3  # every attempt reached it, none more
    assert exit_code_for(caught.value) == EXIT_UNREACHABLE  # "could not be reached, or kept failing"


def test_a_stopped_service_is_unreachable_and_nothing_is_sent(client, sandbox) -> None:
    client.max_attempts = 2
    sandbox.stop()
    with pytest.raises(errors.UnreachableError, match="reach"):
        client.create(OPERATOR, OPERATOR_VALUES)
