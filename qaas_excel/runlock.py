"""One run at a time per workbook: an exclusive lock on the workbook's journal for the whole run.

Two pushes of the same workbook at the same moment would each read rows without an ID and create them
twice. Every command that writes a workbook (CLI, demo, ribbon) therefore takes this lock before it
reads the workbook and keeps it until the results are saved. A second run waits a short time, then
says who holds the lock (host, process, command, since when) and stops with exit code 5.

The lock is an OS file lock (``filelock``: ``fcntl.flock`` on macOS/Linux, ``msvcrt.locking`` on
Windows), so it is released by the OS when a run dies, even on SIGKILL. The holder's details live in a
small JSON file beside it, written after the lock is taken and removed before it is released.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from qaas_excel.journal import journal_path
from qaas_excel.values import utc_now_text

log = logging.getLogger(__name__)

LOCK_WAIT_S = 10.0  # how long a second run waits for the first before it gives up


class BookBusyError(Exception):
    """Another run holds the workbook's lock."""

    def __init__(self, message: str, holder: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.holder = holder or {}


def lock_paths(book: Path | str) -> tuple[Path, Path]:
    """(the lock file, the holder file) of a workbook: beside its journal, in the state folder."""
    journal = journal_path(book)
    return journal.with_suffix(".lock"), journal.with_suffix(".holder.json")


def holder(book: Path | str) -> dict[str, Any] | None:
    """Who holds the lock now, as they wrote it; None if nobody says so."""
    try:
        data = json.loads(lock_paths(book)[1].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe_holder(info: dict[str, Any] | None) -> str:
    if not info:
        return "another qaas-excel run (it has not said who it is yet)"
    since = str(info.get("since") or "?").replace("T", " ").removesuffix("Z")
    return (f"{info.get('command') or 'a run'} by process {info.get('pid', '?')} on {info.get('host', '?')}"
            f" (user {info.get('user') or '?'}), since {since} UTC")


@contextmanager
def book_lock(book: Path | str, *, command: str, wait: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold the workbook's run lock for the block; ``BookBusyError`` after ``wait`` seconds."""
    lock_file, holder_file = lock_paths(book)
    lock_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = FileLock(lock_file, timeout=max(0.0, wait), mode=0o600, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        name = Path(str(book)).name
        raise BookBusyError(
            f"{name} is busy: {describe_holder(holder(book))} is working on it. Nothing was done; try again "
            "when it has finished.", holder(book)) from None
    try:
        _write_holder(holder_file, {"command": command, "pid": os.getpid(), "host": socket.gethostname(),
                                    "user": _user(), "since": utc_now_text()})
        yield
    finally:
        holder_file.unlink(missing_ok=True)
        lock.release()


def _write_holder(path: Path, info: dict[str, Any]) -> None:
    """Best effort: the lock protects the run whether or not its holder could say who it is."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(info, f)
    except OSError as exc:
        log.debug("could not write the lock holder file %s: %s", path, exc)


def _user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name on some service accounts
        return None
