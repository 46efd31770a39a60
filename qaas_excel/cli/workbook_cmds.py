"""`templates`: the template workbooks, generated from the resource definitions."""

from __future__ import annotations

from pathlib import Path

import typer

from qaas_excel.cli._app import app, console, handle_errors
from qaas_excel.cli._render import text


@app.command()
@handle_errors
def templates(out: Path = typer.Option(Path("."), "--out", help="Folder to write the workbooks to.")) -> None:
    """Write qaas_template.xlsx (empty) and demo.xlsx (sample rows, a few with mistakes)."""
    from qaas_excel.templates import write_all

    for path in write_all(out):
        console.print(text("Wrote {}", path))
