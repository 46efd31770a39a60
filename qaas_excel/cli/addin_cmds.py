"""`addin build | install`: the QaaS ribbon tab for Excel."""

from __future__ import annotations

from pathlib import Path

import typer

from qaas_excel.cli._app import app, console, handle_errors
from qaas_excel.cli._render import plain, text

addin_app = typer.Typer(help="The Excel add-in (QaaS ribbon tab).", no_args_is_help=True)
app.add_typer(addin_app, name="addin")


@addin_app.command("build")
@handle_errors
def build(out: Path = typer.Option(Path("."), "--out", help="Folder for qaas_excel.xlam.")) -> None:
    """Build qaas_excel.xlam from the text sources (works on any OS)."""
    from qaas_excel.excel.addin.build import build_addin

    console.print(text("Wrote {}", build_addin(out)))


@addin_app.command("install")
@handle_errors
def install(
    office: bool = typer.Option(False, "--office", help="The Office add-in (Excel on Windows, macOS and the web) and "
                                "its local companion, instead of the VBA add-in."),
    port: int = typer.Option(None, help="--office: the companion's port on 127.0.0.1 (default 44355)."),
    start_at_login: bool = typer.Option(True, "--start-at-login/--no-start-at-login",
                                        help="--office: start the companion when you sign in to this computer."),
) -> None:
    """Install the add-in into Excel's startup folder and configure xlwings (Windows/macOS); with --office, the
    Office add-in and its companion (per user, no admin rights)."""
    if office:
        from qaas_excel.cli.office_cmds import install_office

        for line in install_office(port, start_at_login):
            console.print(plain(line))
        return
    from qaas_excel.excel.addin.install import install as run

    for line in run():
        console.print(plain(line))
    console.print("Restart Excel: the QaaS tab appears in the ribbon.")


@addin_app.command("uninstall")
@handle_errors
def uninstall(office: bool = typer.Option(False, "--office", help="Remove the Office add-in and its companion.")
              ) -> None:
    """Remove the Office add-in: its sideloading, the start at login, and the companion's certificate (--office)."""
    if not office:
        raise typer.BadParameter("only the Office add-in is uninstalled here: add --office", param_hint="--office")
    from qaas_excel.cli.office_cmds import uninstall_office

    for line in uninstall_office():
        console.print(plain(line))
