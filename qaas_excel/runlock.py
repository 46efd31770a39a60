"""One run at a time per workbook: exclusive locks beside the workbook and beside its journal, for the whole run.

Two pushes of the same workbook at the same moment would each read rows without an ID and create them
twice. Every command that writes a workbook (CLI, demo, ribbon) therefore takes this lock before it
reads the workbook and keeps it until the results are saved. A second run waits a short time, then
says who holds the lock (host, process, command, since when) and stops with exit code 5.

The locks are OS file locks (``filelock``: ``fcntl.flock`` on macOS/Linux, ``msvcrt.locking`` on
Windows), so they are released by the OS when a run dies, even on SIGKILL. The holder's details live in a
small JSON file beside each, written after the lock is taken and removed before it is released. The lock
files themselves stay (deleting a lock file others may be waiting on would let two runs in at once): a
workbook's folder keeps one hidden ``.NAME.qaas-lock``, empty, safe to delete while no run works on it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from qaas_excel.config import private_dir, state_dir
from qaas_excel.journal import journal_path
from qaas_excel.values import utc_now_text

log = logging.getLogger(__name__)

LOCK_WAIT_S = 10.0  # how long a second run waits for the first before it gives up
# A push of another workbook (or of a copy of this one) by the same account may take minutes: wait that long.
ACCOUNT_WAIT_S = 900.0


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
    """Who holds the lock now, as they wrote it (beside the workbook, else in the state folder); None if unsaid."""
    shared = shared_lock_paths(book)
    return (_read_holder(shared[1]) if shared else None) or _read_holder(lock_paths(book)[1])


def describe_holder(info: dict[str, Any] | None) -> str:
    if not info:
        return "another qaas-excel run (it has not said who it is yet)"
    since = str(info.get("since") or "?").replace("T", " ").removesuffix("Z")
    return (f"{info.get('command') or 'a run'} by process {info.get('pid', '?')} on {info.get('host', '?')}"
            f" (user {info.get('user') or '?'}), since {since} UTC")


def shared_lock_paths(book: Path | str) -> tuple[Path, Path] | None:
    """(the lock file, the holder file) beside the workbook itself, where colleagues on other machines that open
    the same file on a shared folder see them; None where the workbook has no folder here (a cloud book)."""
    text = str(book)
    if "://" in text:
        return None
    path = Path(text).expanduser().resolve()
    if not path.parent.is_dir():
        return None
    base = path.parent / f".{path.name}.qaas-lock"
    return base, base.with_name(base.name + ".json")


@contextmanager
def book_lock(book: Path | str, *, command: str, wait: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold the workbook's run lock for the block; ``BookBusyError`` after ``wait`` seconds.

    Two OS locks, always taken in this order: one beside the workbook (colleagues on other machines, through a
    shared folder, as far as its file system passes locks on), and one beside its journal in this user's state
    folder (the command line, scheduled jobs and the ribbon on this machine, also where the workbook's folder
    takes no lock files).
    """
    info = {"command": command, "pid": os.getpid(), "host": socket.gethostname(), "user": _user(),
            "since": utc_now_text()}
    lock_file, holder_file = lock_paths(book)
    private_dir(lock_file.parent)
    places = [p for p in (shared_lock_paths(book), (lock_file, holder_file)) if p is not None]
    held: list[tuple[FileLock, Path]] = []
    try:
        for lock_path, holder_path in places:
            lock = FileLock(lock_path, timeout=max(0.0, wait), mode=0o600, thread_local=False)
            try:
                lock.acquire()
            except Timeout:
                raise BookBusyError(
                    f"{Path(str(book)).name} is busy: {describe_holder(_read_holder(holder_path))} is working on it. "
                    "Nothing was done; try again when it has finished.", _read_holder(holder_path)) from None
            except OSError as exc:  # a folder that takes no lock files (read-only share): the other lock still holds
                if lock_path == lock_file:
                    raise
                log.debug("no lock beside the workbook (%s); relying on the state folder's", exc)
                continue
            held.append((lock, holder_path))
            _hide(lock_path)
            _write_holder(holder_path, info)
        yield
    finally:
        for lock, holder_path in reversed(held):
            holder_path.unlink(missing_ok=True)
            lock.release()


def account_lock_paths(environment: str, account: str | None, home: Path | None = None) -> tuple[Path, Path]:
    """(the lock file, the holder file) of one account in one environment, in the state folder."""
    key = hashlib.sha256(f"{environment}|{account or ''}".encode()).hexdigest()[:24]
    base = (home or state_dir()) / "locks" / f"account-{key}.lock"
    return base, base.with_suffix(".holder.json")


@contextmanager
def account_lock(environment: str, account: str | None, *, command: str, wait: float = ACCOUNT_WAIT_S,
                 on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock around "list the service's records, then create what is missing" for one account.

    Two pushes of one account on this machine (two workbooks, or two copies of one workbook, which the lock beside a
    workbook cannot tell apart) would each list the records before the other created its own, and create them twice.
    The second waits here until the first has created its records, then lists afresh. ``on_wait`` is told who it
    waits for; after ``wait`` seconds ``BookBusyError``.
    """
    lock_file, holder_file = account_lock_paths(environment, account)
    private_dir(lock_file.parent)
    lock = FileLock(lock_file, timeout=0, mode=0o600, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait(describe_holder(_read_holder(holder_file)))
        try:
            lock.acquire(timeout=max(0.0, wait))
        except Timeout:
            raise BookBusyError(
                f"Another push of {account or 'this account'} in {environment} is still creating records: "
                f"{describe_holder(_read_holder(holder_file))}. Nothing was sent; try again when it has finished.",
                _read_holder(holder_file)) from None
    try:
        _write_holder(holder_file, {"command": command, "pid": os.getpid(), "host": socket.gethostname(),
                                    "user": _user(), "since": utc_now_text()})
        yield
    finally:
        holder_file.unlink(missing_ok=True)
        lock.release()


def _hide(path: Path) -> None:
    """A dot file is hidden on macOS and Linux; Windows wants the attribute."""
    if os.name == "nt":
        import ctypes

        ctypes.windll.kernel32.SetFileAttributesW(str(path), 0x2)  # type: ignore[attr-defined]  # Windows only


def _read_holder(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


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
