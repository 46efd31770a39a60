"""HTTPS_PROXY / NO_PROXY apply to sign-in and API alike (one session), proven through a real forward proxy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qaas_excel.api.auth import MsalSignIn
from qaas_excel.api.http import VerifyingSession
from qaas_excel.cli import app
from tests.network.conftest import closed_port, use_proxy

runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_sign_in_push_and_pull_go_through_the_proxy(sandbox, qaas_home: Path, forward_proxy, demo_book: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    use_proxy(monkeypatch, forward_proxy.url)
    with VerifyingSession(sandbox.environment.verify) as session:  # the proxy logs a tunnel once it is closed
        MsalSignIn(sandbox.environment, home=qaas_home, session=session).login(lambda code: None, timeout=30)
    after_sign_in = forward_proxy.tunnels_to(sandbox.port)
    assert after_sign_in >= 1  # nothing but the sign-in has talked to the sandbox yet
    pushed = cli("push", str(demo_book), "--env", "sandbox", "--json")
    assert pushed.exit_code == 1, pushed.output  # the demo has invalid rows
    assert json.loads(pushed.stdout)["counts"] == {"created": 16, "invalid": 8}
    pulled = cli("pull", str(demo_book), "--env", "sandbox", "--json")
    assert pulled.exit_code == 0, pulled.output
    assert json.loads(pulled.stdout)["counts"] == {"pulled": 16}
    assert forward_proxy.tunnels_to(sandbox.port, more_than=after_sign_in) > after_sign_in


def test_doctor_reports_the_proxy_and_reaches_everything_through_it(signed_in, forward_proxy,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    use_proxy(monkeypatch, forward_proxy.url)
    result = cli("doctor", "--env", "sandbox", "--json")
    report = json.loads(result.stdout)
    network = next(c for c in report["checks"] if c["check"] == "network")
    assert result.exit_code == 0, result.stdout
    assert network["status"] == "ok" and network["details"]["proxy"] == forward_proxy.url
    assert f"through the proxy {forward_proxy.url}" in network["summary"]


def test_a_wrong_proxy_is_named_in_one_line_by_doctor_and_by_commands(signed_in, demo_book: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = f"http://127.0.0.1:{closed_port()}"
    use_proxy(monkeypatch, wrong)
    doctor = cli("doctor", "--env", "sandbox", "--timeout", "2")
    assert doctor.exit_code == 4
    assert [line for line in doctor.stdout.splitlines() if line.startswith("✗ Network")] == [
        f"✗ Network to the sign-in and API host: no connection to 127.0.0.1:{signed_in.base_url.rsplit(':', 1)[1]} "
        f"through the proxy {wrong}: connection refused"]
    expected = f"through the proxy {wrong} (HTTPS_PROXY): the proxy refused the connection"
    for command in (["operators", "list"], ["login", "--timeout", "5"], ["push", str(demo_book)]):
        result = cli(*command, "--env", "sandbox")
        assert result.exit_code == 4, (command, result.output)
        lines = [line for line in result.stderr.splitlines() if expected in line]
        assert len(lines) == 1, (command, result.stderr)
        assert "Check HTTPS_PROXY and NO_PROXY" in lines[0]


def test_no_proxy_exempts_the_hosts_it_names_for_sign_in_and_api(sandbox, qaas_home: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    use_proxy(monkeypatch, f"http://127.0.0.1:{closed_port()}", no_proxy="127.0.0.1")
    MsalSignIn(sandbox.environment, home=qaas_home).login(lambda code: None, timeout=30)
    result = cli("operators", "list", "--env", "sandbox", "--json")
    assert result.exit_code == 0, result.output


def test_the_command_trusts_the_os_store_from_its_start_and_still_the_sandbox_ca(signed_in, qaas_home: Path) -> None:
    """The real program (not the test runner's in-process app): truststore injected in main(), and the
    sandbox's own CA (its ca_bundle) still verifies, with REQUESTS_CA_BUNDLE set as on CI or not."""
    import os
    import subprocess
    import sys

    project = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QAAS_HOME": str(qaas_home), "PYTHONPATH": str(project)}
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "qaas_excel", "doctor", "--env", "sandbox", "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    report = json.loads(done.stdout)
    checks = {c["title"]: c for c in report["checks"]}
    assert done.returncode == 0, done.stdout + done.stderr
    assert checks["TLS trust"]["details"]["trust"] == "os"
    assert checks["Access (GET /chargepointoperators)"]["status"] == "ok"


def test_the_environment_s_proxy_settings_are_read_once_per_host_not_per_request(
        client, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests reads all of os.environ two or three times per request when left to itself: in a 600-row push that
    was more CPU than TLS. The session asks once per host and keeps the answer."""
    import requests

    from qaas_excel.resources import OPERATOR

    asked: list[str] = []
    real = requests.utils.get_environ_proxies

    def counting(url: str, no_proxy: str | None = None) -> dict[str, str]:
        asked.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.utils, "get_environ_proxies", counting)
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting, raising=False)
    for _ in range(20):
        client.list(OPERATOR)
    assert len(asked) <= 1, asked


def test_a_ca_file_named_for_every_python_program_still_verifies_where_no_other_is_given(
        sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """REQUESTS_CA_BUNDLE (the README's way to trust a corporate root for every Python program) is read once when the
    session is made, as requests read it per request: the environment is no longer merged on every request."""
    import requests

    from qaas_excel.sandbox.docs import DOCUMENT_PATH

    url = sandbox.environment.base_url.rstrip("/") + DOCUMENT_PATH
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sandbox.ca_file))
    assert VerifyingSession(True).get(url).status_code == 401  # TLS verified: the sandbox itself answers (no token)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(requests.exceptions.SSLError):
        VerifyingSession(True).get(url)
