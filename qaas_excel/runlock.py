"""One run at a time per workbook, and per account around "list, then create".

Two pushes of the same workbook at the same moment would each read rows without an ID and create them twice. Every
command that writes a workbook (CLI, demo, ribbon) therefore holds two locks from before it reads the workbook until
its results are saved: one beside the workbook (``~$NAME.qaas-lock``: colleagues, other OS users and other machines
working on the same file in a shared folder) and one beside its journal in this user's state folder. A second run
waits a short time, then says who holds the lock (command, process, host, user, since when) and stops with exit 5.

How one lock is held (``LockFile``):

- The lock is a small file holding who holds it, with an OS lock on it (``flock``; ``LockFileEx`` on Windows) for
  as long as the run lasts: a run that dies, even on SIGKILL, loses its OS lock at once.
- It is removed when the run ends: nothing stays in the workbook's folder. A run that finds the file but no OS lock on
  it decides whether its holder is gone: a holder on this machine is (no OS lock means it ended); a holder on another
  machine only when the file has not been touched for ``STALE_AFTER_S`` (a holder touches it every ``HEARTBEAT_S``),
  because its OS lock may not reach this machine (SMB without byte-range locks, NFS without a lock manager).
- Beside a workbook the file gets the workbook's permissions and group: whoever may write the workbook may take and
  remove its lock, also as another OS user.
- A lock that cannot be taken (a folder you may not write, a lock file you may not open, a full disk) stops the run
  before anything is sent (``LockUnavailableError``, exit 5): it fails closed. Only ``validate``, which sends nothing,
  goes on without the lock beside the workbook.
- ``~$`` starts the name because that is how Office names its own lock files: OneDrive and SharePoint never sync such
  files and most other sync clients skip them, so colleagues' synced copies are not littered.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qaas_excel.config import state_dir
from qaas_excel.config_files import private_dir
from qaas_excel.journal import journal_path
from qaas_excel.jsonl import StateWriteError
from qaas_excel.values import utc_now_text

log = logging.getLogger(__name__)

LOCK_WAIT_S = 10.0  # how long a second run waits for the first before it gives up
# A push of another workbook (or of a copy of this one) by the same account may take minutes: wait that long.
ACCOUNT_WAIT_S = 900.0
HEARTBEAT_S = 60.0  # a holder touches its lock file this often ...
STALE_AFTER_S = 600.0  # ... so one untouched this long was left by a run on another machine that has ended
POLL_S = 0.1
SHARED_LOCK_PREFIX, SHARED_LOCK_SUFFIX = "~$", ".qaas-lock"
_WINDOWS_LOCK_OFFSET = 1 << 30  # Windows locks are mandatory: lock a byte far behind the holder's details


class BookBusyError(Exception):
    """Another run holds the workbook's lock."""

    def __init__(self, message: str, holder: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.holder = holder or {}


class LockUnavailableError(BookBusyError):
    """The lock could not be taken at all (no permission, read-only folder, full disk): the run does not start."""


def lock_path(book: Path | str) -> Path:
    """The workbook's lock in this user's state folder, beside its journal."""
    return journal_path(book).with_suffix(".lock")


def shared_lock_path(book: Path | str) -> Path | None:
    """The lock beside the workbook itself, where colleagues' runs on a shared folder see it; None where there is no
    such file here (a cloud book, a new unsaved one, a path that does not exist)."""
    text = str(book)
    if "://" in text:
        return None
    path = Path(text).expanduser().resolve()
    if not path.is_file():
        return None
    return path.parent / f"{SHARED_LOCK_PREFIX}{path.name}{SHARED_LOCK_SUFFIX}"


def holder(book: Path | str) -> dict[str, Any] | None:
    """Who holds the workbook's lock now, as they wrote it (beside the workbook, else in the state folder)."""
    shared = shared_lock_path(book)
    return (read_holder(shared) if shared else None) or read_holder(lock_path(book))


def describe_holder(info: dict[str, Any] | None) -> str:
    if not info:
        return "another qaas-excel run (it has not said who it is yet)"
    since = str(info.get("since") or "?").replace("T", " ").removesuffix("Z")
    return (f"{info.get('command') or 'a run'} by process {info.get('pid', '?')} on {info.get('host', '?')}"
            f" (user {info.get('user') or '?'}), since {since} UTC")


def read_holder(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class LockFile:
    """One lock file, taken by creating (or opening) it and locking it, removed again on release."""

    def __init__(self, path: Path, *, like: Path | None = None, heartbeat: bool = False) -> None:
        self.path = path
        self.like = like  # the file whose permissions and group the lock gets (the workbook); else owner only
        self.heartbeat = heartbeat
        self._fd: int | None = None
        self._beat: threading.Event | None = None
        self._beater: threading.Thread | None = None

    def try_acquire(self, info: dict[str, Any]) -> dict[str, Any] | None:
        """Take the lock if it is free: None when taken, else what its holder said ({} if nothing yet).
        ``OSError`` when it cannot be taken at all."""
        while True:
            created = True
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_FLAGS, self._mode())
            except FileExistsError:
                created = False
                try:
                    fd = os.open(self.path, os.O_RDWR | _O_FLAGS)
                except FileNotFoundError:
                    continue  # its holder just removed it
            taken = False
            try:
                if created:
                    self._share(fd)
                if not _os_lock(fd, patient=created):
                    return _read_fd(fd) or {}
                if not _same_file(fd, self.path):  # released and removed by its holder meanwhile: start again
                    _os_unlock(fd)
                    continue
                if not created:
                    left = _read_fd(fd)
                    if not self._left_behind(fd, left):
                        _os_unlock(fd)
                        return left or {}
                    log.warning("Taking over the lock %s: %s ended without removing it.", self.path,
                                describe_holder(left))
                _write_fd(fd, info)
                taken = True
            finally:
                if not taken:
                    os.close(fd)
            self._fd = fd
            _hide(self.path)
            if self.heartbeat:
                self._start_heartbeat()
            return None

    def _left_behind(self, fd: int, info: dict[str, Any] | None) -> bool:
        """A lock file nobody holds an OS lock on: was its holder's run over?"""
        if info and info.get("host") == socket.gethostname():
            return True  # a run on this machine would hold the OS lock: it ended
        age = time.time() - os.fstat(fd).st_mtime
        return age > STALE_AFTER_S  # another machine's OS lock may not reach us: only its silence tells

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if self._beat is not None and self._beater is not None:
            self._beat.set()
            self._beater.join(timeout=5)
            self._beat = self._beater = None
        try:
            if os.name != "nt" and _same_file(fd, self.path):
                with contextlib.suppress(OSError):  # a sticky folder: the next run takes it over
                    self.path.unlink()
            _os_unlock(fd)
        finally:
            os.close(fd)
        if os.name == "nt":  # Windows removes no file that is open: after closing, unless another run opened it
            with contextlib.suppress(OSError):
                self.path.unlink()

    def _mode(self) -> int:
        if self.like is None:
            return 0o600
        try:
            return stat.S_IMODE(self.like.stat().st_mode) & 0o666 | 0o600
        except OSError:
            return 0o600

    def _share(self, fd: int) -> None:
        """Exactly the workbook's permissions (the umask would take the group's and others' write away) and group."""
        if self.like is None or os.name == "nt":
            return
        with contextlib.suppress(OSError):
            os.fchmod(fd, self._mode())
        with contextlib.suppress(OSError):
            os.fchown(fd, -1, self.like.stat().st_gid)  # allowed when this user is in that group

    def _start_heartbeat(self) -> None:
        beat = self._beat = threading.Event()
        fd = self._fd
        assert fd is not None

        def touch() -> None:
            while not beat.wait(HEARTBEAT_S):
                with contextlib.suppress(OSError):
                    os.utime(fd if os.utime in os.supports_fd else self.path)

        self._beater = threading.Thread(target=touch, name="qaas-lock-heartbeat", daemon=True)
        self._beater.start()


@contextmanager
def held(lock: LockFile, info: dict[str, Any], *, wait: float, busy: Callable[[dict[str, Any]], str],
         unavailable: Callable[[OSError], Exception] | None = None,
         on_wait: Callable[[dict[str, Any]], None] | None = None) -> Iterator[None]:
    """Hold ``lock`` for the block, waiting up to ``wait`` seconds for its holder: ``BookBusyError`` with ``busy``'s
    text after that; when it cannot be taken at all, ``unavailable``'s error (a lock in the state folder: that folder
    cannot be written, ``StateWriteError``)."""
    deadline = time.monotonic() + max(0.0, wait)
    told = False
    while True:
        try:
            holder_info = lock.try_acquire(info)
        except OSError as exc:
            raise (unavailable(exc) if unavailable else StateWriteError(lock.path, exc)) from None
        if holder_info is None:
            break
        if time.monotonic() >= deadline:
            raise BookBusyError(busy(holder_info), holder_info)
        if on_wait is not None and not told:
            on_wait(holder_info)
            told = True
        time.sleep(POLL_S)
    try:
        yield
    finally:
        lock.release()


def _me(command: str) -> dict[str, Any]:
    return {"command": command, "pid": os.getpid(), "host": socket.gethostname(), "user": _user(),
            "since": utc_now_text()}


@contextmanager
def book_lock(book: Path | str, *, command: str, wait: float = LOCK_WAIT_S, required: bool = True) -> Iterator[None]:
    """Hold the workbook's run lock for the block; ``BookBusyError`` after ``wait`` seconds.

    Two locks, always taken in this order: the one beside the workbook (only for a workbook file that exists), and the
    one beside its journal in this user's state folder (this user's runs, also for a workbook Excel has in the cloud).
    ``required=False`` (a run that sends nothing): a lock beside the workbook that cannot be taken is done without.
    """
    info = _me(command)
    name = Path(str(book)).name

    def busy(who: dict[str, Any]) -> str:
        return (f"{name} is busy: {describe_holder(who)} is working on it. Nothing was done; try again when it has "
                "finished.")

    shared = shared_lock_path(book)
    with contextlib.ExitStack() as stack:
        if shared is not None:
            lock = LockFile(shared, like=Path(str(book)).expanduser().resolve(), heartbeat=True)

            def unavailable(exc: OSError) -> Exception:
                return LockUnavailableError(
                    f"Cannot take the lock beside {name} ({shared}: {exc.strerror or exc}), so a colleague's run on "
                    "the same file could not be held off. Nothing was done. Ask for write access to the folder and "
                    "that file, or work on a copy in a folder you can write.")

            try:
                stack.enter_context(held(lock, info, wait=wait, busy=busy, unavailable=unavailable))
            except LockUnavailableError as exc:
                if required:
                    raise
                log.info("validating without the lock beside the workbook: %s", exc)
        own = lock_path(book)
        _state_folder(own)
        stack.enter_context(held(LockFile(own), info, wait=wait, busy=busy))
        yield


def account_lock_path(environment: str, account: str | None, home: Path | None = None) -> Path:
    """The lock of one account in one environment, in the state folder."""
    key = hashlib.sha256(f"{environment}|{account or ''}".encode()).hexdigest()[:24]
    return (home or state_dir()) / "locks" / f"account-{key}.lock"


@contextmanager
def account_lock(environment: str, account: str | None, *, command: str, wait: float = ACCOUNT_WAIT_S,
                 on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock around "list the service's records, then create what is missing" for one account.

    Two pushes of one account on this machine (two workbooks, or two copies of one workbook, which the lock beside a
    workbook cannot tell apart) would each list the records before the other created its own, and create them twice.
    The second waits here until the first has created its records, then lists afresh. ``on_wait`` is told who it
    waits for; after ``wait`` seconds ``BookBusyError``.
    """
    path = account_lock_path(environment, account)
    _state_folder(path)
    who = account or "this account"

    def busy(info: dict[str, Any]) -> str:
        return (f"Another push of {who} in {environment} is still creating records: {describe_holder(info)}. "
                "Nothing was sent; try again when it has finished.")

    with held(LockFile(path), _me(command), wait=wait, busy=busy,
              on_wait=(lambda info: on_wait(describe_holder(info))) if on_wait else None):
        yield


def _state_folder(lock: Path) -> None:
    try:
        private_dir(lock.parent)
    except OSError as exc:
        raise StateWriteError(lock, exc) from None


# --- the OS lock and the file's contents -------------------------------------------------------------

_O_FLAGS = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _os_lock(fd: int, *, patient: bool = False) -> bool:
    """Take the OS lock without waiting; False when another process holds it. ``patient``: a file this run has just
    created, which another run may be looking into for a moment (it finds no holder yet and lets go)."""
    for _ in range(100 if patient else 1):
        if _try_os_lock(fd):
            return True
        if patient:
            time.sleep(0.01)
    return False


def _try_os_lock(fd: int) -> bool:
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]  # Windows only
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _os_unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        if os.name == "nt":
            import msvcrt

            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]  # Windows only
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_UN)


def _same_file(fd: int, path: Path) -> bool:
    try:
        mine, there = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def _read_fd(fd: int) -> dict[str, Any] | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0) if hasattr(os, "pread") else _read_start(fd))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_start(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 4096)


def _write_fd(fd: int, info: dict[str, Any]) -> None:
    data = json.dumps(info).encode()
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)
    os.fsync(fd)


def _hide(path: Path) -> None:
    """Windows wants the hidden attribute (as Excel's own ``~$`` files have)."""
    if os.name == "nt":
        import ctypes

        ctypes.windll.kernel32.SetFileAttributesW(str(path), 0x2)  # type: ignore[attr-defined]  # Windows only


def _user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name on some service accounts
        return None
