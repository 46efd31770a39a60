"""``qaas-excel doctor``: what stands between this machine and a working first push, checked in order.

The checks are data (``CHECKS``); each returns results with a status (ok / warn / fail), what was
found, the cause and the fix in words a finance user can pass to IT, and details for ``-v``/``--json``.
Every network step has its own short timeout, so the whole run stays bounded when hosts are unreachable.
"""

from __future__ import annotations

import email.utils
import importlib.metadata
import os
import platform
import re
import socket
import ssl
import sys
import tempfile
import threading
import time
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from qaas_excel import __version__, openapi, openapi_diff
from qaas_excel.api import errors, paging
from qaas_excel.api.http import VerifyingSession, proxy_for
from qaas_excel.config import API_SCOPE_NAME, Environment, ca_file_problem, setting_file_problems, state_dir
from qaas_excel.contract import Contract, Paging, StatusRule, apply_to_document

STEP_TIMEOUT_S = 4.0  # each network step (DNS, TCP, TLS, one HTTP request)
DISCOVERY_BUDGET_STEPS = 5  # looking for the OpenAPI document takes at most this many steps' time
REFRESH_WINDOW_DAYS = 90
CLOCK_WARN_S, CLOCK_FAIL_S = 60, 300  # Entra tolerates about five minutes
KEY_LIBRARIES = ("msal", "requests", "urllib3", "truststore", "openpyxl", "xlwings", "pandas")


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


class Blocks(StrEnum):
    """What a failed check means for the exit code (as every other command uses them)."""

    PUSH = "push"  # 1
    SIGN_IN = "sign-in"  # 3
    NETWORK = "network"  # 4


@dataclass
class CheckResult:
    """One line of the report."""

    check: str  # "network", "sign-in", ...
    title: str
    status: Status
    summary: str
    cause: str = ""
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    blocks: Blocks = Blocks.PUSH

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.check, "title": self.title, "status": str(self.status),
                               "summary": self.summary}
        if self.cause:
            out["cause"] = self.cause
        if self.fix:
            out["fix"] = self.fix
        if self.status is Status.FAIL:
            out["blocks"] = str(self.blocks)
        if self.details:
            out["details"] = self.details
        return out


def ok(check: str, title: str, summary: str, **details: Any) -> CheckResult:
    return CheckResult(check, title, Status.OK, summary, details=details)


def warn(check: str, title: str, summary: str, cause: str = "", fix: str = "", **details: Any) -> CheckResult:
    return CheckResult(check, title, Status.WARN, summary, cause, fix, details=details)


def fail(check: str, title: str, summary: str, cause: str = "", fix: str = "", *, blocks: Blocks = Blocks.PUSH,
         **details: Any) -> CheckResult:
    return CheckResult(check, title, Status.FAIL, summary, cause, fix, details=details, blocks=blocks)


@dataclass
class Context:
    """What the checks share: the environment, one session with short timeouts, and what earlier checks learnt."""

    env: Environment
    account: str | None = None
    home: Path | None = None
    timeout: float = STEP_TIMEOUT_S
    session: VerifyingSession = field(init=False)
    reachable: dict[str, bool] = field(default_factory=dict)  # host:port -> reached
    token: str | None = None
    signin_error: str | None = None
    document: dict[str, Any] | None = None  # the service's OpenAPI document, once found
    configured: Environment | None = None  # the environment as configured, when ``env`` leaves out an unusable CA file

    def __post_init__(self) -> None:
        self.session = VerifyingSession(self.env.verify, timeout=(self.timeout, self.timeout))

    @property
    def hosts(self) -> list[tuple[str, str, int]]:
        """(role, host, port) of the sign-in and API hosts, once each."""
        out: list[tuple[str, str, int]] = []
        for role, url in (("sign-in", self.env.authority), ("API", self.env.base_url)):
            parts = urlsplit(url)
            host, port = parts.hostname or "", parts.port or 443
            for i, (other_role, h, p) in enumerate(out):
                if (h, p) == (host, port):
                    out[i] = (f"{other_role} and {role}", h, p)
                    break
            else:
                out.append((role, host, port))
        return out

    def host_reached(self, url: str) -> bool:
        parts = urlsplit(url)
        return self.reachable.get(f"{parts.hostname}:{parts.port or 443}", True)


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Context], list[CheckResult]]


# --- installation ---------------------------------------------------------------------------------------

