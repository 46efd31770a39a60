"""`serve` and `addin install --office | uninstall --office`: the Office add-in and its local companion."""

from __future__ import annotations

import logging
import sys

import typer

from qaas_excel.cli._app import EXIT_USAGE, app, err_console, handle_errors
from qaas_excel.config import state_dir
from qaas_excel.config_files import ConfigError


def require_office() -> None:
    """One line that says how to install the companion's extra when it is missing (exit code 2)."""
    from qaas_excel.office import INSTALL_HINT, missing_modules

    missing = missing_modules()
    if missing:
        err_console.print(f"The Office add-in's companion is not installed (missing: {', '.join(missing)}); install "
                          f"it with: {INSTALL_HINT}", markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE)


def _log_to_file() -> None:
    """The companion's log is a file in the state folder (it often runs with no console, from login)."""
    handler = logging.FileHandler(state_dir() / "office.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("qaas_excel")
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)


@app.command("serve")
@handle_errors
def serve(
    port: int = typer.Option(None, help="Port on 127.0.0.1 (default: the one the installed manifest names; 0 picks "
                                        "a free one, for trying it out)."),
) -> None:
    """Run the Office add-in's companion on https://localhost:PORT until Ctrl-C."""
    require_office()
    from qaas_excel.office.server import CompanionServer

    _log_to_file()
    server = CompanionServer(port=port)
    if server.new_certificates:
        err_console.print("Made a new localhost certificate: Excel trusts it once `qaas-excel addin install --office` "
                          "has run.", markup=False, highlight=False)

    def ready(s: CompanionServer) -> None:
        print(f"QaaS companion ready at {s.origin} (manifest: {s.origin}/manifest.xml); Ctrl-C stops it.", flush=True)

    try:
        server.serve_forever(on_ready=ready)
    except OSError as exc:
        raise ConfigError(f"Cannot listen on 127.0.0.1:{server._requested_port}: {exc.strerror or exc} (is another "
                          "companion running?)") from None


def install_office(port: int | None, start_at_login: bool) -> list[str]:
    require_office()
    from qaas_excel.office.install import install

    return install(port=port, start_at_login=start_at_login)


def uninstall_office() -> list[str]:
    from qaas_excel.office.install import uninstall

    return uninstall()


def platform_name() -> str:
    return {"win32": "Windows", "darwin": "macOS"}.get(sys.platform, sys.platform)
