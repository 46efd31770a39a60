"""validate / push / pull a whole workbook: the one implementation behind the CLI and the ribbon.

Data flows one way: sheet rows -> DataFrame -> validate -> plan -> API -> outcomes -> the same
rows. Operators are handled before charge points, so a charge point can name its operator by
the operator's reference from the Operators sheet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import pandas as pd

from qaas_excel.api import errors
from qaas_excel.api.client import FirstPage, QaasClient
from qaas_excel.api.errors import IncompleteListError
from qaas_excel.gcpause import collector_paused
from qaas_excel.incomplete import hold_creates, mark_transient, not_pulled, unresolved_creates, whole_list
from qaas_excel.interrupt import Stop
from qaas_excel.journal import Journal, JournalEntry
from qaas_excel.outcomes import Outcome, count_results
from qaas_excel.problems import Problem, by_row, column_labels
from qaas_excel.resources import CHARGEPOINT, OPERATOR, RESOURCES, Resource, is_editable_status
from qaas_excel.results import ATTENTION, NAMES, Result
from qaas_excel.runlock import LOCK_WAIT_S, account_lock, book_lock
from qaas_excel.sync import (
    Action,
    Place,
    Planned,
    RowState,
    describe_sides,
    differences,
    find_twins,
    fingerprint,
    fingerprints,
    identity_mismatch,
    identity_text,
    plan_rows,
    run_plan,
    same_values,
    values_part,
)
from qaas_excel.validation import ValidationResult, validate
from qaas_excel.values import is_blank, is_missing
from qaas_excel.workbook import columns as C
from qaas_excel.workbook import table as workbook_table
from qaas_excel.workbook.mapping import HeaderNotFound
from qaas_excel.workbook.report_sheet import SHEET as REPORT_SHEET
from qaas_excel.workbook.table import (
    SheetTable,
    TableBook,
    WorkbookError,
    WriteBack,
    cell_name,
    column_letter,
)
from qaas_excel.workbook.writeback import (
    excel_time,
    only_changes,
    outcomes_to_writeback,
    slim_records,
    system_ids,
    system_values,
)

if TYPE_CHECKING:
    from qaas_excel.workbook.package_book import PackageBook

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (phase, advance, total)


@dataclass
class SheetReport:
    sheet: str
    resource: str
    outcomes: list[Outcome] = field(default_factory=list)
    file_problems: list[Problem] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return count_results(self.outcomes)


@dataclass
class RunReport:
    """What a validate/push/pull did, for the summary table, --json and the exit code."""

    command: str
    book: str
    sheets: list[SheetReport] = field(default_factory=list)
    dry_run: bool = False
    stats: dict[str, Any] = field(default_factory=dict)
    saved_to: str | None = None
    notes: list[str] = field(default_factory=list)
    # Sheets that look like operators or charge points but could not be read: {"sheet": name, "reason": why}.
    skipped: list[dict[str, str]] = field(default_factory=list)
    # Sheet -> data rows hidden by a filter or by hand that were read and processed like the others.
    hidden_rows: dict[str, list[int]] = field(default_factory=dict)
    incomplete: list[IncompleteListError] = field(default_factory=list)  # lists not read whole: nothing created
    kept_intents: list[JournalEntry] = field(default_factory=list)  # lost creates not yet found: kept in the journal
    stopped: str | None = None  # why a push stopped sending before the end: Ctrl-C, or the state folder's error
    state_error: bool = False  # ... that error: the journal or audit trail could not be written

    @property
    def counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for s in self.sheets:
            for k, v in s.counts.items():
                total[k] = total.get(k, 0) + v
        return total

    @property
    def service_unreachable(self) -> bool:
        """Some rows failed only because the service could not be reached or failed: run again later."""
        return any(o.transient for s in self.sheets for o in s.outcomes)

    @property
    def needs_attention(self) -> bool:
        return any(o.result in ATTENTION for s in self.sheets for o in s.outcomes) or any(
            s.file_problems for s in self.sheets) or bool(self.skipped)

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "book": self.book,
            "dry_run": self.dry_run,
            "saved_to": self.saved_to,
            "counts": self.counts,
            "sheets": [
                {"sheet": s.sheet, "resource": s.resource, "counts": s.counts,
                 "problems": [p.to_dict() for p in s.file_problems],
                 "hidden_rows": self.hidden_rows.get(s.sheet, []),
                 "rows": [{"sheet": s.sheet, "row": o.row, "result": NAMES[o.result], "message": o.message,
                           "id": None if o.record is None else o.record.get("id"),
                           "status": None if o.record is None else o.record.get("status"),
                           "problems": [p.to_dict() for p in o.problems] if o.problems else []}
                          for o in s.outcomes]}
                for s in self.sheets
            ],
            "skipped": self.skipped,
            "stats": self.stats,
            "notes": self.notes,
            "incomplete_lists": [{"message": str(e), "reason": e.reason, "pages": e.pages, "records": len(e.records),
                                  "transient": e.transient} for e in self.incomplete],
            "stopped": self.stopped,
        }


# --- the service's lists ------------------------------------------------------------------------------

Listed = TypeVar("Listed")


class ListsAhead(Generic[Listed]):
    """The first page of each list a run needs, asked for in a thread of its own while the workbook is read: the
    service's work on it (some 0.65 s for 50,000 records on loopback, more over a network) is done meanwhile.
    ``take`` reads its body and makes the records in the run's own thread, once; a second sheet of that resource
    lists again, after the first sheet's creates, as before. Body and records made in the asking thread stayed in
    that thread's memory once let go: 30-40 MiB more at the peak of a 50,000-row push. A body cut off meanwhile (a
    proxy that gives up on a slow reader) is asked for again.

    Nothing else changes: the pages are fetched under the same lock (entered after it), before any row is planned;
    an error raises where the run takes the list. ``read``: how a list is read from its first page (``whole_list``:
    what was read and why not all; ``QaasClient.list``: all or an error)."""

    def __init__(self, client: QaasClient, resources: Iterable[Resource],
                 read: Callable[[QaasClient, Resource, FirstPage | None], Listed]) -> None:
        self._client, self._read = client, read
        self._resources = {r.name: r for r in resources}  # each once, in the order given
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: dict[str, Future[FirstPage]] = {}

    def take(self, resource: Resource) -> Listed:
        """The list from the page fetched ahead, the first time; read afresh after that."""
        ahead = self._ahead.pop(resource.name, None)
        return self._read(self._client, resource, ahead.result() if ahead is not None else None)

    def __enter__(self) -> ListsAhead[Listed]:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qaas-list")
        self._ahead = {name: self._pool.submit(self._client.first_page, r) for name, r in self._resources.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        # a page not taken (the run stopped, a sheet could not be read) is never fetched; one under way is waited for
        assert self._pool is not None
        self._pool.shutdown(wait=True, cancel_futures=True)
        for ahead in self._ahead.values():  # a page asked for and not taken: its connection let go
            if not ahead.cancelled() and ahead.exception() is None:
                ahead.result().response.close()
        self._ahead.clear()


# --- which sheets -----------------------------------------------------------------------------------

def sheets_to_process(book: TableBook, sheet: str | None = None,
                      report: RunReport | None = None) -> list[tuple[Resource, str]]:
    """(resource, sheet) pairs, operators first: the named sheet, or every sheet that holds operators or charge
    points (the template's, and copies such as "ChargePoints (2)" or any sheet whose header row has the columns).

    A sheet that looks like one (by its name, or by a header row with some of the columns) but cannot be read is
    left out, and ``report.skipped`` says which and why.
    """
    names = book.sheet_names()
    if sheet is not None:
        if sheet not in names:
            raise WorkbookError(f"{book.name} has no sheet {sheet!r} (sheets: {', '.join(names)}).",
                                path=book.name, sheet=sheet)
        for resource in RESOURCES.values():
            if resource.sheet.casefold() == sheet.casefold():
                return [(resource, sheet)]
        reasons: list[str] = []
        for resource in (CHARGEPOINT, OPERATOR):  # the one whose required columns are there
            try:
                book.read(resource, sheet)
                return [(resource, sheet)]
            except WorkbookError as exc:
                reasons.append(str(exc))
        raise WorkbookError(f"Sheet {sheet!r} of {book.name} holds neither operators nor charge points: "
                            + " / ".join(reasons), path=book.name, sheet=sheet)
    found: list[tuple[Resource, str]] = []
    for name in names:
        template = next((r for r in RESOURCES.values() if r.sheet == name), None)
        if template is not None:
            found.append((template, name))  # read as such; a broken one is an error of the run, as ever
        elif name != REPORT_SHEET:
            held, reason = _holds(book, name)
            if held is not None:
                found.append((held, name))
            elif reason and report is not None:
                report.skipped.append({"sheet": name, "reason": reason})
    if not found:
        raise WorkbookError(
            f"{book.name} has neither an {OPERATOR.sheet!r} nor a {CHARGEPOINT.sheet!r} sheet (sheets: "
            f"{', '.join(names)}); use --sheet NAME, or start from the template (`qaas-excel templates`).",
            path=book.name)
    return sorted(found, key=lambda pair: pair[0] is not OPERATOR)  # operators first, else in workbook order


def _holds(book: TableBook, name: str) -> tuple[Resource | None, str | None]:
    """(the resource a sheet other than the template's holds, None) or (None, why it looks like one but was not
    read; None when it does not look like one at all)."""
    readable: list[Resource] = []
    reasons: list[str] = []
    for resource in (OPERATOR, CHARGEPOINT):
        try:
            book.read(resource, name)
            readable.append(resource)
        except HeaderNotFound as exc:
            if _named_like(resource, name):
                reasons.append(str(exc))
        except WorkbookError as exc:  # a header row with some of the columns, or a damaged sheet
            reasons.append(str(exc))
    if len(readable) == 1:
        return readable[0], None
    if readable:
        return None, (f"{book.name}, sheet '{name}' has the columns of both operators and charge points; "
                      "use --sheet to name what it holds.")
    return None, " / ".join(reasons) or None


def _named_like(resource: Resource, name: str) -> bool:
    """"ChargePoints (2)", "chargepoints 2025", "Kopie von Operators": a name with the template sheet's in it."""
    def squeeze(text: str) -> str:
        return "".join(ch for ch in text.casefold() if ch.isalnum())

    return squeeze(resource.sheet) in squeeze(name)


# --- rows -------------------------------------------------------------------------------------------

@dataclass
class PreparedSheet:
    resource: Resource
    table: SheetTable
    records: pd.DataFrame
    problems: dict[int, list[Problem]]
    file_problems: list[Problem]
    system: pd.DataFrame


def validate_table(table: SheetTable, **kwargs: Any) -> ValidationResult:
    """Check the rows of a sheet as read: ``validate`` with the sheet's names and date system, plus what the
    reading found (merged ranges, formulas never calculated), which replaces the rules' findings on the cells it
    makes unreadable. Every problem in a row's cell names that cell ("K2")."""
    result = validate(table.resource, table.data, sheet=table.sheet,
                      headers=column_labels(table.headers, table.columns), date1904=table.date1904,
                      columns=table.columns, **kwargs)
    problems = [p for p in result.problems if (p.row, p.field) not in table.unusable]
    problems.extend(table.problems)
    problems.sort(key=lambda p: (p.row is not None, p.row or 0))
    return ValidationResult(result.records, problems)


def placer(table: SheetTable) -> Place:
    """Where a problem found after reading (planning, the service, a pull) is shown: its column named as validation
    names it ("column K (Amount (kWh))"), on its cell."""
    labels = column_labels(table.headers, table.columns)

    def place(p: Problem) -> Problem:
        if p.field is None:
            return p
        col = table.columns.get(p.field)
        return replace(p, label=p.label or labels.get(p.field) or table.resource.field(p.field).header,
                       cell=p.cell or (cell_name(int(p.row), col) if p.row is not None and col else None))
    return place


def _prepare(book: TableBook, resource: Resource, sheet: str, *, today: date | None,
             operators: OperatorDirectory | None = None, table: SheetTable | None = None) -> PreparedSheet:
    table = table if table is not None else book.read(resource, sheet)
    kwargs: dict[str, Any] = {"today": today}
    if resource is CHARGEPOINT and operators is not None:
        kwargs.update(operator_refs=operators.references(), operator_ids=operators.ids())
    result = validate_table(table, **kwargs)
    rows = by_row(result.problems)
    file_problems = rows.pop(None, [])
    return PreparedSheet(resource, table, result.records, cast(dict[int, list[Problem]], rows),  # None popped
                         file_problems, system_values(table))


class OperatorDirectory:
    """The one place a charge point's operator reference becomes an operator id.

    A charge point names its operator by QaaS ID or by the operator's reference. References are known from
    the service's operators and, within a run, from the Operators sheet as it is pushed. In a dry run an
    operator that would be created resolves to its reference itself, so its charge points plan as they would.
    """

    def __init__(self, service: list[dict[str, Any]] | None = None, *, dry_run: bool = False,
                 incomplete: IncompleteListError | None = None) -> None:
        self.dry_run = dry_run
        self.incomplete = incomplete  # the service's operators were not all read: what is not known is not judged
        self._service_ids: set[int] | None = None if service is None or incomplete else {op["id"] for op in service}
        self._ids: dict[str, int | str] = {}
        self._rows: dict[str, int] = {}  # reference -> its row on the Operators sheet
        self._sheet_read = False
        key = OPERATOR.reference
        assert key is not None  # operators are named by their reference
        for op in service or []:
            ref = _reference(op.get(key))
            if ref:
                self._ids.setdefault(ref, op["id"])

    def references(self) -> set[str] | None:
        """References a charge point may name (None when neither the service nor a sheet told any)."""
        if (self._service_ids is None and not self._sheet_read) or self.incomplete:
            return None
        return set(self._ids) | set(self._rows)

    def ids(self) -> set[int] | None:
        """Ids the service holds (None when the service was not asked: validate works offline)."""
        return self._service_ids

    def learn_sheet(self, table: SheetTable) -> None:
        """The Operators sheet's references, by row (validate, and messages about operators not pushed)."""
        self._sheet_read = True
        refs = table.data.get(OPERATOR.reference)
        for row, value in (refs.items() if refs is not None else ()):
            ref = _reference(value)
            if ref:
                self._rows.setdefault(ref, int(cast(int, row)))  # the index: Excel rows

    def learn_outcomes(self, table: SheetTable, rows: list[RowState], outcomes: list[Outcome]) -> None:
        """After the Operators sheet was pushed: the id of each operator that is now on the service."""
        self.learn_sheet(table)
        refs = table.data.get(OPERATOR.reference)
        known = {r.row: r.record_id for r in rows}
        for o in outcomes:
            ref = _reference(refs.get(o.row)) if refs is not None else None
            if not ref or o.result in (Result.INVALID, Result.FAILED, Result.CONFLICT):
                continue
            rec_id = (o.record or {}).get("id") or known.get(o.row)
            if rec_id is None and self.dry_run and o.result is Result.VALID:
                rec_id = ref  # would be created
            if rec_id is not None:
                self._ids[ref] = rec_id

    def resolve(self, row: int, values: dict[str, Any], table: SheetTable) -> Problem | None:
        """Put the operator's id into a charge point's values; the problem if the reference is not known yet."""
        field = CHARGEPOINT.operator_field
        assert field is not None  # a charge point names its operator
        ref = values.get(field)
        if not isinstance(ref, str):
            return None
        op_id = self._ids.get(ref.strip())
        if op_id is not None:
            values[field] = op_id
            return None
        where = f" (Operators sheet row {self._rows[ref.strip()]})" if ref.strip() in self._rows else ""
        if self.incomplete:
            return Problem(row, field, "operator-not-pushed",
                           f"operator {ref!r} was not among the operators read{where}: {self.incomplete}",
                           table.sheet, ref, table.header(field))
        return Problem(row, field, "operator-not-pushed",
                       f"operator {ref!r} is not on the service yet{where}; push it first.", table.sheet, ref,
                       column_labels(table.headers, table.columns).get(field, table.header(field)))


def _row_dicts(frame: pd.DataFrame) -> dict[int, dict[str, Any]]:
    """Excel row -> {column: value}, missing values as None (a column at a time: much faster than to_dict)."""
    keys = list(frame.columns)
    if not keys:
        return {int(row): {} for row in frame.index}
    lines = zip(*[_present(frame[k]) for k in keys], strict=True)
    return dict(zip([int(row) for row in frame.index], map(dict, map(zip, repeat(keys), lines)), strict=True))


def _present(column: pd.Series) -> list[Any]:
    """A column's values, missing ones as None (pandas finds whether any is missing: most columns have none)."""
    values = column.tolist()
    if not column.isna().any():  # isna finds every value is_missing finds (and Decimal NaN besides)
        return values
    return [None if is_missing(v) else v for v in values]


def _reference(value: Any) -> str | None:
    return None if is_blank(value) else str(value).strip()


def _row_states(prep: PreparedSheet, operators: OperatorDirectory | None = None) -> list[RowState]:
    rows = []
    records = _row_dicts(prep.records)
    # the system columns (``system_values``: id, status, fingerprint) a column at a time, not a dict a row
    at = [int(row) for row in prep.system.index]
    ids, statuses, stored = (dict(zip(at, _present(prep.system[key]), strict=True))
                             for key in (C.ID, C.STATUS, C.FINGERPRINT))
    for row, values in records.items():
        problems: Sequence[Problem] = prep.problems.get(row, ())  # never changed in place: shared, not copied
        if prep.resource is CHARGEPOINT and not problems and operators is not None:
            problem = operators.resolve(row, values, prep.table)
            if problem is not None:
                problems = [problem]
        rows.append(RowState(row, values, record_id=ids.get(row), status=statuses.get(row),
                             stored_fingerprint=stored.get(row), problems=problems))
    return rows


def _replay_journal(journal: Journal | None, sheet: str, resource: Resource, rows: list[RowState],
                    service: list[dict[str, Any]]) -> dict[int, Outcome]:
    """Put what an interrupted run did on the service back into the rows, before anything is planned.

    - An answer the run journaled (``done``) links its row to the record, also when the row was edited since (the
      edit is then planned as a change of that record, never as a second record). A row that now holds another
      record's data (rows sorted since) is not linked; the row holding exactly the values that were sent is.
    - A create that was sent but whose answer never came back (an ``intent`` without an answer) may have
      gone through: the service's record with exactly the values that were sent is linked to the row, even
      when the row has no reference and was edited since.
    """
    if journal is None:
        return {}
    done, open_intents = journal.pending(sheet)
    if not done and not open_intents:
        return {}
    recovered: dict[int, Outcome] = {}
    linked = {r.record_id for r in rows if r.record_id is not None}
    by_id = {rec.get("id"): rec for rec in service}
    by_fingerprint: dict[str | None, dict[str, Any]] = {}
    if any(e.action == Action.CREATE.value for e in open_intents.values()):
        free = [rec for rec in service if rec.get("id") not in linked]
        for rec, fp in zip(free, fingerprints(resource, free), strict=True):
            by_fingerprint.setdefault(values_part(fp), rec)
    candidates = [r for r in rows if r.record_id is None and not r.problems]
    unlinked = {values_part(fp): r for r, fp in zip(candidates, fingerprints(resource, [r.values for r in candidates]),
                                                    strict=True)}
    by_row = {r.row: r for r in rows}

    def link(r: RowState, e: Any, edited: bool) -> None:
        r.record_id, r.stored_fingerprint = e.record_id, e.fingerprint
        r.status = e.status or r.status
        note = " (recovered from an interrupted run" + ("; edited since)" if edited else ")")
        recovered[r.row] = Outcome(r.row, Result(e.result or Result.CREATED.value), (e.message or "") + note)
        linked.add(e.record_id)

    for e in done.values():
        if e.record_id is None or e.record_id in linked:
            continue
        r = by_row.get(e.row)
        if r is not None and r.record_id is None and not r.problems:
            fp = fingerprint(resource, r.values)
            record = by_id.get(e.record_id)
            if same_values(fp, e.fingerprint):
                link(r, e, edited=False)
                continue
            if not identity_mismatch(resource, fp, e.fingerprint) and (
                    record is None or not identity_mismatch(resource, fp, fingerprint(resource, record))):
                link(r, e, edited=True)  # the same record, edited since: planned as a change of it
                continue
        moved = unlinked.get(values_part(e.fingerprint))
        if moved is not None and moved.record_id is None:
            link(moved, e, edited=False)  # the rows were sorted since: the values that were sent went with their row
    for r in rows:
        intent = open_intents.get(r.row)
        if r.problems or intent is None or intent.action != Action.CREATE.value or r.record_id is not None:
            continue
        record = by_fingerprint.pop(values_part(intent.fingerprint), None)
        if record is not None:  # the lost create did go through
            r.record_id, r.stored_fingerprint, r.status = record["id"], intent.fingerprint, record.get("status")
            recovered[r.row] = Outcome(r.row, Result.CREATED, "Created (recovered from an interrupted run).")
    return recovered


# --- commands ---------------------------------------------------------------------------------------

def write_back(book: TableBook, table: SheetTable, changes: WriteBack, report: RunReport) -> None:
    """Write a sheet's results; a sheet that had no system columns gets them, and the summary says so, as it
    says what reading found: columns of the user's under our common headers, hidden rows that were included."""
    had = set(table.columns)
    book.write_back(table, only_changes(table, changes))
    problem_rows, bound = len({p.row for p in changes.marks if p.row is not None}), workbook_table.MAX_NOTED_ROWS
    if problem_rows > bound:
        report.notes.append(f"{table.sheet}: {problem_rows:,} rows have problems; notes are on the cells of the first "
                            f"{bound:,} (more would make Excel slow). Every problem cell is marked red and every row's "
                            "Message column says what is wrong.")
    added = [table.headers.get(k, k) for k in table.columns if k not in had and k != C.FINGERPRINT]
    if added:
        report.notes.append(f"{table.sheet}: it had no columns for the results; added {', '.join(added)} (and a "
                            "hidden fingerprint column) to the right of your columns.")
    elif C.FINGERPRINT in table.columns and C.FINGERPRINT not in had:
        report.notes.append(f"{table.sheet}: the hidden fingerprint column was missing (removed by Excel's Document "
                            "Inspector?) and was added again; rows that differ from their record stay conflicts until "
                            "you decide.")
    report.notes.extend(reading_notes(table))
    if table.hidden_rows:
        report.hidden_rows[table.sheet] = sorted(table.hidden_rows)


def reading_notes(table: SheetTable) -> list[str]:
    """What the summary says about how a sheet was read."""
    notes = []
    if table.theirs:
        named = ", ".join(f"'{text}' (column {column_letter(col)})" for text, col in table.theirs.items())
        ours = ", ".join(f"'{table.header(k)}'" for k in C.SYSTEM_KEYS if k in table.columns and k != C.FINGERPRINT)
        notes.append(f"{table.sheet}: {named} {'is' if len(table.theirs) == 1 else 'are'} your own, not qaas-excel's "
                     f"(not beside the QaaS columns): never read or written. The results are in {ours}.")
    if table.hidden_rows:
        rows = sorted(table.hidden_rows)
        shown = ", ".join(map(str, rows[:10])) + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")
        notes.append(f"{table.sheet}: {len(rows)} hidden row{'s' if len(rows) > 1 else ''} (by a filter or by hand) "
                     f"{'were' if len(rows) > 1 else 'was'} included like every other row: {shown}.")
    return notes


def validate_book(book: TableBook, *, sheet: str | None = None, today: date | None = None) -> RunReport:
    """Check every row locally (no network) and mark what is wrong in the workbook."""
    with collector_paused(collect_after=True):  # as a push is (see there): 200,000 rows, 0.4 to 1.1 s of collections
        return _validate_book(book, sheet=sheet, today=today)


def _validate_book(book: TableBook, *, sheet: str | None, today: date | None) -> RunReport:
    report = RunReport("validate", book.name)
    operators = OperatorDirectory()
    targets = sheets_to_process(book, sheet, report)
    if any(r is CHARGEPOINT for r, _ in targets) and not any(r is OPERATOR for r, _ in targets) and \
            OPERATOR.sheet in book.sheet_names():
        operators.learn_sheet(book.read(OPERATOR, OPERATOR.sheet))  # charge points name operators of that sheet
    for resource, name in targets:
        prep = _prepare(book, resource, name, today=today, operators=operators)
        book.let_go()  # the sheet's XML (170 MB at 200,000 rows), read again to be written, a large one mapped
        if resource is OPERATOR:
            operators.learn_sheet(prep.table)
        outcomes = [
            Outcome(row, Result.INVALID, " | ".join(p.message for p in prep.problems[row]),
                    problems=prep.problems[row]) if row in prep.problems else Outcome(row, Result.VALID, "")
            for row in prep.records.index
        ]
        table, file_problems = prep.table, prep.file_problems
        del prep  # the rows as read and as typed: some 200 MiB at 200,000 rows, let go before the results are written
        _keep_for_writing(table)
        write_back(book, table, outcomes_to_writeback(resource, outcomes), report)
        report.sheets.append(SheetReport(name, resource.name, outcomes, file_problems))
    return report


def _keep_for_writing(table: SheetTable) -> None:
    """Only the system columns of a table read, which writing compares with what it would write: the rest of the
    rows' values (most of a 200,000-row sheet's memory) let go before the results are written."""
    table.data = table.data[[key for key in table.data.columns if key in C.SYSTEM_KEYS]]


def push_book(book: TableBook, client: QaasClient, *, sheet: str | None = None, workers: int = 4,
              dry_run: bool = False, journal: Journal | None = None, today: date | None = None,
              progress: Progress | None = None, only_rows: set[int] | None = None,
              overwrite: Collection[int] = (), stop: Stop | None = None) -> RunReport:
    """Create, update or skip every row; write id, status, result and message back into each.

    Operators first, so charge points can name an operator by its reference from the Operators sheet.
    ``only_rows``: push just these Excel rows of the (single) sheet, e.g. the selection in Excel.
    ``overwrite``: rows of the (single) sheet whose values replace the service's where both changed (the user's
    decision over a conflict).

    Everything from listing the service's records to the last create runs under the account's lock (``runlock.
    account_lock``), so that two pushes of one account on this machine (a copy of the workbook, another workbook)
    never both create a record the other is creating; after creating, the service is listed again and a record that
    is there twice (a run on another machine at the same moment) is reported as ``duplicate``.
    """
    report = RunReport("push", book.name, dry_run=dry_run)
    stop = stop if stop is not None else Stop()

    def waiting(who: str) -> None:
        log.warning("Waiting for another push of this account to finish creating records: %s", who)
        report.notes.append(f"Waited for another push of this account: {who}.")

    guard = nullcontext() if dry_run else account_lock(
        client.env.name + "|" + client.env.base_url, client.account, command=f"push {book.name}", on_wait=waiting)
    targets = sheets_to_process(book, sheet, report)
    ahead = ListsAhead(client, [OPERATOR, *(r for r, _ in targets)], whole_list)  # asked for in the lock, with the book
    # the collector paused: reading, listing and planning keep millions of objects, and its collections find nothing
    with guard, collector_paused(collect_after=True), ahead as lists:
        tables = {name: book.read(resource, name) for resource, name in targets}
        book.let_go()  # the sheets' XML, read again to write: not held while the service is listed and rows planned
        service_operators, operators_incomplete = lists.take(OPERATOR)
        operators = OperatorDirectory(service_operators, dry_run=dry_run, incomplete=operators_incomplete)
        claims = {name: _claims(table) for name, table in tables.items()}
        for at, (resource, name) in enumerate(targets):
            if stop.requested():
                report.notes.append(f"{name} was not pushed: {stop.why()}.")
                continue
            service, incomplete = ((service_operators, operators_incomplete) if resource is OPERATOR
                                   else lists.take(resource))
            claimed: dict[int, str] = {}
            for other, other_resource in ((n, r) for r, n in targets if n != name):
                if other_resource is resource:
                    claimed.update(claims[other])
            prep = _prepare(book, resource, name, today=today, operators=operators, table=tables[name])
            rows = _row_states(prep, operators)
            if only_rows is not None:
                rows = [r for r in rows if r.row in only_rows]
            outcomes = _push_sheet(client, prep, rows, service, dry_run=dry_run, journal=journal, workers=workers,
                                   progress=progress, claimed=claimed, overwrite=overwrite, notes=report.notes,
                                   incomplete=incomplete, stop=stop)
            if incomplete is not None:  # no create was sent for this sheet; the rows say why
                report.incomplete.append(incomplete)
                report.notes.append(f"{name}: nothing was created: {incomplete}")
                report.kept_intents += unresolved_creates(journal, name, outcomes)
            if resource is OPERATOR:
                operators.learn_outcomes(prep.table, rows, outcomes)
            if any(later is resource for later, _ in targets[at + 1:]):  # the sheets after it see its rows' records
                where = f"{name!r} row "
                claims[name].update({int(o.record["id"]): where + str(o.row) for o in outcomes
                                     if o.record and o.record.get("id") is not None and o.result in LINKING})
            table, file_problems = prep.table, prep.file_problems
            # the rows as read, typed and planned, and the service's records, let go before the sheet is read again
            # to be written (the list first: each record then goes as its outcome is cut down)
            del prep, rows, service
            slim_records(outcomes)
            _keep_for_writing(table)
            write_back(book, table, outcomes_to_writeback(resource, outcomes), report)
            report.sheets.append(SheetReport(name, resource.name, outcomes, file_problems))
    if stop.requested():
        report.stopped, report.state_error = stop.why(), stop.failure is not None
    report.stats = client.stats.to_dict()
    return report


# Results after which a row is linked to its record (the record is that row's, for the sheets after it).
LINKING = frozenset({Result.CREATED, Result.ADOPTED, Result.UPDATED, Result.UNCHANGED, Result.LOCKED,
                     Result.DUPLICATE})


def _claims(table: SheetTable) -> dict[int, str]:
    """The records a sheet's rows are linked to: record id -> "Sheet row 7"."""
    ids, where = system_ids(table), f"{table.sheet!r} row "
    return {int(v): where + str(row) for row, v in ids.items() if v is not None}


def _push_sheet(client: QaasClient, prep: PreparedSheet, rows: list[RowState], service: list[dict[str, Any]], *,
                dry_run: bool, journal: Journal | None, workers: int, progress: Progress | None,
                claimed: dict[int, str] | None = None, overwrite: Collection[int] = (),
                notes: list[str] | None = None, incomplete: IncompleteListError | None = None,
                stop: Stop | None = None) -> list[Outcome]:
    """One sheet: recover an interrupted run, plan every row, send what the plan says, in that order; then look for
    records the service now holds twice.

    ``incomplete``: the service's list could not be read whole (``service`` is what was read): no creates."""
    resource, name = prep.resource, prep.table.sheet
    recovered = _replay_journal(journal, name, resource, rows, service)
    place = placer(prep.table)
    plan = plan_rows(resource, rows, service, claimed=claimed, overwrite=overwrite, sheet=name, place=place)
    held: set[int] = set()
    if incomplete is not None:
        plan, held = hold_creates(resource, plan, rows, service, incomplete)
    if dry_run:
        outcomes = [_dry_outcome(p) for p in plan]
    else:
        total = sum(1 for p in plan if p.action is not Action.NONE)
        if progress:
            progress(name, 0, total)
        tick = (lambda n: progress(name, n, total)) if progress else None
        outcomes = run_plan(client, resource, plan, sheet=name, journal=journal, workers=workers,
                            headers=column_labels(prep.table.headers, prep.table.columns), progress=tick, stop=stop)
        outcomes = _twins(client, resource, outcomes, notes if notes is not None else [], place)
    outcomes = [Outcome(o.row, recovered[o.row].result, recovered[o.row].message, o.record, o.fingerprint)
                if o.result is Result.UNCHANGED and o.row in recovered else o for o in outcomes]
    return mark_transient(outcomes, held, incomplete) if incomplete is not None else outcomes


def _twins(client: QaasClient, resource: Resource, outcomes: list[Outcome], notes: list[str],
           place: Place) -> list[Outcome]:
    """After creating: is any new record on the service twice (a run on another machine, or one this machine's lock
    could not see, created it at the same moment)? Such a row says so, loudly, with both record IDs."""
    created = {o.row: o.record for o in outcomes if o.result is Result.CREATED and o.record is not None}
    if not created:
        return outcomes
    try:
        after = client.list(resource)
    except errors.SignInRequired:
        raise
    except errors.QaasError as exc:
        notes.append(f"The {resource.title}s created could not be checked for twins on the service ({exc}); the next "
                     "push or reconcile shows any.")
        return outcomes
    twins = find_twins(resource, created, after)
    if not twins:
        return outcomes
    out = []
    for o in outcomes:
        found = twins.get(o.row)
        if found is None or o.record is None:
            out.append(o)
            continue
        rec_id = o.record.get("id")
        others = ", ".join(str(t["id"]) for t in found)
        note = (f"created as record {rec_id}, but the service also holds record {others}: the same "
                f"{identity_text(resource, o.record)}. Another run (a copy of this workbook, or another machine) "
                "created it at the same moment, and the kWh is now claimed twice. Ask QaaS to remove one of records "
                f"{rec_id}, {others} before it is sent to the UBA; this row stays linked to {rec_id}.")
        problem = place(Problem(o.row, "id", "twin-on-service", note, None, rec_id))
        out.append(Outcome(o.row, Result.DUPLICATE, problem.message, o.record, o.fingerprint, [problem]))
    return out


def _dry_outcome(p: Planned) -> Outcome:
    if p.action is Action.CREATE:
        return Outcome(p.row, Result.VALID, "Dry run: would be created.")
    if p.action is Action.UPDATE:
        return Outcome(p.row, Result.VALID, f"Dry run: would update {p.message}.")
    assert p.result is not None  # known when the action is NONE
    return Outcome(p.row, p.result, p.message, p.record, None, p.problems)


def pull_book(book: TableBook, client: QaasClient, *, sheet: str | None = None,
              add_missing: bool = False) -> RunReport:
    """Refresh status and last update of every row with a QaaS ID (one list call per sheet).

    A row is told what happened since its last push: changed on the service, changed here (push to send it), both
    (``conflict``), changed here but the record can no longer change (``locked``). A row whose data is another
    record's than its QaaS ID's gets nothing of that record (``mismatch``), nor do two rows with one QaaS ID.
    """
    report = RunReport("pull", book.name)
    targets = sheets_to_process(book, sheet, report)
    with ListsAhead(client, [OPERATOR, *(r for r, _ in targets)], whole_list) as lists:  # read with the workbook
        tables = {name: book.read(resource, name) for resource, name in targets}
        service_operators, operators_incomplete = lists.take(OPERATOR)
        operators = OperatorDirectory(service_operators, incomplete=operators_incomplete)
        claims = {name: _claims(table) for name, table in tables.items()}
        for resource, name in targets:
            service, incomplete = ((service_operators, operators_incomplete) if resource is OPERATOR
                                   else lists.take(resource))
            if incomplete is not None:
                report.incomplete.append(incomplete)
                report.notes.append(f"{name}: {incomplete}" + (" No rows were added." if add_missing else ""))
            prep = _prepare(book, resource, name, today=None, operators=operators, table=tables[name])
            rows = _row_states(prep, operators)
            claimed: dict[int, str] = {}
            for r_other, other in targets:
                if other != name and r_other is resource:
                    claimed.update(claims[other])
            outcomes = _pull_rows(resource, rows, service, claimed, sheet=name, place=placer(prep.table))
            if incomplete is not None:
                outcomes = not_pulled(outcomes, rows, service, incomplete)
            append = None
            if add_missing and incomplete is None:
                seen = {r.record_id for r in rows} | set(claimed)
                missing = [r for r in service if r["id"] not in seen]
                if missing:
                    append = _records_frame(resource, missing)
                    report.notes.append(f"{name}: {len(missing)} record(s) from the service added below the table.")
            wb = outcomes_to_writeback(resource, outcomes)
            wb.append = append
            write_back(book, prep.table, wb, report)
            report.sheets.append(SheetReport(name, resource.name, outcomes))
    report.stats = client.stats.to_dict()
    return report


def _pull_rows(resource: Resource, rows: list[RowState], service: list[dict[str, Any]], claimed: dict[int, str], *,
               sheet: str, place: Place) -> list[Outcome]:
    by_id = {r["id"]: r for r in service}
    linked = [r for r in rows if r.record_id is not None]
    owners: dict[int, list[int]] = {}
    for r in linked:
        owners.setdefault(r.record_id, []).append(r.row)  # type: ignore[arg-type]
    identity_fields = {n for group in resource.identity for n in group} | {resource.reference}
    row_fps = fingerprints(resource, [r.values for r in linked])
    service_fps = dict(zip(by_id, fingerprints(resource, list(by_id.values())), strict=True))
    outcomes: list[Outcome] = []
    for r, fp in zip(linked, row_fps, strict=True):
        rec_id = r.record_id
        assert rec_id is not None
        record = by_id.get(rec_id)
        if record is None:
            outcomes.append(Outcome(r.row, Result.FAILED, f"QaaS ID {rec_id} is not on the service (deleted, or "
                                    "another account's)."))
            continue
        others = [row for row in owners[rec_id] if row != r.row]
        if others or rec_id in claimed:
            elsewhere = f"row {others[0]}" if others else claimed[rec_id]
            problem = place(Problem(r.row, "id", "record-claimed-twice", f"QaaS ID {rec_id} is also the QaaS ID of "
                                    f"{elsewhere}: two rows cannot be one record; nothing was pulled into either.",
                                    sheet, rec_id))
            outcomes.append(Outcome(r.row, Result.INVALID, problem.message, problems=[problem]))
            continue
        status = f"Status: {record.get('status') or 'ok'}."
        if any(p.field in identity_fields for p in r.problems):
            outcomes.append(Outcome(r.row, Result.PULLED, status, record))
            continue
        service_fp, stored = service_fps[rec_id], r.stored_fingerprint
        wrong = identity_mismatch(resource, fp, service_fp) or identity_mismatch(resource, fp, stored)
        if wrong:
            theirs = identity_text(resource, record)
            problem = place(Problem(r.row, "id", "row-record-mismatch",
                                    f"the data of this row no longer belongs to record {rec_id}: its "
                                    f"{' and '.join(wrong)} differ from the record's ({theirs}). Were rows sorted "
                                    "without their QaaS columns? Nothing of that record was written into this row.",
                                    sheet, rec_id))
            outcomes.append(Outcome(r.row, Result.MISMATCH, problem.message, {"id": rec_id}, problems=[problem]))
            continue
        if same_values(fp, service_fp) or r.problems:
            outcomes.append(Outcome(r.row, Result.PULLED, status, record))
            continue
        sides = describe_sides(resource, differences(resource, r.values, record))
        if stored is None:
            outcomes.append(Outcome(r.row, Result.CONFLICT, f"{status} This row differs from the record ({sides}) "
                                    "and there is no fingerprint of the last push to tell which side changed.",
                                    record))
        elif not same_values(service_fp, stored) and not same_values(fp, stored):
            outcomes.append(Outcome(r.row, Result.CONFLICT, f"{status} Changed here and on the service since your "
                                    f"last push ({sides}); decide which is right before the next push.", record))
        elif not same_values(service_fp, stored):
            # The service's values changed: the stored fingerprint stays, so a push sees what changed where.
            outcomes.append(Outcome(r.row, Result.PULLED, f"{status} Changed on the service since your last push "
                                    f"({sides}); run reconcile.", record))
        elif resource.has_status and not is_editable_status(record.get("status")):
            outcomes.append(Outcome(r.row, Result.LOCKED, f"{status} Changed here since your last push ({sides}), "
                                    "but the record can no longer be changed.", record))
        else:
            outcomes.append(Outcome(r.row, Result.PULLED, f"{status} Changed here since your last push ({sides}): "
                                    "push to send it.", record))
    return outcomes


def _records_frame(resource: Resource, records: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for rec, fp in zip(records, fingerprints(resource, records), strict=True):
        row = {f.name: excel_time(rec.get(f.name)) for f in resource.fields if f.name in rec}
        row[C.FINGERPRINT] = fp
        row[C.RESULT] = Result.PULLED.value
        row[C.MESSAGE] = "Added from the service by pull."
        rows.append(row)
    return pd.DataFrame(rows, dtype=object)


def default_journal(book_path: Path | str) -> Journal:
    from qaas_excel.journal import journal_path

    return Journal(journal_path(book_path))


# --- the run lifecycle: lock, open, check, work, save, settle the journal ------------------------------

class SaveFailed(WorkbookError):
    """The run's results could not be saved into the workbook; the report says what the run did."""

    def __init__(self, message: str, report: Any, *, path: str | None = None) -> None:
        super().__init__(message, path=path)
        self.report = report


def save_results(book: TableBook, report: Any, *, output: Path | None = None, journal: Journal | None = None) -> None:
    """Save the workbook; only then is the journal of a push cleared (a failed save keeps every result in it)."""
    untouched = output is None and getattr(book, "changed", True) is False  # the file holds every result as it is
    try:
        saved = book.save(output)
    except WorkbookError as exc:
        kept = ""
        if journal is not None and journal.path.exists():
            kept = (f" Every result is kept in {journal.path}; the next push writes them into the workbook once "
                    "it can be saved (or use --output OTHER.xlsx).")
        raise SaveFailed(f"{exc}{kept}", report, path=exc.path) from None
    report.saved_to = str(saved) if saved else None
    if journal is not None and (saved is not None or untouched):
        journal.clear(keep=getattr(report, "kept_intents", ()))  # lost creates an incomplete list could not find


def open_book(path: Path) -> PackageBook:
    """The headless backend for a workbook file: edits it in place, touching only the cells a run owns."""
    from qaas_excel.workbook.package_book import PackageBook

    return PackageBook.open(path)


R = TypeVar("R")


def run_on_file(path: Path | str, command: str, work: Callable[[PackageBook, Journal], R], *,
                output: Path | None = None, settle_journal: bool = False, wait: float = LOCK_WAIT_S,
                sends: bool = True) -> R:
    """One run on a workbook file, the same for every command and front end.

    Holds the workbook's run lock from before it is read until its results are saved, so two runs never
    work on the same rows at once; checks that the results will be savable before ``work`` sends anything;
    saves atomically; and, for a push (``settle_journal``), clears the journal only after a good save.
    A file that is not a workbook is refused before any lock file is made for it; a lock that cannot be
    taken stops a run that ``sends`` anything before it starts. A run that sends nothing (validate) checks a
    workbook it cannot save all the same, and its report says that the cells could not be marked.
    """
    path = Path(path)
    from qaas_excel.workbook.files import check_file

    check_file(path)
    with book_lock(path, command=command, wait=wait, required=sends):
        book = open_book(path)
        try:
            try:
                book.check_writable(output)
            except WorkbookError as exc:
                if sends:
                    raise
                report = work(book, default_journal(path))
                report.notes.append(_not_marked(exc))  # type: ignore[attr-defined]
                return report
            journal = default_journal(path)
            report = work(book, journal)
            try:
                save_results(book, report, output=output, journal=journal if settle_journal else None)
            except SaveFailed as exc:
                if sends:
                    raise
                report.notes.append(_not_marked(exc))  # type: ignore[attr-defined]
        finally:
            book.close()
        return report


def _not_marked(exc: WorkbookError) -> str:
    return f"The cells were not marked: {exc} Every problem is in this report."


def validate_file(path: Path | str, *, sheet: str | None = None, output: Path | None = None,
                  wait: float = LOCK_WAIT_S) -> RunReport:
    return run_on_file(path, "validate", lambda book, _j: validate_book(book, sheet=sheet), output=output, wait=wait,
                       sends=False)


def push_file(path: Path | str, client: QaasClient, *, sheet: str | None = None, workers: int = 4,
              dry_run: bool = False, output: Path | None = None, progress: Progress | None = None,
              wait: float = LOCK_WAIT_S, overwrite: Collection[int] = (), stop: Stop | None = None) -> RunReport:
    if overwrite and sheet is None:
        raise WorkbookError("--overwrite names rows of one sheet: say which with --sheet NAME.", path=str(path))

    def work(book: TableBook, journal: Journal) -> RunReport:
        return push_book(book, client, sheet=sheet, workers=workers, dry_run=dry_run,
                         journal=None if dry_run else journal, progress=progress, overwrite=overwrite, stop=stop)

    return run_on_file(path, "push --dry-run" if dry_run else "push", work, output=output,
                       settle_journal=not dry_run, wait=wait)


def pull_file(path: Path | str, client: QaasClient, *, sheet: str | None = None, add_missing: bool = False,
              output: Path | None = None, wait: float = LOCK_WAIT_S) -> RunReport:
    return run_on_file(path, "pull", lambda book, _j: pull_book(book, client, sheet=sheet, add_missing=add_missing),
                       output=output, wait=wait)
