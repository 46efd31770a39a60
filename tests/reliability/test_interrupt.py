"""Ctrl-C: a push stops sending at once, finishes what is on its way, saves and says how many records it created; a
second Ctrl-C gives up waiting with the journal intact; Ctrl-C while the program loads prints no traceback."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.journal import Journal, journal_path
from tests.reliability.conftest import many_rows

runner = CliRunner()


def push_process(book: Path, home: Path) -> subprocess.Popen:
    env = {**os.environ, "QAAS_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "qaas_excel", "push", str(book), "--env", "sandbox"], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def linked_ids(book: Path) -> list[int]:
    ws = openpyxl.load_workbook(book)["ChargePoints"]
    col = next(c.column for c in ws[1] if c.value == "QaaS ID")
    return [ws.cell(r, col).value for r in range(2, ws.max_row + 1) if ws.cell(r, col).value is not None]


def lines_of(stream) -> queue.Queue:
    """The lines of a child's stream as they come (read in a thread: a child that never writes cannot hang us)."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def wait_for_line(lines: queue.Queue, text: str, seen: list[str]) -> None:
    while True:
        try:
            line = lines.get(timeout=120)
        except queue.Empty:
            raise AssertionError(f"no line with {text!r} came; stderr so far: {''.join(seen)}") from None
        assert line is not None, f"the push ended without saying {text!r}: {''.join(seen)}"
        seen.append(line)
        if text in line:
            return


@pytest.mark.parametrize("sandbox", [{"auto_approve": True, "latency_ms": 30}], indirect=True)
def test_ctrl_c_stops_sending_at_once_saves_what_was_created_and_says_how_many(sandbox, signed_in, qaas_home: Path,
                                                                                 tmp_path: Path) -> None:
    book = many_rows(tmp_path / "big.xlsx", 400)
    insert, inserted, proc = sandbox.store.insert, [0], []
    count_lock = threading.Lock()

    def counting_insert(*args, **kwargs):
        with count_lock:
            inserted[0] += 1
            if inserted[0] == 20:
                proc[0].send_signal(signal.SIGINT)
        return insert(*args, **kwargs)

    sandbox.store.insert = counting_insert
    proc.append(push_process(book, qaas_home))
    out, err = proc[0].communicate(timeout=240)
    assert proc[0].returncode == 130, err
    assert "Traceback" not in err and "Stopping: no new requests are sent" in err
    records = sandbox.admin.records("chargepoint")
    assert 19 <= len(records) < 200  # the rest was never sent (today's code sent all 400)
    assert f"{len(records) + 1} record(s) created" in err  # and their operator
    assert sorted(linked_ids(book)) == sorted(r["id"] for r in records)  # every created record is in the workbook
    assert "Saved:" in out and not journal_path(book, qaas_home).exists()

    sandbox.store.insert = insert
    again = runner.invoke(app, ["push", str(book), "--env", "sandbox"], catch_exceptions=False)
    assert again.exit_code == 0, again.stderr
    records = sandbox.admin.records("chargepoint")
    assert len(records) == 400 and max(Counter(r["evse_id"] for r in records).values()) == 1
    assert sorted(linked_ids(book)) == sorted(r["id"] for r in records)


@pytest.mark.parametrize("sandbox", [{"auto_approve": True, "latency_ms": 10}], indirect=True)
def test_a_second_ctrl_c_stops_waiting_and_the_journal_keeps_every_answer(sandbox, signed_in, qaas_home: Path,
                                                                          tmp_path: Path) -> None:
    book = many_rows(tmp_path / "stuck.xlsx", 60)
    before = book.read_bytes()
    insert, inserted, stuck, finished = sandbox.store.insert, [0], threading.Event(), [0]
    release = threading.Event()
    count_lock = threading.Lock()

    def stalling_insert(*args, **kwargs):
        with count_lock:
            inserted[0] += 1
            hold = inserted[0] > 10
        if hold:  # request 11 hangs in the service (and with it the service) until released
            stuck.set()
            release.wait(180)
        result = insert(*args, **kwargs)
        with count_lock:
            finished[0] += 1
        return result

    sandbox.store.insert = stalling_insert
    proc = push_process(book, qaas_home)
    err_lines, seen = lines_of(proc.stderr), []
    try:
        assert stuck.wait(120)
        journal = Journal(journal_path(book, qaas_home))
        for _ in range(2400):  # the answers before the hung request reach the journal
            if sum(e.kind == "done" for e in journal.entries()) >= 10:
                break
            release.wait(0.05)
        proc.send_signal(signal.SIGINT)
        wait_for_line(err_lines, "Stopping: no new requests are sent", seen)
        proc.send_signal(signal.SIGINT)  # the requests on their way still hang: give up waiting for them
        proc.wait(timeout=120)
    finally:
        release.set()
    while (line := err_lines.get(timeout=60)) is not None:
        seen.append(line)
    err = "".join(seen)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Stopped without waiting for the requests on their way" in err
    assert book.read_bytes() == before  # nothing half-written: the answers are in the journal
    entries = Journal(journal_path(book, qaas_home)).entries()
    assert sum(e.kind == "done" and e.action == "create" for e in entries) == 10  # the operator and 9 charge points
    on_their_way = [e for e in entries if e.kind == "intent" and not any(
        d.kind != "intent" and d.row == e.row and d.sheet == e.sheet for d in entries)]
    assert on_their_way  # sent, no answer: the next push finds them by their values

    while True:  # the hung requests complete on the service after the client is gone
        with count_lock:
            if finished[0] == inserted[0]:
                break
        release.wait(0.05)
    sandbox.store.insert = insert
    again = runner.invoke(app, ["push", str(book), "--env", "sandbox"], catch_exceptions=False)
    assert again.exit_code == 0, again.stderr
    records = sandbox.admin.records("chargepoint")
    assert len(records) == 60 and max(Counter(r["evse_id"] for r in records).values()) == 1
    assert sorted(linked_ids(book)) == sorted(r["id"] for r in records)


CTRL_C_WHILE_LOADING = """
import builtins, os, signal, sys
# Ctrl-C live, as at a terminal: a process started in the background by a shell inherits SIGINT ignored
signal.signal(signal.SIGINT, signal.default_int_handler)
real_import = builtins.__import__

def ctrl_c_on_pandas(name, *args, **kwargs):
    if name == "pandas" and not getattr(ctrl_c_on_pandas, "fired", False):
        ctrl_c_on_pandas.fired = True
        os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C while the program is still loading
    return real_import(name, *args, **kwargs)

builtins.__import__ = ctrl_c_on_pandas
sys.argv = ["qaas-excel", "validate", "book.xlsx"]
"""


@pytest.mark.parametrize("entry", [
    "import runpy; runpy.run_module('qaas_excel', run_name='__main__', alter_sys=True)",  # python -m qaas_excel
    "from importlib.metadata import entry_points; (ep,) = entry_points(group='console_scripts', name='qaas-excel'); "
    "sys.exit(ep.load()())",  # the qaas-excel command, as pip installed it
])
def test_ctrl_c_while_the_program_loads_prints_one_line_and_no_traceback(entry: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", CTRL_C_WHILE_LOADING + entry], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 130, result.stderr
    assert result.stderr == "Interrupted.\n"
