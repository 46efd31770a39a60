"""Sign-in with Microsoft Entra ID's device-code flow through msal, and silent refresh.

One human login per account; after that every process (CLI, Excel, server jobs) gets
tokens silently from the persisted msal cache until the refresh token lapses (90 days
after its last use). ``QAAS_ACCESS_TOKEN`` lets automation bring its own token.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import msal
import msal_extensions
import requests

from qaas_excel.api.errors import ProxyFailedError, SignInRequired, UnreachableError
from qaas_excel.api.http import VerifyingSession, describe_proxy_error
from qaas_excel.config import Environment, is_loopback, state_dir
from qaas_excel.config_files import private_dir, write_private_text

log = logging.getLogger(__name__)

ACCOUNTS_FILE = "accounts.json"  # default account per environment
PLAINTEXT_NOTICE_FILE = ".token-cache-plaintext-noticed"
# Refresh a cached access token this long before it expires, so a request never carries a dying one.
EXPIRY_MARGIN_S = 60


class TokenProvider(Protocol):
    """Gives the access token for API calls."""

    @property
    def username(self) -> str | None: ...

    def token(self, *, force_refresh: bool = False) -> str: ...


@dataclass(frozen=True)
class DeviceCode:
    """What the user needs to finish signing in on another device."""

    user_code: str
    verification_uri: str
    message: str
    expires_in: int


class StaticToken:
    """A token handed in from outside (``QAAS_ACCESS_TOKEN``); used as-is, never refreshed."""

    def __init__(self, access_token: str) -> None:
        self._token = access_token.strip()
        self.username = token_claims(self._token).get("preferred_username")

    def token(self, *, force_refresh: bool = False) -> str:
        if force_refresh:
            raise SignInRequired(
                "The token in QAAS_ACCESS_TOKEN was rejected or has expired; provide a fresh one "
                "or unset QAAS_ACCESS_TOKEN and sign in with `qaas-excel login`."
            )
        return self._token


@contextmanager
def reachable(env: Environment) -> Iterator[None]:
    """msal talks HTTP itself: a network failure there is 'unreachable', not a crash."""
    try:
        yield
    except requests.exceptions.ProxyError as exc:
        url = env.authority
        raise ProxyFailedError(describe_proxy_error(exc, url) or str(exc), url=url, sent=False) from None
    except requests.RequestException as exc:
        raise UnreachableError(f"Cannot reach the sign-in service {env.authority} ({type(exc).__name__}).") from None


def token_claims(access_token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified: only for showing who is signed in (the service verifies). PyJWT is imported
    here, not above: it loads ``cryptography``'s X.509 modules, 8 MiB that a push signed in through msal never uses."""
    import jwt

    try:
        return jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}


def build_token_cache(path: Path) -> msal_extensions.PersistedTokenCache:
    """The msal cache, encrypted where the OS offers it; else a file readable only by its owner."""
    private_dir(path.parent)
    persistence: msal_extensions.persistence.BasePersistence
    try:
        persistence = msal_extensions.build_encrypted_persistence(str(path))
    except Exception as exc:  # no keyring (servers, containers): libsecret/keychain unavailable
        log.debug("encrypted token cache unavailable: %s", exc)
        persistence = msal_extensions.FilePersistence(str(path))
        if path.exists() and sys.platform != "win32":
            os.chmod(path, 0o600)
        _notice_plaintext_once(path)
    return msal_extensions.PersistedTokenCache(persistence)


def _notice_plaintext_once(path: Path) -> None:
    marker = path.parent / PLAINTEXT_NOTICE_FILE
    if marker.exists():
        return
    print(
        f"Note: this system offers no keyring, so the sign-in cache {path} is stored unencrypted, "
        "readable only by your user account (mode 600).",
        file=sys.stderr,
    )
    write_private_text(marker, "")


