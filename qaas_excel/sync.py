"""Plan each row, run the plan against the service, and turn the outcomes into a write-back.

Every row gets exactly one result:

- ``created``   no QaaS ID yet; POSTed.
- ``adopted``   no QaaS ID yet, but the service already holds the same record (found by your
                reference, or for charge points by EVSE ID and period): linked, not created again.
- ``updated``   changed since the last push; the changed fields were PATCHed.
- ``unchanged`` same values as at the last push (judged by a fingerprint): no request at all.
- ``locked``    changed, but the service no longer accepts changes (sent to the UBA, or a
                status we do not know, or a field that cannot change after creation).
- ``conflict``  changed here AND on the service since the last push: nothing overwritten.
- ``invalid``   local validation found problems: not sent.
- ``failed``    the service said no (400/422, unknown record) or could not be reached.

Conflicts are found with fingerprints, not clocks: the hidden fingerprint column holds a hash
of the values last pushed (or pulled). Row fingerprint != stored means "changed here";
the service record's fingerprint != stored means "changed there".
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from qaas_excel.api import errors
from qaas_excel.api.client import QaasClient
from qaas_excel.formatting import german_number
from qaas_excel.journal import Journal, JournalEntry
from qaas_excel.outcomes import Outcome
from qaas_excel.problems import Problem, from_rejection
from qaas_excel.resources import Field, FieldType, Resource, is_editable_status
from qaas_excel.results import Result
from qaas_excel.values import decimal_text, is_blank, utc_text

log = logging.getLogger(__name__)


# After this many requests in a row failed for want of the service (each after its own retries), stop sending.
GIVE_UP_AFTER = 8


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    NONE = "none"  # the outcome is already known at planning time


# --- canonical values and fingerprints ------------------------------------------------------------

_QUANTUM = {places: Decimal(1).scaleb(-places) for places in range(10)}


def canonical_value(f: Field, value: Any) -> str:
    """One spelling per value, so 12.5 and 12.500 or ' A ' and 'A' compare equal."""
    kind = type(value)  # fast paths for what validation hands over
    if kind is str and f.type is FieldType.STR:
        return f.comparable(value.strip())
    if kind is Decimal and f.type is FieldType.DECIMAL and value.is_finite():
        return format(value.quantize(_QUANTUM[f.decimals]) if f.decimals is not None else value, "f")
    if kind is date and f.type is FieldType.DATE:
        iso: str = value.isoformat()
        return iso
    if kind is int and f.type is FieldType.INT:
        return str(value)
    if is_blank(value):
        return ""
    try:
        if f.type is FieldType.DECIMAL:
            d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
            if f.decimals is not None:
                d = d.quantize(Decimal(1).scaleb(-f.decimals))
            return decimal_text(d)
        if f.type is FieldType.DATE:
            if isinstance(value, datetime):
                return value.date().isoformat()
            if isinstance(value, date):
                return value.isoformat()
            return date.fromisoformat(str(value).strip()[:10]).isoformat()
        if f.type is FieldType.DATETIME:
            return utc_text(value) if isinstance(value, datetime) else str(value).strip()
        if f.type is FieldType.INT:
            return str(int(value))
    except (InvalidOperation, ValueError, TypeError):
        return str(value).strip()
    return f.comparable(str(value).strip())


def canonical(resource: Resource, values: dict[str, Any]) -> dict[str, str]:
    return {f.name: canonical_value(f, values.get(f.name)) for f in resource.client_fields}


_SORTED_FIELDS: dict[str, tuple[Field, ...]] = {}


def fingerprint(resource: Resource, values: dict[str, Any]) -> str:
    """Hash of the pushed fields' canonical values."""
    fields = _SORTED_FIELDS.get(resource.name)
    if fields is None:
        fields = _SORTED_FIELDS[resource.name] = tuple(sorted(resource.client_fields, key=lambda f: f.name))
    parts = []
    for f in fields:
        value = values.get(f.name)
        kind = type(value)
        if kind is Decimal or kind is float:  # amounts: mostly unique, not worth remembering
            parts.append(f"{f.name}={canonical_value(f, value)}")
            continue
        key = (resource.name, f.name, kind, value)  # towns, dates, operators, powers: the same few values again
        try:
            part = _PARTS.get(key)
        except TypeError:  # a value that cannot be a key (never from a cell): spell it out
            parts.append(f"{f.name}={canonical_value(f, value)}")
            continue
        if part is None:
            if len(_PARTS) > 100_000:  # bounded: a server working through many files does not grow
                _PARTS.clear()
            part = _PARTS[key] = f"{f.name}={canonical_value(f, value)}"
        parts.append(part)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


