"""Where qaas-excel keeps its state, and which service environment it talks to.

Every guess about the live service's addresses lives here and in ``resources.py``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import platformdirs

from qaas_excel.config_files import ConfigError, private_dir

if TYPE_CHECKING:
    from qaas_excel.contract import Contract

# Values published in the service's FAQ (see shared reference).
PRODUCTION_BASE_URL = "https://qaas-chargingpoints.azurewebsites.net"
TENANT_ID = "f7731598-1da9-4b5f-a888-ceaf1d14fae0"
CLIENT_ID = "446782de-6e26-457a-a4b0-1f7cabfad2fd"
PRODUCTION_AUTHORITY = f"https://login.microsoftonline.com/{TENANT_ID}"
API_SCOPE_NAME = "user_impersonation"

SANDBOX_FILE = "sandbox.json"
CONFIG_FILE = "config.toml"


def state_dir() -> Path:
    """The one directory for config, token caches, journals and logs (``QAAS_HOME`` overrides).

    It holds refresh tokens and every record's history: readable by its owner only, folders included.
    """
    home = os.environ.get("QAAS_HOME")
    path = Path(home).expanduser() if home else Path(platformdirs.user_data_dir("qaas-excel", appauthor=False))
    return private_dir(path)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """HTTPS is required; plain HTTP only to this machine's loopback."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return url.rstrip("/")
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return url.rstrip("/")
    raise ConfigError(
        f"Refusing base URL {url!r}: the service must be reached over https:// "
        "(plain http:// is allowed only to 127.0.0.1/localhost)."
    )


@dataclass(frozen=True)
class Environment:
    """One deployment of the service plus the sign-in authority that issues its tokens."""

    name: str
    base_url: str
    authority: str
    client_id: str = CLIENT_ID
    # Path to a CA bundle for TLS verification; None means the system store (verification is never off).
    ca_bundle: str | None = None
    # Sandbox-only secret for its admin endpoints; None for real environments.
    admin_token: str | None = field(default=None, repr=False)
    # Where the live service differs from resources.py (config.toml ``contract``); empty: it does not.
    # None until __post_init__ (contract.py imports this module, so NO_CONTRACT cannot be the default)
    contract: Contract = field(default=None, repr=False, compare=False)  # type: ignore[assignment]  # see above

    def __post_init__(self) -> None:
        from qaas_excel.contract import NO_CONTRACT

        if self.contract is None:
            object.__setattr__(self, "contract", NO_CONTRACT)
        object.__setattr__(self, "base_url", check_base_url(self.base_url))
        if urlsplit(self.authority).scheme != "https":
            raise ConfigError(f"The sign-in authority must be https://, got {self.authority!r}.")

    @property
    def scopes(self) -> list[str]:
        # msal adds offline_access, openid and profile itself and refuses them when passed.
        return [f"{self.client_id}/{API_SCOPE_NAME}"]

    @property
    def verify(self) -> str | bool:
        return self.ca_bundle or True

    @property
    def is_sandbox(self) -> bool:
        return self.name == "sandbox"


def production() -> Environment:
    return Environment(name="production", base_url=PRODUCTION_BASE_URL, authority=PRODUCTION_AUTHORITY)


def sandbox_info_path(home: Path | None = None) -> Path:
    return (home or state_dir()) / SANDBOX_FILE


def sandbox_environment(home: Path | None = None) -> Environment:
    """The sandbox that a ``qaas-excel sandbox serve`` (or the demo) recorded in the state directory."""
    path = sandbox_info_path(home)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"No sandbox is running for state directory {path.parent} "
            "(start one with `qaas-excel sandbox serve`)."
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}") from None
    return Environment(
        name="sandbox",
        base_url=info["base_url"],
        authority=info["authority"],
        client_id=info.get("client_id", CLIENT_ID),
        ca_bundle=info.get("ca_file"),
        admin_token=info.get("admin_token"),
    )


def config_path(home: Path | None = None) -> Path:
    return (home or state_dir()) / CONFIG_FILE


def load_config(home: Path | None = None) -> dict[str, Any]:
    path = config_path(home)
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc}") from None


def get_environment(name: str | None = None, home: Path | None = None, *, check_files: bool = True) -> Environment:
    """Resolve ``--env`` / ``QAAS_ENV`` / config ``default_env`` to an Environment.

    ``config.toml`` may override any field per environment, and correct the API contract
    (see ``qaas_excel/contract.py``), e.g.::

        default_env = "production"
        [environments.production]
        base_url = "https://..."
        [environments.production.contract.fields.chargepoint]
        amount = "amount_kwh"
        [environments.staging]
        base_url = "https://..."
        authority = "https://login.microsoftonline.com/<tenant>"

    Every setting that names a file is checked here, when a command starts (``check_files``; doctor reports
    them as findings instead): a missing or unusable one is a ConfigError naming the file and the line.
    """
    from qaas_excel.resources import use_contract_statuses

    env = _environment(name, home)
    if check_files:
        problems = setting_file_problems(env, home)
        if problems:
            raise ConfigError(problems[0].message)
    use_contract_statuses(env.contract.editable_statuses())
    return env


