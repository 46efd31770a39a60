"""The CLI's scenarios through the companion: messy rows, conflicts, frozen records, a companion killed mid-push
and recovered without duplicates, two pushes at once, Push selected, Pull, Reconcile, worksheet functions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from qaas_excel.resources import CHARGEPOINT
from qaas_excel.runlock import book_lock
from tests.office.conftest import AddinCaller
from tests.office.model import BookModel
from tests.reliability.conftest import many_rows


def _row_results(answer: dict[str, Any], sheet: str = "ChargePoints") -> dict[int, str]:
    return {r["row"]: r["result"] for s in answer["report"]["sheets"] if s["sheet"] == sheet for r in s["rows"]}


def _writes(sandbox) -> dict[str, int]:
    return {k: v for k, v in sandbox.stats.snapshot()["requests"].items() if not k.startswith("GET")}


def _header_col(book: BookModel, sheet: str, header: str) -> int:
    return next(c for (r, c), v in book.sheets[sheet].items() if r == 1 and isinstance(v, str)
                and v.rstrip(" *") == header)


def test_messy_rows_are_marked_with_a_fill_and_our_note_and_the_users_own_note_is_kept(addin, demo_book):
    book = BookModel.from_xlsx(demo_book)
    first = addin.run("validate", book)
    invalid = [row for row, result in _row_results(first).items() if result == "invalid"]
    assert invalid
    notes = book.notes["ChargePoints"]
    assert notes and all(text.startswith("qaas-excel:\n") for text in notes.values())
    assert all(book.fills["ChargePoints"].get(cell) == "#FFC7CE" for cell in notes)
    assert {r for r, _ in notes} <= set(invalid)
    user_cell = next(iter(notes))
    notes[user_cell] = "Frag Jana"  # the user replaced our note with their own
    again = addin.run("validate", book)
    assert _row_results(again) == _row_results(first)
    assert book.notes["ChargePoints"][user_cell] == "Frag Jana"
    assert sum(1 for t in book.notes["ChargePoints"].values() if t.startswith("qaas-excel:")) == len(notes) - 1


def test_a_record_changed_on_the_service_and_in_the_row_is_a_conflict_and_nothing_is_sent(addin, demo_book,
                                                                                            sandbox):
    book = BookModel.from_xlsx(demo_book)
    addin.run("push", book)
    ids = book.column("ChargePoints", "QaaS ID")
    row, rec_id = next((r, v) for r, v in sorted(ids.items()) if v)
    sandbox.admin.update_record("chargepoint", rec_id, amount="111.000")
    book.sheets["ChargePoints"][(row, _header_col(book, "ChargePoints", "Amount (kWh)"))] = 222
    sandbox.stats.reset()
    answer = addin.run("push", book)
    assert _row_results(answer)[row] == "conflict"
    assert _writes(sandbox) == {}
    assert sandbox.admin.records("chargepoint", )[0] is not None
    # the user decides for the row: Overwrite with selected sends its value, that row's only
    answer = addin.run("overwrite_selected", book, selection={"sheet": "ChargePoints", "rows": [row]})
    assert _row_results(answer) == {row: "updated"}
    assert _writes(sandbox) == {"PATCH /chargepoint/{id}": 1}
    [record] = [r for r in sandbox.admin.records("chargepoint") if r["id"] == rec_id]
    assert Decimal(record["amount"]) == Decimal("222")


def test_a_record_sent_to_the_uba_is_frozen_its_row_says_locked_and_nothing_is_patched(addin, demo_book, sandbox):
    book = BookModel.from_xlsx(demo_book)
    addin.run("push", book)
    row, rec_id = next((r, v) for r, v in sorted(book.column("ChargePoints", "QaaS ID").items()) if v)
    sandbox.admin.set_status("chargepoint", rec_id, "sent_to_uba")
    addin.run("pull", book)
    assert book.column("ChargePoints", "Status")[row] == "sent_to_uba"
    book.sheets["ChargePoints"][(row, _header_col(book, "ChargePoints", "Amount (kWh)"))] = 4321
    sandbox.stats.reset()
    answer = addin.run("push", book)
    assert _row_results(answer)[row] == "locked"
    assert not any(k.startswith("PATCH") for k in _writes(sandbox))
    assert book.column("ChargePoints", "Result")[row] == "locked"


def test_push_selected_pushes_only_the_selected_rows(addin, demo_book, sandbox):
    book = BookModel.from_xlsx(demo_book)
    addin.run("push_selected", book, selection={"sheet": "Operators", "rows": [2, 3, 4, 5]})
    valid_rows = [r for r, res in _row_results(addin.run("validate", BookModel.from_xlsx(demo_book))).items()
                  if res == "valid"]
    chosen = valid_rows[:2]
    answer = addin.run("push_selected", book, selection={"sheet": "ChargePoints", "rows": chosen})
    assert sorted(_row_results(answer)) == chosen
    assert len(sandbox.admin.records("chargepoint")) == 2
    assert {r for r, v in book.column("ChargePoints", "QaaS ID").items() if v} == set(chosen)


def test_reconcile_replaces_the_reconciliation_sheet(addin, demo_book, sandbox):
    book = BookModel.from_xlsx(demo_book)
    addin.run("push", book)
    answer = addin.run("reconcile", book)
    service_kwh = sum(Decimal(r["amount"]) for r in sandbox.admin.records("chargepoint"))
    assert f"service {service_kwh:,} kWh" in answer["summary"]  # the demo's invalid rows are only in the workbook
    assert answer["report"]["totals"]["service_kwh"] == str(service_kwh)
    assert "Reconciliation" in book.sheets
    assert book.sheets["Reconciliation"][(1, 1)].startswith("Reconciliation of demo.xlsx")
    again = addin.run("reconcile", book)
    assert [op["op"] for op in again["instructions"]] == ["replace_sheet", "values"]


def test_a_run_waits_for_the_command_lines_lock_on_the_same_workbook_then_names_it(addin, demo_book, sandbox):
    import qaas_excel.office.runs as runs

    addin.server.runs.wait = 0.5
    with book_lock(demo_book, command="push"):
        answer = addin.post("/api/run/push", {"command": "push", "book": BookModel.from_xlsx(demo_book).payload()})
    assert answer.status_code == 409
    assert answer.json()["kind"] == "busy" and "push by process" in answer.json()["error"]
    assert sandbox.admin.records("chargepoint") == []
    assert runs.LOCK_WAIT_S == 10.0


def test_two_pushes_of_one_workbook_at_once_create_every_record_once(addin, sandbox, tmp_path):
    path = many_rows(tmp_path / "many.xlsx", 120)
    sandbox.admin.set_faults(latency_ms=20)
    sandbox.stats.reset()
    payload = BookModel.from_xlsx(path).payload()
    answers: list[requests.Response] = []

    def push() -> None:
        answers.append(addin.post("/api/run/push", {"command": "push", "book": payload}))

    threads = [threading.Thread(target=push) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 200]
    records = sandbox.admin.records("chargepoint")
    assert len(records) == 120
    assert max(Counter(r["evse_id"] for r in records).values()) == 1
    assert sandbox.stats.snapshot()["requests"]["POST " + CHARGEPOINT.create_path] == 120  # none sent twice
    for a in answers:  # the later run read the rows before the first wrote its IDs: the journal gave them
        ids = [r["id"] for sh in a.json()["report"]["sheets"] if sh["sheet"] == "ChargePoints" for r in sh["rows"]]
        assert sorted(ids) == sorted(r["id"] for r in records)


def test_1000_status_cells_cost_one_request_to_the_companion_and_one_to_the_service(addin, sandbox, demo_book):
    book = BookModel.from_xlsx(demo_book)
    addin.run("push", book)
    ids = [v for v in book.column("ChargePoints", "QaaS ID").values() if v]
    sandbox.stats.reset()
    calls = [{"id": "STATUS", "args": [ids[i % len(ids)]]} for i in range(1000)]
    results = addin.ok("/api/functions", {"calls": calls})["results"]
    assert set(results) == {"created"}
    assert sandbox.stats.snapshot()["requests"] == {"GET " + CHARGEPOINT.list_path: 1}


# --- a companion killed mid-push ---------------------------------------------------------------------

def _start_companion(home: Path) -> tuple[subprocess.Popen, Any]:
    env = {**os.environ, "QAAS_HOME": str(home)}
    info = home / "office" / "companion.json"
    info.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "qaas_excel", "serve", "--port", "0"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not info.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the companion did not start"
        time.sleep(0.05)
    data = json.loads(info.read_text(encoding="utf-8"))
    settings = json.loads((home / "office" / "office.json").read_text(encoding="utf-8"))

    class Server:
        origin = data["origin"]
        port = data["port"]
        secret = settings["secret"]

        class certificates:  # noqa: N801 - shaped like CompanionServer.certificates
            ca_file = home / "office" / "tls" / "ca.pem"

    return proc, AddinCaller(Server)


def test_a_companion_killed_mid_push_loses_nothing_and_the_next_push_creates_no_duplicate(
        signed_in, sandbox, qaas_home, tmp_path):
    from qaas_excel.excel import session

    session.save_settings(env="sandbox")
    path = many_rows(tmp_path / "killed.xlsx", 300, with_references=False)  # half the rows: no reference to match
    payload = BookModel.from_xlsx(path).payload()
    sandbox.admin.set_faults(latency_ms=25)
    proc, caller = _start_companion(qaas_home)
    try:
        errors: list[BaseException] = []
        answered: list[str] = []

        def push() -> None:
            try:
                answer = caller.post("/api/run/push", {"command": "push", "book": payload})
                answered.append(f"{answer.status_code} {answer.text[:300]}")
            except requests.RequestException as exc:
                errors.append(exc)

        pushing = threading.Thread(target=push)
        pushing.start()
        deadline = time.monotonic() + 120
        while sandbox.stats.snapshot()["requests"].get("POST " + CHARGEPOINT.create_path, 0) < 60:
            assert time.monotonic() < deadline and pushing.is_alive(), (answered, errors, sandbox.stats.snapshot())
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        pushing.join(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    created_before = len(sandbox.admin.records("chargepoint"))
    # killed mid-push (60 creates had arrived; the last may still have been on its way): its answer never came
    assert errors and 50 <= created_before < 300
    sandbox.admin.set_faults(latency_ms=0)
    proc, caller = _start_companion(qaas_home)
    try:
        book = BookModel.from_xlsx(path)
        answer = caller.run("push", book)  # the same rows, still without QaaS IDs
        records = sandbox.admin.records("chargepoint")
        assert len(records) == 300
        assert max(Counter(r["evse_id"] for r in records).values()) == 1
        assert sum(1 for v in book.column("ChargePoints", "QaaS ID").values() if v) == 300
        assert "recovered" in json.dumps(answer["report"])
        again = caller.run("push", book)
        assert set(again["report"]["counts"]) == {"unchanged"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
