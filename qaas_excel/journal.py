"""A durable journal of every API result, written before the workbook is.

A push appends one line per sent request ("intent") and one per answer ("done"/"failed"),
each flushed and fsynced, so a kill or power loss between the API call and the workbook
save loses nothing: the next run replays "done" entries into the rows first, and a row
whose intent has no answer is resolved against the service's records instead of being
created again. After the workbook was saved the journal is cleared.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qaas_excel.config import state_dir


@dataclass(frozen=True)
class JournalEntry:
    kind: str  # "intent" | "done" | "failed"
    sheet: str
    row: int
    fingerprint: str
    reference: str | None = None
    action: str | None = None  # create | update
    record_id: int | None = None
    status: str | None = None
    last_updated: str | None = None
    result: str | None = None
    message: str | None = None
    at: str = ""


def journal_path(workbook: Path | str, home: Path | None = None) -> Path:
    """One journal per workbook, named by its absolute path."""
    key = hashlib.sha256(str(Path(workbook).resolve()).encode()).hexdigest()[:24]
    return (home or state_dir()) / "journal" / f"{Path(workbook).stem[:40]}-{key}.jsonl"


class Journal:
    """Append-only, fsynced JSON lines; safe to call from the push worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: Any = None

    def _open(self) -> Any:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run
        return self._file

    def append(self, entry: JournalEntry) -> None:
        data = {k: v for k, v in entry.__dict__.items() if v is not None}
        data["at"] = entry.at or datetime.now(UTC).isoformat(timespec="milliseconds")
        line = json.dumps(data, ensure_ascii=False) + "\n"
        with self._lock:
            f = self._open()
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def entries(self) -> list[JournalEntry]:
        """Everything journaled and not yet cleared; a torn last line (power loss) is ignored."""
        if not self.path.exists():
            return []
        out = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    data = json.loads(line)
                    out.append(JournalEntry(**data))
                except (ValueError, TypeError):
                    continue
        return out

    def pending(self, sheet: str) -> tuple[dict[int, JournalEntry], dict[int, JournalEntry]]:
        """(answers by row, intents without an answer by row) for one sheet; the latest wins."""
        done: dict[int, JournalEntry] = {}
        open_intents: dict[int, JournalEntry] = {}
        for e in self.entries():
            if e.sheet != sheet:
                continue
            if e.kind == "intent":
                open_intents[e.row] = e
            else:
                open_intents.pop(e.row, None)
                if e.kind == "done":
                    done[e.row] = e
        return done, open_intents

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def clear(self) -> None:
        """After the workbook holds every result: start afresh."""
        self.close()
        self.path.unlink(missing_ok=True)
