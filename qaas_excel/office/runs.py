"""Validate, Push, Push selected, Pull and Reconcile for the Office add-in: the ribbon's macros on a JSON book.

The same library calls as ``excel/macros.py`` and the command line, in the same lifecycle: the workbook's
run lock (the same one, keyed by the workbook's path or URL, so a scheduled ``qaas-excel push`` of the file
and the add-in wait for each other), the same push journal, the same audit trail (the API client writes
it), the same summaries. What differs is only where the workbook is: the add-in sends the sheets, and the
write-back returns as instructions.

A push journal is cleared the way ``pipeline.save_results`` clears it: only once the results are in the
saved workbook. Here that is when the add-in reports it applied the instructions and saved the workbook
(``settle``); until then every answer stays in the journal, and the next push writes it into the rows.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from qaas_excel.api.client import QaasClient
from qaas_excel.excel import session
from qaas_excel.journal import Journal
from qaas_excel.pipeline import RunReport, default_journal, pull_book, push_book, save_results, validate_book
from qaas_excel.runlock import LOCK_WAIT_S, book_lock
from qaas_excel.workbook.json_book import JsonBook
from qaas_excel.workbook.table import WorkbookError

log = logging.getLogger(__name__)

COMMANDS = ("validate", "push", "push_selected", "overwrite_selected", "pull", "reconcile")
PUSHES = ("push", "push_selected", "overwrite_selected")
SELECTED = ("push_selected", "overwrite_selected")  # the rows of the selection only
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls")
MAX_SELECTED_ROWS = 1_048_576


@dataclass
class OfficeRun:
    id: str
    command: str
    book_key: str
    summary: str  # the message box text of the ribbon (excel/macros.py)
    attention: bool
    report: dict[str, Any]
    instructions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.id, "command": self.command, "summary": self.summary, "attention": self.attention,
                "report": self.report, "instructions": self.instructions}


def book_key(payload: dict[str, Any]) -> str:
    """What the lock and the journal are keyed by: the workbook's file or URL as Excel reports it.

    A local file keeps the key the ribbon and the command line use for it (its path); a workbook Excel has
    never saved has no file, so it is keyed by its name under ``office://unsaved/`` (no lock file is put
    beside anything then).
    """
    url = payload.get("url")
    name = str(payload.get("name") or "Book")
    if isinstance(url, str) and url and len(url) < 4000 and "\x00" not in url:
        if re.match(r"^https?://", url, re.IGNORECASE):
            return url
        for flavour in (PureWindowsPath, PurePosixPath):
            path = flavour(url)
            if path.is_absolute() and path.suffix.lower() in EXCEL_SUFFIXES and ".." not in path.parts:
                return url
    safe = re.sub(r"[^\w .()-]", "_", name)[:100]
    return f"office://unsaved/{safe}"


def _selected_rows(selection: Any) -> tuple[str, set[int]]:
    if not isinstance(selection, dict) or not isinstance(selection.get("sheet"), str):
        raise WorkbookError("Select the rows to push first.")
    rows = selection.get("rows")
    if not isinstance(rows, list) or len(rows) > MAX_SELECTED_ROWS or \
            not all(isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= MAX_SELECTED_ROWS for r in rows):
        raise WorkbookError("The add-in sent the selection in an unknown form.")
    return selection["sheet"], set(rows)


class Runs:
    """Runs commands; remembers unsettled pushes until the add-in says their results are saved."""

    def __init__(self, client: Callable[[], QaasClient] = session.client, *, wait: float = LOCK_WAIT_S) -> None:
        self._client = client
        self.wait = wait
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[str, str]] = {}  # run id -> (book key, command)
        self._latest: dict[str, str] = {}  # book key -> id of its latest push

    def run(self, command: str, payload: Any, selection: Any = None) -> OfficeRun:
        if command not in COMMANDS:
            raise WorkbookError(f"Unknown command {command!r}.")
        book = JsonBook.from_payload(payload)
        key = book_key(payload)
        only: tuple[str, set[int]] | None = _selected_rows(selection) if command in SELECTED else None
        if only is not None and not only[1]:
            raise WorkbookError("Select the rows to push first.")
        run_id = secrets.token_urlsafe(12)
        with book_lock(key, command=f"{command.replace('_', ' ')} (Office)", wait=self.wait):
            journal = default_journal(key)
            if command == "reconcile":
                return self._reconcile(run_id, book, key)
            report = self._work(command, book, journal, only)
            save_results(book, report, journal=journal)  # nothing on disk: the journal stays until settle()
            if command in PUSHES:
                with self._lock:
                    self._pending[run_id] = (key, command)
                    self._latest[key] = run_id
        from qaas_excel.excel.macros import summary_text

        if command == "pull":
            from qaas_excel.excel.udfs import cache

            cache.clear()  # as the ribbon's Pull: worksheet functions read fresh records
        log.info("office %s: %s (%d instructions)", command, report.counts, len(book.instructions))
        return OfficeRun(run_id, command, key, summary_text(report), report.needs_attention, report.to_dict(),
                         book.instructions)

    def _work(self, command: str, book: JsonBook, journal: Journal,
              only: tuple[str, set[int]] | None) -> RunReport:
        if command == "validate":
            return validate_book(book)
        if command == "pull":
            return pull_book(book, self._client())
        sheet, rows = only if only is not None else (None, None)
        overwrite = rows if command == "overwrite_selected" and rows else ()
        return push_book(book, self._client(), sheet=sheet, journal=journal, only_rows=rows, overwrite=overwrite)

    def _reconcile(self, run_id: str, book: JsonBook, key: str) -> OfficeRun:
        from qaas_excel.reconcile import reconcile_book

        report = reconcile_book(book, self._client())
        book.write_reconciliation(report)
        totals = report.totals
        summary = ("In sync with the service." if report.in_sync else "Differences found: see the Reconciliation "
                   "sheet.") + f"\nWorkbook {totals['workbook_kwh']:,} kWh, service {totals['service_kwh']:,} kWh."
        log.info("office reconcile: %s", report.counts)
        return OfficeRun(run_id, "reconcile", key, summary, not report.in_sync,
                         {"command": "reconcile", "in_sync": report.in_sync, "counts": dict(report.counts),
                          "totals": {k: str(v) for k, v in totals.items()}},
                         book.instructions)

    def settle(self, run_id: str, *, applied: bool, saved: bool) -> bool:
        """The add-in applied a run's instructions (and saved the workbook): clear that push's journal.

        Only a push that is still the workbook's latest is settled: a later one's answers must stay journaled
        until its own instructions are in the workbook. Returns whether the journal was cleared.
        """
        with self._lock:
            entry = self._pending.pop(run_id, None)
            if entry is None:
                return False
            key, _command = entry
            if not (applied and saved) or self._latest.get(key) != run_id:
                return False
        with book_lock(key, command="push (Office): results saved", wait=self.wait):
            default_journal(key).clear()
        log.info("office push settled: journal cleared")
        return True
