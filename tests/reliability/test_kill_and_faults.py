"""Pushes that survive SIGKILL, injected faults and expiring tokens: exactly one record per row, always."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from qaas_excel.sandbox import DEFAULT_USER
from tests.reliability.conftest import many_rows

KILLS = int(os.environ.get("QAAS_KILL_POINTS", "5"))


def push_process(book: Path, home: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "QAAS_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "qaas_excel", "push", str(book), "--env", "sandbox", "--json",
                             *extra], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def sheet_ids(book: Path) -> list:
    ws = openpyxl.load_workbook(book)["ChargePoints"]
    col = [str(c.value or "").rstrip(" *") for c in ws[1]].index("QaaS ID") + 1
    return [ws.cell(r, col).value for r in range(2, ws.max_row + 1)]


def assert_one_record_per_row(sandbox, book: Path, n: int) -> None:
    records = sandbox.admin.records("chargepoint")
    keys = Counter(r["evse_id"] for r in records)
    assert len(records) == n and max(keys.values()) == 1, "duplicates on the service"
    ids = sheet_ids(book)
    assert len(ids) == n and all(isinstance(i, int) for i in ids) and len(set(ids)) == n
    assert set(ids) == {r["id"] for r in records}


def creates_so_far(sandbox) -> int:
    return sandbox.stats.snapshot()["requests"].get("POST /chargepoint", 0)


def kill_while_creating(sandbox, book: Path, home: Path, n: int, delay: float) -> bool:
    """Start a push, wait for its first create, SIGKILL it `delay` s later; True if it died with creates left."""
    before = creates_so_far(sandbox)
    proc = push_process(book, home)
    deadline = time.monotonic() + 120
    while creates_so_far(sandbox) == before:
        assert proc.poll() is None, f"the push ended before creating anything: {proc.communicate()[1]}"
        assert time.monotonic() < deadline, "no create within 120 s"
        time.sleep(0.01)
    time.sleep(delay)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return alive and proc.returncode == -signal.SIGKILL and len(sandbox.admin.records("chargepoint")) < n


@pytest.mark.both_sandboxes("drf:50")  # a paged service: the records of earlier runs fill ten pages
@pytest.mark.parametrize("sandbox", [{"auto_approve": True, "latency_ms": 20}], indirect=True)
def test_push_killed_at_random_points_ends_with_exactly_one_record_per_row(sandbox, signed_in, qaas_home: Path,
                                                                          tmp_path: Path) -> None:
    # a round creates at most 0.3 s x 4 workers / 20 ms = 60 records, so every kill finds creates left to do
    n = max(500, 100 * KILLS)
    book = many_rows(tmp_path / "kill.xlsx", n, with_references=False)  # half the rows have no reference
    rng = random.Random(int(os.environ.get("QAAS_KILL_SEED", "20261124")))
    landed = 0
    for _ in range(KILLS):
        landed += kill_while_creating(sandbox, book, qaas_home, n, rng.uniform(0.0, 0.3))
        openpyxl.load_workbook(book)  # never half-written: the old or the new file, whole
    assert landed == KILLS, f"only {landed} of {KILLS} kills hit a push while it was creating records"
    final = push_process(book, qaas_home)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert_one_record_per_row(sandbox, book, n)
    counts = json.loads(out)["counts"]
    assert sum(counts.values()) == n + 1


@pytest.mark.both_sandboxes("drf:10")  # faults on list pages too: retried, and a lost create's look-up reads them all
@pytest.mark.parametrize("sandbox", [{"auto_approve": True, "fail_rate": 0.1, "retry_after": 0, "seed": 7}],
                         indirect=True)
def test_push_through_ten_percent_faults_syncs_every_row_without_duplicates(sandbox, signed_in, qaas_home: Path,
                                                                            tmp_path: Path) -> None:
    n = 200
    book = many_rows(tmp_path / "faults.xlsx", n)
    proc = push_process(book, qaas_home, "--workers", "8")
    out, err = proc.communicate(timeout=300)
    report = json.loads(out)
    assert proc.returncode == 0, err
    assert report["counts"] == {"created": n + 1} or (report["counts"].get("adopted", 0) and
                                                      sum(report["counts"].values()) == n + 1)
    assert report["stats"]["retries"] > 0
    assert sum(sandbox.admin.stats()["faults"].values()) > 10
    sandbox.admin.set_faults(fail_rate=0)
    assert_one_record_per_row(sandbox, book, n)


@pytest.mark.parametrize("sandbox", [{"auto_approve": True, "token_lifetime": 1, "latency_ms": 40}], indirect=True)
def test_tokens_expiring_during_a_long_push_are_refreshed_without_a_prompt(sandbox, signed_in, qaas_home: Path,
                                                                          tmp_path: Path) -> None:
    n = 150
    book = many_rows(tmp_path / "tokens.xlsx", n)
    started = time.monotonic()
    proc = push_process(book, qaas_home, "--workers", "2")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    lifetimes = (time.monotonic() - started) / 1.0
    assert lifetimes > 2  # the push outlived several access tokens (150 rows x 40 ms / 2 workers at least)
    assert "enter the code" not in err
    grants = sandbox.admin.stats()["requests"]["POST /{tenant}/oauth2/v2.0/token"]
    assert grants >= 3  # the first sign-in, then silent refreshes during the push
    assert_one_record_per_row(sandbox, book, n)
    assert json.loads(out)["counts"] == {"created": n + 1}
    assert DEFAULT_USER in (qaas_home / "audit.jsonl").read_text()
