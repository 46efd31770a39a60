"""A workbook in a shared folder, worked on by two OS users, each with their own state folder.

The tests run as root (here and in CI): "this user" is the test process, the colleague is a second process started
with another uid and gid (no passwd entry needed), sharing a group with the workbook, as on a team share.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.runlock import book_lock, shared_lock_path
from tests.reliability.conftest import many_rows

COLLEAGUE_UID, TEAM_GID = 47011, 47010
runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@dataclass
class Colleague:
    """Another OS user on this machine, with a state folder of their own, signed in to the sandbox."""

    uid: int
    gid: int
    home: Path
    env: dict[str, str]

    def run(self, *args: str, wait: bool = True) -> subprocess.Popen | subprocess.CompletedProcess:
        command = [sys.executable, "-m", "qaas_excel", *args]
        options: dict = {"env": self.env, "umask": 0o002, "cwd": self.home, "stdin": subprocess.DEVNULL,
                         "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        if shutil.which("setpriv"):  # util-linux, as on CI's machines
            command = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", f"--groups={TEAM_GID}", "--",
                       *command]
        else:
            options.update(user=self.uid, group=self.gid, extra_groups=[TEAM_GID])
        if wait:
            return subprocess.run(command, timeout=240, check=False, **options)
        return subprocess.Popen(command, **options)


@pytest.fixture
def team_folder() -> Iterator[Path]:
    """A folder of the team's group, writable by its members (mode 2770), outside root's private temp folders."""
    assert os.geteuid() == 0, "these proofs start a second OS user: run the tests as root (as CI does)"
    folder = Path(tempfile.mkdtemp(prefix="qaas-team-"))
    os.chown(folder, 0, TEAM_GID)
    os.chmod(folder, 0o2770)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def colleague(signed_in, sandbox, qaas_home: Path) -> Iterator[Colleague]:
    from qaas_excel.api.auth import MsalSignIn

    home = Path(tempfile.mkdtemp(prefix="qaas-colleague-"))
    state = home / "state"
    state.mkdir()
    info = json.loads((qaas_home / "sandbox.json").read_text())
    shutil.copy(info["ca_file"], state / "ca.pem")
    info["ca_file"] = str(state / "ca.pem")
    (state / "sandbox.json").write_text(json.dumps(info))
    for path in (home, state, *state.iterdir()):
        os.chown(path, COLLEAGUE_UID, COLLEAGUE_UID)
    os.chmod(home, 0o700)
    token = MsalSignIn(signed_in, home=qaas_home).token()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QAAS_", "PYTEST"))}
    env.update(HOME=str(home), USER="colleague", LOGNAME="colleague", QAAS_HOME=str(state),
               QAAS_ACCESS_TOKEN=token, PYTHONDONTWRITEBYTECODE="1")
    try:
        yield Colleague(COLLEAGUE_UID, COLLEAGUE_UID, home, env)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def team_book(folder: Path, n: int = 20) -> Path:
    """A workbook of n rows without references (no reference tells two records apart), group-writable by the team."""
    book = many_rows(folder / "shared.xlsx", n, with_references=False)
    os.chown(book, 0, TEAM_GID)
    os.chmod(book, 0o664)
    return book


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(("~$", ".")) or "lock" in p.name)


def test_a_colleague_is_held_off_then_pushes_and_saves_over_this_users_backup(sandbox, signed_in, colleague,
                                                                              team_folder: Path) -> None:
    book = team_book(team_folder)
    assert cli("validate", str(book)).exit_code == 0  # this user saved once: the backup is root's now
    backup = team_folder / "shared.backup.xlsx"
    assert backup.stat().st_uid == 0

    with book_lock(book, command="push"):
        busy = colleague.run("push", str(book), "--env", "sandbox", "--wait", "0.5")
        assert busy.returncode == 5, busy.stderr
        assert "busy" in busy.stderr and f"process {os.getpid()}" in busy.stderr and socket.gethostname() in busy.stderr
        lock = shared_lock_path(book)
        assert lock is not None and lock.exists()
        assert (lock.stat().st_mode & 0o777, lock.stat().st_gid) == (0o664, TEAM_GID)  # the workbook's access
    assert sandbox.admin.records("chargepoint") == []  # the colleague sent nothing while held off

    previous = book.read_bytes()
    pushed = colleague.run("push", str(book), "--env", "sandbox", "--json")
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["counts"] == {"created": 21}
    assert backup.read_bytes() == previous  # the colleague's save replaced this user's backup
    assert (book.stat().st_mode & 0o777, book.stat().st_gid) == (0o664, TEAM_GID)  # the team keeps its access

    again = cli("push", str(book), "--env", "sandbox", "--json")  # this user, own state folder and journal
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["counts"] == {"unchanged": 21}
    assert len(sandbox.admin.records("chargepoint")) == 20
    assert leftovers(team_folder) == []


@pytest.mark.parametrize("sandbox", [{"auto_approve": True, "latency_ms": 40}], indirect=True)
def test_two_users_pushing_one_workbook_at_once_create_each_record_once(sandbox, signed_in, colleague, qaas_home: Path,
                                                                        team_folder: Path) -> None:
    book = team_book(team_folder)
    env = {**os.environ, "QAAS_HOME": str(qaas_home)}
    mine = subprocess.Popen([sys.executable, "-m", "qaas_excel", "push", str(book), "--env", "sandbox", "--json",
                             "--wait", "120"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    theirs = colleague.run("push", str(book), "--env", "sandbox", "--json", "--wait", "120", wait=False)
    outs = [p.communicate(timeout=240) for p in (mine, theirs)]
    assert [mine.returncode, theirs.returncode] == [0, 0], [err for _out, err in outs]
    created = sorted(json.loads(out)["counts"].get("created", 0) for out, _err in outs)
    assert created == [0, 21]
    assert len(sandbox.admin.records("chargepoint")) == 20 and len(sandbox.admin.records("operator")) == 1
    assert leftovers(team_folder) == []


def test_a_lock_that_cannot_be_taken_stops_a_push_before_anything_is_sent(sandbox, signed_in, colleague,
                                                                          team_folder: Path) -> None:
    book = team_book(team_folder)
    os.chmod(team_folder, 0o2750)  # the colleague may read the folder, not write it: no lock file can be made there
    out = colleague.home / "out.xlsx"
    result = colleague.run("push", str(book), "--env", "sandbox", "--output", str(out))
    assert result.returncode == 5, result.stderr
    assert "Cannot take the lock beside shared.xlsx" in result.stderr and "Nothing was done" in result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox.admin.stats()["requests"].get("POST /chargepoint", 0) == 0
    assert sandbox.admin.records("chargepoint") == [] and not out.exists()
    # validate sends nothing: it goes on without that lock and reports every row
    checked = colleague.run("validate", str(book), "--output", str(out))
    assert checked.returncode == 0, checked.stderr


def test_no_lock_file_for_a_workbook_that_does_not_exist_or_is_not_one(tmp_path: Path, qaas_home: Path) -> None:
    csv = tmp_path / "rows.csv"
    csv.write_text("a;b\n1;2\n")
    for command in (["validate", str(tmp_path / "missing.xlsx")], ["push", str(tmp_path / "missing.xlsx")],
                    ["validate", str(csv)]):
        assert cli(*command).exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qaas-home", "rows.csv"]
    assert not list(qaas_home.rglob("*.lock"))


def write_lock(book: Path, host: str, *, age_s: float = 0.0, pid: int = 4242, user: str = "kim") -> Path:
    lock = shared_lock_path(book)
    assert lock is not None
    lock.write_text(json.dumps({"command": "push", "pid": pid, "host": host, "user": user,
                                "since": "2025-03-01T09:00:00Z"}))
    if age_s:
        then = time.time() - age_s
        os.utime(lock, (then, then))
    return lock


def test_a_lock_left_by_a_run_that_died_on_this_machine_is_taken_over_and_removed(demo_book: Path,
                                                                                   qaas_home: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = write_lock(demo_book, socket.gethostname(), pid=int(dead.stdout))
    result = cli("validate", str(demo_book), "--wait", "0")
    assert result.exit_code == 1, result.stderr  # it ran: the demo has invalid rows
    assert not lock.exists()


def test_a_lock_held_on_another_machine_stops_the_run_until_that_machine_has_been_silent_long(
        demo_book: Path, qaas_home: Path) -> None:
    lock = write_lock(demo_book, "laptop-of-kim")  # its OS lock does not reach this machine: only its age tells
    before = demo_book.read_bytes()
    result = cli("validate", str(demo_book), "--wait", "0.3")
    assert result.exit_code == 5
    assert "laptop-of-kim" in result.stderr and "user kim" in result.stderr and "push by process 4242" in result.stderr
    assert demo_book.read_bytes() == before and lock.exists()

    write_lock(demo_book, "laptop-of-kim", age_s=3600)  # untouched for an hour: that run is over
    result = cli("validate", str(demo_book), "--wait", "0")
    assert result.exit_code == 1, result.stderr
    assert not lock.exists()


def test_waiting_for_a_lock_holds_no_file_open_per_look(demo_book: Path, qaas_home: Path) -> None:
    from qaas_excel.runlock import BookBusyError, LockFile, held

    lock = shared_lock_path(demo_book)
    assert lock is not None
    before = len(os.listdir("/proc/self/fd"))
    with book_lock(demo_book, command="push"):
        for _ in range(3):
            with pytest.raises(BookBusyError), held(LockFile(lock), {}, wait=0.5, busy=str):
                pass
        assert len(os.listdir("/proc/self/fd")) <= before + 2  # the holder's own two locks, nothing per look
