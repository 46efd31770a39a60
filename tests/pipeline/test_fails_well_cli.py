"""What the commands say when a run cannot do all it meant to: saving, read-only folders, nothing to save."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app

runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def run_json(*args: str) -> tuple[int, dict]:
    result = cli(*args, "--json")
    return result.exit_code, json.loads(result.stdout)


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


def _fail_saving(monkeypatch, error: int, *, then=None) -> None:
    """The next save stops with ``error`` while it writes the new file (a full disk, a refusal)."""
    from qaas_excel.workbook.xlsx_package import Package

    def write_to(self, target) -> None:
        if then is not None:
            then()
        raise OSError(error, os.strerror(error), str(target))

    monkeypatch.setattr(Package, "write_to", write_to)


@pytest.mark.parametrize(("error", "words"), [
    (errno.ENOSPC, "the disk is full (No space left on device)"),
    (errno.EPERM, "the system refused (Operation not permitted)"),
    (errno.EROFS, "the disk is read-only (Read-only file system)"),
])
def test_a_failed_save_says_its_real_cause(sandbox, signed_in, demo_book: Path, monkeypatch, error, words) -> None:
    before = demo_book.read_bytes()
    _fail_saving(monkeypatch, error)
    result = cli("push", str(demo_book), "--env", "sandbox")
    assert result.exit_code == 2
    assert words in result.stderr, result.stderr
    assert "open in Excel" not in result.stderr
    assert demo_book.read_bytes() == before


def test_a_save_refused_while_excel_opened_the_file_says_so(sandbox, signed_in, demo_book: Path,
                                                            monkeypatch) -> None:
    lock = demo_book.parent / f"~${demo_book.name}"
    _fail_saving(monkeypatch, errno.EACCES, then=lambda: lock.write_bytes(b"someone"))
    result = cli("push", str(demo_book), "--env", "sandbox")
    assert result.exit_code == 2
    assert "it is open in Excel (Permission denied). Close it in Excel" in result.stderr, result.stderr
    assert "kept in" in result.stderr  # the push's results wait in the journal


def test_validate_in_a_read_only_folder_reports_every_problem_and_says_the_cells_are_not_marked(
        demo_book: Path, qaas_home: Path, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    book = folder / "demo.xlsx"
    shutil.copyfile(demo_book, book)
    before = book.read_bytes()
    real_access = os.access
    # the tests run as root, who may write anywhere: the folder is read-only where the tool asks
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == folder else real_access(p, mode))

    result = cli("validate", str(book))
    assert result.exit_code == 1, result.stdout + result.stderr
    printed = " ".join(result.stdout.split())  # as one line, however the terminal wrapped it
    assert "invalid" in printed and "greater than 0" in printed
    assert "The cells were not marked" in printed and "read-only" in printed
    assert "Saved:" not in printed
    assert book.read_bytes() == before

    code, report = run_json("validate", str(book))
    assert code == 1 and report["counts"] == {"valid": 16, "invalid": 8} and report["saved_to"] is None
    assert any("The cells were not marked" in note for note in report["notes"])
    assert book.read_bytes() == before


def test_validate_whose_save_fails_still_reports_every_problem(demo_book: Path, qaas_home: Path,
                                                               monkeypatch) -> None:
    _fail_saving(monkeypatch, errno.ENOSPC)
    code, report = run_json("validate", str(demo_book))
    assert code == 1 and report["counts"] == {"valid": 16, "invalid": 8}
    assert any("The cells were not marked" in note and "disk is full" in note for note in report["notes"])


def test_messages_name_the_column_letter_and_a_header_with_a_line_break_on_one_line(demo_book: Path,
                                                                                   qaas_home: Path) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(demo_book)
    ws = wb["ChargePoints"]
    headers = {str(c.value).rstrip(" *"): c for c in ws[1] if c.value}
    headers["EVSE ID"].value = "EVSE\nID *"  # as typed with Alt+Enter in Excel
    letter = headers["EVSE ID"].column_letter
    wb.save(demo_book)

    code, report = run_json("validate", str(demo_book))
    assert code == 1
    rows = {r["row"]: r for s in report["sheets"] if s["sheet"] == "ChargePoints" for r in s["rows"]}
    evse = [r for r in rows.values() if "DE-EMI-3000005" in r["message"]]
    assert [r["message"] for r in evse] == [f"column {letter} (EVSE ID): 'DE-EMI-3000005' is not valid: expected "
                                            "eMI3 form such as DE*ABC*E1234567*1"]
    assert not any("\n" in r["message"] for r in rows.values())
    amount = next(r for r in rows.values() if "must be greater than 0" in r["message"])
    assert amount["message"].startswith(f"column {headers['Amount (kWh)'].column_letter} (Amount (kWh)): ")

    ws = openpyxl.load_workbook(demo_book)["ChargePoints"]
    row = evse[0]["row"]
    assert ws[f"{letter}{row}"].comment.text == f"qaas-excel:\ncolumn {letter} (EVSE ID): 'DE-EMI-3000005' is not " \
                                                "valid: expected eMI3 form such as DE*ABC*E1234567*1"
    printed = " ".join(cli("validate", str(demo_book)).stdout.split())
    assert f"ChargePoints row {row} invalid: column {letter} (EVSE ID): 'DE-EMI-3000005'" in printed
