"""The server itself: real TLS on loopback only, its record in the home dir, persistence, seed data."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import ssl
import stat
from pathlib import Path

import pytest
import requests

from qaas_excel.config import CLIENT_ID, TENANT_ID, sandbox_environment
from qaas_excel.resources import CHARGEPOINT, OPERATOR, Status
from qaas_excel.sandbox import DEFAULT_USER, TEST_ACCOUNT_USER
from qaas_excel.sandbox.api import validate_record
from qaas_excel.sandbox.server import SandboxServer
from tests.sandbox.conftest import Caller, example_body


def test_https_with_the_sandbox_ca_on_loopback_only(sandbox) -> None:
    host, port = sandbox._socket.getsockname()
    assert host == "127.0.0.1" and sandbox.base_url == f"https://127.0.0.1:{port}"
    # the system bundle (REQUESTS_CA_BUNDLE on CI) does not trust the sandbox: the TLS is real
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(sandbox.base_url + OPERATOR.list_path, timeout=5, verify=True)
    context = ssl.create_default_context(cafile=str(sandbox.ca_file))
    for name in ("127.0.0.1", "localhost"):  # the certificate names both
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=name) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with pytest.raises(requests.exceptions.ConnectionError):  # no plain HTTP on the port
        requests.get(f"http://127.0.0.1:{port}{OPERATOR.list_path}", timeout=5)
    with pytest.raises(OSError):  # bound to 127.0.0.1, not to every address (127.0.0.2 is loopback too)
        socket.create_connection(("127.0.0.2", port), timeout=2).close()


def test_start_writes_sandbox_json_and_stop_removes_it(qaas_home: Path) -> None:
    server = SandboxServer(qaas_home, port=0).start()
    try:
        info = json.loads((qaas_home / "sandbox.json").read_text(encoding="utf-8"))
        assert info == {"base_url": server.base_url, "authority": f"{server.base_url}/{TENANT_ID}",
                        "client_id": CLIENT_ID, "ca_file": str(server.ca_file), "admin_token": server.admin_token}
        assert stat.S_IMODE((qaas_home / "sandbox.json").stat().st_mode) & 0o077 == 0  # it holds the admin token
        assert server.ca_file.parent == qaas_home and server.ca_file.read_text().startswith("-----BEGIN CERTIFICATE")
        env = sandbox_environment(qaas_home)
        assert env == server.environment and env.name == "sandbox" and env.admin_token == server.admin_token
        assert (qaas_home / "sandbox.sqlite3").exists()
    finally:
        server.stop()
    assert not (qaas_home / "sandbox.json").exists()


def test_records_and_issued_tokens_survive_a_restart_with_the_same_database(tmp_path: Path) -> None:
    db = tmp_path / "kept.sqlite3"
    with SandboxServer(tmp_path / "first", port=0, db_path=db) as first:
        caller = Caller(first)
        op = caller.create_operator()
        cp = caller.create_charge_point(op["id"], amount="9876543.211", max_power_kw="1500")
        refresh = first.identity.issue(DEFAULT_USER, CLIENT_ID)["refresh_token"]
        token = caller.token
    with SandboxServer(tmp_path / "second", port=0, db_path=db) as second:
        again = Caller(second)
        answer = again("GET", CHARGEPOINT.item_url_path(cp["id"]), token=token)  # issued before the restart
        assert answer.status_code == 200 and answer.json() == cp and answer.json()["amount"] == "9876543.211"
        renewed = requests.post(f"{second.authority}/oauth2/v2.0/token", verify=str(second.ca_file), timeout=10,
                                data={"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": refresh})
        assert renewed.status_code == 200 and renewed.json()["access_token"]
        newer = again.create_operator(customer_reference="AFTER")
        assert newer["id"] > op["id"]  # ids are never handed out twice
    with contextlib.closing(sqlite3.connect(db)) as conn:  # amounts are exact text in the database, never REAL
        assert conn.execute("SELECT count(*) FROM records WHERE json_extract(data, '$.amount') = '9876543.211'"
                            ).fetchone() == (1,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize("sandbox", [{"seed_demo_data": True}], indirect=True)
def test_demo_data_for_the_default_account_only(sandbox, as_user, qaas_home: Path, tmp_path: Path) -> None:
    points = as_user(DEFAULT_USER)("GET", CHARGEPOINT.list_path).json()
    assert all(validate_record(CHARGEPOINT, p, partial=False)[1] == {} for p in points)  # valid by the API's rules
    SandboxServer(tmp_path / "again", port=0, db_path=qaas_home / "sandbox.sqlite3", seed_demo_data=True).stop()
    assert len(as_user(DEFAULT_USER)("GET", CHARGEPOINT.list_path).json()) == len(points)  # seeded once only
    assert {Status.SENT_TO_UBA, Status.ACCEPTED_BY_UBA, Status.CREATED} <= {p["status"] for p in points}
    operators = as_user(DEFAULT_USER)("GET", OPERATOR.list_path).json()
    assert {p["chargepointoperator_id"] for p in points} <= {o["id"] for o in operators}
    assert as_user(TEST_ACCOUNT_USER)("GET", OPERATOR.list_path).status_code == 204
    frozen = next(p for p in points if p["status"] == Status.SENT_TO_UBA)
    answer = as_user(DEFAULT_USER)("PATCH", CHARGEPOINT.item_url_path(frozen["id"]), json={"amount": "1"})
    assert answer.status_code == 422
    editable = next(p for p in points if p["status"] == Status.CREATED)
    body = example_body(CHARGEPOINT, **{k: editable[k] for k in ("chargepointoperator_id", "max_power_kw")})
    assert as_user(DEFAULT_USER)("POST", CHARGEPOINT.create_path, json=body).status_code == 201
