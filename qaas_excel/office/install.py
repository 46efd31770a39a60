"""``qaas-excel addin install --office`` / ``uninstall --office``: per user, no administrator rights.

1. A new per-install secret, the companion's local CA and localhost certificate (``certs``), and the CA
   trusted in the user's own certificate store. The operating system asks the user, as it must:
   Windows shows a security warning ("You are about to install a certificate ..."), macOS asks for the
   user's password. Linux has no Excel; a browser there (Excel on the web) reads the NSS store.
2. The manifest, written into the state folder and sideloaded where Excel looks for it: on Windows the
   per-user developer key ``HKCU\\Software\\Microsoft\\Office\\16.0\\Wef\\Developer`` (a value whose data is
   the manifest's path, as Microsoft's ``office-addin-dev-settings`` writes it); on macOS a copy in Excel's
   ``wef`` folder; for Excel on the web the user uploads it (the steps are printed).
3. Optionally the companion starts at login: the per-user Run key (Windows), a LaunchAgent (macOS), an
   XDG autostart entry (Linux).

Every outside effect goes through ``Effects``, so the tests run each platform's steps here and check them.
"""

from __future__ import annotations

import json
import plistlib
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qaas_excel.config_files import write_private_text
from qaas_excel.office import ADDIN_ID, certs
from qaas_excel.office import settings as office_settings
from qaas_excel.office.manifest import manifest_xml

WEF_DEVELOPER_KEY = r"Software\Microsoft\Office\16.0\Wef\Developer"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = "qaas-excel companion"
LAUNCH_AGENT = "com.qaas-excel.companion"
TRUSTED_FILE = "trusted.json"  # what install put where, so uninstall removes exactly that
WEB_STEPS = ("Excel on the web: open a workbook, then Home > Add-ins > More add-ins > My add-ins > Upload My Add-in, "
             "and choose {manifest}.")


class Registry:
    """HKEY_CURRENT_USER string values (Windows)."""

    def set(self, key: str, name: str, value: str) -> None:
        import winreg  # type: ignore[import-not-found,unused-ignore]

        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE) as k:  # type: ignore[attr-defined,unused-ignore]
            winreg.SetValueEx(k, name, 0, winreg.REG_SZ, value)  # type: ignore[attr-defined,unused-ignore]

    def delete(self, key: str, name: str) -> None:
        import winreg  # type: ignore[import-not-found,unused-ignore]

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE) as k:  # type: ignore[attr-defined,unused-ignore]
                winreg.DeleteValue(k, name)  # type: ignore[attr-defined,unused-ignore]
        except FileNotFoundError:
            pass


@dataclass
class Effects:
    """The world an install changes: which OS, the home folder, commands, the registry."""

    platform: str = field(default_factory=lambda: sys.platform)
    home: Path = field(default_factory=Path.home)
    python: str = sys.executable
    registry: Any = field(default_factory=Registry)

    def run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, capture_output=True, text=True, check=False)

    def which(self, program: str) -> str | None:
        return shutil.which(program)


def _login_keychain(fx: Effects) -> str:
    return str(fx.home / "Library" / "Keychains" / "login.keychain-db")


def _nss_db(fx: Effects) -> str:
    return f"sql:{fx.home / '.pki' / 'nssdb'}"


def trust_commands(fx: Effects, files: certs.Certificates) -> list[list[str]]:
    ca = str(files.ca_file)
    if fx.platform == "win32":
        return [["certutil", "-user", "-addstore", "Root", ca]]
    if fx.platform == "darwin":
        return [["security", "add-trusted-cert", "-r", "trustRoot", "-p", "ssl", "-k", _login_keychain(fx), ca]]
    if fx.which("certutil"):
        return [["certutil", "-d", _nss_db(fx), "-A", "-t", "C,,", "-n", files.ca_name, "-i", ca]]
    return []


def untrust_commands(fx: Effects, trusted: dict[str, str]) -> list[list[str]]:
    sha1, name = trusted.get("sha1", ""), trusted.get("name", "")
    if fx.platform == "win32":
        return [["certutil", "-user", "-delstore", "Root", sha1]]
    if fx.platform == "darwin":
        return [["security", "delete-certificate", "-Z", sha1, _login_keychain(fx)]]
    if fx.which("certutil"):
        return [["certutil", "-d", _nss_db(fx), "-D", "-n", name]]
    return []


def wef_folder(fx: Effects) -> Path:
    return fx.home / "Library" / "Containers" / "com.microsoft.Excel" / "Data" / "Documents" / "wef"


def serve_command(fx: Effects) -> list[str]:
    python = fx.python
    if fx.platform == "win32":
        windowless = Path(python).with_name("pythonw.exe")
        if windowless.exists():
            python = str(windowless)  # no console window at every login
    return [python, "-m", "qaas_excel", "serve"]


def _quote_windows(args: list[str]) -> str:
    return subprocess.list2cmdline(args)


