"""validate / push / pull through the CLI, on real workbook files, against the real sandbox."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.pipeline import default_journal, push_book
from qaas_excel.workbook.openpyxl_book import OpenpyxlBook

runner = CliRunner()
OPS, CPS = "Operators", "ChargePoints"


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def run_json(*args: str) -> tuple[int, dict]:
    result = cli(*args, "--json")
    return result.exit_code, json.loads(result.stdout)


def _col(ws, header: str) -> int:
    """1-based column of a header ("Amount (kWh)" finds "Amount (kWh) *")."""
    return [str(c.value or "").rstrip(" *") for c in ws[1]].index(header) + 1


def column(path: Path, sheet: str, header: str) -> dict[int, object]:
    ws = openpyxl.load_workbook(path)[sheet]
    j = _col(ws, header)
    return {r: ws.cell(r, j).value for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value is not None}


def set_cell(path: Path, sheet: str, header: str, row: int, value: object) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    ws.cell(row, _col(ws, header)).value = value
    wb.save(path)


def api_requests(sandbox) -> dict[str, int]:
    """Requests to the API itself (sign-in traffic left out)."""
    return {k: v for k, v in sandbox.admin.stats()["requests"].items() if " /chargepoint" in k}


def list_reads(sandbox, *resources: str) -> dict[str, int]:
    """The requests of reading each list whole once: one, or one a page when the sandbox pages its lists."""
    from qaas_excel.resources import RESOURCES

    size = sandbox.paging.page_size if sandbox.paging else None
    return {f"GET {RESOURCES[name].list_path}": -(-len(sandbox.admin.records(name)) // size) if size else 1
            for name in resources}


def row_of(path: Path, reference: str) -> int:
    return next(r for r, v in column(path, CPS, "Your reference").items() if v == reference)


def test_validate_marks_problems_without_network(demo_book: Path, qaas_home: Path) -> None:
    code, report = run_json("validate", str(demo_book))
    assert code == 1
    assert report["counts"] == {"valid": 16, "invalid": 8}
    ws = openpyxl.load_workbook(demo_book)[CPS]
    marked = {(c.row, c.column) for row in ws.iter_rows() for c in row if c.comment is not None}
    assert marked and all(ws.cell(r, c).comment.author == "qaas-excel" for r, c in marked)
    results = column(demo_book, CPS, "Result")
    assert results[row_of(demo_book, "M-006-2024")] == "invalid"
    assert "greater than 0" in column(demo_book, CPS, "Message")[row_of(demo_book, "M-006-2024")]


@pytest.mark.both_sandboxes
def test_push_creates_writes_back_and_a_second_push_sends_nothing(sandbox, signed_in, demo_book: Path) -> None:
    code, report = run_json("push", str(demo_book), "--env", "sandbox")
    assert code == 1  # the demo has invalid rows
    assert report["counts"] == {"created": 16, "invalid": 8}
    ids = column(demo_book, CPS, "QaaS ID")
    assert sum(1 for v in ids.values() if isinstance(v, int)) == 13
    assert set(column(demo_book, CPS, "Status").values()) >= {"created"}
    assert len(sandbox.admin.records("chargepoint")) == 13 and len(sandbox.admin.records("operator")) == 3
    assert (demo_book.parent / "demo.backup.xlsx").exists()

    sandbox.admin.reset_stats()
    code, report = run_json("push", str(demo_book), "--env", "sandbox")
    assert report["counts"] == {"unchanged": 16, "invalid": 8}
    assert api_requests(sandbox) == list_reads(sandbox, "operator", "chargepoint")


def test_changed_amount_is_patched_once(sandbox, signed_in, demo_book: Path) -> None:
    cli("push", str(demo_book), "--env", "sandbox")
    row = row_of(demo_book, "DD-001-2024")
    set_cell(demo_book, CPS, "Amount (kWh)", row, 19000.5)
    sandbox.admin.reset_stats()
    code, report = run_json("push", str(demo_book), "--env", "sandbox")
    assert report["counts"]["updated"] == 1
    assert sandbox.admin.requests("PATCH /chargepoint/{id}") == 1
    record_id = column(demo_book, CPS, "QaaS ID")[row]
    [record] = [r for r in sandbox.admin.records("chargepoint") if r["id"] == record_id]
    assert Decimal(record["amount"]) == Decimal("19000.5")
    assert "18.234,512 → 19.000,500" in column(demo_book, CPS, "Message")[row]


def test_a_record_sent_to_the_uba_is_locked(sandbox, signed_in, demo_book: Path) -> None:
    cli("push", str(demo_book), "--env", "sandbox")
    row = row_of(demo_book, "DD-002-2024")
    sandbox.admin.set_status("chargepoint", column(demo_book, CPS, "QaaS ID")[row], "sent_to_uba")
    set_cell(demo_book, CPS, "Amount (kWh)", row, 1.0)
    sandbox.admin.reset_stats()
    cli("push", str(demo_book), "--env", "sandbox")
    assert column(demo_book, CPS, "Result")[row] == "locked"
    assert "sent_to_uba" in column(demo_book, CPS, "Message")[row]
    assert sandbox.admin.requests("PATCH /chargepoint/{id}") == 0


def test_changed_on_both_sides_is_a_conflict_and_nothing_is_overwritten(sandbox, signed_in, demo_book: Path) -> None:
    cli("push", str(demo_book), "--env", "sandbox")
    row = row_of(demo_book, "HH-001-2024")
    record_id = column(demo_book, CPS, "QaaS ID")[row]
    sandbox.admin.update_record("chargepoint", record_id, amount="9000.000")
    set_cell(demo_book, CPS, "Amount (kWh)", row, 9500)
    cli("push", str(demo_book), "--env", "sandbox")
    assert column(demo_book, CPS, "Result")[row] == "conflict"
    [record] = [r for r in sandbox.admin.records("chargepoint") if r["id"] == record_id]
    assert record["amount"] == "9000.000"


def test_service_refusals_land_in_their_rows(sandbox, signed_in, demo_book: Path) -> None:
    sandbox.admin.set_faults(fail_next=["422@POST /chargepointoperator", "400@POST /chargepoint"])
    code, report = run_json("push", str(demo_book), "--env", "sandbox", "--workers", "1")
    assert code == 1
    assert report["counts"]["failed"] == 2
    failed_ops = [r for r in report["sheets"][0]["rows"] if r["result"] == "failed"]
    assert failed_ops and "Rejected by the sandbox" in failed_ops[0]["message"]
    failed_cps = [r for r in report["sheets"][1]["rows"] if r["result"] == "failed"]
    assert failed_cps and failed_cps[0]["message"].startswith("Rejected by the service: column K (Amount (kWh))")
    ws = openpyxl.load_workbook(demo_book)[CPS]
    amount_col = _col(ws, "Amount (kWh)")
    assert ws.cell(failed_cps[0]["row"], amount_col).comment is not None


@pytest.mark.both_sandboxes
def test_results_of_an_interrupted_push_are_recovered_not_recreated(sandbox, signed_in, demo_book: Path,
                                                                    qaas_home: Path) -> None:
    from qaas_excel.api.client import connect

    book = OpenpyxlBook.open(demo_book)
    with connect(signed_in) as client:
        push_book(book, client, journal=default_journal(demo_book))  # the process dies before saving
    assert column(demo_book, CPS, "QaaS ID") and not any(column(demo_book, CPS, "QaaS ID").values())
    sandbox.admin.reset_stats()
    code, report = run_json("push", str(demo_book), "--env", "sandbox")
    assert report["counts"] == {"created": 16, "invalid": 8}
    assert not any(k.startswith("POST") for k in api_requests(sandbox))
    assert len(sandbox.admin.records("chargepoint")) == 13
    assert sum(1 for v in column(demo_book, CPS, "QaaS ID").values() if v) == 13
    assert "recovered" in column(demo_book, CPS, "Message")[row_of(demo_book, "DD-001-2024")]


@pytest.mark.both_sandboxes("link:3")
def test_a_lost_workbook_copy_is_matched_not_duplicated(sandbox, signed_in, demo_book: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "again.xlsx"
    fresh.write_bytes(demo_book.read_bytes())
    cli("push", str(demo_book), "--env", "sandbox")
    code, report = run_json("push", str(fresh), "--env", "sandbox")
    assert report["counts"] == {"adopted": 16, "invalid": 8}
    assert len(sandbox.admin.records("chargepoint")) == 13


@pytest.mark.both_sandboxes("odata:4")
def test_pull_refreshes_statuses_with_one_list_call_and_adds_missing(sandbox, signed_in, demo_book: Path) -> None:
    cli("push", str(demo_book), "--env", "sandbox")
    row = row_of(demo_book, "M-001-2024")
    sandbox.admin.set_status("chargepoint", column(demo_book, CPS, "QaaS ID")[row], "accepted_by_uba")
    extra = sandbox.admin.records("chargepoint")[0]
    sandbox.admin.reset_stats()
    code, report = run_json("pull", str(demo_book), "--env", "sandbox", "--sheet", CPS)
    assert code == 0
    assert column(demo_book, CPS, "Status")[row] == "accepted_by_uba"
    # one list read per kind: the operators resolve the rows' operator references, so "changed here" is exact
    assert api_requests(sandbox) == list_reads(sandbox, "chargepoint", "operator")
    # a record only the service knows is appended on request, below the table
    from qaas_excel.api.client import connect
    from qaas_excel.resources import CHARGEPOINT

    with connect(signed_in) as client:
        new = client.create(CHARGEPOINT, {k: v for k, v in client.get(CHARGEPOINT, extra["id"]).items()
                                          if k not in ("id", "status", "created", "last_updated")}
                            | {"customer_reference": "ONLY-ON-SERVICE", "evse_id": "DE*SWE*E7777777*1"}).record
    before = len(column(demo_book, CPS, "Your reference"))
    cli("pull", str(demo_book), "--env", "sandbox", "--sheet", CPS)
    assert len(column(demo_book, CPS, "Your reference")) == before  # not without --add-missing
    code, report = run_json("pull", str(demo_book), "--env", "sandbox", "--sheet", CPS, "--add-missing")
    refs = column(demo_book, CPS, "Your reference")
    assert len(refs) == before + 1 and "ONLY-ON-SERVICE" in refs.values()
    assert column(demo_book, CPS, "QaaS ID")[max(refs)] == new["id"]
    assert any("added" in note for note in report["notes"])
    # the appended row reads like a typed one: dates as dates (shown as such), the amount a number, inside the table
    ws = openpyxl.load_workbook(demo_book)[CPS]
    row = max(refs)
    start = ws.cell(row, _col(ws, "Period start"))
    assert isinstance(start.value, datetime) and start.is_date
    assert isinstance(ws.cell(row, _col(ws, "Amount (kWh)")).value, int | float)
    [table] = ws.tables.values()
    assert table.ref.endswith(f"{row}")
    code, report = run_json("push", str(demo_book), "--env", "sandbox", "--sheet", CPS)
    assert next(r for r in report["sheets"][0]["rows"] if r["row"] == row)["result"] == "unchanged"


def test_dry_run_sends_no_writes(sandbox, signed_in, demo_book: Path) -> None:
    code, report = run_json("push", str(demo_book), "--env", "sandbox", "--dry-run")
    assert report["dry_run"] and report["counts"] == {"valid": 16, "invalid": 8}
    assert set(api_requests(sandbox)) == {"GET /chargepointoperators", "GET /chargepoints"}


@pytest.mark.parametrize(("command", "hooked"), [(("push", "--env", "sandbox", "--dry-run"), "whole_list"),
                                                 (("validate",), "_prepare")])
def test_a_run_works_with_the_collector_paused_and_gives_it_back(sandbox, signed_in, demo_book: Path, monkeypatch,
                                                                 command, hooked) -> None:
    # reading, listing and planning make millions of objects a run keeps: the collector is off meanwhile, and on
    # again (after a collection of what the run left) when the run ends
    import gc

    from qaas_excel import pipeline

    seen: list[bool] = []
    original = getattr(pipeline, hooked)

    def hook(*args, **kwargs):
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline, hooked, hook)
    gc.enable()
    _, report = run_json(command[0], str(demo_book), *command[1:])
    assert report["counts"] == {"valid": 16, "invalid": 8}
    assert seen == [False, False] and gc.isenabled()


def test_push_without_sign_in_exits_3(sandbox, demo_book: Path) -> None:
    result = cli("push", str(demo_book), "--env", "sandbox")
    assert result.exit_code == 3
    assert "qaas-excel login" in result.stderr


@pytest.mark.parametrize(("content", "expected"), [
    (b"a;b;c\n1;2;3\n", "CSV"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, ".xls"),
    (b"PK\x03\x04 definitely not a zip", "damaged"),
    (b"", "empty"),
])
def test_unreadable_files_exit_2_naming_the_file(tmp_path: Path, qaas_home: Path, content: bytes,
                                                 expected: str) -> None:
    path = tmp_path / "Abrechnung 2024.xlsx"
    path.write_bytes(content)
    result = cli("validate", str(path))
    assert result.exit_code == 2
    assert "Abrechnung 2024.xlsx" in result.stderr and expected in result.stderr
    assert path.read_bytes() == content


def test_a_workbook_open_in_excel_is_refused_before_anything_is_sent(sandbox, signed_in, demo_book: Path,
                                                                    tmp_path: Path) -> None:
    lock = demo_book.parent / f"~${demo_book.name}"
    lock.write_bytes(b"owner")
    result = cli("push", str(demo_book), "--env", "sandbox")
    assert result.exit_code == 2 and "open in Excel" in result.stderr
    assert not any(k.startswith("POST") for k in api_requests(sandbox))
    result = cli("push", str(demo_book), "--env", "sandbox", "--output", str(tmp_path / "elsewhere.xlsx"))
    assert result.exit_code == 1 and (tmp_path / "elsewhere.xlsx").exists()


def test_access_token_from_the_environment_is_used_as_is(sandbox, signed_in, demo_book: Path, qaas_home: Path,
                                                         monkeypatch) -> None:
    from qaas_excel.api.auth import MsalSignIn

    token = MsalSignIn(signed_in, home=qaas_home).token()
    (qaas_home / "token_cache.sandbox.bin").unlink()  # no cached sign-in at all
    monkeypatch.setenv("QAAS_ACCESS_TOKEN", token)
    code, report = run_json("push", str(demo_book), "--env", "sandbox")
    assert report["counts"]["created"] == 16


def test_not_signed_in_is_said_without_touching_the_network(demo_book: Path, qaas_home: Path) -> None:
    # an environment whose sign-in service would refuse connections: the answer must come from the cache alone
    (qaas_home / "config.toml").write_text('[environments.offline]\nbase_url = "https://127.0.0.1:9"\n'
                                           'authority = "https://127.0.0.1:9/tenant"\n', encoding="utf-8")
    result = cli("push", str(demo_book), "--env", "offline")
    assert result.exit_code == 3 and "qaas-excel login --env offline" in result.stderr


def test_a_failed_save_keeps_every_result_in_the_journal_for_the_next_push(sandbox, signed_in, demo_book: Path,
                                                                           monkeypatch) -> None:
    import os

    before = demo_book.read_bytes()
    real_replace = os.replace

    def locked(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", locked)
    result = cli("push", str(demo_book), "--env", "sandbox")
    assert result.exit_code == 2
    assert "kept in" in result.stderr and "--output" in result.stderr
    assert demo_book.read_bytes() == before  # untouched, not half-written
    monkeypatch.setattr(os, "replace", real_replace)
    sandbox.admin.reset_stats()
    code, report = run_json("push", str(demo_book), "--env", "sandbox")
    assert not any(k.startswith("POST") for k in api_requests(sandbox))  # nothing sent twice
    assert sum(1 for v in column(demo_book, CPS, "QaaS ID").values() if v) == 13


def test_an_old_message_does_not_outlive_its_result(sandbox, signed_in, demo_book: Path) -> None:
    cli("push", str(demo_book), "--env", "sandbox")
    row = row_of(demo_book, "DD-001-2024")
    assert column(demo_book, CPS, "Message")[row] == "Created."
    cli("push", str(demo_book), "--env", "sandbox")
    assert column(demo_book, CPS, "Result")[row] == "unchanged"
    assert column(demo_book, CPS, "Message")[row] is None
    assert isinstance(column(demo_book, CPS, "QaaS ID")[row], int)  # untouched columns keep their values


def test_every_problem_in_a_rows_field_names_its_cell(demo_book: Path) -> None:
    from openpyxl.utils import get_column_letter

    from qaas_excel.pipeline import validate_table
    from qaas_excel.resources import CHARGEPOINT

    table = OpenpyxlBook.open(demo_book).read(CHARGEPOINT, CPS)
    problems = [p for p in validate_table(table).problems if p.row is not None and p.field in table.columns]
    assert len({p.field for p in problems}) >= 3
    assert [p.cell for p in problems] == [f"{get_column_letter(table.columns[str(p.field)])}{p.row}" for p in problems]