_PARTS: dict[tuple[str, str, type, Any], str] = {}


def differences(resource: Resource, row: dict[str, Any], record: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Client fields whose canonical values differ: name -> (service, row)."""
    a, b = canonical(resource, record), canonical(resource, row)
    return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def natural_key(resource: Resource, values: dict[str, Any]) -> tuple[str, ...] | None:
    """The resource's natural key (a charge point record is one EVSE in one period); None if it has none."""
    if not resource.natural_key:
        return None
    key = tuple(canonical_value(resource.field(name), values.get(name)) for name in resource.natural_key)
    return key if all(key) else None


# --- rows and plans -------------------------------------------------------------------------------

@dataclass
class RowState:
    """One sheet row as the planner sees it."""

    row: int
    values: dict[str, Any]  # typed client-field values, operator resolved to its id
    record_id: int | None = None
    status: str | None = None
    stored_fingerprint: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def reference(self) -> str | None:
        ref = self.values.get("customer_reference")
        return str(ref).strip() if ref not in (None, "") and str(ref).strip() else None


@dataclass
class Planned:
    row: int
    action: Action
    result: Result | None = None  # known already when action is NONE
    message: str = ""
    record_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)  # create: all client values; update: changes
    fingerprint: str | None = None  # the fingerprint to store when it succeeds
    record: dict[str, Any] | None = None  # the service's record, when known
    problems: list[Problem] = field(default_factory=list)
    reference: str | None = None


def _fmt(f: Field, canonical_text: str) -> str:
    if not canonical_text:
        return "(empty)"
    if f.type is FieldType.DECIMAL:
        return german_number(Decimal(canonical_text), f.decimals or 3)
    return canonical_text


def describe_changes(resource: Resource, diffs: dict[str, tuple[str, str]]) -> str:
    return ", ".join(f"{resource.field(k).header} {_fmt(resource.field(k), old)} → {_fmt(resource.field(k), new)}"
                     for k, (old, new) in diffs.items())


def plan_rows(resource: Resource, rows: Iterable[RowState], service: list[dict[str, Any]]) -> list[Planned]:
    """Decide per row what to do, from the rows (an interrupted run already replayed into them, see
    ``pipeline._replay_journal``) and the service's records (one list call)."""
    by_id = {r["id"]: r for r in service if r.get("id") is not None}
    by_ref: dict[str, dict[str, Any]] = {}
    by_key: dict[tuple[str, ...], dict[str, Any]] = {}
    by_fp: dict[str, dict[str, Any]] = {}
    rows = list(rows)
    linked = {r.record_id for r in rows if r.record_id is not None}
    for rec in service:
        if rec.get("id") in linked:
            continue
        ref = str(rec.get(resource.reference) or "").strip() if resource.reference else ""
        if ref:
            by_ref.setdefault(ref, rec)
        key = natural_key(resource, rec)
        if key:
            by_key.setdefault(key, rec)
        by_fp.setdefault(fingerprint(resource, rec), rec)

    planned: list[Planned] = []
    taken: set[int] = set()
    for r in rows:
        if r.problems:
            planned.append(Planned(r.row, Action.NONE, Result.INVALID, _problem_summary(r.problems),
                                   record_id=r.record_id, problems=r.problems))
            continue
        fp = fingerprint(resource, r.values)
        if r.record_id is None:
            planned.append(_plan_new(resource, r, fp, by_ref, by_key, by_fp, taken))
        else:
            planned.append(_plan_existing(resource, r, fp, by_id.get(r.record_id)))
    return planned


