"""Journal and audit lines from many push workers: each on disk before its request leaves, with few fsyncs.

A push of 600 rows with 16 workers used to wait for 2,400 fsyncs in a row (two journal lines and two audit entries
per write, each fsynced under one lock). Appends are now group-committed: a line is durable when an fsync that
began after it was written has returned, and one fsync covers every line written while the previous one ran.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from qaas_excel import jsonl

THREADS, LINES = 16, 20


def test_every_append_returns_after_an_fsync_that_covers_it_and_fsyncs_are_shared(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state" / "journal.jsonl"
    real_fsync = os.fsync
    synced: list[int] = []  # the file's size when each (returned) fsync began: what it made durable
    lock = threading.Lock()

    def slow_fsync(fd: int) -> None:
        size = os.fstat(fd).st_size
        time.sleep(0.05)  # a slow disk: the other workers write their lines meanwhile, even on a starved machine
        real_fsync(fd)
        with lock:
            synced.append(size)

    monkeypatch.setattr(jsonl.os, "fsync", slow_fsync)
    late: list[str] = []
    gate = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        gate.wait()
        for i in range(LINES):
            jsonl.append_line(path, {"worker": n, "line": i, "pad": "x" * 50})
            with path.open("rb") as f:
                mine = f.read()
            end = mine.find(json.dumps({"worker": n, "line": i, "pad": "x" * 50}).encode())
            assert end >= 0
            end += len(json.dumps({"worker": n, "line": i, "pad": "x" * 50})) + 1
            with lock:
                if not any(size >= end for size in synced):
                    late.append(f"worker {n} line {i} returned before an fsync covered it")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert sorted((d["worker"], d["line"]) for d in lines) == [(n, i) for n in range(THREADS) for i in range(LINES)]
    assert late == []
    # one fsync per line would be THREADS * LINES = 320; sharing brings it far below (about 2 per 16 lines)
    assert len(synced) <= THREADS * LINES // 2, len(synced)
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


def test_a_line_that_cannot_be_made_durable_is_an_error_of_that_append(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.jsonl"
    jsonl.append_line(path, {"n": 1})

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(jsonl.os, "fsync", broken)
    with pytest.raises(jsonl.StateWriteError, match="Input/output error"):
        jsonl.append_line(path, {"n": 2})
    with pytest.raises(jsonl.StateWriteError):  # and the next one too: nothing covers it
        jsonl.append_line(path, {"n": 3})


def test_a_state_folder_removed_during_a_run_is_made_again(tmp_path: Path) -> None:
    path = tmp_path / "state" / "journal" / "book.jsonl"
    jsonl.append_line(path, {"n": 1})
    path.unlink()
    path.parent.rmdir()
    jsonl.append_line(path, {"n": 2})
    assert [json.loads(x)["n"] for x in path.read_text(encoding="utf-8").splitlines()] == [2]
