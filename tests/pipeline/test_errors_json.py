"""With --json, stdout is one JSON document whatever happens: a result, or {"error": {...}} with the exit code."""

from __future__ import annotations

import errno
import json
import os
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app

runner = CliRunner()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def json_error(*args: str, code: int) -> dict:
    """Run a command with --json; its stdout must be exactly one error document carrying ``code``."""
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == code, (result.stdout, result.stderr)
    document = json.loads(result.stdout)  # one document, nothing before or after it
    error = document["error"]
    assert error["exit_code"] == code and error["code"] and error["message"], error
    assert error["message"] in result.stderr or error["code"] == "usage"  # the human line stays on stderr (typer
    # frames a usage error in a box)
    assert "Traceback" not in result.stdout + result.stderr
    return error


def test_a_missing_file_a_csv_and_an_unknown_sheet(tmp_path: Path, qaas_home: Path, demo_book: Path) -> None:
    error = json_error("validate", str(tmp_path / "nowhere.xlsx"), code=2)
    assert error["code"] == "workbook" and "no such file" in error["message"]
    csv = tmp_path / "Meldung.xlsx"
    csv.write_text("reference;amount\nA;1,5\n", encoding="utf-8")
    assert "CSV" in json_error("validate", str(csv), code=2)["message"]
    error = json_error("validate", str(demo_book), "--sheet", "Nope", code=2)
    assert error["code"] == "workbook" and "no sheet 'Nope'" in error["message"]


def test_too_many_rows(demo_book: Path, qaas_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qaas_excel.workbook import package_book

    monkeypatch.setattr(package_book, "MAX_DATA_ROWS", 3)
    error = json_error("validate", str(demo_book), "--sheet", "ChargePoints", code=2)
    assert "at most 3 are accepted" in error["message"] and error["sheet"] in error["message"]


def test_not_signed_in_and_a_bad_token(sandbox, demo_book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert json_error("push", str(demo_book), "--env", "sandbox", code=3)["code"] == "sign-in-required"
    assert json_error("operators", "list", "--env", "sandbox", code=3)["code"] == "sign-in-required"
    monkeypatch.setenv("QAAS_ACCESS_TOKEN", "not.a.token")
    error = json_error("push", str(demo_book), "--env", "sandbox", code=3)
    assert error["code"] in ("sign-in-required", "sign-in-rejected")
    assert sandbox.admin.records("chargepoint") == []


def test_an_unreachable_service(signed_in, demo_book: Path, qaas_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qaas_excel.api.auth import MsalSignIn

    token = MsalSignIn(signed_in, home=qaas_home).token()
    monkeypatch.setenv("QAAS_ACCESS_TOKEN", token)
    port = closed_port()
    (qaas_home / "config.toml").write_text(f'[environments.gone]\nbase_url = "https://127.0.0.1:{port}"\n'
                                           f'authority = "https://127.0.0.1:{port}/tenant"\n', encoding="utf-8")
    error = json_error("push", str(demo_book), "--env", "gone", code=4)
    assert error["code"] == "unreachable"
    assert json_error("chargepoints", "list", "--env", "gone", code=4)["code"] == "unreachable"
    doctor = runner.invoke(app, ["doctor", "--env", "gone", "--suggest", "--json", "--timeout", "1"])
    report = json.loads(doctor.stdout)  # the checks, and why there is nothing to suggest
    assert doctor.exit_code == 4 and report["error"]["code"] == "no-openapi-document" and report["checks"]


def test_a_busy_workbook_names_who_holds_it(sandbox, signed_in, demo_book: Path) -> None:
    from qaas_excel.runlock import book_lock

    with book_lock(demo_book, command="push"):
        error = json_error("push", str(demo_book), "--env", "sandbox", "--wait", "0.1", code=5)
        assert error["code"] == "busy" and error["holder"]["pid"] == os.getpid()
        assert json_error("validate", str(demo_book), "--wait", "0.1", code=5)["code"] == "busy"


def test_a_failed_save_after_a_push_is_an_error_document_with_what_the_push_did(
        sandbox, signed_in, demo_book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qaas_excel.workbook.xlsx_package import Package

    def full_disk(self, target) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(Package, "write_to", full_disk)
    error = json_error("push", str(demo_book), "--env", "sandbox", code=2)
    assert error["code"] == "save-failed" and "No space left on device" in error["message"]
    assert error["report"]["counts"]["created"] == 16  # the records were created: the script must know
    assert error["report"]["saved_to"] is None


def test_a_usage_error_in_a_command_and_on_the_command_line(demo_book: Path, qaas_home: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from qaas_excel.cli._app import run_app

    error = json_error("push", str(demo_book), "--env", "sandbox", "--overwrite", "7-x", code=2)
    assert error["code"] == "usage" and "7-x" in error["message"]

    with pytest.raises(SystemExit) as exit_:
        run_app(["push", str(demo_book), "--json", "--workers", "99"])  # refused before the command runs
    out = capsys.readouterr()
    assert exit_.value.code == 2
    error = json.loads(out.out)["error"]
    assert error == {"code": "usage", "exit_code": 2, "message": error["message"]}
    assert "--workers" in error["message"] and "--workers" in out.err


def test_a_command_that_succeeds_prints_its_result_not_an_error(demo_book: Path, qaas_home: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from qaas_excel.cli._app import run_app

    with pytest.raises(SystemExit) as exit_:
        run_app(["validate", str(demo_book), "--json"])
    assert exit_.value.code == 1  # the demo has invalid rows
    report = json.loads(capsys.readouterr().out)
    assert "error" not in report and report["counts"] == {"valid": 16, "invalid": 8}


def test_the_json_of_a_large_run_is_written_as_made_and_is_what_one_text_of_it_would_be() -> None:
    """``--json`` of 200,000 rows is some 240 MB: written in pieces (never held whole), byte for byte the same."""
    import io
    from datetime import date
    from decimal import Decimal

    from qaas_excel.cli._render import dump, dumps

    data = {"rows": [{"row": n, "amount": Decimal(n) / 8, "day": date(2024, 1, 1 + n % 28), "message": f"Zeile {n} ü",
                      "problems": [{"cell": f"K{n}"}] if n % 3 else []} for n in range(30_000)], "stopped": False}
    out = io.StringIO()
    writes: list[int] = []
    real_write = out.write

    def write(text: str) -> int:
        writes.append(len(text))
        return real_write(text)

    out.write = write  # type: ignore[method-assign]
    dump(data, out)
    assert out.getvalue() == dumps(data) + "\n"
    assert len(writes) > 1 and max(writes) < len(out.getvalue()) // 2  # in pieces, none of them the whole