def check_installation(ctx: Context) -> list[CheckResult]:
    versions = {name: versions_of(name) for name in KEY_LIBRARIES}
    results = [ok("installation", "Installation",
                  f"Python {platform.python_version()}, qaas-excel {__version__}, "
                  + ", ".join(f"{k} {v}" for k, v in versions.items() if v),
                  python=sys.version.split()[0], executable=sys.executable, qaas_excel=__version__,
                  libraries=versions)]
    home = ctx.home or state_dir()
    try:
        with tempfile.NamedTemporaryFile(dir=home, prefix=".doctor-", delete=True) as probe:
            probe.write(b"ok")
        results.append(ok("installation", "State folder", f"{home} is writable", state_dir=str(home)))
    except OSError as exc:
        results.append(fail("installation", "State folder", f"{home} is not writable ({exc.strerror or exc})",
                            "sign-in, journals and the audit trail are kept there",
                            "set QAAS_HOME to a folder you can write, or ask IT for write access",
                            state_dir=str(home)))
    results.append(_token_cache(home, ctx.env))
    results.append(_trust_store(ctx.configured or ctx.env, ctx.home))
    return results


def _trust_store(env: Environment, home: Path | None = None) -> CheckResult:
    from qaas_excel.startup import os_trust_store_in_effect

    broken = setting_file_problems(env, home)
    if broken:
        problem = broken[0]
        return fail("installation", "TLS trust", f"{problem.setting} names {problem.path}, which {problem.why}",
                    f"set in {problem.where}; every command stops until it is fixed (the checks below go on "
                    "without it)", problem.fix, ca_bundle=problem.path, setting=problem.setting)
    extra = f", plus the CA file {env.ca_bundle}" if env.ca_bundle else ""
    if os_trust_store_in_effect():
        return ok("installation", "TLS trust", f"this computer's certificate store (truststore){extra}",
                  trust="os", ca_bundle=env.ca_bundle)
    if versions_of("truststore") is None:
        return warn("installation", "TLS trust", f"the certificates bundled with Python's requests (certifi){extra}",
                    "without truststore, a root certificate IT installed on this computer is not trusted",
                    "pip install truststore", trust="certifi", ca_bundle=env.ca_bundle)
    return ok("installation", "TLS trust", f"the certificates bundled with requests (certifi){extra}; the "
              "qaas-excel command and Excel use this computer's store", trust="certifi", ca_bundle=env.ca_bundle)


def versions_of(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _token_cache(home: Path, env: Environment) -> CheckResult:
    import msal_extensions

    path = home / f"token_cache.{env.name}.bin"
    try:
        msal_extensions.build_encrypted_persistence(str(path))
        return ok("installation", "Token cache", f"{path}, encrypted by the system keyring", path=str(path),
                  encrypted=True)
    except Exception:  # noqa: BLE001 - no keyring here: the cache is a private file
        pass
    if path.exists() and os.name == "posix" and path.stat().st_mode & 0o077:
        return warn("installation", "Token cache", f"{path} is readable by other users",
                    "this system has no keyring, and the file's permissions are too open",
                    f"chmod 600 {path}", path=str(path), encrypted=False)
    return ok("installation", "Token cache", f"{path}, a file readable only by you (no keyring on this system)",
              path=str(path), encrypted=False)


# --- network --------------------------------------------------------------------------------------------

def _timed(func: Callable[[], Any], timeout: float) -> tuple[Any, float]:
    """Run a call that has no timeout of its own (getaddrinfo) in a thread; (result, seconds)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    started = time.perf_counter()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    elapsed = time.perf_counter() - started
    if thread.is_alive():
        raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"], elapsed


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _tls_context(env: Environment, *, verify: bool = True) -> ssl.SSLContext:
    """What requests would verify with: the system (or truststore) store plus the environment's CA file."""
    if not verify:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx = ssl.create_default_context()
    cafile = env.ca_bundle or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if not cafile:
        import certifi

        cafile = certifi.where()
    ctx.load_verify_locations(cafile=cafile)
    return ctx


def _connect(host: str, port: int, proxy: str | None, timeout: float) -> socket.socket:
    """A TCP connection to host:port, directly or through the proxy's CONNECT tunnel."""
    if not proxy:
        return socket.create_connection((host, port), timeout=timeout)
    parts = urlsplit(proxy)
    sock = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=timeout)
    if parts.scheme == "https":
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
    auth = ""
    if parts.username:
        creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = f"Proxy-Authorization: Basic {b64encode(creds).decode()}\r\n"
    sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode())
    reply = b""
    while b"\r\n\r\n" not in reply and len(reply) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    status_line = reply.split(b"\r\n", 1)[0].decode("latin-1")
    if " 200" not in status_line:
        sock.close()
        raise ConnectionError(f"the proxy refused the tunnel to {host}:{port} ({status_line or 'no answer'})")
    return sock


