"""`qaas-excel doctor` through the CLI against a real sandbox: one line per check, the documented exit codes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import trustme
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.sandbox import OUTSIDER_USER
from tests.doctor.test_openapi_diff import variant

runner = CliRunner()


def doctor(*args: str):
    return runner.invoke(app, ["doctor", *args], catch_exceptions=False)


def doctor_json(*args: str) -> tuple[int, dict]:
    result = doctor(*args, "--json")
    return result.exit_code, json.loads(result.stdout)


def by_title(report: dict) -> dict[str, dict]:
    return {c["title"]: c for c in report["checks"]}


def test_everything_fine_exits_0_and_finds_the_document_through_the_api_page(signed_in) -> None:
    result = doctor("--env", "sandbox")
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[-1] == "All checks passed."
    assert any(line.startswith("✓ Network to the sign-in and API host: 127.0.0.1") and "TLS" in line
               for line in lines)
    code, report = doctor_json("--env", "sandbox")
    checks = by_title(report)
    assert code == 0 and report["problems"] == 0
    contract = checks["Contract"]
    assert contract["status"] == "ok"
    assert contract["details"]["found_via"] == "the API page's Swagger UI"
    assert contract["details"]["document_url"].endswith("/api/schema/v1/qaas.json")
    assert checks["Access token"]["details"]["audience"] == signed_in.client_id
    assert checks["Account demo@qaas-sandbox.test"]["details"]["days_left"] > 89
    assert checks["Access (GET /chargepointoperators)"]["details"]["status"] == 204
    assert abs(checks["Clock"]["details"]["skew_s"]) < 60


def test_not_signed_in_exits_3_and_says_how_to_sign_in(sandbox) -> None:
    result = doctor("--env", "sandbox")
    assert result.exit_code == 3
    assert "✗ Accounts: nobody is signed in to sandbox" in result.stdout
    assert "fix: run `qaas-excel login --env sandbox`" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 problem:")
    _, report = doctor_json("--env", "sandbox")
    contract = by_title(report)["Contract"]  # the document asks for a token: said, not a failure
    assert contract["status"] == "warn" and "asks for sign-in" in contract["summary"]


def test_an_account_the_service_does_not_know_is_explained(sandbox, qaas_home: Path) -> None:
    from qaas_excel.api.auth import MsalSignIn

    sandbox.identity.auto_approve_user = OUTSIDER_USER
    MsalSignIn(sandbox.environment, home=qaas_home).login(lambda code: None, timeout=30)
    code, report = doctor_json("--env", "sandbox")
    access = by_title(report)["Access (GET /chargepointoperators)"]
    assert code == 3
    assert access["status"] == "fail" and access["summary"].startswith("403")
    assert "not registered as a QaaS customer" in access["cause"]


@pytest.mark.parametrize("sandbox", [{"openapi_transform": variant}], indirect=True)
def test_a_service_that_differs_exits_1_with_every_difference(signed_in) -> None:
    result = doctor("--env", "sandbox")
    assert result.exit_code == 1
    assert "The service calls `amount` `amount_kwh` (charge point record)." in result.stdout
    assert "Status `in_review` is unknown to this tool: rows in it are treated as locked." in result.stdout
    code, report = doctor_json("--env", "sandbox")
    differences = by_title(report)["Contract"]["details"]["differences"]
    assert code == 1
    assert {(d["kind"], d["field"]) for d in differences} == {
        ("renamed_field", "amount"), ("unknown_status", "status"), ("max_length", "customer_reference"),
        ("new_required_field", "vat_id"), ("type", "commissioning_date")}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_service_exits_4_and_skips_what_depends_on_it(qaas_home: Path) -> None:
    port = _closed_port()
    (qaas_home / "config.toml").write_text(
        f'[environments.offline]\nbase_url = "https://127.0.0.1:{port}"\n'
        f'authority = "https://127.0.0.1:{port}/tenant"\n', encoding="utf-8")
    result = doctor("--env", "offline", "--timeout", "1")
    assert result.exit_code == 4
    assert f"✗ Network to the sign-in and API host: no connection to 127.0.0.1:{port} (no proxy): connection " \
           "refused" in result.stdout
    assert "! Contract: not checked: the API host cannot be reached" in result.stdout


def test_a_certificate_nobody_trusts_is_explained_with_its_issuer(sandbox, qaas_home: Path, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA(organization_name="Some Other CA").cert_pem.write_to_path(str(other_ca))
    (qaas_home / "config.toml").write_text(
        f'[environments.inspected]\nbase_url = "{sandbox.base_url}"\nauthority = "{sandbox.authority}"\n'
        f'ca_bundle = "{other_ca.as_posix()}"\n', encoding="utf-8")
    code, report = doctor_json("--env", "inspected", "--timeout", "2")
    network = by_title(report)["Network to the sign-in and API host"]
    assert code == 4
    assert network["details"]["presented_issuer"].endswith("qaas-excel sandbox CA")
    assert "issued by" in network["summary"] and "qaas-excel sandbox CA" in network["fix"]


def test_verbose_shows_the_details(signed_in) -> None:
    result = doctor("--env", "sandbox", "-v")
    assert result.exit_code == 0
    assert "    tls_version: TLSv1." in result.stdout
    assert "    found_via: the API page's Swagger UI" in result.stdout


def test_accounts_are_listed_from_the_cache_even_when_the_hosts_cannot_be_reached(signed_in, qaas_home: Path) -> None:
    import shutil

    port = _closed_port()
    shutil.copy(qaas_home / "token_cache.sandbox.bin", qaas_home / "token_cache.offline.bin")
    (qaas_home / "config.toml").write_text(
        f'[environments.offline]\nbase_url = "https://127.0.0.1:{port}"\n'
        f'authority = "https://127.0.0.1:{port}/tenant"\n', encoding="utf-8")
    code, report = doctor_json("--env", "offline", "--timeout", "1")
    checks = by_title(report)
    assert code == 4
    assert checks["Account demo@qaas-sandbox.test"]["status"] == "ok"
    assert checks["Account demo@qaas-sandbox.test"]["details"]["days_left"] > 89
    assert "Access token" not in checks  # no token is fetched from a host that cannot be reached
