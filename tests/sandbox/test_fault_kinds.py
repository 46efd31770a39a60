"""Each injected fault as a plain HTTP client sees it, and where faults never apply."""

from __future__ import annotations

import time

import pytest
import requests

from qaas_excel.config import TENANT_ID
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from tests.sandbox.conftest import example_body

CUT_OFF = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)


@pytest.fixture
def sandbox(shared_sandbox):
    return shared_sandbox


@pytest.mark.parametrize("kind", ["500", "503"])
def test_500_and_503_have_empty_bodies(sandbox, call, kind: str) -> None:
    sandbox.admin.set_faults(fail_next=[kind])
    answer = call("GET", OPERATOR.list_path)
    assert answer.status_code == int(kind) and answer.content == b""
    assert sandbox.admin.stats()["faults"] == {kind: 1}


@pytest.mark.parametrize(("seconds", "header"), [(3, "3"), (1.0, "1"), (0.25, "0.25")])
def test_429_says_when_to_retry(sandbox, call, seconds: float, header: str) -> None:
    sandbox.admin.set_faults(fail_next=["429"], retry_after=seconds)
    answer = call("GET", OPERATOR.list_path)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == header


def test_drop_before_cuts_the_connection_and_nothing_is_created(sandbox, call) -> None:
    sandbox.admin.set_faults(fail_next=["drop-before"])
    with pytest.raises(CUT_OFF):
        call("POST", OPERATOR.create_path, json=example_body(OPERATOR))
    assert sandbox.admin.records("operator") == []
    assert sandbox.admin.stats()["faults"] == {"drop-before": 1}


def test_drop_after_cuts_the_connection_although_the_record_was_created(sandbox, call) -> None:
    op = call.create_operator()
    sandbox.admin.set_faults(fail_next=["drop-after"])
    with pytest.raises(CUT_OFF):
        call("POST", CHARGEPOINT.create_path, json=example_body(CHARGEPOINT, chargepointoperator_id=op["id"]))
    [created] = sandbox.admin.records("chargepoint")
    assert created["customer_reference"] == example_body(CHARGEPOINT)["customer_reference"]
    assert call("GET", CHARGEPOINT.item_url_path(created["id"])).status_code == 200


def test_drop_after_a_patch_has_changed_the_record(sandbox, call) -> None:
    op = call.create_operator()
    cp = call.create_charge_point(op["id"])
    sandbox.admin.set_faults(fail_next=["drop-after"])
    with pytest.raises(CUT_OFF):
        call("PATCH", CHARGEPOINT.item_url_path(cp["id"]), json={"amount": "7"})
    assert call("GET", CHARGEPOINT.item_url_path(cp["id"])).json()["amount"] == "7"


def test_queued_faults_wait_for_their_route_and_skip_sign_in_and_admin(sandbox, call) -> None:
    sandbox.admin.set_faults(fail_next=["503@POST /chargepointoperator", "500"])
    discovery = f"{sandbox.authority}/v2.0/.well-known/openid-configuration"
    assert requests.get(discovery, verify=str(sandbox.ca_file), timeout=10).status_code == 200
    assert sandbox.admin.stats()["faults"] == {}  # neither sign-in nor admin consumed a fault
    assert call("GET", OPERATOR.list_path).status_code == 500  # the untargeted one
    assert call("GET", OPERATOR.list_path).status_code == 204
    assert call("POST", OPERATOR.create_path, json=example_body(OPERATOR)).status_code == 503
    assert call("POST", OPERATOR.create_path, json=example_body(OPERATOR)).status_code == 201


def test_injected_refusals_have_the_faq_body_shapes(sandbox, call) -> None:
    sandbox.admin.set_faults(fail_next=["400", "422"])
    assert list(call("GET", OPERATOR.list_path).json()) == ["amount"]
    assert list(call("GET", OPERATOR.list_path).json()) == ["detail"]


def _statuses(call, n: int) -> list[int | str]:
    out: list[int | str] = []
    for _ in range(n):
        try:
            out.append(call("GET", OPERATOR.list_path).status_code)
        except CUT_OFF:
            out.append("cut")
    return out


def test_fail_rate_is_reproducible_with_a_seed_and_uses_every_kind(sandbox, call) -> None:
    sandbox.admin.set_faults(fail_rate=0.6, seed=7, retry_after=0)
    first = _statuses(call, 40)
    sandbox.admin.set_faults(seed=7)
    assert _statuses(call, 40) == first
    assert {500, 503, 429, "cut", 204} <= set(first)
    faults = sandbox.admin.stats()["faults"]
    assert set(faults) == {"500", "503", "429", "drop-before", "drop-after"}
    assert sum(faults.values()) == 2 * sum(1 for s in first if s != 204)


def test_latency_delays_the_api_but_not_the_sign_in(sandbox, call) -> None:
    sandbox.admin.set_faults(latency_ms=600)
    started = time.monotonic()
    assert call("GET", OPERATOR.list_path).status_code == 204
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    requests.get(f"{sandbox.base_url}/{TENANT_ID}/discovery/v2.0/keys", verify=str(sandbox.ca_file), timeout=10)
    assert time.monotonic() - started < 0.6


def test_admin_rejects_unknown_fault_kinds_and_settings(sandbox) -> None:
    from qaas_excel.api.errors import QaasError

    for settings in ({"fail_next": ["teapot"]}, {"fail_rate": 2}, {"latency": 5}, {"kinds": ["418"]}):
        with pytest.raises(QaasError) as caught:
            sandbox.admin.set_faults(**settings)
        assert caught.value.status == 400