class MsalSignIn:
    """Device-code sign-in and silent tokens for one environment, several accounts side by side."""

    def __init__(self, env: Environment, *, account: str | None = None, home: Path | None = None,
                 session: VerifyingSession | None = None) -> None:
        self.env = env
        self.home = home or state_dir()
        self._account_name = account
        self._session = session or VerifyingSession(env.verify)
        self._lock = threading.Lock()
        self._cached: tuple[str, float] | None = None  # (access token, expires at) of this process
        self._app: msal.PublicClientApplication | None = None

    # -- msal --------------------------------------------------------------------------------------
    @property
    def cache_path(self) -> Path:
        return self.home / f"token_cache.{self.env.name}.bin"

    @property
    def app(self) -> msal.PublicClientApplication:
        with reachable(self.env):
            return self._make_app()

    def _make_app(self) -> msal.PublicClientApplication:
        if self._app is None:
            local = is_loopback(urlsplit(self.env.authority).hostname)
            self._app = msal.PublicClientApplication(
                self.env.client_id,
                authority=self.env.authority,
                token_cache=build_token_cache(self.cache_path),
                http_client=self._session,
                # A loopback authority (the sandbox) is not in Microsoft's instance metadata.
                instance_discovery=False if local else None,
                validate_authority=not local,
            )
        return self._app

    # -- accounts ----------------------------------------------------------------------------------
    def accounts(self) -> list[str]:
        return [a["username"] for a in self.app.get_accounts()]

    def _defaults_path(self) -> Path:
        return self.home / ACCOUNTS_FILE

    def _default_account(self) -> str | None:
        try:
            default: str | None = json.loads(self._defaults_path().read_text(encoding="utf-8")).get(self.env.name)
            return default
        except (OSError, ValueError):
            return None

    def _set_default_account(self, username: str) -> None:
        path = self._defaults_path()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        data[self.env.name] = username
        write_private_text(path, json.dumps(data, indent=2))

    def _has_cached_accounts(self) -> bool:
        """Whether anyone signed in here at all, read from the cache file without any network."""
        if self._app is not None:
            return True
        cache = build_token_cache(self.cache_path)
        return any(True for _ in cache.search(msal.TokenCache.CredentialType.ACCOUNT))

    def _msal_account(self) -> dict[str, Any]:
        accounts: list[dict[str, Any]] = self.app.get_accounts() if self._has_cached_accounts() else []
        if not accounts:
            raise SignInRequired(
                f"Not signed in to {self.env.name}: run `qaas-excel login --env {self.env.name}`."
            )
        wanted = self._account_name or self._default_account()
        if wanted:
            for acc in accounts:
                if acc["username"].casefold() == wanted.casefold():
                    return acc
            if self._account_name:
                known = ", ".join(a["username"] for a in accounts)
                raise SignInRequired(
                    f"Account {wanted} is not signed in to {self.env.name} (signed in: {known}); "
                    f"run `qaas-excel login --env {self.env.name}` and sign in as {wanted}."
                )
        if len(accounts) == 1:
            return accounts[0]
        known = ", ".join(a["username"] for a in accounts)
        raise SignInRequired(f"Several accounts are signed in to {self.env.name} ({known}): choose one with --account.")

    @property
    def username(self) -> str | None:
        try:
            return cast(str, self._msal_account()["username"])
        except SignInRequired:
            return None

    # -- tokens ------------------------------------------------------------------------------------
    def token(self, *, force_refresh: bool = False) -> str:
        """An access token, refreshed silently when needed; never prompts."""
        with self._lock:
            now = time.time()
            if not force_refresh and self._cached and self._cached[1] - EXPIRY_MARGIN_S > now:
                return self._cached[0]
            account = self._msal_account()
            with reachable(self.env):
                result = self.app.acquire_token_silent_with_error(
                    self.env.scopes, account=account, force_refresh=force_refresh
                )
            if not result or "access_token" not in result:
                why = (result or {}).get("error_description") or "the sign-in has expired"
                self._cached = None
                raise SignInRequired(
                    f"Sign in to {self.env.name} again as {account['username']} "
                    f"(`qaas-excel login --env {self.env.name}`): {why.splitlines()[0]}"
                )
            expires_in = float(result.get("expires_in", 300))
            # Keep the safety margin small against short lifetimes, so a token is used for most of its life.
            self._cached = (result["access_token"], now + expires_in - min(EXPIRY_MARGIN_S, expires_in / 4) +
                            EXPIRY_MARGIN_S)
            return cast(str, result["access_token"])

    def start_login(self) -> dict[str, Any]:
        """Start a device-code flow; show ``DeviceCode`` to the user, then call ``finish_login``."""
        with reachable(self.env):
            flow: dict[str, Any] = self.app.initiate_device_flow(scopes=self.env.scopes)
        if "user_code" not in flow:
            raise SignInRequired(
                f"Could not start sign-in at {self.env.authority}: "
                f"{flow.get('error_description') or flow.get('error') or flow}"
            )
        return flow

    @staticmethod
    def device_code(flow: dict[str, Any]) -> DeviceCode:
        return DeviceCode(flow["user_code"], flow["verification_uri"], flow.get("message", ""),
                          int(flow.get("expires_in", 900)))

    def finish_login(self, flow: dict[str, Any], *, timeout: float | None = None,
                     should_stop: Callable[[], bool] | None = None) -> str:
        """Wait until the user approved the code; returns the signed-in user name."""
        if timeout is not None:
            flow["expires_at"] = min(flow.get("expires_at", float("inf")), time.time() + timeout)
        def exit_condition(f: dict[str, Any]) -> bool:
            # Replacing msal's default condition, so the expiry check must stay in.
            return f.get("expires_at", 0) < time.time() or bool(should_stop and should_stop())

        with reachable(self.env):
            result = self.app.acquire_token_by_device_flow(flow, exit_condition=exit_condition)
        if "access_token" not in result:
            raise SignInRequired(
                f"Sign-in did not complete: {result.get('error_description') or result.get('error')}"
            )
        username: str = (result.get("id_token_claims") or {}).get("preferred_username") or token_claims(
            result["access_token"]
        ).get("preferred_username", "")
        self._set_default_account(username)
        self._account_name = username
        with self._lock:
            self._cached = (result["access_token"], time.time() + float(result.get("expires_in", 300)))
        return username

    def login(self, show: Callable[[DeviceCode], None], *, timeout: float | None = None) -> str:
        flow = self.start_login()
        show(self.device_code(flow))
        return self.finish_login(flow, timeout=timeout)

    def logout(self, *, all_accounts: bool = False) -> list[str]:
        """Forget the chosen account (or all) in this environment's cache."""
        accounts = self.app.get_accounts()
        if not all_accounts:
            accounts = [self._msal_account()] if accounts else []
        for acc in accounts:
            self.app.remove_account(acc)
        with self._lock:
            self._cached = None
        return [a["username"] for a in accounts]


def token_provider(env: Environment, *, account: str | None = None, home: Path | None = None,
                   session: VerifyingSession | None = None) -> TokenProvider:
    """``QAAS_ACCESS_TOKEN`` when set, else the msal cache of the environment."""
    static = os.environ.get("QAAS_ACCESS_TOKEN")
    if static:
        return StaticToken(static)
    return MsalSignIn(env, account=account, home=home, session=session)
