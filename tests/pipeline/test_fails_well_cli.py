"""What the commands say when a run cannot do all it meant to: saving, read-only folders, nothing to save."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from qaas_excel.cli import app

runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_saved_is_not_claimed_when_every_row_is_unchanged(sandbox, signed_in, demo_book: Path) -> None:
    cli("push", str(demo_book), "--env", "sandbox")
    second = cli("push", str(demo_book), "--env", "sandbox")  # writes "unchanged" where "created" stood
    assert "Saved:" in second.stdout
    before = (demo_book.read_bytes(), demo_book.stat().st_mtime_ns)

    again = cli("push", str(demo_book), "--env", "sandbox")
    assert "unchanged" in again.stdout
    assert "Saved:" not in again.stdout + again.stderr
    assert (demo_book.read_bytes(), demo_book.stat().st_mtime_ns) == before

    as_json = cli("push", str(demo_book), "--env", "sandbox", "--json")
    assert json.loads(as_json.stdout)["saved_to"] is None
    assert (demo_book.read_bytes(), demo_book.stat().st_mtime_ns) == before
