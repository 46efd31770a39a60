"""Every status code of the FAQ's table, with its body shape, in plain HTTP against the sandbox."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from qaas_excel import openapi
from qaas_excel.resources import CHARGEPOINT, OPERATOR, RESOURCES, Status
from qaas_excel.sandbox import COLLEAGUE_USER, OUTSIDER_USER, TEST_ACCOUNT_USER
from tests.sandbox.conftest import example_body

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def sandbox(shared_sandbox):
    """These tests only need an empty sandbox, not a new one."""
    return shared_sandbox


def assert_empty(answer: requests.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.content == b""


# --- 201 / 200 / 204 -----------------------------------------------------------------------------

def test_post_is_201_with_the_created_record_and_server_fields_in_the_body_are_ignored(call) -> None:
    op = call.create_operator()
    assert set(op) == {f.name for f in OPERATOR.fields}
    body = example_body(CHARGEPOINT, chargepointoperator_id=op["id"], id=1, status="accepted_by_uba",
                        created="2000-01-01T00:00:00Z", last_updated="2000-01-01T00:00:00Z")
    answer = call("POST", CHARGEPOINT.create_path, json=body)
    assert answer.status_code == 201
    record = answer.json()
    assert set(record) == {f.name for f in CHARGEPOINT.fields}
    assert record["id"] != 1 and record["status"] == Status.CREATED
    assert STAMP.match(record["created"]) and record["created"] != "2000-01-01T00:00:00Z"
    assert record["last_updated"] == record["created"]
    assert {f.name: record[f.name] for f in CHARGEPOINT.client_fields} == {
        f.name: body[f.name] for f in CHARGEPOINT.client_fields}
    assert record["amount"] == "12345.678"  # decimals travel as exact strings


def test_get_and_patch_are_200_and_an_empty_list_is_204_with_an_empty_body(call) -> None:
    for resource in RESOURCES.values():
        assert_empty(call("GET", resource.list_path), 204)
    op = call.create_operator()
    cp = call.create_charge_point(op["id"])
    listed = call("GET", CHARGEPOINT.list_path)
    assert listed.status_code == 200 and listed.json() == [cp]
    got = call("GET", CHARGEPOINT.item_url_path(cp["id"]))
    assert got.status_code == 200 and got.json() == cp
    patched = call("PATCH", CHARGEPOINT.item_url_path(cp["id"]), json={"amount": "100.5"})
    assert patched.status_code == 200
    assert patched.json() == {**cp, "amount": "100.5", "last_updated": patched.json()["last_updated"]}
    town = call("PATCH", OPERATOR.item_url_path(op["id"]), json={"town": "Leipzig"})
    assert town.status_code == 200 and town.json()["town"] == "Leipzig"
    assert call("GET", OPERATOR.item_url_path(op["id"])).json()["town"] == "Leipzig"


def test_list_filters_and_a_filter_matching_nothing_is_204(call) -> None:
    op = call.create_operator()
    other = call.create_operator(customer_reference="AB-124")
    cp = call.create_charge_point(op["id"])
    by_operator = call("GET", CHARGEPOINT.list_path, params={"chargepointoperator_id": op["id"]})
    assert by_operator.status_code == 200 and [r["id"] for r in by_operator.json()] == [cp["id"]]
    by_status = call("GET", CHARGEPOINT.list_path, params={"status": "created"})
    assert [r["id"] for r in by_status.json()] == [cp["id"]]
    for params in ({"chargepointoperator_id": other["id"]}, {"status": "sent_to_uba"},
                   {"chargepointoperator_id": "abc"}):
        assert_empty(call("GET", CHARGEPOINT.list_path, params=params), 204)


def test_last_updated_moves_on_every_change_even_within_one_second(call) -> None:
    op = call.create_operator()
    cp = call.create_charge_point(op["id"])
    stamps = [cp["last_updated"]]
    for amount in ("1", "2", "3"):
        answer = call("PATCH", CHARGEPOINT.item_url_path(cp["id"]), json={"amount": amount})
        stamps.append(answer.json()["last_updated"])
    assert stamps == sorted(set(stamps)) and all(STAMP.match(s) for s in stamps)
    same = call("PATCH", CHARGEPOINT.item_url_path(cp["id"]), json={"amount": "3"}).json()
    assert same["last_updated"] == stamps[-1]  # nothing changed, nothing to stamp


def test_decimals_as_json_numbers_or_strings_are_kept_exactly(call) -> None:
    op = call.create_operator()
    # a raw body: 123456789012345.125 as a float would lose its last digits
    text = example_body(CHARGEPOINT, chargepointoperator_id=op["id"], max_power_kw="XPOWER", amount="XAMOUNT")
    raw = json.dumps(text).replace('"XPOWER"', "20000000000000").replace('"XAMOUNT"', "123456789012345.125")
    answer = call("POST", CHARGEPOINT.create_path, data=raw, headers=JSON)
    assert answer.status_code == 201, answer.text
    assert answer.json()["amount"] == "123456789012345.125" and answer.json()["max_power_kw"] == "20000000000000"
    trailing = call("PATCH", CHARGEPOINT.item_url_path(answer.json()["id"]), json={"amount": "1.2300"})
    assert trailing.status_code == 200 and trailing.json()["amount"] == "1.230"


# --- 400 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b"", b'"text"'])
def test_400_non_field_errors_for_a_body_that_is_not_a_json_object(call, data: bytes) -> None:
    answer = call("POST", OPERATOR.create_path, data=data, headers=JSON)
    assert answer.status_code == 400 and list(answer.json()) == ["non_field_errors"]
    op = call.create_operator(customer_reference=f"R-{len(data)}")
    answer = call("PATCH", OPERATOR.item_url_path(op["id"]), data=data, headers=JSON)
    assert answer.status_code == 400 and list(answer.json()) == ["non_field_errors"]


def test_400_names_every_missing_required_field_with_a_list_of_messages(call) -> None:
    for resource in RESOURCES.values():
        answer = call("POST", resource.create_path, json={})
        assert answer.status_code == 400
        assert set(answer.json()) == {f.name for f in resource.required_fields}
        assert all(isinstance(m, list) and m and all(isinstance(t, str) for t in m) for m in answer.json().values())


def _in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


BAD_CHARGE_POINTS: list[tuple[str, dict[str, Any]]] = [
    ("evse_id", {"evse_id": "not an evse"}),
    ("evse_id", {"evse_id": "DE*ABC*E" + "1" * 40}),
    ("zip_code", {"zip_code": "1067"}),
    ("street", {"street": 42}),
    ("street", {"street": "   "}),
    ("chargepointoperator_id", {"chargepointoperator_id": "one"}),
    ("max_power_kw", {"max_power_kw": "abc"}),
    ("max_power_kw", {"max_power_kw": 0}),
    ("amount", {"amount": "1.2345"}),
    ("amount", {"amount": "-5"}),
    ("amount", {"amount": True}),
    ("amount", {"amount": "NaN"}),
    ("amount", {"amount": "193248.001"}),  # 22 kW × 8784 h of the leap year 2024 is the most
    ("period_start", {"period_start": "01.01.2024"}),
    ("period_end", {"period_start": "2024-06-01", "period_end": "2024-05-31"}),
    ("period_end", {"period_end": "2025-01-31"}),
    ("commissioning_date", {"commissioning_date": _in_days(2)}),
]


@pytest.mark.parametrize(("field", "changes"), BAD_CHARGE_POINTS, ids=[f"{f}-{i}" for i, (f, _) in
                                                                       enumerate(BAD_CHARGE_POINTS)])
def test_400_names_the_field_of_a_charge_point_rule(call, field: str, changes: dict[str, Any]) -> None:
    op = call.create_operator()
    body = example_body(CHARGEPOINT, **{"chargepointoperator_id": op["id"], **changes})
    answer = call("POST", CHARGEPOINT.create_path, json=body)
    assert answer.status_code == 400
    assert set(answer.json()) == {field}


def test_the_largest_possible_amount_and_a_period_of_one_day_are_accepted(call) -> None:
    op = call.create_operator()
    call.create_charge_point(op["id"], amount="193248", customer_reference="YEAR")
    call.create_charge_point(op["id"], amount="528", period_start="2024-02-29", period_end="2024-02-29",
                             customer_reference="DAY")


@pytest.mark.parametrize(("field", "value"), [("zip_code", "ABCDE"), ("organization_name", "x" * 201),
                                              ("terms_agreed", "yesterday"), ("customer_reference", "r" * 101)])
def test_400_names_the_field_of_an_operator_rule(call, field: str, value: Any) -> None:
    answer = call("POST", OPERATOR.create_path, json=example_body(OPERATOR, **{field: value}))
    assert answer.status_code == 400 and set(answer.json()) == {field}


def test_400_for_a_reference_used_twice_in_one_account_but_not_across_accounts(call, as_user) -> None:
    call.create_operator(customer_reference="SAME")
    again = call("POST", OPERATOR.create_path, json=example_body(OPERATOR, customer_reference="SAME"))
    assert again.status_code == 400 and set(again.json()) == {"customer_reference"}
    colleague = as_user(COLLEAGUE_USER)  # same account: same rule
    assert colleague("POST", OPERATOR.create_path,
                     json=example_body(OPERATOR, customer_reference="SAME")).status_code == 400
    as_user(TEST_ACCOUNT_USER).create_operator(customer_reference="SAME")


def test_400_for_patching_a_field_that_cannot_be_patched_or_breaking_a_rule(call) -> None:
    op = call.create_operator()
    cp = call.create_charge_point(op["id"])
    item = CHARGEPOINT.item_url_path(cp["id"])
    fixed = [f for f in CHARGEPOINT.client_fields if not f.patchable]
    assert fixed, "resources.py makes every charge point field patchable: this test proves nothing"
    for f in fixed:
        answer = call("PATCH", item, json={f.name: cp[f.name] if f.name != "customer_reference" else "NEW"})
        assert answer.status_code == 400 and set(answer.json()) == {f.name}, f.name
    too_much = call("PATCH", item, json={"amount": "193248.001"})
    assert too_much.status_code == 400 and set(too_much.json()) == {"amount"}
    server_only = call("PATCH", item, json={"status": "accepted_by_uba", "id": 1, "created": "2000-01-01T00:00:00Z"})
    assert server_only.status_code == 200 and server_only.json() == cp  # ignored, as on POST
    assert call("GET", item).json() == cp


# --- 401 / 403 -------------------------------------------------------------------------------------

def _operations(record_id: int) -> list[tuple[str, str]]:
    """Every documented operation (method, concrete path)."""
    return [(method.upper(), path.replace("{id}", str(record_id)))
            for path, ops in openapi.document()["paths"].items() for method in ops]


def test_401_with_an_empty_body_and_www_authenticate_for_every_kind_of_bad_token(sandbox, call) -> None:
    good = jwt.decode(call.token, options={"verify_signature": False})
    now = int(time.time())

    def signed(**changes: Any) -> str:
        return "Bearer " + sandbox.identity.signer.sign({**good, **changes})

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "missing": None,
        "not bearer": "Basic ZGVtbzpkZW1v",
        "empty": "Bearer ",
        "malformed": "Bearer not-a-jwt",
        "forged": "Bearer " + jwt.encode(good, other_key, algorithm="RS256",
                                         headers={"kid": sandbox.identity.signer.kid}),
        "expired": signed(iat=now - 7200, nbf=now - 7200, exp=now - 3600),
        "not yet valid": signed(nbf=now + 3600),
        "wrong audience": signed(aud="00000003-0000-0000-c000-000000000000"),
        "wrong scope": signed(scp="User.Read"),
        "other issuer": signed(iss="https://login.microsoftonline.com/common/v2.0"),
        "unknown user": signed(preferred_username="mallory@example.test"),
    }
    op = call.create_operator()
    for method, path in _operations(op["id"]):
        for name, header in bad.items():
            answer = requests.request(method, sandbox.base_url + path, verify=str(sandbox.ca_file), timeout=10,
                                      headers={"Authorization": header} if header else {}, json={})
            assert answer.status_code == 401, (name, method, path)
            assert answer.content == b"" and answer.headers["WWW-Authenticate"] == "Bearer"
    assert call("GET", OPERATOR.item_url_path(op["id"])).status_code == 200  # the genuine token still works


def test_403_with_an_empty_body_for_a_signed_in_user_who_is_no_customer(call, as_user) -> None:
    op = call.create_operator()
    outsider = as_user(OUTSIDER_USER)
    for method, path in _operations(op["id"]):
        assert_empty(outsider(method, path, json=example_body(OPERATOR)), 403)


# --- 404 / 422 / 500 -------------------------------------------------------------------------------

def test_404_with_an_empty_body_for_unknown_ids_and_other_accounts_records(sandbox, call, as_user) -> None:
    op = call.create_operator()
    cp = call.create_charge_point(op["id"])
    stranger = as_user(TEST_ACCOUNT_USER)
    for resource, record in ((OPERATOR, op), (CHARGEPOINT, cp)):
        for path in (resource.item_url_path(424242), resource.item_url_path("abc"), resource.item_url_path(-1)):
            assert_empty(call("GET", path), 404)
            assert_empty(call("PATCH", path, json={}), 404)
        assert_empty(stranger("GET", resource.item_url_path(record["id"])), 404)
        assert_empty(stranger("PATCH", resource.item_url_path(record["id"]), json={"town": "Leipzig"}), 404)
    assert call("GET", OPERATOR.item_url_path(op["id"])).json()["town"] == op["town"]


def test_accounts_are_isolated_and_colleagues_share_one(call, as_user) -> None:
    op = call.create_operator()
    colleague, stranger = as_user(COLLEAGUE_USER), as_user(TEST_ACCOUNT_USER)
    assert [r["id"] for r in colleague("GET", OPERATOR.list_path).json()] == [op["id"]]
    assert_empty(stranger("GET", OPERATOR.list_path), 204)
    theirs = stranger.create_operator()
    assert [r["id"] for r in call("GET", OPERATOR.list_path).json()] == [op["id"]]
    assert [r["id"] for r in stranger("GET", OPERATOR.list_path).json()] == [theirs["id"]]


@pytest.mark.parametrize("status", [Status.SENT_TO_UBA, Status.ACCEPTED_BY_UBA, Status.REJECTED_BY_UBA, "on_hold"])
def test_422_with_a_reason_for_patching_a_record_past_created(sandbox, call, status: str) -> None:
    op = call.create_operator()
    cp = call.create_charge_point(op["id"])
    frozen = sandbox.admin.set_status("chargepoint", cp["id"], status)
    answer = call("PATCH", CHARGEPOINT.item_url_path(cp["id"]), json={"amount": "1"})
    assert answer.status_code == 422
    assert list(answer.json()) == ["detail"] and status in answer.json()["detail"]
    assert call("GET", CHARGEPOINT.item_url_path(cp["id"])).json() == frozen


def test_422_for_a_charge_point_naming_an_operator_outside_the_account(call, as_user) -> None:
    theirs = as_user(TEST_ACCOUNT_USER).create_operator()
    for operator_id in (theirs["id"], 999999):
        answer = call("POST", CHARGEPOINT.create_path,
                      json=example_body(CHARGEPOINT, chargepointoperator_id=operator_id))
        assert answer.status_code == 422 and str(operator_id) in answer.json()["detail"]
    assert_empty(call("GET", CHARGEPOINT.list_path), 204)


def test_500_with_an_empty_body_injected_or_unexpected_and_the_service_carries_on(sandbox, call) -> None:
    op = call.create_operator()
    cp = call.create_charge_point(op["id"])
    sandbox.admin.set_faults(fail_next=["500"])
    assert_empty(call("GET", OPERATOR.list_path), 500)
    assert call("GET", OPERATOR.list_path).status_code == 200
    # data broken on the service side makes the rule check itself fail: an unexpected error
    sandbox.admin.update_record("chargepoint", cp["id"], max_power_kw="broken")
    assert_empty(call("PATCH", CHARGEPOINT.item_url_path(cp["id"]), json={"amount": "2"}), 500)
    assert call("GET", CHARGEPOINT.item_url_path(cp["id"])).json()["amount"] == cp["amount"]


def test_paths_outside_the_api_have_no_body_and_no_docs_are_served(call) -> None:
    for path in ("/nothing", "/docs", "/redoc", "/openapi.json"):
        assert_empty(call("GET", path), 404)
    assert_empty(call("DELETE", CHARGEPOINT.item_url_path(1)), 405)