def _issuer(env: Environment, host: str, port: int, proxy: str | None, timeout: float) -> str:
    """Who issued the certificate this host presents (read without verifying, only to explain a failure)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    with _connect(host, port, proxy, timeout) as raw, \
            _tls_context(env, verify=False).wrap_socket(raw, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None  # a TLS server presents a certificate (the caller explains any error as "unknown")
    cert = x509.load_der_x509_certificate(der)
    names = [a.value for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME)
             for a in cert.issuer.get_attributes_for_oid(oid)]
    return " / ".join(str(n) for n in names) or cert.issuer.rfc4514_string()


def check_network(ctx: Context) -> list[CheckResult]:
    results: list[CheckResult] = []
    for role, host, port in ctx.hosts:
        url = f"https://{host}:{port}"
        proxy = proxy_for(url)
        title = f"Network to the {role} host"
        key = f"{host}:{port}"
        ctx.reachable[key] = False
        details: dict[str, Any] = {"host": host, "port": port, "proxy": _safe_proxy(proxy)}
        via = f" through the proxy {_safe_proxy(proxy)}" if proxy else " (no proxy)"
        target = urlsplit(proxy).hostname if proxy else host
        try:
            addresses, dns_s = _timed(partial(socket.getaddrinfo, target, None, type=socket.SOCK_STREAM),
                                      ctx.timeout)
            details["dns_ms"] = round(dns_s * 1000)
            details["addresses"] = sorted({a[4][0] for a in addresses})
        except (OSError, TimeoutError) as exc:
            results.append(fail("network", title, f"{target}: the name cannot be resolved ({exc})",
                                "this computer's DNS does not know the host" + (" of the proxy" if proxy else ""),
                                "check the address, or ask IT whether this host is reachable from your network",
                                blocks=Blocks.NETWORK, **details))
            continue
        try:
            started = time.perf_counter()
            sock = _connect(host, port, proxy, ctx.timeout)
            details["tcp_ms"] = round((time.perf_counter() - started) * 1000)
        except (OSError, ConnectionError) as exc:
            cause = (f"the proxy {_safe_proxy(proxy)} cannot be reached or refused the connection" if proxy
                     else "nothing answers at that address and port, or a firewall blocks it")
            fix = ("check HTTPS_PROXY (and NO_PROXY) with IT" if proxy
                   else "ask IT whether outgoing HTTPS to this host is allowed, or whether a proxy must be set "
                        "(HTTPS_PROXY)")
            results.append(fail("network", title, f"no connection to {host}:{port}{via}: {_reason(exc)}",
                                cause, fix, blocks=Blocks.NETWORK, **details))
            continue
        try:
            started = time.perf_counter()
            with sock, _tls_context(ctx.env).wrap_socket(sock, server_hostname=host) as tls:
                details["tls_ms"] = round((time.perf_counter() - started) * 1000)
                details["tls_version"] = tls.version()
        except ssl.SSLCertVerificationError as exc:
            try:
                issuer = _issuer(ctx.env, host, port, proxy, ctx.timeout)
            except Exception as inner:  # noqa: BLE001 - only for the explanation
                issuer = f"unknown ({_reason(inner)})"
            details["presented_issuer"] = issuer
            results.append(fail(
                "network", title, f"TLS to {host} failed: {exc.verify_message or exc}; the certificate presented "
                f"was issued by {issuer}",
                "a TLS-inspecting proxy or firewall replaces the service's certificate with one of its own"
                if ctx.env.ca_bundle is None else f"the certificate is not trusted by the CA file {ctx.env.ca_bundle}",
                f"ask IT to install the root certificate of '{issuer}' in this computer's trust store, or point "
                "ca_bundle in config.toml (or REQUESTS_CA_BUNDLE) at a file holding it",
                blocks=Blocks.NETWORK, **details))
            continue
        except (OSError, ssl.SSLError) as exc:
            results.append(fail("network", title, f"TLS to {host} failed: {_reason(exc)}",
                                "the connection was cut during the TLS handshake",
                                "ask IT whether a firewall or proxy blocks HTTPS to this host",
                                blocks=Blocks.NETWORK, **details))
            continue
        ctx.reachable[key] = True
        results.append(ok("network", title, f"{host}:{port}{via}: DNS {details['dns_ms']} ms, "
                          f"TCP {details['tcp_ms']} ms, TLS {details['tls_ms']} ms", **details))
    return results


def _safe_proxy(proxy: str | None) -> str | None:
    """A proxy URL without its password."""
    if not proxy:
        return None
    parts = urlsplit(proxy)
    netloc = (f"{parts.username}:***@" if parts.username else "") + (parts.hostname or "") + (
        f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{netloc}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# --- clock ----------------------------------------------------------------------------------------------

def check_clock(ctx: Context) -> list[CheckResult]:
    title = "Clock"
    if not ctx.host_reached(ctx.env.base_url):
        return [warn("clock", title, "not checked: the API host cannot be reached")]
    try:
        before = time.time()
        answer = ctx.session.get(ctx.env.base_url + "/", allow_redirects=False)
        now = (before + time.time()) / 2
        stamp = email.utils.parsedate_to_datetime(answer.headers["Date"])
    except (requests.RequestException, KeyError, TypeError, ValueError) as exc:
        return [warn("clock", title, f"not checked: the service sent no usable Date ({type(exc).__name__})")]
    skew = now - stamp.replace(tzinfo=stamp.tzinfo or UTC).timestamp()
    details = {"skew_s": round(skew, 1), "server_date": answer.headers["Date"]}
    words = f"this computer's clock is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} the service's"
    if abs(skew) >= CLOCK_FAIL_S:
        return [fail("clock", title, words, "sign-in tokens are refused when clocks differ by minutes",
                     "set the clock to synchronise automatically (ask IT)", blocks=Blocks.SIGN_IN, **details)]
    if abs(skew) >= CLOCK_WARN_S:
        return [warn("clock", title, words, "a few more minutes and tokens are refused",
                     "set the clock to synchronise automatically", **details)]
    return [ok("clock", title, f"in step with the service (off by {abs(skew):.0f} s)", **details)]


# --- sign-in --------------------------------------------------------------------------------------------

def check_signin(ctx: Context) -> list[CheckResult]:
    from qaas_excel.api.auth import MsalSignIn

    title = "Sign-in service"
    reachable = ctx.host_reached(ctx.env.authority)
    if reachable:
        results = _discovery(ctx, title)
    else:
        ctx.signin_error = "the sign-in host cannot be reached"
        results = [warn("sign-in", title, "not checked: the sign-in host cannot be reached")]
    static = os.environ.get("QAAS_ACCESS_TOKEN")
    if static:
        ctx.token = static.strip()
        results.append(_token_claims_result(ctx, ctx.token, "QAAS_ACCESS_TOKEN"))
        return results
    signin = MsalSignIn(ctx.env, account=ctx.account, home=ctx.home, session=ctx.session)
    try:
        accounts, refresh = _cached_accounts(signin.cache_path)  # read from the cache file: no network
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        accounts, refresh = [], {}
        results.append(fail("sign-in", "Accounts", f"the token cache cannot be read ({_reason(exc)})",
                            "the file is damaged or belongs to another user",
                            f"sign in again with `qaas-excel login --env {ctx.env.name}`", blocks=Blocks.SIGN_IN))
    if not accounts:
        ctx.signin_error = "not signed in"
        results.append(fail("sign-in", "Accounts", f"nobody is signed in to {ctx.env.name}",
                            "every request needs a signed-in account",
                            f"run `qaas-excel login --env {ctx.env.name}`", blocks=Blocks.SIGN_IN))
        return results
    for acc in accounts:
        results.append(_account_result(acc, refresh.get(acc.get("home_account_id", ""))))
    if not reachable:
        return results
    try:
        ctx.token = signin.token()
    except Exception as exc:  # noqa: BLE001 - SignInRequired, UnreachableError: both explained here
        ctx.signin_error = str(exc)
        results.append(fail("sign-in", "Access token", str(exc), "no valid token could be obtained silently",
                            f"run `qaas-excel login --env {ctx.env.name}`", blocks=Blocks.SIGN_IN))
        return results
    results.append(_token_claims_result(ctx, ctx.token, signin.username or "the chosen account"))
    return results


def _discovery(ctx: Context, title: str) -> list[CheckResult]:
    discovery = f"{ctx.env.authority}/v2.0/.well-known/openid-configuration"
    try:
        answer = ctx.session.get(discovery)
        config = answer.json() if answer.status_code == 200 else {}
    except (requests.RequestException, ValueError) as exc:
        return [fail("sign-in", title, f"no discovery document at {discovery} ({type(exc).__name__})",
                     "the sign-in service did not answer", "run doctor again; if it persists, ask IT",
                     blocks=Blocks.NETWORK)]
    needed = ("token_endpoint", "device_authorization_endpoint")
    if all(k in config for k in needed):
        return [ok("sign-in", title, f"discovery document of {ctx.env.authority} read",
                   issuer=config.get("issuer"), token_endpoint=config.get("token_endpoint"))]
    return [fail("sign-in", title, f"{discovery} answered {answer.status_code} without "
                 f"{', '.join(k for k in needed if k not in config)}",
                 "the tenant's sign-in address is wrong, or a proxy answered instead",
                 "check `authority` of this environment in config.toml", blocks=Blocks.SIGN_IN)]


def _cached_accounts(cache_path: Path) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """The accounts in the msal cache, and when each one's refresh token was last written (each use writes one)."""
    import msal

    from qaas_excel.api.auth import build_token_cache

    if not cache_path.exists():
        return [], {}
    cache = build_token_cache(cache_path)
    accounts = list(cache.search(msal.TokenCache.CredentialType.ACCOUNT))
    refresh: dict[str, float] = {}
    for entry in cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN):
        try:
            stamp = float(entry.get("last_modification_time", 0))
        except (TypeError, ValueError):
            continue
        key = entry.get("home_account_id", "")
        refresh[key] = max(refresh.get(key, 0.0), stamp)
    return accounts, refresh


