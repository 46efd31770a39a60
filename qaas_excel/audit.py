"""An append-only audit trail of every write (POST, PATCH) the tool sends.

Each write is logged twice: "sending" before the request leaves and the outcome after, so a
write whose answer never came is visible too. Entries name the environment, the account (from
the token's claims), the resource, id, reference, and every changed field with its old and new
value. Never a token or any secret.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qaas_excel.config import state_dir
from qaas_excel.csv_export import write_csv
from qaas_excel.jsonl import StateWriteError, append_line, read_lines
from qaas_excel.values import jsonable

AUDIT_FILE = "audit.jsonl"


@dataclass
class AuditEntry:
    write_id: str  # pairs "sending" with its outcome
    phase: str  # "sending" | "done" | "failed"
    environment: str
    account: str | None
    method: str
    resource: str
    record_id: int | None = None
    customer_reference: str | None = None
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)  # field -> {"old": ..., "new": ...}
    outcome: str | None = None  # e.g. "201 created", "422: reason", "unknown: connection lost"
    at: str = ""


class AuditLog:
    """Thread-safe appends, each on disk before ``write`` returns; the file is created readable by its owner only.

    Once a write failed (a full disk), every later one fails with the same error before anything is sent: a request
    leaves only with its "sending" entry on disk. It grows by about 0.8 KB per entry, two per write (``prune``)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / AUDIT_FILE
        self._lock = threading.Lock()
        self.failure: StateWriteError | None = None

    def write(self, entry: AuditEntry) -> None:
        entry.at = entry.at or datetime.now(UTC).isoformat(timespec="milliseconds")
        data = {f.name: getattr(entry, f.name) for f in fields(entry)}  # not asdict: it deep-copies every value
        data["changes"] = {k: {kk: jsonable(vv) for kk, vv in v.items()} for k, v in entry.changes.items()}
        with self._lock:
            if self.failure is not None:
                raise self.failure
        try:
            append_line(self.path, data)  # many workers at once: one fsync covers the lines written meanwhile
        except StateWriteError as exc:
            with self._lock:
                self.failure = self.failure or exc
            raise

    def begin(self, *, environment: str, account: str | None, method: str, resource: str,
              record_id: int | None = None, customer_reference: str | None = None,
              changes: dict[str, dict[str, Any]] | None = None) -> AuditEntry:
        entry = AuditEntry(uuid.uuid4().hex[:12], "sending", environment, account, method, resource, record_id,
                           customer_reference, changes or {})
        self.write(entry)
        return entry

    def finish(self, entry: AuditEntry, *, ok: bool, outcome: str, record_id: int | None = None) -> None:
        done = AuditEntry(entry.write_id, "done" if ok else "failed", entry.environment, entry.account,
                          entry.method, entry.resource, record_id or entry.record_id, entry.customer_reference,
                          entry.changes, outcome)
        self.write(done)

    def entries(self, since: datetime | None = None) -> list[AuditEntry]:
        out = []
        for data in read_lines(self.path):
            try:
                e = AuditEntry(**data)
            except TypeError:
                continue
            if since is None or datetime.fromisoformat(e.at) >= since:
                out.append(e)
        return out


@dataclass(frozen=True)
class Pruned:
    removed: int  # entries
    kept: int
    freed_bytes: int


def prune(before: datetime, path: Path | None = None) -> Pruned:
    """Remove the entries of writes sent before ``before`` (both entries of a write go together; unreadable lines
    stay). The file is replaced atomically: a failure leaves it as it was."""
    path = path or state_dir() / AUDIT_FILE
    if before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    if not path.exists():
        return Pruned(0, 0, 0)
    size = path.stat().st_size
    old_writes: set[str] = set()
    recent_writes: set[str] = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            write_id, at = _id_and_time(line)
            if write_id is not None and at is not None:
                (old_writes if at < before else recent_writes).add(write_id)
    drop = old_writes - recent_writes  # a write that began before and ended after stays whole
    removed = kept = 0
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out, open(path, encoding="utf-8") as f:
            for line in f:
                write_id, _at = _id_and_time(line)
                if write_id in drop:
                    removed += 1
                    continue
                kept += 1
                out.write(line)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Pruned(removed, kept, size - path.stat().st_size)


def _id_and_time(line: str) -> tuple[str | None, datetime | None]:
    try:
        data = json.loads(line)
        at = datetime.fromisoformat(data["at"])
        return str(data["write_id"]), at if at.tzinfo else at.replace(tzinfo=UTC)
    except (ValueError, KeyError, TypeError):
        return None, None


def to_csv(entries: Iterable[AuditEntry]) -> str:
    """One line per changed field, so a spreadsheet can filter by field; formula-like text neutralised."""
    header = ["at", "write_id", "phase", "environment", "account", "method", "resource", "record_id",
              "customer_reference", "field", "old", "new", "outcome"]
    rows = [[e.at, e.write_id, e.phase, e.environment, e.account, e.method, e.resource, e.record_id,
             e.customer_reference, name, change.get("old"), change.get("new"), e.outcome]
            for e in entries for name, change in (e.changes.items() or [("", {})])]
    return write_csv(header, rows)
