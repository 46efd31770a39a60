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
def install() -> None:
    """Install the add-in into Excel's startup folder and configure xlwings (Windows/macOS)."""
    from qaas_excel.excel.addin.install import install as run

    for line in run():
        console.print(plain(line))
    console.print("Restart Excel: the QaaS tab appears in the ribbon.")
