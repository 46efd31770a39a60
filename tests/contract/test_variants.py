"""A service whose contract differs from ours (two variants served by the sandbox): doctor finds every difference,
`doctor --apply` writes the contract block, and then validate, push, pull, reconcile and the worksheet functions
work unchanged."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import requests
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.contract import load_file
from qaas_excel.resources import CHARGEPOINT

runner = CliRunner()

VARIANTS = {
    # charge points under /api/v1, two fields renamed, a status we do not know (frozen there)
    "moved-charge-points": ("""
[contract.paths]
"/chargepoint" = "/api/v1/chargepoint"
"/chargepoints" = "/api/v1/chargepoints"
"/chargepoint/{id}" = "/api/v1/chargepoint/{id}"

[contract.fields.chargepoint]
amount = "amount_kwh"
customer_reference = "external_reference"

[contract.statuses]
in_review = { patch = false }
""", {("moved_operation", None, "/api/v1/chargepoint"), ("moved_operation", None, "/api/v1/chargepoints"),
      ("moved_operation", None, "/api/v1/chargepoint/{id}"),
      ("renamed_field", "amount", "amount_kwh"), ("renamed_field", "customer_reference", "external_reference"),
      ("unknown_status", "status", "in_review")}, "in_review"),
    # operators at /operator(s), operator fields renamed, the charge point's operator reference renamed (a list
    # filter too), a status we do not know in which the service still allows changes
    "renamed-operators": ("""
[contract.paths]
"/chargepointoperator" = "/operator"
"/chargepointoperators" = "/operators"
"/chargepointoperator/{id}" = "/operator/{id}"

[contract.fields.operator]
organization_name = "name"
zip_code = "postal_code"

[contract.fields.chargepoint]
chargepointoperator_id = "operator"

[contract.statuses]
draft = { patch = true }
""", {("moved_operation", None, "/operator"), ("moved_operation", None, "/operators"),
      ("moved_operation", None, "/operator/{id}"),
      ("renamed_field", "organization_name", "name"), ("renamed_field", "zip_code", "postal_code"),
      ("renamed_field", "chargepointoperator_id", "operator"), ("unknown_status", "status", "draft")}, "draft"),
    # the usual REST style: one path to create and list (POST and GET /v2/operators), items below it, the id
    # called pk; and lists in Django REST framework pages of 4
    "rest-style-paged": ("""
[contract.paths]
"/chargepointoperator" = "/v2/operators"
"/chargepointoperators" = "/v2/operators"
"/chargepointoperator/{id}" = "/v2/operators/{id}"
"/chargepoint" = "/v2/chargepoints"
"/chargepoints" = "/v2/chargepoints"
"/chargepoint/{id}" = "/v2/chargepoints/{id}"

[contract.fields.operator]
id = "pk"

[contract.fields.chargepoint]
id = "pk"

