"""Command line: every command is a thin caller of one library function."""

from __future__ import annotations

import typer

# Each module registers its commands on ``app``.
from qaas_excel.cli import (  # noqa: F401
    addin_cmds,
    api_cmds,
    auth_cmds,
    doctor_cmds,
    finance_cmds,
    office_cmds,
    pipeline_cmds,
    sandbox_cmds,
    workbook_cmds,
)
from qaas_excel.cli._app import app, setup_logging


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details to stderr.")) -> None:
    setup_logging(verbose)


def main() -> None:
    """The ``qaas-excel`` program: its first act is trusting the OS certificate store."""
    from qaas_excel.startup import use_os_trust_store

    use_os_trust_store()
    app()
