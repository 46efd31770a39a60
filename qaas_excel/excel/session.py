"""Which environment and account Excel works with, and one long-lived API client per pair.

The ribbon's Environment/Account choice is stored in the state directory (``excel.json``), so
macros and worksheet functions in every Excel session agree on it.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from qaas_excel.api.auth import MsalSignIn, TokenProvider, token_provider
from qaas_excel.api.client import QaasClient
from qaas_excel.audit import AuditLog
from qaas_excel.config import Environment, get_environment, state_dir
from qaas_excel.config_files import write_private_text

SETTINGS_FILE = "excel.json"

_lock = threading.Lock()
_clients: dict[tuple[str, str | None], QaasClient] = {}


def settings() -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads((state_dir() / SETTINGS_FILE).read_text(encoding="utf-8"))
        return found
    except (OSError, ValueError):
        return {}


def save_settings(*, env: str | None = None, account: str | None = None) -> dict[str, Any]:
    data = settings()
    if env is not None:
        data["env"] = env
    if account is not None:
        data["account"] = account or None
    write_private_text(state_dir() / SETTINGS_FILE, json.dumps(data, indent=2))
    reset_clients()
    return data


def environment() -> Environment:
    return get_environment(settings().get("env"))


def account() -> str | None:
    return settings().get("account")


def sign_in_for(env: Environment | None = None) -> MsalSignIn:
    return MsalSignIn(env or environment(), account=account())


def client() -> QaasClient:
    """The shared client of the chosen environment/account (raises SignInRequired lazily, on first use)."""
    env = environment()
    key = (f"{env.name}|{env.base_url}|{env.contract!r}", account())  # a changed contract gets a new client
    with _lock:
        existing = _clients.get(key)
        if existing is None:
            tokens: TokenProvider = token_provider(env, account=account())
            existing = _clients[key] = QaasClient(env, tokens, audit=AuditLog())
        return existing


def reset_clients() -> None:
    """Forget clients (after sign-in/out or a change of environment)."""
    with _lock:
        for c in _clients.values():
            c.close()
        _clients.clear()