@dataclass(frozen=True)
class FileProblem:
    """A setting that names a file the tool cannot use: which setting, which file, why, and what to do."""

    setting: str  # "ca_bundle", "the sandbox's CA file", "REQUESTS_CA_BUNDLE"
    path: str
    why: str  # "does not exist", "cannot be read (Permission denied)", ...
    where: str  # "config.toml line 3", the file that records it, or "the environment variable"
    fix: str

    @property
    def message(self) -> str:
        return f"{self.where}: {self.setting} names {self.path}, which {self.why}. {self.fix}"


def ca_file_problem(path: str) -> str | None:
    """Why a CA file cannot be used for TLS (missing, a folder, unreadable, no certificate); None if it can."""
    import ssl

    file = Path(path)
    try:
        if not file.exists():
            return "does not exist"
        if file.is_dir():
            return "is a folder, not a file"
        with open(file, "rb") as f:
            head = f.read(16 * 2**20)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if b"-----BEGIN CERTIFICATE-----" not in head:
        return "holds no certificate in PEM form (no -----BEGIN CERTIFICATE----- line)"
    try:
        ssl.create_default_context(cafile=str(file))
    except (ssl.SSLError, OSError) as exc:
        return f"cannot be loaded as certificates ({getattr(exc, 'reason', None) or exc})"
    return None


def setting_file_problems(env: Environment, home: Path | None = None) -> list[FileProblem]:
    """The settings of ``env`` that name a file it cannot use: ca_bundle, the sandbox's CA file, REQUESTS_CA_BUNDLE."""
    from qaas_excel.contract import line_of

    out: list[FileProblem] = []
    if env.ca_bundle:
        why = ca_file_problem(env.ca_bundle)
        if why is not None:
            path = config_path(home)
            configured = load_config(home).get("environments", {}).get(env.name, {})
            if isinstance(configured, dict) and configured.get("ca_bundle") == env.ca_bundle:
                line = line_of(_read_or_none(path), ("environments", env.name, "ca_bundle"))
                out.append(FileProblem("ca_bundle", env.ca_bundle, why, f"{path}{f' line {line}' if line else ''}",
                                       "Correct the path to the PEM file holding your organisation's root "
                                       "certificate, or remove the line to use this computer's certificate store."))
            else:
                out.append(FileProblem("the sandbox's CA file", env.ca_bundle, why,
                                       f"{sandbox_info_path(home)} ({env.name})",
                                       "Start the sandbox again (`qaas-excel sandbox serve`), which writes a new "
                                       "one."))
    else:
        for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            value = os.environ.get(variable)
            if value:
                why = ca_file_problem(value)
                if why is not None:
                    out.append(FileProblem(variable, value, why, f"the environment variable {variable}",
                                           f"Correct {variable} or unset it to use this computer's certificate "
                                           "store."))
                break  # requests uses the first one that is set
    return out


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _contract(name: str, overrides: dict[str, Any], home: Path | None) -> Contract:
    from qaas_excel.contract import NO_CONTRACT, ContractError, parse

    if "contract" not in overrides:
        return NO_CONTRACT
    path = config_path(home)
    try:
        return parse(overrides.pop("contract"), where=str(path), text=path.read_text(encoding="utf-8"),
                     table=("environments", name, "contract"))
    except ContractError as exc:
        raise ConfigError(f"The contract of environment {name!r} in {exc}") from None


def _environment(name: str | None, home: Path | None) -> Environment:
    config = load_config(home)
    name = name or os.environ.get("QAAS_ENV") or config.get("default_env") or "production"
    overrides = dict(config.get("environments", {}).get(name, {}))
    contract = _contract(name, overrides, home)
    if name == "sandbox" and not overrides:
        return replace(sandbox_environment(home), contract=contract)
    if name == "production":
        base = production()
    elif name == "sandbox":
        base = sandbox_environment(home)
    elif overrides:
        try:
            return Environment(name=name, contract=contract, **overrides)
        except TypeError as exc:
            raise ConfigError(f"Environment {name!r} in {CONFIG_FILE}: {exc}") from None
    else:
        raise ConfigError(f"Unknown environment {name!r}: use production, sandbox, or define it in {CONFIG_FILE}.")
    known = {f for f in Environment.__dataclass_fields__ if f not in ("name", "contract")}
    unknown = set(overrides) - known
    if unknown:
        raise ConfigError(f"Environment {name!r} in {CONFIG_FILE}: unknown keys {sorted(unknown)}")
    return replace(base, contract=contract, **overrides)
