"""Every setting that names a file is checked when a command starts: a clear error naming the setting's file and
line (exit 2, no traceback), and doctor's TLS trust check says ✗ for it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app

runner = CliRunner()
README_EXAMPLE = "C:/Users/me/corporate-root.pem"  # the README's own example path, on no machine here


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def corp_environment(home: Path, ca_bundle: str) -> None:
    """An environment with its own CA file on line 4 of config.toml, on a port where nothing listens."""
    (home / "config.toml").write_text(
        "# our proxy inspects TLS\n"
        "[environments.corp]\n"
        'base_url = "https://127.0.0.1:9"\n'
        f"ca_bundle = {json.dumps(ca_bundle)}\n"
        'authority = "https://127.0.0.1:9/tenant"\n', encoding="utf-8")


@pytest.mark.parametrize("command", [["login", "--timeout", "2"], ["whoami"], ["operators", "list"],
                                     ["push", "book.xlsx"]])
def test_a_missing_ca_bundle_stops_every_command_with_the_file_and_line(qaas_home: Path, command) -> None:
    corp_environment(qaas_home, README_EXAMPLE)
    result = cli(*command, "--env", "corp")
    assert result.exit_code == 2, result.stderr
    assert f"{qaas_home / 'config.toml'} line 4: ca_bundle names {README_EXAMPLE}, which does not exist" \
        in result.stderr
    assert "Traceback" not in result.stderr and "Unexpected error" not in result.stderr


@pytest.mark.parametrize(("content", "why"), [
    (None, "is a folder, not a file"),
    (b"", "holds no certificate in PEM form"),
    (b"\x30\x82\x01\x0a binary DER", "holds no certificate in PEM form"),
    (b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", "cannot be loaded as certificates"),
])
def test_a_ca_bundle_that_is_no_pem_file_is_named(qaas_home: Path, tmp_path: Path, content, why) -> None:
    path = tmp_path / "corporate-root.pem"
    path.mkdir() if content is None else path.write_bytes(content)
    corp_environment(qaas_home, str(path))
    result = cli("whoami", "--env", "corp", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "config" and why in error["message"] and "line 4" in error["message"]


def test_doctor_reports_a_missing_ca_bundle_as_a_failure(qaas_home: Path) -> None:
    corp_environment(qaas_home, README_EXAMPLE)
    result = cli("doctor", "--env", "corp", "--timeout", "0.5")
    trust = [line for line in result.stdout.splitlines() if "TLS trust" in line]
    assert trust == [f"✗ TLS trust: ca_bundle names {README_EXAMPLE}, which does not exist"], result.stdout
    assert f"{qaas_home / 'config.toml'} line 4" in result.stdout
    assert result.exit_code != 0 and "Traceback" not in result.stdout + result.stderr
    report = json.loads(cli("doctor", "--env", "corp", "--timeout", "0.5", "--json").stdout)
    [check] = [c for c in report["checks"] if c["title"] == "TLS trust"]
    assert check["status"] == "fail" and check["details"]["ca_bundle"] == README_EXAMPLE


def test_a_missing_sandbox_ca_file_is_named_with_the_file_that_records_it(signed_in, qaas_home: Path,
                                                                          demo_book: Path) -> None:
    ca = Path(signed_in.ca_bundle)
    ca.unlink()
    for command in (["push", str(demo_book)], ["operators", "list"]):
        result = cli(*command, "--env", "sandbox")
        assert result.exit_code == 2, result.stderr
        assert f"{qaas_home / 'sandbox.json'} (sandbox): the sandbox's CA file names {ca}, which does not exist" \
            in result.stderr
        assert "qaas-excel sandbox serve" in result.stderr and "Traceback" not in result.stderr
    doctor = cli("doctor", "--env", "sandbox", "--timeout", "1")
    assert f"✗ TLS trust: the sandbox's CA file names {ca}, which does not exist" in doctor.stdout


def test_an_unreadable_sandbox_ca_file_is_named(signed_in, qaas_home: Path) -> None:
    ca = Path(signed_in.ca_bundle)
    ca.unlink()
    ca.mkdir()  # not readable as a file (the tests run as root, whom permissions do not stop)
    result = cli("operators", "list", "--env", "sandbox", "--json")
    assert result.exit_code == 2
    assert "the sandbox's CA file" in json.loads(result.stdout)["error"]["message"]
    shutil.rmtree(ca)


def test_a_missing_requests_ca_bundle_is_named(qaas_home: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "gone.pem"))
    result = cli("whoami", "--env", "production")
    assert result.exit_code == 2
    assert f"the environment variable REQUESTS_CA_BUNDLE: REQUESTS_CA_BUNDLE names {tmp_path / 'gone.pem'}, which " \
           "does not exist" in result.stderr


def test_a_working_ca_bundle_passes(signed_in, qaas_home: Path) -> None:
    corp = signed_in  # the sandbox's own CA file, named in config.toml as a corporate root would be
    (qaas_home / "config.toml").write_text(f'[environments.sandbox]\nca_bundle = {json.dumps(corp.ca_bundle)}\n',
                                           encoding="utf-8")
    result = cli("operators", "list", "--env", "sandbox")
    assert result.exit_code == 0, result.stderr