def _account_result(account: dict[str, Any], last_used: float | None) -> CheckResult:
    name = account.get("username", "?")
    title = f"Account {name}"
    if not last_used:
        return fail("sign-in", title, "signed in, but no refresh token is cached",
                    "the sign-in cannot be renewed silently", "sign in again with `qaas-excel login`",
                    blocks=Blocks.SIGN_IN, account=name)
    age_days = (time.time() - last_used) / 86400
    left = REFRESH_WINDOW_DAYS - age_days
    details = {"account": name, "refresh_token_last_used": datetime.fromtimestamp(last_used, UTC).isoformat(),
               "days_left": round(left, 1)}
    if left <= 0:
        return fail("sign-in", title, f"the sign-in lapsed: last used {age_days:.0f} days ago",
                    f"a sign-in lasts {REFRESH_WINDOW_DAYS} days after its last use",
                    "sign in again with `qaas-excel login`", blocks=Blocks.SIGN_IN, **details)
    if left < 14:
        return warn("sign-in", title, f"cached; last used {age_days:.0f} days ago, lapses in {left:.0f} days",
                    "unused sign-ins lapse", "use the tool (any command) before then, or sign in again", **details)
    return ok("sign-in", title, f"cached; last used {_ago(age_days)}, valid for {left:.0f} more days after "
              "each use", **details)


