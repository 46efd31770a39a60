"""What a run does when a list of the service could not be read whole (``IncompleteListError``).

No create is planned against it: a row without a QaaS ID whose record sits on a page that was not read would be
created a second time, and a record claims its kWh once. What the pages that were read prove still holds: a match
there is adopted or a conflict, and a row with a QaaS ID whose record was read is updated as usual. A row with a
QaaS ID whose record was not read is not checked (not "deleted on the service": nobody knows).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qaas_excel.api.client import FirstPage, QaasClient
from qaas_excel.api.errors import IncompleteListError
from qaas_excel.journal import Journal, JournalEntry
from qaas_excel.outcomes import Outcome
from qaas_excel.resources import Resource
from qaas_excel.results import Result
from qaas_excel.sync import Action, Planned, RowState, fingerprint, same_values


def whole_list(client: QaasClient, resource: Resource, first: FirstPage | None = None
               ) -> tuple[list[dict[str, Any]], IncompleteListError | None]:
    """The service's records, and the error when they are not all of them (then: those that were read). ``first``:
    the list's first page, fetched ahead."""
    try:
        return client.list(resource, first=first), None
    except IncompleteListError as exc:
        return exc.records, exc


def next_step(exc: IncompleteListError) -> str:
    return ("Push again later." if exc.transient else
            "Push again; if it happens again, run `qaas-excel doctor` (it tells how the service pages its lists).")


def hold_creates(resource: Resource, plan: list[Planned], rows: Iterable[RowState], read: list[dict[str, Any]],
                 exc: IncompleteListError) -> tuple[list[Planned], set[int]]:
    """The plan with no create in it, and the rows held back (their outcomes are failures for want of the list)."""
    by_row = {r.row: r for r in rows}
    read_ids = {r.get("id") for r in read}
    held: set[int] = set()
    out: list[Planned] = []
    for p in plan:
        state = by_row.get(p.row)
        if p.action is Action.CREATE:
            held.add(p.row)
            p = Planned(p.row, Action.NONE, Result.FAILED,
                        f"Not created: {exc} Creating it now could claim a record twice. {next_step(exc)}",
                        reference=p.reference)
        elif (state is not None and state.record_id is not None and state.record_id not in read_ids
              and p.result is Result.FAILED and p.record is None):  # "not on the service": nobody knows
            held.add(p.row)
            if state.stored_fingerprint and same_values(fingerprint(resource, state.values), state.stored_fingerprint):
                p = Planned(p.row, Action.NONE, Result.UNCHANGED,
                            "Unchanged; not checked against the service this time (its list could not be read "
                            "whole).", record_id=state.record_id, fingerprint=state.stored_fingerprint)
            else:
                p = Planned(p.row, Action.NONE, Result.FAILED,
                            f"Not sent: QaaS ID {state.record_id} was not among the records read ({exc}) "
                            f"{next_step(exc)}", record_id=state.record_id)
        out.append(p)
    return out, held


def mark_transient(outcomes: list[Outcome], held: set[int], exc: IncompleteListError) -> list[Outcome]:
    """Held rows failed for want of the service when the list failed for that reason (exit code 4)."""
    for o in outcomes:
        if o.row in held and o.result is Result.FAILED:
            o.transient = exc.transient
    return outcomes


def unresolved_creates(journal: Journal | None, sheet: str, outcomes: list[Outcome]) -> list[JournalEntry]:
    """Creates of an interrupted run whose answer was lost and whose record was not among those read: the next
    push must still look for them, so the journal keeps them."""
    if journal is None:
        return []
    by_row = {o.row: o for o in outcomes}
    _done, open_intents = journal.pending(sheet)
    return [e for row, e in open_intents.items() if e.action == Action.CREATE.value and row in by_row
            and by_row[row].result is Result.FAILED and by_row[row].record is None]


def not_pulled(outcomes: list[Outcome], rows: Iterable[RowState], read: list[dict[str, Any]],
               exc: IncompleteListError) -> list[Outcome]:
    """Rows whose records were not among those read are not checked (not "deleted on the service")."""
    read_ids = {r.get("id") for r in read}
    record_ids = {r.row: r.record_id for r in rows}
    return [Outcome(o.row, Result.FAILED, f"Not pulled: QaaS ID {record_ids[o.row]} was not among the records read "
                    f"({exc})", transient=exc.transient)
            if o.result is Result.FAILED and o.record is None and record_ids.get(o.row) not in read_ids | {None}
            else o for o in outcomes]
