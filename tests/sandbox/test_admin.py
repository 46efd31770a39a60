"""The sandbox-only admin API and the request statistics."""

from __future__ import annotations

import pytest
import requests

from qaas_excel.api.errors import NotFoundError, QaasError
from qaas_excel.config import CLIENT_ID
from qaas_excel.resources import CHARGEPOINT, OPERATOR, Status
from qaas_excel.sandbox import DEFAULT_USER, OUTSIDER_USER, TEST_ACCOUNT_USER, admin


@pytest.fixture
def sandbox(shared_sandbox):
    return shared_sandbox


def test_stats_count_requests_per_route_template_and_faults(sandbox, call) -> None:
    sandbox.admin.reset_stats()
    op = call.create_operator()
    cp = call.create_charge_point(op["id"])
    call("PATCH", CHARGEPOINT.item_url_path(cp["id"]), json={"amount": "5"})
    call("GET", CHARGEPOINT.list_path, params={"status": "created"})
    call("GET", OPERATOR.item_url_path(op["id"]))
    requests.post(f"{sandbox.authority}/oauth2/v2.0/token", data={"client_id": CLIENT_ID, "grant_type": "x"},
                  verify=str(sandbox.ca_file), timeout=10)
    sandbox.admin.set_faults(fail_next=["503"])
    call("GET", CHARGEPOINT.item_url_path(cp["id"]))
    stats = sandbox.admin.stats()
    assert stats["requests"] == {"POST /chargepointoperator": 1, "POST /chargepoint": 1,
                                 "PATCH /chargepoint/{id}": 1, "GET /chargepoints": 1,
                                 "GET /chargepointoperator/{id}": 1, "GET /chargepoint/{id}": 1,
                                 "POST /{tenant}/oauth2/v2.0/token": 1}  # admin calls are not counted
    assert stats["faults"] == {"503": 1} and stats["total"] == 7
    assert sandbox.admin.requests("POST /chargepoint") == 1
    sandbox.admin.reset_stats()
    assert sandbox.admin.stats() == {"requests": {}, "faults": {}, "total": 0}


def test_admin_changes_records_bypassing_the_rules(sandbox, call, as_user) -> None:
    op = call.create_operator()
    cp = call.create_charge_point(op["id"])
    sent = sandbox.admin.set_status("chargepoint", cp["id"], Status.SENT_TO_UBA)
    assert sent["status"] == "sent_to_uba" and sent["last_updated"] > cp["last_updated"]
    changed = sandbox.admin.update_record("chargepoint", cp["id"], amount="999999999", id=1)
    assert changed["amount"] == "999999999" and changed["id"] == cp["id"]  # no rules, but the id stays
    assert call("GET", CHARGEPOINT.item_url_path(cp["id"])).json() == changed
    theirs = sandbox.admin.create_record("operator", user=TEST_ACCOUNT_USER, organization_name="Nur Name")
    assert as_user(TEST_ACCOUNT_USER)("GET", OPERATOR.item_url_path(theirs["id"])).json()["organization_name"] == \
        "Nur Name"
    assert [r["id"] for r in sandbox.admin.records("operator", user=DEFAULT_USER)] == [op["id"]]
    assert {(r["id"], r["_account"]) for r in sandbox.admin.records("operator")} == {
        (op["id"], "demo-gmbh"), (theirs["id"], "demo-gmbh-test")}
    sandbox.admin.delete_record("chargepoint", cp["id"])
    assert call("GET", CHARGEPOINT.item_url_path(cp["id"])).status_code == 404
    with pytest.raises(NotFoundError):
        sandbox.admin.delete_record("chargepoint", cp["id"])
    with pytest.raises(QaasError, match="unknown resource"):
        sandbox.admin.records("invoice")
    with pytest.raises(QaasError, match="not a user of a customer account"):
        sandbox.admin.create_record("operator", user=OUTSIDER_USER)
    sandbox.admin.reset()
    assert sandbox.admin.records("operator") == [] and sandbox.admin.records("chargepoint") == []
    assert call.create_operator()["id"] > theirs["id"]  # ids are never handed out twice, not even after a reset


def test_admin_endpoints_need_the_admin_token(sandbox) -> None:
    for token in ("", "wrong"):
        answer = requests.get(f"{sandbox.base_url}/_sandbox/stats", headers={admin.HEADER: token},
                              verify=str(sandbox.ca_file), timeout=10)
        assert answer.status_code == 403
    assert requests.post(f"{sandbox.base_url}/_sandbox/reset", verify=str(sandbox.ca_file),
                         timeout=10).status_code == 403
