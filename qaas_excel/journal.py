"""A durable journal of every API result, written before the workbook is.

A push appends one line per sent request ("intent") and one per answer ("done"/"failed"),
each flushed and fsynced, so a kill or power loss between the API call and the workbook
save loses nothing: the next run replays "done" entries into the rows first, and a row
whose intent has no answer is resolved against the service's records instead of being
created again. After the workbook was saved the journal is cleared.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qaas_excel.config import state_dir
from qaas_excel.jsonl import append_line, read_lines


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

    def append(self, entry: JournalEntry) -> None:
        data = {k: v for k, v in entry.__dict__.items() if v is not None}
        data["at"] = entry.at or datetime.now(UTC).isoformat(timespec="milliseconds")
        append_line(self.path, data)  # thread-safe, on disk before it returns (one fsync for lines written meanwhile)

    def entries(self) -> list[JournalEntry]:
        """Everything journaled and not yet cleared; a torn last line (power loss) is ignored."""
        out = []
        for data in read_lines(self.path):
            try:
                out.append(JournalEntry(**data))
            except TypeError:
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

    def clear(self, keep: Iterable[JournalEntry] = ()) -> None:
        """After the workbook holds every result: start afresh, keeping ``keep`` (creates whose outcome is
        still unknown: a list that could not be read whole did not show their records)."""
        kept = list(keep)
        if not kept:
            self.path.unlink(missing_ok=True)
            return
        fresh = self.path.with_name(self.path.name + ".new")
        fresh.unlink(missing_ok=True)
        for entry in kept:
            data = {k: v for k, v in entry.__dict__.items() if v is not None}
            append_line(fresh, data)
        os.replace(fresh, self.path)
