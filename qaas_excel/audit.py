"""An append-only audit trail of every write (POST, PATCH) the tool sends.

Each write is logged twice: "sending" before the request leaves and the outcome after, so a
write whose answer never came is visible too. Entries name the environment, the account (from
the token's claims), the resource, id, reference, and every changed field with its old and new
value. Never a token or any secret.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qaas_excel.config import state_dir
from qaas_excel.csv_export import write_csv
from qaas_excel.jsonl import append_line, read_lines
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
    """Thread-safe appends, each fsynced; the file is created readable by its owner only."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / AUDIT_FILE
        self._lock = threading.Lock()

    def write(self, entry: AuditEntry) -> None:
        entry.at = entry.at or datetime.now(UTC).isoformat(timespec="milliseconds")
        data = asdict(entry)
        data["changes"] = {k: {kk: jsonable(vv) for kk, vv in v.items()} for k, v in entry.changes.items()}
        with self._lock:
            append_line(self.path, data)

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


def to_csv(entries: Iterable[AuditEntry]) -> str:
    """One line per changed field, so a spreadsheet can filter by field; formula-like text neutralised."""
    header = ["at", "write_id", "phase", "environment", "account", "method", "resource", "record_id",
              "customer_reference", "field", "old", "new", "outcome"]
    rows = [[e.at, e.write_id, e.phase, e.environment, e.account, e.method, e.resource, e.record_id,
             e.customer_reference, name, change.get("old"), change.get("new"), e.outcome]
            for e in entries for name, change in (e.changes.items() or [("", {})])]
    return write_csv(header, rows)
