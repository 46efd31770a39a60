"""The companion's own state, in the state folder's ``office/``: its port, its per-install secret, its TLS files."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from qaas_excel.config import state_dir
from qaas_excel.config_files import private_dir, write_private_text
from qaas_excel.office import DEFAULT_PORT

SETTINGS_FILE = "office.json"
MANIFEST_FILE = "qaas-excel-manifest.xml"


@dataclass(frozen=True)
class OfficeSettings:
    folder: Path
    port: int
    # Sent by the served add-in with every API request: a web page the user visits cannot read it (same-origin
    # policy), so it cannot make the companion act (CSRF). New on every install.
    secret: str

    @property
    def tls_dir(self) -> Path:
        return self.folder / "tls"

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST_FILE

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"


def office_dir(home: Path | None = None) -> Path:
    return private_dir((home or state_dir()) / "office")


def load(home: Path | None = None, *, port: int | None = None, new_secret: bool = False) -> OfficeSettings:
    """The settings, created on first use (a new secret); ``port`` changes the stored port."""
    folder = office_dir(home)
    path = folder / SETTINGS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    changed = False
    if new_secret or not isinstance(data.get("secret"), str) or len(data["secret"]) < 32:
        data["secret"] = secrets.token_urlsafe(32)
        changed = True
    if port is not None and data.get("port") != port:
        data["port"] = port
        changed = True
    if not isinstance(data.get("port"), int):
        data["port"] = DEFAULT_PORT
        changed = True
    if changed:
        write_private_text(path, json.dumps(data, indent=2))
    return OfficeSettings(folder, data["port"], data["secret"])
