"""Never overwrite, never duplicate: a conflict stays a conflict, concurrent runs of one workbook never double
a record, and a service that dies mid-push is reported as unreachable (exit 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.cli.pipeline_cmds import exit_code
from qaas_excel.pipeline import push_file
from qaas_excel.runlock import book_lock, lock_path, read_holder, shared_lock_path
from tests.reliability.conftest import many_rows

runner = CliRunner()
OPS, CPS = "Operators", "ChargePoints"


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _cols(ws) -> dict[str, int]:
    return {str(c.value or "").rstrip(" *"): c.column for c in ws[1] if c.value is not None}


def rows(book: Path, sheet: str, *headers: str) -> list[tuple]:
    ws = openpyxl.load_workbook(book)[sheet]
    cols = _cols(ws)
    return [tuple(ws.cell(r, cols[h]).value for h in headers) for r in range(2, ws.max_row + 1)
            if any(c.value is not None for c in ws[r])]


def unlink_rows(book: Path, sheet: str, *, new_amounts: bool = False, rename: str | None = None) -> None:
    """As if the pushed rows were copied into a fresh sheet: no QaaS ID, no system values; other amounts or names."""
    wb = openpyxl.load_workbook(book)
    ws = wb[sheet]
    cols = _cols(ws)
    fingerprint = [j for j in range(1, ws.max_column + 1) if "fingerprint" in str(ws.cell(1, j).value or "").lower()]
    for r in range(2, ws.max_row + 1):
        if ws.cell(r, cols["QaaS ID"]).value is None:
            continue  # never pushed (invalid in the demo)
        for h in ("QaaS ID", "Status", "Last updated (UTC)", "Result", "Message", "Synced at (UTC)"):
            if h in cols:
                ws.cell(r, cols[h]).value = None
        for j in fingerprint:
            ws.cell(r, j).value = None
        if new_amounts:
            ws.cell(r, cols["Amount (kWh)"]).value = 1000 + r
        if rename:
            cell = ws.cell(r, cols["Organization name"])
            cell.value = f"{cell.value}{rename}"
    wb.save(book)


def test_a_reported_conflict_stays_a_conflict_across_pushes(sandbox, signed_in, demo_book: Path) -> None:
    assert cli("push", str(demo_book), "--env", "sandbox").exit_code == 1  # the demo has invalid rows
    before = {r["id"]: r for r in sandbox.admin.records("chargepoint")}
    before_ops = {r["id"]: r for r in sandbox.admin.records("operator")}
    unlink_rows(demo_book, CPS, new_amounts=True)
    unlink_rows(demo_book, OPS, rename=" (copy)")
    sandbox.admin.reset_stats()
    for _ in range(3):
        result = cli("push", str(demo_book), "--env", "sandbox", "--json")
        report = json.loads(result.stdout)
        conflicts = [r for s in report["sheets"] for r in s["rows"] if r["result"] == "conflict"]
        assert {s["sheet"] for s in report["sheets"] if s["counts"].get("conflict")} == {OPS, CPS}
        assert len(conflicts) == 3 + 13 and all(r["id"] is None for r in conflicts)
        # nothing links the rows to the records: the QaaS ID column stays empty, the message says which record
        assert all(i is None for i, in rows(demo_book, CPS, "QaaS ID"))
        assert all(i is None for i, in rows(demo_book, OPS, "QaaS ID"))
        assert all("put" in (m or "") for res, m in rows(demo_book, CPS, "Result", "Message") if res == "conflict")
    assert {r["id"]: r for r in sandbox.admin.records("chargepoint")} == before
    assert {r["id"]: r for r in sandbox.admin.records("operator")} == before_ops
    writes = {k: v for k, v in sandbox.admin.stats()["requests"].items() if k.startswith(("POST /charge", "PATCH"))}
    assert writes == {}


def test_the_id_and_overwrite_are_the_users_decision_and_only_then_it_updates(sandbox, signed_in,
                                                                             demo_book: Path) -> None:
    cli("push", str(demo_book), "--env", "sandbox")
    [(ref, record_id)] = [(r, i) for r, i in rows(demo_book, CPS, "Your reference", "QaaS ID") if r == "DD-001-2024"]
    unlink_rows(demo_book, CPS, new_amounts=True)
    cli("push", str(demo_book), "--env", "sandbox")
    wb = openpyxl.load_workbook(demo_book)
    ws = wb[CPS]
    cols = _cols(ws)
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, cols["Your reference"]).value == ref)
    assert ws.cell(row, cols["Result"]).value == "conflict"
    ws.cell(row, cols["QaaS ID"]).value = record_id  # the user says: this row is that record
    wb.save(demo_book)
    sandbox.admin.reset_stats()
    cli("push", str(demo_book), "--env", "sandbox")
    by_ref = {r: (res, i) for r, res, i in rows(demo_book, CPS, "Your reference", "Result", "QaaS ID")}
    # no fingerprint tells which side changed: still a conflict, naming the way to decide
    assert by_ref[ref] == ("conflict", record_id)
    assert sandbox.admin.requests("PATCH /chargepoint/{id}") == 0
    [message] = [m for r, m in rows(demo_book, CPS, "Your reference", "Message") if r == ref]
    assert f"--overwrite {row}" in message
    cli("push", str(demo_book), "--env", "sandbox", "--sheet", CPS, "--overwrite", str(row))
    by_ref = {r: (res, i) for r, res, i in rows(demo_book, CPS, "Your reference", "Result", "QaaS ID")}
    assert by_ref[ref] == ("updated", record_id)
    assert sandbox.admin.requests("PATCH /chargepoint/{id}") == 1


def push_process(book: Path, home: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "QAAS_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "qaas_excel", "push", str(book), "--env", "sandbox", "--json",
                             *extra], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sandbox", [{"auto_approve": True, "latency_ms": 50}], indirect=True)
@pytest.mark.parametrize(("runs", "with_references"), [(2, False), (2, True), (4, False), (4, True)])
def test_concurrent_pushes_of_one_workbook_create_each_record_once(sandbox, signed_in, qaas_home: Path,
                                                                   tmp_path: Path, runs: int,
                                                                   with_references: bool) -> None:
    n = 50
    book = many_rows(tmp_path / "shared.xlsx", n, with_references=with_references)
    procs = [push_process(book, qaas_home, "--wait", "60") for _ in range(runs)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * runs, [err for _out, err in outs]
    reports = [json.loads(out) for out, _err in outs]
    created = sum(r["counts"].get("created", 0) for r in reports)
    assert created == n + 1  # 50 charge points and their operator, by exactly one of the runs
    assert sorted(r["counts"].get("created", 0) for r in reports)[:-1] == [0] * (runs - 1)
    records = sandbox.admin.records("chargepoint")
    assert len(records) == n and max(Counter(r["evse_id"] for r in records).values()) == 1
    assert len(sandbox.admin.records("operator")) == 1
    ids = [i for i, in rows(book, CPS, "QaaS ID")]
    assert sorted(ids) == sorted(r["id"] for r in records)
    assert not any("recovered" in (m or "") for _res, m in rows(book, CPS, "Result", "Message"))


def test_a_run_that_finds_the_workbook_busy_says_who_holds_it_and_exits_5(sandbox, signed_in, demo_book: Path,
                                                                          qaas_home: Path) -> None:
    before = demo_book.read_bytes()
    with book_lock(demo_book, command="push"):
        holder = read_holder(lock_path(demo_book))
        assert holder == read_holder(shared_lock_path(demo_book))
        for command in (["push", str(demo_book), "--env", "sandbox"], ["validate", str(demo_book)],
                        ["pull", str(demo_book), "--env", "sandbox"],
                        ["reconcile", str(demo_book), "--env", "sandbox"]):
            result = cli(*command, "--wait", "0.2")
            assert result.exit_code == 5, (command, result.stderr)
            assert "busy" in result.stderr and f"process {holder['pid']}" in result.stderr
            assert holder["host"] in result.stderr and "since" in result.stderr
    assert demo_book.read_bytes() == before
    assert sandbox.admin.records("chargepoint") == []
    assert not lock_path(demo_book).exists()  # the lock and its holder's note go when the run ends
    assert cli("validate", str(demo_book), "--wait", "0").exit_code == 1  # free again: the demo has invalid rows


@pytest.mark.parametrize("sandbox", [{"auto_approve": True, "latency_ms": 30}], indirect=True)
def test_a_service_that_dies_mid_push_is_reported_unreachable(sandbox, signed_in, tmp_path: Path) -> None:
    from qaas_excel.api.client import connect

    book = many_rows(tmp_path / "dies.xlsx", 200)
    created = threading.Event()
    insert = sandbox.store.insert
    inserted = [0]

    def counting_insert(*args, **kwargs):
        inserted[0] += 1
        if inserted[0] >= 20:
            created.set()
        return insert(*args, **kwargs)

    def stop_midway() -> None:
        created.wait(60)
        sandbox.stop()

    sandbox.store.insert = counting_insert
    killer = threading.Thread(target=stop_midway)
    killer.start()
    with connect(signed_in, max_wait_s=0.05, max_attempts=2) as client:
        report = push_file(book, client)
    killer.join()
    counts = report.counts
    assert counts.get("failed", 0) > 0 and report.service_unreachable
    assert exit_code(report) == 4
    messages = [o.message for s in report.sheets for o in s.outcomes if o.result.value == "failed"]
    assert any("stopped answering" in m for m in messages)  # the rest was not sent once the service was gone


def test_a_colleague_with_another_state_folder_is_held_off_by_the_lock_beside_the_workbook(
        sandbox, signed_in, demo_book: Path, tmp_path: Path, monkeypatch) -> None:
    colleague = tmp_path / "colleague-home"  # another machine or user: its own state folder and journal
    colleague.mkdir()
    before = sorted(p.name for p in demo_book.parent.iterdir())
    monkeypatch.setenv("QAAS_HOME", str(colleague))
    with book_lock(demo_book, command="push"):
        monkeypatch.undo()  # back to this user's state folder
        result = cli("validate", str(demo_book), "--wait", "0.2")
        assert result.exit_code == 5 and "busy" in result.stderr
    assert cli("validate", str(demo_book), "--wait", "0").exit_code == 1
    after = sorted(p.name for p in demo_book.parent.iterdir() if not p.name.startswith("demo.backup"))
    assert after == before  # no lock file stays beside the workbook