def _ago(days: float) -> str:
    return "today" if days < 1 else f"{days:.0f} days ago"


def _token_claims_result(ctx: Context, token: str, who: str) -> CheckResult:
    from qaas_excel.api.auth import token_claims

    claims = token_claims(token)
    expected = f"{ctx.env.client_id}/{API_SCOPE_NAME}"
    audience, scopes = claims.get("aud"), str(claims.get("scp", "")).split()
    details: dict[str, Any] = {"audience": audience, "scope": claims.get("scp"), "expected": expected,
                               "expires_in_s": int(claims["exp"] - time.time()) if "exp" in claims else None}
    if not claims:
        return warn("sign-in", "Access token", f"the token of {who} cannot be read (not a JWT)",
                    "the service decides whether it accepts it", **details)
    good_audience = audience in (ctx.env.client_id, f"api://{ctx.env.client_id}")
    if not good_audience or API_SCOPE_NAME not in scopes:
        return fail("sign-in", "Access token", f"the token of {who} is for {audience} with scope "
                    f"{claims.get('scp') or 'none'}, not {expected}",
                    "the service refuses tokens meant for another application",
                    "sign in again with `qaas-excel login`; if this persists, the client id in config.toml is wrong",
                    blocks=Blocks.SIGN_IN, **details)
    return ok("sign-in", "Access token", f"for {expected}, {who}", **details)


# --- access ---------------------------------------------------------------------------------------------

def _api_get(ctx: Context, path: str, *, token: bool = True) -> requests.Response:
    headers = {"Accept": "application/json"}
    if token and ctx.token:
        headers["Authorization"] = f"Bearer {ctx.token}"
    return ctx.session.get(ctx.env.base_url + path, headers=headers, allow_redirects=False)


