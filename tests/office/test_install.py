"""`addin install --office` and `uninstall --office` on each platform's terms, with the outside world recorded:
the certificate store commands the OS prompts for, the per-user registry values, Excel's wef folder, login items."""

from __future__ import annotations

import datetime as dt
import plistlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from qaas_excel.office import ADDIN_ID, certs
from qaas_excel.office import settings as office_settings
from qaas_excel.office.install import RUN_KEY, WEF_DEVELOPER_KEY, Effects, install, uninstall


class FakeRegistry:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def set(self, key: str, name: str, value: str) -> None:
        self.values[(key, name)] = value

    def delete(self, key: str, name: str) -> None:
        self.values.pop((key, name), None)


class Recorded(Effects):
    def __init__(self, platform: str, home: Path, *, tools: tuple[str, ...] = ()) -> None:
        super().__init__(platform=platform, home=home, python="/opt/py/bin/python3", registry=FakeRegistry())
        self.commands: list[list[str]] = []
        self.tools = tools

    def run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        self.commands.append(args)
        return subprocess.CompletedProcess(args, 0, "", "")

    def which(self, program: str) -> str | None:
        return f"/usr/bin/{program}" if program in self.tools else None


def test_windows_trusts_the_ca_for_the_user_sideloads_per_user_and_starts_at_login(qaas_home, tmp_path):
    fx = Recorded("win32", tmp_path / "home")
    lines = install(effects=fx)
    settings = office_settings.load()
    ca = str(settings.tls_dir / certs.CA_FILE)
    assert fx.commands == [["certutil", "-user", "-addstore", "Root", ca]]  # -user: no admin; Windows asks
    assert fx.registry.values[(WEF_DEVELOPER_KEY, ADDIN_ID)] == str(settings.manifest_path)
    assert "serve" in fx.registry.values[(RUN_KEY, "qaas-excel companion")]
    assert settings.manifest_path.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert any("Windows asks you to confirm" in line for line in lines)
    assert any("Upload My Add-in" in line for line in lines)

    sha1 = certs.paths(settings.tls_dir).ca_sha1
    fx.commands.clear()
    uninstall(effects=fx)
    assert fx.commands == [["certutil", "-user", "-delstore", "Root", sha1]]
    assert fx.registry.values == {}
    assert not settings.manifest_path.exists() and not settings.tls_dir.exists()


def test_macos_trusts_in_the_login_keychain_copies_into_wef_and_adds_a_launch_agent(qaas_home, tmp_path):
    home = tmp_path / "home"
    fx = Recorded("darwin", home)
    install(effects=fx)
    assert fx.commands[0][:6] == ["security", "add-trusted-cert", "-r", "trustRoot", "-p", "ssl"]
    assert fx.commands[0][7] == str(home / "Library/Keychains/login.keychain-db")
    wef = home / "Library/Containers/com.microsoft.Excel/Data/Documents/wef" / f"{ADDIN_ID}.manifest.xml"
    assert wef.read_bytes() == office_settings.load().manifest_path.read_bytes()
    agent = plistlib.loads((home / "Library/LaunchAgents/com.qaas-excel.companion.plist").read_bytes())
    assert agent["ProgramArguments"] == ["/opt/py/bin/python3", "-m", "qaas_excel", "serve"]
    assert agent["RunAtLoad"] is True
    uninstall(effects=fx)
    assert not wef.exists() and not (home / "Library/LaunchAgents/com.qaas-excel.companion.plist").exists()
    assert fx.commands[-1][:3] == ["security", "delete-certificate", "-Z"]


def test_a_second_install_keeps_the_trusted_ca_and_makes_a_new_secret(qaas_home, tmp_path):
    fx = Recorded("win32", tmp_path / "home")
    install(effects=fx)
    secret = office_settings.load().secret
    fx.commands.clear()
    lines = install(effects=fx)
    assert fx.commands == []  # no second prompt
    assert any("trusted already" in line for line in lines)
    assert office_settings.load().secret != secret


def test_linux_uses_the_browsers_nss_store_when_certutil_is_there_and_says_so_when_not(qaas_home, tmp_path):
    fx = Recorded("linux", tmp_path / "home", tools=("certutil",))
    install(effects=fx, start_at_login=False)
    assert fx.commands[0][:3] == ["certutil", "-d", f"sql:{tmp_path / 'home' / '.pki' / 'nssdb'}"]
    assert not (tmp_path / "home" / ".config/autostart/qaas-excel-companion.desktop").exists()
    fx2 = Recorded("linux", tmp_path / "home2")
    uninstall(effects=fx2)
    lines = install(effects=fx2)
    assert fx2.commands == [] and any("no certutil" in line for line in lines)
    assert (tmp_path / "home2" / ".config/autostart/qaas-excel-companion.desktop").exists()


def test_the_local_ca_can_vouch_for_localhost_only_and_its_key_is_nowhere(tmp_path):
    files = certs.create(tmp_path / "tls")
    ca = files.ca()
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert [str(n.value) for n in constraints.value.permitted_subtrees] == ["localhost", "127.0.0.1/32"]
    assert sorted(p.name for p in (tmp_path / "tls").iterdir()) == ["ca.pem", "localhost-key.pem", "localhost.pem"]
    assert b"PRIVATE KEY" not in files.ca_file.read_bytes() and b"PRIVATE KEY" not in files.cert_file.read_bytes()
    leaf = files.certificate()
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days <= 825
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert (files.key_file.stat().st_mode & 0o077) == 0
    # (every companion test talks TLS to https://localhost:PORT trusting only this CA: tests/office/conftest.py)


def test_certificates_are_renewed_before_they_expire_and_kept_otherwise(tmp_path):
    files, made = certs.ensure(tmp_path / "tls")
    assert made
    same, made_again = certs.ensure(tmp_path / "tls")
    assert not made_again and same.ca_sha1 == files.ca_sha1
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=certs.CERT_DAYS - 10)
    assert not certs.usable(files, now=soon)


@pytest.mark.parametrize("args", [["addin", "uninstall"]])
def test_uninstall_without_office_says_what_it_removes(args: list[str], qaas_home: Any):
    from typer.testing import CliRunner

    from qaas_excel.cli import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "--office" in result.output


def test_the_command_line_installs_for_the_user_and_says_what_to_do_in_excel_on_the_web(qaas_home, tmp_path,
                                                                                        monkeypatch):
    from typer.testing import CliRunner

    from qaas_excel.cli import app

    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))
    monkeypatch.setattr("qaas_excel.office.install.shutil.which", lambda program: None)
    monkeypatch.setattr("qaas_excel.office.install.sys.platform", "linux")
    result = CliRunner().invoke(app, ["addin", "install", "--office", "--port", "45001", "--no-start-at-login"])
    assert result.exit_code == 0, result.output
    settings = office_settings.load()
    assert settings.port == 45001 and settings.manifest_path.exists()
    assert "https://localhost:45001/taskpane.html" in settings.manifest_path.read_text(encoding="utf-8")
    assert "Upload My Add-in" in result.output and "qaas-excel serve" in result.output


def test_serve_without_the_office_extra_says_how_to_install_it(qaas_home, monkeypatch):
    from typer.testing import CliRunner

    from qaas_excel.cli import app

    monkeypatch.setattr("qaas_excel.office.missing_modules", lambda: ["fastapi"])
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert 'pip install "qaas-excel[office]"' in result.output
