"""The running sandbox answers every operation of qaas_excel/openapi.json with a status the document lists.

(tests/api/test_openapi.py checks that the committed file matches resources.py and the route table.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qaas_excel import openapi
from qaas_excel.resources import CHARGEPOINT, OPERATOR, RESOURCES

DOCUMENT = json.loads(Path(openapi.__file__).with_name("openapi.json").read_text(encoding="utf-8"))
METHODS = {"GET", "POST", "PATCH", "PUT", "DELETE"}


@pytest.fixture
def sandbox(shared_sandbox):
    return shared_sandbox


def test_every_documented_operation_answers_with_a_documented_status(call) -> None:
    op = call.create_operator()
    cp = call.create_charge_point(op["id"])
    records = {OPERATOR.name: op, CHARGEPOINT.name: cp}
    ids = {r.item_path: records[r.name]["id"] for r in RESOURCES.values()}
    bodies = {r.create_path: {**records[r.name], "customer_reference": "OTHER"} for r in RESOURCES.values()}
    bodies |= {r.item_path: {f.name: records[r.name][f.name] for f in r.patchable_fields} for r in RESOURCES.values()}
    for path, operations in DOCUMENT["paths"].items():
        concrete = path.replace("{id}", str(ids.get(path, 0)))
        for method, operation in operations.items():
            answer = call(method.upper(), concrete, json=bodies.get(path) if method != "get" else None)
            assert str(answer.status_code) in operation["responses"], (method, path, answer.status_code, answer.text)
            assert answer.status_code < 400, (method, path, answer.text)  # a valid request succeeds


def test_methods_the_document_does_not_list_are_not_served(call) -> None:
    for path, operations in DOCUMENT["paths"].items():
        for method in METHODS - {m.upper() for m in operations}:
            assert call(method, path.replace("{id}", "1"), json={}).status_code == 405, (method, path)


def test_the_document_holds_only_the_api(call) -> None:
    assert not [p for p in DOCUMENT["paths"] if p.startswith("/_sandbox") or "oauth2" in p or "devicelogin" in p]
    assert DOCUMENT["security"] == [{"entra": [f"{call.sandbox.environment.client_id}/user_impersonation"]}]