def check_access(ctx: Context) -> list[CheckResult]:
    from qaas_excel.resources import OPERATOR

    title = f"Access (GET {ctx.env.contract.path(OPERATOR.list_path)})"
    if not ctx.host_reached(ctx.env.base_url):
        return [warn("access", title, "not checked: the API host cannot be reached")]
    if ctx.token is None:
        return [warn("access", title, f"not checked: {ctx.signin_error or 'not signed in'}")]
    try:
        answer = _api_get(ctx, ctx.env.contract.path(OPERATOR.list_path))
    except requests.RequestException as exc:
        return [fail("access", title, f"no answer ({type(exc).__name__})", "the service did not answer in time",
                     "run doctor again later", blocks=Blocks.NETWORK)]
    code = answer.status_code
    if code in (200, 204):
        first = _first_page(answer)
        shown = "" if first is None else (f" ({len(first.items)} operators" + (" on the first page)" if (
            first.next_link or first.style != "list") else ")"))
        return [ok("access", title, f"{code}: the service knows this account{shown}", status=code)]
    if code == 401:
        return [fail("access", title, "401: the service refused the token",
                     "the sign-in is not accepted (expired, or issued for another application)",
                     f"sign in again with `qaas-excel login --env {ctx.env.name}`", blocks=Blocks.SIGN_IN,
                     status=code)]
    if code == 403:
        return [fail("access", title, "403: the service does not know this account",
                     "the account signed in is not registered as a QaaS customer",
                     "sign in with the account QaaS registered for your company (--account), or ask QaaS to add "
                     "this one", blocks=Blocks.SIGN_IN, status=code)]
    if code in (404, 405):
        return [fail("access", title, f"{code}: the service has no such address",
                     "the service's paths differ from what the tool assumes",
                     "see the contract check below", status=code)]
    return [fail("access", title, f"{code}: unexpected answer", "the service may be down or the address wrong",
                 "check base_url in config.toml; run doctor again later", blocks=Blocks.NETWORK, status=code)]


def _first_page(answer: requests.Response) -> paging.ParsedPage | None:
    """One list answer as the client reads it (None when it is not a list at all)."""
    try:
        body = answer.json() if answer.status_code == 200 and answer.content.strip() else None
        return paging.parse_page(paging.Page(answer.url, answer.status_code, body, answer.headers))
    except (ValueError, errors.QaasError):
        return None


# --- contract -------------------------------------------------------------------------------------------

def discover_document(ctx: Context) -> openapi_diff.Discovery:
    """The service's OpenAPI document, asked with the bearer token when the service wants one."""
    deadline = time.monotonic() + DISCOVERY_BUDGET_STEPS * ctx.timeout  # a slow host cannot stretch the run

    def fetch(url: str) -> openapi_diff.Fetched | None:
        if time.monotonic() > deadline:
            return None
        try:
            answer = ctx.session.get(url, headers={"Accept": "application/json, text/html;q=0.9, */*;q=0.5"},
                                     allow_redirects=False)
            if answer.status_code in (301, 302, 303, 307, 308, 401, 403) and ctx.token:
                # an auth layer (App Service authentication, a default permission) answers before the app
                answer = ctx.session.get(url, headers={"Authorization": f"Bearer {ctx.token}",
                                                       "Accept": "application/json, */*;q=0.5"},
                                         allow_redirects=False)
        except requests.RequestException:
            return None
        return openapi_diff.Fetched(answer.status_code, answer.headers.get("Content-Type", ""), answer.text)

    return openapi_diff.discover(ctx.env.base_url, fetch)


def check_contract(ctx: Context) -> list[CheckResult]:
    title = "Contract"
    if not ctx.host_reached(ctx.env.base_url):
        return [warn("contract", title, "not checked: the API host cannot be reached")]
    found = discover_document(ctx)
    if found.document is None:
        why = ("the service asks for sign-in to show it" if found.needs_sign_in and ctx.token is None
               else "none of the usual places has one")
        return [warn("contract", title, f"the service's OpenAPI document was not found ({why})",
                     "without it, whether the tool's assumptions match is only seen on the first push",
                     "sign in first, or ask QaaS for the document's address" if found.needs_sign_in
                     else "ask QaaS for the address of their OpenAPI (Swagger) document", tried=found.tried)]
    ctx.document = found.document
    ours = apply_to_document(openapi.document(), ctx.env.contract)
    differences, _ = openapi_diff.compare(ours, found.document, paths=ctx.env.contract.paths)
    details: dict[str, Any] = {"document_url": found.url, "found_via": found.via,
                               "differences": [d.to_dict() for d in differences]}
    if ctx.env.contract:
        details["contract"] = "as corrected by the contract in config.toml"
    blocking = [d for d in differences if d.severity == openapi_diff.FAIL]
    if not differences:
        return [ok("contract", title, f"the service's document ({found.url}) matches what the tool assumes",
                   **details)]
    summary = f"{len(differences)} differences from the service's document ({found.url})"
    if blocking:
        return [fail("contract", title, summary, "the tool's assumptions about the API do not match the service",
                     f"`qaas-excel doctor --env {ctx.env.name} --suggest` shows the contract block that corrects "
                     "what renames can correct (--apply writes it); pass the rest to the qaas-excel maintainers",
                     **details)]
    return [warn("contract", title, summary, "none of them stops a push", **details)]