def _autostart(fx: Effects, enable: bool) -> list[str]:
    command = serve_command(fx)
    if fx.platform == "win32":
        if enable:
            fx.registry.set(RUN_KEY, RUN_VALUE, _quote_windows(command))
            return [f"The companion starts when you sign in to Windows (HKCU\\{RUN_KEY}, value '{RUN_VALUE}')."]
        fx.registry.delete(RUN_KEY, RUN_VALUE)
        return []
    if fx.platform == "darwin":
        plist = fx.home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT}.plist"
        if enable:
            plist.parent.mkdir(parents=True, exist_ok=True)
            plist.write_bytes(plistlib.dumps({"Label": LAUNCH_AGENT, "ProgramArguments": command, "RunAtLoad": True,
                                              "KeepAlive": {"SuccessfulExit": False},
                                              "ProcessType": "Background"}))
            return [f"The companion starts when you log in to macOS ({plist})."]
        plist.unlink(missing_ok=True)
        return []
    desktop = fx.home / ".config" / "autostart" / "qaas-excel-companion.desktop"
    if enable:
        desktop.parent.mkdir(parents=True, exist_ok=True)
        exec_line = " ".join(f'"{a}"' if " " in a else a for a in command)
        desktop.write_text("[Desktop Entry]\nType=Application\nName=qaas-excel companion\n"
                           f"Exec={exec_line}\nX-GNOME-Autostart-enabled=true\nNoDisplay=true\n", encoding="utf-8")
        return [f"The companion starts when you log in ({desktop})."]
    desktop.unlink(missing_ok=True)
    return []


def _run_all(fx: Effects, commands: list[list[str]], what: str) -> list[str]:
    lines = []
    for args in commands:
        try:
            done = fx.run(args)
        except OSError as exc:
            lines.append(f"Could not {what} ({args[0]}: {exc.strerror or exc}); do it by hand: {' '.join(args)}")
            continue
        if done.returncode != 0:
            why = (done.stderr or done.stdout or "").strip().splitlines()
            lines.append(f"Could not {what} ({why[-1] if why else f'exit {done.returncode}'}); do it by hand: "
                         f"{' '.join(args)}")
    return lines


def install(*, port: int | None = None, start_at_login: bool = True, home: Path | None = None,
            effects: Effects | None = None) -> list[str]:
    """Install the Office add-in for this user; returns what was done, in words."""
    fx = effects or Effects()
    settings = office_settings.load(home, port=port, new_secret=True)
    folder = settings.folder
    previous = _read_trusted(folder)
    files, made = certs.ensure(settings.tls_dir)
    lines = [f"Companion: https://localhost:{settings.port} (a new secret for the add-in's requests)."]
    if previous and previous.get("sha1") != files.ca_sha1:
        lines += _run_all(fx, untrust_commands(fx, previous), "remove the previous local CA")
    trust = trust_commands(fx, files)
    if trust:
        if made or not previous or previous.get("sha1") != files.ca_sha1:
            lines.append(f"Trusting the companion's local CA '{files.ca_name}' (valid for localhost only): "
                         + {"win32": "Windows asks you to confirm.", "darwin": "macOS asks for your password."}.get(
                             fx.platform, "added to your browser's certificate store."))
            problems = _run_all(fx, trust, "trust the local CA")
            lines += problems
            if not problems:
                _write_trusted(folder, {"sha1": files.ca_sha1, "name": files.ca_name, "platform": fx.platform})
        else:
            lines.append("The companion's local CA is trusted already.")
    else:
        lines.append(f"Trust {files.ca_file} in your browser's certificate store (Excel on the web): no certutil "
                     "(libnss3-tools) was found here.")
    manifest = settings.manifest_path
    write_private_text(manifest, manifest_xml(settings.origin).decode("utf-8"))
    if fx.platform == "win32":
        fx.registry.set(WEF_DEVELOPER_KEY, ADDIN_ID, str(manifest))
        lines.append(f"Excel on Windows: sideloaded (HKCU\\{WEF_DEVELOPER_KEY}). Restart Excel; the QaaS tab appears.")
    elif fx.platform == "darwin":
        target = wef_folder(fx)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(manifest, target / f"{ADDIN_ID}.manifest.xml")
        lines.append(f"Excel on macOS: sideloaded ({target}). Restart Excel; the QaaS tab appears.")
    lines.append(WEB_STEPS.format(manifest=manifest))
    lines += _autostart(fx, start_at_login)
    if not start_at_login:
        lines.append("Start the companion with `qaas-excel serve` before you use the QaaS tab.")
    return lines


def uninstall(*, home: Path | None = None, effects: Effects | None = None) -> list[str]:
    fx = effects or Effects()
    settings = office_settings.load(home)
    folder = settings.folder
    lines = []
    trusted = _read_trusted(folder)
    if trusted:
        lines += _run_all(fx, untrust_commands(fx, trusted), "remove the local CA")
        (folder / TRUSTED_FILE).unlink(missing_ok=True)
        lines.append(f"Removed the trust in the local CA '{trusted.get('name')}'.")
    if fx.platform == "win32":
        fx.registry.delete(WEF_DEVELOPER_KEY, ADDIN_ID)
    elif fx.platform == "darwin":
        (wef_folder(fx) / f"{ADDIN_ID}.manifest.xml").unlink(missing_ok=True)
    _autostart(fx, False)
    settings.manifest_path.unlink(missing_ok=True)
    shutil.rmtree(settings.tls_dir, ignore_errors=True)
    lines.append("The QaaS Office add-in is no longer sideloaded and the companion no longer starts at login. "
                 "In Excel on the web, remove it under My add-ins. Your sign-in and journals are kept.")
    return lines


def _read_trusted(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / TRUSTED_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_trusted(folder: Path, data: dict[str, str]) -> None:
    write_private_text(folder / TRUSTED_FILE, json.dumps(data, indent=2))

