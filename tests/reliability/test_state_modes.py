"""Everything under the state folder (tokens, journals, audit, the sandbox's database) is owner-only."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner

from qaas_excel.cli import app

runner = CliRunner()


def test_every_folder_and_file_under_the_state_folder_is_owner_only(sandbox, signed_in, qaas_home: Path,
                                                                    demo_book: Path) -> None:
    qaas_home.chmod(0o755)  # as an earlier version left it
    result = runner.invoke(app, ["push", str(demo_book), "--env", "sandbox"], catch_exceptions=False)
    assert result.exit_code == 1  # the demo has invalid rows
    runner.invoke(app, ["audit", "--json"], catch_exceptions=False)
    seen = {p.relative_to(qaas_home).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in qaas_home.rglob("*")}
    seen["."] = stat.S_IMODE(qaas_home.stat().st_mode)
    # the files that hold secrets or history are all there
    assert {"accounts.json", "sandbox.sqlite3", "sandbox.sqlite3-wal", "journal", "audit.jsonl"} <= set(seen), seen
    loose = {name: oct(mode) for name, mode in seen.items() if mode & 0o077}
    assert loose == {}