# --- lists: are they paged, and does the tool read them whole? ------------------------------------------

ROUND_SIZES = frozenset({10, 20, 25, 30, 50, 100, 200, 250, 500, 1000})


def declared_paging(document: dict[str, Any], contract: Contract) -> dict[str, openapi_diff.Operation]:
    """The service's list operations (by resource name) as its document declares them."""
    _differences, matches = openapi_diff.compare(apply_to_document(openapi.document(), contract), document,
                                                 paths=contract.paths)
    return {m.resource.name: op for m in matches if (op := m.operations.get("list")) is not None}


def check_lists(ctx: Context) -> list[CheckResult]:
    from qaas_excel.resources import OPERATOR

    path = ctx.env.contract.path(OPERATOR.list_path)
    title = "Lists (paging)"
    rule = ctx.env.contract.paging
    declared = declared_paging(ctx.document, ctx.env.contract) if ctx.document else {}
    params = {name: paging.paging_parameters(op.query) for name, op in declared.items()}
    envelopes = {name: op.envelope for name, op in declared.items() if op.envelope}
    details: dict[str, Any] = {"declared_parameters": {k: v for k, v in params.items() if v},
                               "declared_envelopes": envelopes,
                               "contract_paging": rule.describe() if rule else None}
    if not ctx.host_reached(ctx.env.base_url) or ctx.token is None:
        return [warn("lists", title, "not checked: " + ("the API host cannot be reached" if ctx.token or not
                     ctx.host_reached(ctx.env.base_url) else ctx.signin_error or "not signed in"), **details)]
    try:
        answer = _api_get(ctx, path)
    except requests.RequestException as exc:
        return [warn("lists", title, f"not checked: GET {path} got no answer ({type(exc).__name__})", **details)]
    if answer.status_code not in (200, 204):
        return [warn("lists", title, f"not checked: GET {path} answered {answer.status_code}", **details)]
    first = _first_page(answer)
    if first is None:
        return [fail("lists", title, f"GET {path} did not answer with a list the tool can read",
                     "the service's lists have a form the tool does not know",
                     "pass `qaas-excel doctor --json` to the qaas-excel maintainers", **details)]
    details.update(first_page={"records": len(first.items), "style": first.style, "next_link": first.next_link,
                               "count": first.count})
    in_params = sorted({p for names in params.values() for p in names})
    if first.more_hint:
        return [fail("lists", title, f"the service pages its lists in a way the tool cannot follow ({first.more_hint})",
                     "without a next link the tool cannot read a list whole, so it creates nothing",
                     "pass `qaas-excel doctor --json` to the qaas-excel maintainers", **details)]
    if first.next_link and paging.same_origin_url(first.next_link, answer.url, ctx.env.base_url) is None:
        return [fail("lists", title, f"the service's next links lead to another address ({first.next_link})",
                     "the tool does not send your sign-in to another host, so it cannot read lists whole",
                     "ask QaaS to make the next links point to the service's own address", **details)]
    if first.next_link or first.style in ("drf", "odata", "envelope") or first.count is not None:
        how = {"drf": "Django REST framework pages", "odata": "OData pages", "link": "Link headers"}.get(
            first.style, "pages with next links")
        count = f", {first.count} in all" if first.count is not None else ""
        return [ok("lists", title, f"the service pages its lists ({how}: {len(first.items)} operators on the first "
                   f"page{count}); the tool follows every page to the end", **details)]
    if rule is not None:
        return [ok("lists", title, f"the lists come in pages by {rule.describe()} (config.toml); the tool asks page "
                   "after page until one comes back empty", **details)]
    if in_params and not envelopes:
        return [fail("lists", title, f"the service's document declares paging parameters ({', '.join(in_params)}) "
                     "and its answers carry no next link: the tool would read only the first page",
                     "a push would then create again every record on a later page (a quota claimed twice); the "
                     "tool creates nothing until it knows how to read the lists whole",
                     f"`qaas-excel doctor --env {ctx.env.name} --suggest` shows the [paging] block (--apply writes "
                     "it)", **details)]
    size = len(first.items)
    if size in ROUND_SIZES:
        return [warn("lists", title, f"one answer holds the list ({size} operators, exactly a round number)",
                     "a service that cuts its lists silently at that size would look like this",
                     "ask QaaS whether their lists are complete or paged; `qaas-excel operators` shows them",
                     **details)]
    return [ok("lists", title, f"the service does not page its lists (one answer, {size} operators; no paging "
               "declared); the tool reads them whole", **details)]


