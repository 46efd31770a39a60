"""Append-only JSON-lines files (journal, audit trail): durable appends, tolerant reads."""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qaas_excel.config_files import private_dir
from qaas_excel.values import json_default

# What one sent write adds to the state folder, with room to spare: two journal lines (about 0.3 KB each) and two audit
# entries (about 0.8 KB each).
BYTES_PER_WRITE = 4096
SPARE_BYTES = 2**20


class StateWriteError(OSError):
    """The state folder (journal, audit trail, locks) could not be written: full, read-only or gone."""

    def __init__(self, path: Path, exc: OSError | None = None, *, reason: str | None = None) -> None:
        self.path, self.folder = path, path.parent
        reason = reason or (exc.strerror if exc is not None else None) or str(exc)
        super().__init__(exc.errno if exc is not None else errno.ENOSPC,
                         f"cannot write {path.name} in the state folder {path.parent} ({reason}). "
                         "Free space there or make it writable (QAAS_HOME moves it)")

    def __str__(self) -> str:
        return str(self.strerror)


def free_space_problem(paths: list[Path], writes: int) -> StateWriteError | None:
    """Before sending ``writes`` requests: is there room for their journal lines and audit entries? (Cheap: one
    statvfs per folder.) A folder that cannot be asked is not judged here; its first write will tell."""
    need: dict[int, tuple[Path, int]] = {}
    for path in paths:
        try:
            folder = path.parent if path.parent.exists() else path.parent.parent
            device = folder.stat().st_dev
        except OSError:
            continue
        first, total = need.get(device, (path, 0))
        need[device] = (first, total + writes * BYTES_PER_WRITE // 2)
    for path, total in need.values():
        try:
            free = shutil.disk_usage(path.parent if path.parent.exists() else path.parent.parent).free
        except OSError:
            continue
        if free < total + SPARE_BYTES:
            return StateWriteError(path, reason=f"{free / 2**20:,.1f} MB free, {(total + SPARE_BYTES) / 2**20:,.1f} "
                                                f"MB needed for the journal and audit trail of {writes:,} writes")
    return None


class _Durable:
    """One file's appends from many threads, made durable by as few fsyncs as cover them all (a group commit).

    Writes are one at a time (so a failed one can be cut back without cutting another's); a thread whose line is
    written then waits for an fsync that began after its write ended: its own, or one another thread began later.
    Sixteen workers appending at once thus wait for one or two fsyncs, not for sixteen in a row."""

    def __init__(self) -> None:
        self.writing = threading.Lock()
        self.syncing = threading.Lock()
        self.written = 0  # appends whose bytes are in the file (counted under ``writing``)
        self.synced = 0  # appends covered by an fsync that has returned


_DURABLE: dict[str, _Durable] = {}
_DURABLE_LOCK = threading.Lock()
_READY_DIRS: set[str] = set()  # folders made (private) by this process already


def _durable(path: Path) -> _Durable:
    key = os.path.abspath(path)
    with _DURABLE_LOCK:
        state = _DURABLE.get(key)
        if state is None:
            state = _DURABLE[key] = _Durable()
        return state


def append_line(path: Path, data: dict[str, Any]) -> None:
    """One record, on disk (fsynced) before returning; the file is created readable by its owner only. A record that
    does not fit (a full disk) is taken out again, so the file never ends in half a line: ``StateWriteError``.

    Safe to call from many threads at once: each returns only once its own line is durable."""
    line = (json.dumps(data, ensure_ascii=False, default=json_default) + "\n").encode("utf-8")
    state = _durable(path)
    try:
        folder = str(path.parent)
        if folder not in _READY_DIRS:
            private_dir(path.parent)
            _READY_DIRS.add(folder)
        with state.writing:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except FileNotFoundError:  # the folder went away during the run: made again, as at the start
                private_dir(path.parent)
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                start = os.lseek(fd, 0, os.SEEK_END)
                try:
                    written = os.write(fd, line)
                except OSError:
                    os.ftruncate(fd, start)
                    raise
                if written != len(line):
                    os.ftruncate(fd, start)
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            finally:
                os.close(fd)
            state.written += 1
            mine = state.written
        with state.syncing:
            if state.synced < mine:  # no fsync that began after this write has returned yet: make one
                upto = state.written  # every append counted here has its bytes in the file already
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                state.synced = upto
    except StateWriteError:
        raise
    except OSError as exc:
        raise StateWriteError(path, exc) from None


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Every whole record; a torn last line (power loss mid-write) is skipped."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                yield data