def _problem_summary(problems: list[Problem]) -> str:
    return " | ".join(p.message for p in problems)


def _plan_new(resource: Resource, r: RowState, fp: str, by_ref: dict[str, dict[str, Any]],
              by_key: dict[tuple[str, ...], dict[str, Any]], by_fp: dict[str, dict[str, Any]],
              taken: set[int]) -> Planned:
    match, how = None, ""
    if r.reference and r.reference in by_ref:
        match, how = by_ref[r.reference], f"your reference {r.reference!r}"
    elif (key := natural_key(resource, r.values)) and key in by_key:
        match, how = by_key[key], "the same EVSE ID and period"
    elif not r.reference and fp in by_fp and not resource.natural_key:
        match, how = by_fp[fp], "identical values"
    if match is None or match["id"] in taken:
        return Planned(r.row, Action.CREATE, payload=dict(r.values), fingerprint=fp, reference=r.reference)
    taken.add(match["id"])
    diffs = differences(resource, r.values, match)
    if not diffs:
        return Planned(r.row, Action.NONE, Result.ADOPTED,
                       f"Already on the service (found by {how}); linked to this row, not created again.",
                       record_id=match["id"], fingerprint=fp, record=match)
    # Neither the record nor a fingerprint goes with a conflict: the row stays unlinked, so the next push finds
    # the same conflict again instead of quietly turning it into an update of the service's record.
    return Planned(r.row, Action.NONE, Result.CONFLICT,
                   f"The service already holds record {match['id']} with {how} but different values "
                   f"({describe_changes(resource, diffs)}). Nothing was sent. To change that record, put "
                   f"{match['id']} into the QaaS ID column; if it is another record, give this row its own reference.")


def _plan_existing(resource: Resource, r: RowState, fp: str, record: dict[str, Any] | None) -> Planned:
    if record is None:
        return Planned(r.row, Action.NONE, Result.FAILED,
                       f"QaaS ID {r.record_id} is not on the service (deleted, or it belongs to another "
                       "account). Clear the QaaS ID to create the record again.", record_id=r.record_id)
    service_fp = fingerprint(resource, record)
    stored = r.stored_fingerprint or None
    changed_here = fp != stored if stored else fp != service_fp
    changed_there = stored is not None and service_fp != stored
    status = record.get("status")
    if not changed_here:
        note = ""
        if changed_there:
            note = ("Changed on the service since your last push (" +
                    describe_changes(resource, differences(resource, r.values, record)) + "); run reconcile.")
        return Planned(r.row, Action.NONE, Result.UNCHANGED, note, record_id=r.record_id, record=record,
                       fingerprint=stored or fp)
    if fp == service_fp:  # both sides already agree (changed the same way, or never diverged)
        return Planned(r.row, Action.NONE, Result.UNCHANGED, "", record_id=r.record_id, record=record, fingerprint=fp)
    diffs = differences(resource, r.values, record)
    if changed_there:
        return Planned(r.row, Action.NONE, Result.CONFLICT,
                       "Changed here and on the service since your last push; nothing was overwritten. Service now: "
                       + describe_changes(resource, diffs) + ". Pull or reconcile, then decide.",
                       record_id=r.record_id, record=record)
    frozen = [k for k in diffs if not resource.field(k).patchable]
    if frozen:
        names = ", ".join(resource.field(k).header for k in frozen)
        return Planned(r.row, Action.NONE, Result.LOCKED,
                       f"{names} cannot be changed once the record exists (service: "
                       f"{describe_changes(resource, {k: diffs[k] for k in frozen})}). Restore the value, "
                       "or clear the QaaS ID to create a new record.", record_id=r.record_id, record=record)
    if resource.has_status and not is_editable_status(status):
        return Planned(r.row, Action.NONE, Result.LOCKED,
                       f"Not sent: the record has status {status!r} and can no longer be changed "
                       f"(wanted: {describe_changes(resource, diffs)}).", record_id=r.record_id, record=record)
    changes = {k: r.values.get(k) for k in diffs}
    return Planned(r.row, Action.UPDATE, record_id=r.record_id, payload=changes, fingerprint=fp, record=record,
                   message=describe_changes(resource, diffs))


