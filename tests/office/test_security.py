"""The companion treated as a server on the internet: hostile requests are refused before they do anything.

Every refusal is checked for its status and for having sent nothing to the service (the sandbox counts every
API request), written no journal and created no record.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import pytest
import requests

from qaas_excel.journal import journal_path
from tests.office.model import BookModel


@pytest.fixture
def quiet_service(sandbox, demo_book) -> Iterator[None]:
    """Asserts after the test that the service saw no request and nothing was journaled for the workbook."""
    sandbox.stats.reset()
    yield
    assert sandbox.stats.snapshot()["total"] == 0, sandbox.stats.snapshot()
    assert sandbox.admin.records("chargepoint") == []
    assert not journal_path(str(demo_book)).exists()


def _push_body(demo_book) -> dict:
    return {"command": "push", "book": BookModel.from_xlsx(demo_book).payload()}


def test_the_companion_listens_on_loopback_only(companion):
    assert companion._socket.getsockname()[0] == "127.0.0.1"
    with socket.create_connection(("127.0.0.1", companion.port), timeout=5):
        pass


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}",
                                  "localhost:1", "localhost.:{port}", "[::1]:{port}"])
def test_a_request_naming_another_host_is_refused_dns_rebinding(addin, demo_book, quiet_service, host):
    answer = addin.post("/api/run/push", _push_body(demo_book), headers={"Host": host.format(port=addin.server.port)})
    assert answer.status_code == 400
    assert "Host" in answer.json()["error"]


def test_even_the_add_in_page_is_not_served_to_another_host(addin):
    answer = addin.get("/taskpane.html", headers={"Host": "attacker.example"})
    assert answer.status_code == 400
    assert addin.secret not in answer.text


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null", "http://localhost:{port}",
                                    "https://localhost:1", "https://localhost:{port}.evil.example"])
def test_a_state_changing_request_from_another_origin_is_refused_csrf(addin, demo_book, quiet_service, origin):
    headers = {"Origin": origin.format(port=addin.server.port)} if origin else {}
    h = {"X-QaaS-Secret": addin.secret, "Content-Type": "application/json", **headers}
    answer = requests.post(addin.origin + "/api/run/push", data=json.dumps(_push_body(demo_book)), headers=h,
                           verify=addin.ca, timeout=30)
    assert answer.status_code == 403


def test_a_cross_site_fetch_is_refused_even_with_a_right_looking_origin(addin, demo_book, quiet_service):
    answer = addin.post("/api/run/push", _push_body(demo_book), headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403


@pytest.mark.parametrize("secret", [None, "", "wrong", "{secret}x", "{secret_upper}"])
def test_a_request_without_the_install_secret_is_refused(addin, demo_book, quiet_service, secret):
    headers = {"X-QaaS-Secret": secret.format(secret=addin.secret, secret_upper=addin.secret.upper())} \
        if secret is not None else {"X-QaaS-Secret": ""}
    answer = addin.post("/api/run/push", _push_body(demo_book), headers=headers)
    assert answer.status_code == 403


def test_a_plain_html_form_post_is_refused_as_not_json(addin, demo_book, quiet_service):
    answer = addin.post("/api/run/push", data="command=push", headers={"Content-Type":
                                                                       "application/x-www-form-urlencoded"})
    assert answer.status_code == 415


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_the_api_takes_post_only_and_never_grants_cors(addin, quiet_service, method):
    answer = requests.request(method, addin.origin + "/api/run/push", verify=addin.ca, timeout=30,
                              headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert answer.status_code == 405
    assert not any(k.lower().startswith("access-control-") for k in answer.headers)


def test_an_oversized_request_is_refused_by_its_declared_length(addin, quiet_service):
    answer = addin.post("/api/status", data="{" + " " * (70 * 1024) + "}")
    assert answer.status_code == 413


def test_an_oversized_request_without_a_length_is_cut_off_while_reading(addin, quiet_service):
    def chunks():
        yield b'{"calls": ['
        for _ in range(5 * 1024):
            yield b'{"id": "STATUS", "args": [1]},' * 30
        yield b"]}"

    answer = addin.post("/api/functions", data=chunks())
    assert answer.status_code == 413


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", "\"text\"", "[" * 100_000 + "]" * 100_000,
                                  '{"command": "push", "book": ' + "[" * 50_000 + "]" * 50_000 + "}"])
def test_malformed_json_is_refused(addin, quiet_service, body):
    answer = addin.post("/api/run/push", data=body)
    assert answer.status_code == 400


@pytest.mark.parametrize("book", [None, 42, {"name": "x.xlsx"}, {"name": "x.xlsx", "sheets": "ChargePoints"},
                                  {"name": "x.xlsx", "sheets": ["A"], "grids": {"B": {"values": [[1]]}}},
                                  {"name": "x.xlsx", "sheets": ["A"], "grids": {"A": {"values": [[{"x": 1}]]}}},
                                  {"name": "x.xlsx", "sheets": ["A"], "grids": {"A": {"values": [[1]], "top": -1}}}])
def test_a_workbook_in_an_unknown_shape_is_refused_with_a_message(addin, quiet_service, book):
    answer = addin.post("/api/run/push", {"command": "push", "book": book})
    assert answer.status_code == 422
    assert answer.json()["kind"] == "workbook"


def test_unknown_commands_and_paths_are_refused(addin, demo_book, quiet_service):
    assert addin.post("/api/run/delete_everything", {"command": "delete_everything"}).status_code == 400
    assert addin.post("/api/nothing-here").status_code == 404
    assert addin.get("/app/../../pyproject.toml").status_code == 404
    assert addin.get("/app/%2e%2e%2fsecurity.py").status_code == 404


def test_no_token_secret_or_workbook_content_reaches_the_log(addin, demo_book, caplog, qaas_home):
    from qaas_excel.excel import session

    caplog.set_level(logging.DEBUG)
    token = session.client().tokens.token()
    book = BookModel.from_xlsx(demo_book)
    addin.run("validate", book)
    addin.run("push", book)
    addin.post("/api/functions", {"calls": [{"id": "RECORD", "args": [1, "evse_id"]}]})
    addin.post("/api/run/push", {"command": "push", "book": {"name": "geheim-Kunde.xlsx", "sheets": ["A"],
                                                             "grids": {"A": {"values": [[{"bad": "Kundendaten"}]]}}}})
    addin.post("/api/status", headers={"X-QaaS-Secret": "not-the-secret-" + addin.secret[:8]})
    original = BookModel.from_xlsx(demo_book)
    cells = {v for name in ("Operators", "ChargePoints") for (row, _), v in original.sheets[name].items()
             if row > 1 and isinstance(v, str) and len(v) >= 6}  # the rows' own values (the header is row 1)
    assert len(cells) > 20
    text = caplog.text
    assert "refused" in text  # the hostile request was logged, as a status only
    for needle in [token, addin.secret, addin.secret[:8], "Kundendaten", "geheim-Kunde", *cells]:
        assert needle not in text, needle