CHECKS: tuple[Check, ...] = (
    Check("installation", check_installation),
    Check("network", check_network),
    Check("clock", check_clock),
    Check("sign-in", check_signin),
    Check("access", check_access),
    Check("contract", check_contract),
    Check("lists", check_lists),
)


@dataclass
class Report:
    environment: str
    results: list[CheckResult]
    document: dict[str, Any] | None = None  # the service's OpenAPI document, when found

    @property
    def problems(self) -> list[CheckResult]:
        return [r for r in self.results if r.status is Status.FAIL]

    @property
    def exit_code(self) -> int:
        """0 nothing blocks a push; else the first blocking failure's meaning: 4 network, 3 sign-in, 1 other."""
        for result in self.problems:
            return {Blocks.NETWORK: 4, Blocks.SIGN_IN: 3}.get(result.blocks, 1)
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "exit_code": self.exit_code,
                "problems": len(self.problems), "warnings": sum(r.status is Status.WARN for r in self.results),
                "checks": [r.to_dict() for r in self.results]}


def run(env: Environment, *, account: str | None = None, home: Path | None = None,
        timeout: float = STEP_TIMEOUT_S, on_result: Callable[[CheckResult], None] | None = None) -> Report:
    """Run every check in order; ``on_result`` sees each result as soon as it is known."""
    # a CA file that cannot be used is the trust check's finding; the other checks go on without it
    usable = replace(env, ca_bundle=None) if env.ca_bundle and ca_file_problem(env.ca_bundle) else env
    ctx = Context(usable, account=account, home=home, timeout=timeout, configured=env)
    results: list[CheckResult] = []
    try:
        for check in CHECKS:
            try:
                found = check.run(ctx)
            except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
                found = [fail(check.name, check.name.capitalize(), f"the check itself failed: {_reason(exc)}",
                              "a bug in qaas-excel", "please report it with `qaas-excel doctor --json`")]
            for result in found:
                results.append(result)
                if on_result:
                    on_result(result)
    finally:
        ctx.session.close()
    return Report(env.name, results, ctx.document)


# --- what config.toml would need ------------------------------------------------------------------------

FIXABLE = frozenset({"renamed_field", "moved_operation", "unknown_status"})


@dataclass
class Suggestion:
    """The contract block that makes our assumptions match the service, and what no block can fix."""

    contract: Contract
    unfixable: list[openapi_diff.Difference]

    def to_dict(self, env_name: str) -> dict[str, Any]:
        return {"contract_toml": self.contract.to_toml(f"environments.{env_name}.contract"),
                "unfixable": [d.to_dict() for d in self.unfixable]}


def suggest(env: Environment, document: dict[str, Any]) -> Suggestion:
    """Renamed fields, moved paths and unknown statuses (kept from the current contract, else no PATCH)."""
    differences, matches = openapi_diff.compare(openapi.document(), document)
    paths: dict[str, str] = {}
    fields: dict[str, dict[str, str]] = {}
    statuses: dict[str, StatusRule] = {}
    for d in differences:
        if d.kind == "moved_operation":
            paths[str(d.ours)] = re.sub(r"\{[^}]*\}", "{id}", str(d.theirs))
        elif d.kind == "renamed_field" and d.resource and d.field:
            fields.setdefault(d.resource, {})[d.field] = str(d.theirs)
        elif d.kind == "unknown_status":
            known = env.contract.statuses.get(str(d.theirs))
            statuses[str(d.theirs)] = known or StatusRule(False, "not known to qaas-excel: set patch = true if "
                                                                 "QaaS allows changes in this status")
    return Suggestion(Contract(paths, fields, statuses, env.contract.paging or _suggested_paging(matches)),
                      [d for d in differences if d.kind not in FIXABLE])


def _suggested_paging(matches: list[openapi_diff.ResourceMatch]) -> Paging | None:
    """Lists the document declares paged by parameters alone (a bare list, no envelope with next links)."""
    for match in matches:
        op = match.operations.get("list")
        if op is not None and not op.envelope:
            rule = paging.rule_from_parameters(op.query)
            if rule is not None:
                return rule
    return None