# --- running a plan -------------------------------------------------------------------------------

def _service_problems(resource: Resource, row: int, exc: errors.QaasError, headers: dict[str, str],
                      sheet: str | None, sent: dict[str, Any] | None = None) -> list[Problem]:
    if not isinstance(exc, errors.RejectedError):
        return []
    return from_rejection(exc, row=row, sheet=sheet, fields=[f.name for f in resource.fields],
                                   headers=headers, sent=sent)


def _failure_message(resource: Resource, exc: errors.QaasError, headers: dict[str, str]) -> str:
    if isinstance(exc, errors.BadRequestError):
        return "Rejected by the service: " + (exc.body.summary(headers) or str(exc))
    if isinstance(exc, errors.UnprocessableError):
        return "Not processed by the service: " + (exc.body.summary(headers) or str(exc))
    return str(exc)


def run_plan(client: QaasClient, resource: Resource, plan: list[Planned], *, sheet: str,
             journal: Journal | None = None, workers: int = 4, headers: dict[str, str] | None = None,
             progress: Callable[[int], None] | None = None) -> list[Outcome]:
    """Send the creates and updates concurrently (bounded pool); everything else is already decided."""
    headers = headers or {f.name: f.header for f in resource.fields}
    outcomes: dict[int, Outcome] = {}
    todo = [p for p in plan if p.action is not Action.NONE]
    for p in plan:
        if p.action is Action.NONE:
            outcomes[p.row] = Outcome(p.row, p.result or Result.UNCHANGED, p.message, p.record, p.fingerprint,
                                      p.problems)

    gave_up = threading.Event()  # the service stopped answering: the rows not yet sent are left for the next push
    streak = [0]  # transient failures in a row, across the workers
    streak_lock = threading.Lock()

    def count(failed_transiently: bool) -> None:
        with streak_lock:
            streak[0] = streak[0] + 1 if failed_transiently else 0
            if streak[0] >= GIVE_UP_AFTER:
                gave_up.set()

    def send(p: Planned) -> Outcome:
        if gave_up.is_set():
            return Outcome(p.row, Result.FAILED, "Not sent: the service stopped answering during this push "
                           "(the rows before this one failed). Push again later; nothing is created twice.",
                           transient=True)
        if journal:
            journal.append(JournalEntry("intent", sheet, p.row, p.fingerprint or "", p.reference, p.action.value,
                                        p.record_id))
        try:
            if p.action is Action.CREATE:
                created = client.create(resource, p.payload)
                record = created.record
                if created.adopted:
                    result, msg = Result.ADOPTED, "Already on the service (its earlier create had gone through)."
                else:
                    result, msg = Result.CREATED, "Created."
            else:
                assert p.record_id is not None  # an update is planned for a row with its QaaS ID only
                record = client.update(resource, p.record_id, p.payload, before=p.record)
                result, msg = Result.UPDATED, "Updated: " + p.message + "."
        except errors.SignInRequired:
            raise
        except errors.QaasError as exc:
            count(isinstance(exc, errors.TransientError))
            if journal:
                journal.append(JournalEntry("failed", sheet, p.row, p.fingerprint or "", p.reference,
                                            p.action.value, p.record_id, message=str(exc)))
            return Outcome(p.row, Result.FAILED, _failure_message(resource, exc, headers),
                           problems=_service_problems(resource, p.row, exc, headers, sheet, p.payload),
                           transient=isinstance(exc, errors.TransientError))
        count(False)
        if journal:
            journal.append(JournalEntry("done", sheet, p.row, p.fingerprint or "", p.reference, p.action.value,
                                        record.get("id"), record.get("status"), _iso(record.get("last_updated")),
                                        result.value, msg))
        return Outcome(p.row, result, msg, record, p.fingerprint)

    if todo:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="qaas-push") as pool:
            futures = [pool.submit(send, p) for p in todo]
            for fut in as_completed(futures):
                outcome = fut.result()
                outcomes[outcome.row] = outcome
                if progress:
                    progress(1)
    return [outcomes[p.row] for p in plan]


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return utc_text(value)
    return None if value is None else str(value)
