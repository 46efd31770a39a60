"""A full state folder (journal, audit trail): checked before sending; when it fills up during a push, no request
follows an answer that could not be journaled, the workbook gets what was created, and the run exits 6 naming the
folder. On a small tmpfs where the test may mount one, otherwise with ENOSPC injected where the journal writes."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
from typer.testing import CliRunner

from qaas_excel import jsonl
from qaas_excel.audit import AuditEntry, AuditLog
from qaas_excel.cli import app
from tests.reliability.conftest import many_rows

runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def linked_ids(book: Path) -> list[int]:
    ws = openpyxl.load_workbook(book)["ChargePoints"]
    col = next(c.column for c in ws[1] if c.value == "QaaS ID")
    return [ws.cell(r, col).value for r in range(2, ws.max_row + 1) if ws.cell(r, col).value is not None]


class SmallStateFolder:
    """The state folder on a 4 MiB tmpfs, or (where mounting is not allowed) one whose disk is declared full."""

    def __init__(self, folder: Path, mounted: bool, monkeypatch: pytest.MonkeyPatch) -> None:
        self.folder, self.mounted, self._mp = folder, mounted, monkeypatch

    def fill(self, leave: int = 0) -> None:
        if self.mounted:
            free = shutil.disk_usage(self.folder).free
            with open(self.folder / "ballast", "wb") as f:
                try:
                    f.write(b"\0" * max(0, free - leave))
                    f.flush()
                    while not leave:
                        f.write(b"\0" * 4096)
                        f.flush()
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
            return
        full = SimpleNamespace(disk_usage=lambda path: shutil._ntuple_diskusage(2**30, 2**30 - leave, leave))
        self._mp.setattr(jsonl, "shutil", full)
        if not leave:
            self._mp.setattr(jsonl, "os", _FullDiskOs())

    def clear(self) -> None:
        (self.folder / "ballast").unlink(missing_ok=True)
        self._mp.setattr(jsonl, "os", os)
        self._mp.setattr(jsonl, "shutil", shutil)


class _FullDiskOs:
    """``os`` as the journal and audit trail see it on a full disk: every write fails with ENOSPC."""

    def __getattr__(self, name: str):
        return getattr(os, name)

    @staticmethod
    def write(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture(params=["tmpfs", "injected"])
def small_state(request, sandbox, signed_in, qaas_home: Path, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[SmallStateFolder]:
    from qaas_excel.api.auth import MsalSignIn

    folder = tmp_path / "small-state"
    folder.mkdir(mode=0o700)
    mounted = request.param == "tmpfs" and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(folder)], capture_output=True).returncode == 0
    token = MsalSignIn(signed_in, home=qaas_home).token()
    info = json.loads((qaas_home / "sandbox.json").read_text())
    (folder / "sandbox.json").write_text(json.dumps(info))
    monkeypatch.setenv("QAAS_HOME", str(folder))
    monkeypatch.setenv("QAAS_ACCESS_TOKEN", token)
    try:
        yield SmallStateFolder(folder, mounted, monkeypatch)
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.parametrize("sandbox", [{"auto_approve": True, "latency_ms": 20}], indirect=True)
def test_a_journal_that_fills_up_stops_sending_at_once_and_the_workbook_keeps_what_was_created(
        sandbox, small_state: SmallStateFolder, tmp_path: Path) -> None:
    book = many_rows(tmp_path / "book.xlsx", 200)
    insert, inserted = sandbox.store.insert, [0]
    count_lock = threading.Lock()

    def filling_insert(*args, **kwargs):
        with count_lock:
            inserted[0] += 1
            if inserted[0] == 15:
                small_state.fill()
        return insert(*args, **kwargs)

    sandbox.store.insert = filling_insert
    result = cli("push", str(book), "--env", "sandbox")
    assert result.exit_code == 7, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"the state folder {small_state.folder}" in result.stderr and "No space left on device" in result.stderr
    records = sandbox.admin.records("chargepoint")
    assert 14 <= len(records) <= 30  # a few on their way, then nothing (today's code went on: all 200, a traceback)
    assert f"{len(records) + 1} record(s) created" in result.stderr
    assert sorted(linked_ids(book)) == sorted(r["id"] for r in records)  # saved into the workbook

    sandbox.store.insert = insert
    small_state.clear()
    again = cli("push", str(book), "--env", "sandbox")
    assert again.exit_code == 0, again.stderr
    records = sandbox.admin.records("chargepoint")
    assert len(records) == 200 and max(Counter(r["evse_id"] for r in records).values()) == 1
    assert sorted(linked_ids(book)) == sorted(r["id"] for r in records)


def test_too_little_free_space_for_the_journal_stops_a_push_before_anything_is_sent(
        sandbox, small_state: SmallStateFolder, tmp_path: Path) -> None:
    book = many_rows(tmp_path / "book.xlsx", 400)
    before = book.read_bytes()
    small_state.fill(leave=600 * 1024)
    result = cli("push", str(book), "--env", "sandbox")
    assert result.exit_code == 7, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"the state folder {small_state.folder}" in result.stderr and "MB needed" in result.stderr
    assert sandbox.admin.records("chargepoint") == [] and sandbox.admin.records("operator") == []
    assert book.read_bytes() == before


def test_the_audit_trail_can_be_pruned_before_a_date_keeping_every_write_whole(qaas_home: Path) -> None:
    log = AuditLog()
    for write_id, sending, done in (("a", "2024-11-30T10:00:00", "2024-11-30T10:00:01"),
                                    ("b", "2024-12-31T23:59:59", "2025-01-01T00:00:01"),  # spans the date: kept
                                    ("c", "2025-02-01T08:00:00", "2025-02-01T08:00:01")):
        for phase, at in (("sending", sending), ("done", done)):
            log.write(AuditEntry(write_id, phase, "sandbox", "me@example.org", "POST", "chargepoint",
                                 at=datetime.fromisoformat(at).replace(tzinfo=UTC).isoformat()))
    size = log.path.stat().st_size
    result = cli("audit", "--prune-before", "2025-01-01", "--json")
    assert result.exit_code == 0, result.stderr
    pruned = json.loads(result.stdout)
    assert (pruned["removed"], pruned["kept"]) == (2, 4) and 0 < pruned["freed_bytes"] < size
    assert [(e.write_id, e.phase) for e in AuditLog().entries()] == [
        ("b", "sending"), ("b", "done"), ("c", "sending"), ("c", "done")]
    assert size / 6 < 1024  # what the README says an entry costs