[contract.statuses]
on_hold = { patch = false }
""", {("moved_operation", None, "/v2/operators"), ("moved_operation", None, "/v2/operators/{id}"),
      ("moved_operation", None, "/v2/chargepoints"), ("moved_operation", None, "/v2/chargepoints/{id}"),
      ("renamed_field", "id", "pk"), ("unknown_status", "status", "on_hold")}, "on_hold", "drf:4"),
}


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def run_json(*args: str) -> tuple[int, dict]:
    result = cli(*args, "--json")
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(params=sorted(VARIANTS))
def variant(request, tmp_path: Path):
    text, expected, new_status, *paged = VARIANTS[request.param]
    path = tmp_path / f"{request.param}.toml"
    path.write_text(text, encoding="utf-8")
    return load_file(path), expected, new_status, paged[0] if paged else None


def variant_paging(variant):
    from qaas_excel.sandbox.paging import SandboxPaging

    if not variant[3]:
        return None
    style, _, size = variant[3].partition(":")
    return SandboxPaging(style, int(size))


@pytest.fixture
def sandbox(qaas_home: Path, variant):
    from qaas_excel.sandbox.server import SandboxServer

    server = SandboxServer(qaas_home, port=0, db_path=qaas_home / "sandbox.sqlite3", auto_approve=True,
                           contract=variant[0], paging=variant_paging(variant))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def rows_by_reference(book: Path, sheet: str, header: str) -> dict[str, object]:
    ws = openpyxl.load_workbook(book)[sheet]
    heads = [str(c.value or "").rstrip(" *") for c in ws[1]]
    ref, col = heads.index("Your reference"), heads.index(header)
    return {row[ref].value: row[col].value for row in ws.iter_rows(min_row=2) if row[ref].value}


def test_doctor_finds_every_difference_then_apply_makes_everything_work(sandbox, signed_in, variant, demo_book: Path,
                                                                        qaas_home: Path) -> None:
    contract, expected, new_status, _paged = variant
    code, report = run_json("doctor", "--env", "sandbox")
    differences = next(c for c in report["checks"] if c["check"] == "contract")["details"]["differences"]
    assert code == 1
    assert {(d["kind"], d.get("field"), d.get("theirs")) for d in differences} == expected
    from qaas_excel.contract import operations

    # every operation the contract moves, once each (an item path twice: GET and PATCH)
    assert sum(d["kind"] == "moved_operation" for d in differences) == sum(
        contract.path(path) != path for _method, path in operations())

    suggested = cli("doctor", "--env", "sandbox", "--suggest")
    assert "[environments.sandbox.contract.paths]" in suggested.stdout
    assert "not fixable" not in suggested.stdout  # every difference of these variants is a rename or a status

    (qaas_home / "config.toml").write_text("# mine\ndefault_env = \"sandbox\"\n", encoding="utf-8")
    applied = cli("doctor", "--env", "sandbox", "--apply")
    assert applied.exit_code == 0, applied.stdout
    assert applied.stdout.splitlines()[-1] == "All checks passed."
    assert (qaas_home / "config.toml.bak").read_text(encoding="utf-8") == "# mine\ndefault_env = \"sandbox\"\n"
    config = (qaas_home / "config.toml").read_text(encoding="utf-8")
    assert config.startswith("# mine\ndefault_env = \"sandbox\"\n")
    from qaas_excel.config import get_environment

    written = get_environment("sandbox").contract
    assert written.paths == contract.paths and written.fields == contract.fields
    assert set(written.statuses) == {new_status} and written.statuses[new_status].patch is False  # safe default

    code, report = run_json("validate", str(demo_book))
    assert code == 1 and report["counts"] == {"valid": 16, "invalid": 8}
    code, report = run_json("push", str(demo_book), "--env", "sandbox")
    assert code == 1 and report["counts"] == {"created": 16, "invalid": 8}, report
    code, report = run_json("push", str(demo_book), "--env", "sandbox")
    assert report["counts"] == {"unchanged": 16, "invalid": 8}
    code, report = run_json("pull", str(demo_book), "--env", "sandbox")
    assert code == 0 and report["counts"] == {"pulled": 16}
    code, report = run_json("reconcile", str(demo_book), "--env", "sandbox")
    assert code == 1 and report["counts"] == {"in sync": 13, "invalid in workbook": 7}  # as without a contract

    # the service spoke its own names on the wire; the workbook kept ours
    from qaas_excel.api.auth import MsalSignIn
    from qaas_excel.resources import RESOURCES

    token = MsalSignIn(signed_in, home=qaas_home).token()
    for name, resource in RESOURCES.items():
        answer = requests.get(sandbox.base_url + contract.path(resource.list_path), verify=str(sandbox.ca_file),
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 200
        body = answer.json()
        first = (body if isinstance(body, list) else body["results"])[0]
        assert set(first) == {contract.name(resource, f.name) for f in resource.fields}, name
    stored = sandbox.admin.records("chargepoint")

    # a record in the status we did not know: locked until config.toml says it allows a PATCH
    ids = rows_by_reference(demo_book, "ChargePoints", "QaaS ID")
    reference = stored[0]["customer_reference"]
    sandbox.admin.set_status("chargepoint", ids[reference], new_status)
    wb = openpyxl.load_workbook(demo_book)
    ws = wb["ChargePoints"]
    heads = [str(c.value or "").rstrip(" *") for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2) if r[heads.index("Your reference")].value == reference)
    row[heads.index("Amount (kWh)")].value = float(Decimal(str(row[heads.index("Amount (kWh)")].value)) - 1)
    wb.save(demo_book)
    code, report = run_json("push", str(demo_book), "--env", "sandbox")
    assert report["counts"] == {"locked": 1, "unchanged": 15, "invalid": 8}
    allows = contract.statuses[new_status].patch
    (qaas_home / "config.toml").write_text(
        config.replace(f"{new_status} = {{ patch = false", f"{new_status} = {{ patch = {str(allows).lower()}"),
        encoding="utf-8")
    code, report = run_json("push", str(demo_book), "--env", "sandbox")
    assert report["counts"] == ({"updated": 1, "unchanged": 15, "invalid": 8} if allows
                                else {"locked": 1, "unchanged": 15, "invalid": 8})

    # worksheet functions, through the same client
    from qaas_excel.excel import session, udfs

    session.save_settings(env="sandbox")
    udfs.cache.clear()
    try:
        stored = sandbox.admin.records("chargepoint")
        assert Decimal(str(udfs.QAAS_TOTAL())) == sum(Decimal(r["amount"]) for r in stored)
        assert udfs.QAAS_STATUS(ids[reference]) == new_status
        assert Decimal(str(udfs.QAAS_RECORD(ids[reference], "Amount (kWh)"))) == Decimal(
            next(r["amount"] for r in stored if r["id"] == ids[reference]))
        operator_id = stored[0]["chargepointoperator_id"]
        assert len(udfs.QAAS_CHARGEPOINTS(operator_id)) - 1 == sum(
            r["chargepointoperator_id"] == operator_id for r in stored)
    finally:
        session.reset_clients()
        udfs.cache.clear()
    from qaas_excel.api.client import connect

    with connect(get_environment("sandbox")) as client:  # a list filter by a renamed field
        assert {r["id"] for r in client.list(CHARGEPOINT, chargepointoperator_id=operator_id)} == {
            r["id"] for r in stored if r["chargepointoperator_id"] == operator_id}


@pytest.fixture
def faulty_variant_sandbox(qaas_home: Path, variant):
    from qaas_excel.sandbox.server import SandboxServer

    server = SandboxServer(qaas_home, port=0, db_path=qaas_home / "sandbox.sqlite3", auto_approve=True,
                           contract=variant[0], fail_rate=1.0, seed=1)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_faults_are_injected_on_the_variants_own_paths(faulty_variant_sandbox, variant, qaas_home: Path) -> None:
    from qaas_excel.api.auth import MsalSignIn
    from qaas_excel.resources import RESOURCES

    sandbox, contract = faulty_variant_sandbox, variant[0]
    signin = MsalSignIn(sandbox.environment, home=qaas_home)
    signin.login(lambda code: None, timeout=30)
    before = sum(sandbox.stats.snapshot()["faults"].values())
    for resource in RESOURCES.values():
        with contextlib.suppress(requests.RequestException):  # a dropped connection is one of the faults
            requests.get(sandbox.base_url + contract.path(resource.list_path), verify=str(sandbox.ca_file),
                         headers={"Authorization": f"Bearer {signin.token()}"}, timeout=10)
    assert sum(sandbox.stats.snapshot()["faults"].values()) - before == len(RESOURCES)  # fail rate 1: every one
