"""Environments: production values from the FAQ, sandbox discovery, overrides, and the HTTPS rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qaas_excel.api.http import VerifyingSession
from qaas_excel.config import Environment, check_base_url, get_environment, state_dir
from qaas_excel.config_files import ConfigError


def test_state_dir_follows_qaas_home(qaas_home: Path) -> None:
    assert state_dir() == qaas_home


def test_production_is_the_default_with_the_faq_values(qaas_home: Path) -> None:
    env = get_environment()
    assert env.name == "production"
    assert env.base_url == "https://qaas-chargingpoints.azurewebsites.net"
    assert env.authority.endswith("/f7731598-1da9-4b5f-a888-ceaf1d14fae0")
    assert env.scopes == ["446782de-6e26-457a-a4b0-1f7cabfad2fd/user_impersonation"]
    assert env.verify is True


@pytest.mark.parametrize("url", ["http://qaas.example.com", "http://10.0.0.5:8000", "ftp://127.0.0.1"])
def test_plain_http_off_loopback_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="https"):
        check_base_url(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:80", "https://x.test"])
def test_https_anywhere_and_http_on_loopback_are_allowed(url: str) -> None:
    assert check_base_url(url) == url


def test_config_file_overrides_and_defines_environments(qaas_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (qaas_home / "config.toml").write_text(
        'default_env = "staging"\n'
        '[environments.staging]\nbase_url = "https://staging.example.test"\n'
        'authority = "https://login.example.test/tenant"\n'
        '[environments.production]\nbase_url = "https://prod-mirror.example.test"\n',
        encoding="utf-8")
    assert get_environment().base_url == "https://staging.example.test"
    assert get_environment("production").base_url == "https://prod-mirror.example.test"
    monkeypatch.setenv("QAAS_ENV", "production")
    assert get_environment().name == "production"


def test_config_with_an_insecure_url_is_refused(qaas_home: Path) -> None:
    (qaas_home / "config.toml").write_text('[environments.production]\nbase_url = "http://evil.example"\n')
    with pytest.raises(ConfigError, match="https"):
        get_environment("production")


def test_sandbox_environment_comes_from_the_running_sandbox_file(qaas_home: Path) -> None:
    with pytest.raises(ConfigError, match="sandbox serve"):
        get_environment("sandbox")
    (qaas_home / "sandbox.json").write_text(json.dumps({
        "base_url": "https://127.0.0.1:9999", "authority": "https://127.0.0.1:9999/tenant",
        "ca_file": str(qaas_home / "ca.pem"), "admin_token": "s3cret"}))
    env = get_environment("sandbox", check_files=False)  # no CA file here (tests/api/test_setting_files.py)
    assert env.base_url == "https://127.0.0.1:9999" and env.verify == str(qaas_home / "ca.pem")


def test_tls_verification_cannot_be_switched_off() -> None:
    with pytest.raises(ValueError, match="cannot be turned off"):
        VerifyingSession(False)
    session = VerifyingSession(True)
    with pytest.raises(ValueError, match="cannot be turned off"):
        session.get("https://127.0.0.1:1", verify=False)
    with pytest.raises(ConfigError):
        Environment(name="x", base_url="https://a.test", authority="http://login.test/t")
