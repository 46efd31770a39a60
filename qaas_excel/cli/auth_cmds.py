"""CLI commands (being written)."""

from qaas_excel.cli._app import app  # noqa: F401
