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
import operator
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation, getcontext
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Any

from qaas_excel.api import errors
from qaas_excel.api.client import QaasClient
from qaas_excel.formatting import german_number
from qaas_excel.interrupt import Stop
from qaas_excel.journal import Journal, JournalEntry
from qaas_excel.jsonl import StateWriteError, free_space_problem
from qaas_excel.outcomes import Outcome
from qaas_excel.parsing import each_stripped_text
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


class _Spelling:
    """How one resource's fingerprints are spelled: its pushed fields by name, and which of them the reference and
    each identity group are."""

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.fields = tuple(sorted(resource.client_fields, key=lambda f: f.name))
        at = {f.name: i for i, f in enumerate(self.fields)}
        ref = resource.reference
        self.reference = at.get(ref) if ref is not None else None
        # an identity group's member that is not pushed is spelled as empty, always
        self.groups = [tuple(at.get(n, n + "=") for n in group) for group in resource.identity]


_SPELLINGS: dict[int, _Spelling] = {}


def _spelling(resource: Resource) -> _Spelling:
    known = _SPELLINGS.get(id(resource))
    if known is None or known.resource is not resource:  # the resource as defined now (a contract may redefine it)
        if len(_SPELLINGS) > 64:
            _SPELLINGS.clear()
        known = _SPELLINGS[id(resource)] = _Spelling(resource)
    return known


def fingerprint(resource: Resource, values: Mapping[str, Any]) -> str:
    """What the hidden column holds: a hash of the pushed fields' canonical values, then short digests of which
    record those values are (reference, then each identity group), so that a row whose data moved away from its
    QaaS ID (a sheet sorted without its QaaS columns) is told apart from a row that was edited.

    ``hash:ref.group1.group2``; an empty part is an empty reference. Fingerprints written before the digests
    (a bare hash) still compare by their hash (``same_values``).
    """
    [one] = fingerprints(resource, (values,))
    return one


def fingerprints(resource: Resource, many: Sequence[Mapping[str, Any]]) -> list[str]:
    """``fingerprint`` of each of ``many`` (rows or records), worked out a field at a time: a value that comes
    again (a town, a date, an operator) is spelled once, and each row's parts are joined without a dict of its
    own. ``FINGERPRINT_CHUNK`` rows at a time: every field's spelling of 50,000 rows at once held some 50 MiB."""
    if len(many) <= FINGERPRINT_CHUNK:
        return _fingerprints(resource, many)
    return [fp for at in range(0, len(many), FINGERPRINT_CHUNK)
            for fp in _fingerprints(resource, many[at:at + FINGERPRINT_CHUNK])]


FINGERPRINT_CHUNK = 5000


def _fingerprints(resource: Resource, many: Sequence[Mapping[str, Any]]) -> list[str]:
    spelling = _spelling(resource)
    columns = [_spelled(f, [values.get(f.name) for values in many]) for f in spelling.fields]
    rows = list(zip(*columns, strict=True)) if columns else [() for _ in many]
    sha = hashlib.sha256
    hashes = [sha("\x1f".join(parts).encode()).hexdigest()[:20] for parts in rows]
    digests: list[list[str]] = []
    ref = spelling.reference
    if ref is None:
        digests.append([""] * len(rows))
    else:
        empty = spelling.fields[ref].name + "="
        digests.append(["" if text == empty else sha(text.encode()).hexdigest()[:6] for text in columns[ref]])
    for group in spelling.groups:
        members = [columns[i] if isinstance(i, int) else [i] * len(rows) for i in group]
        digests.append(_group_digests(["\x1f".join(parts) for parts in zip(*members, strict=True)]))
    return [h + ":" + ".".join(d) for h, *d in zip(hashes, *digests, strict=True)]


GROUP_DIGESTS_HELD = 4096  # an identity group's texts whose digest is kept while fingerprints are worked out


def _group_digests(texts: list[str]) -> list[str]:
    """The short digest of each identity group's text: a text that comes again (the period of every row of a
    year's sheet, an operator's address) hashed once, up to ``GROUP_DIGESTS_HELD`` different texts."""
    known: dict[str, str] = {}
    out = []
    sha = hashlib.sha256
    for text in texts:
        digest = known.get(text)
        if digest is None:
            digest = sha(text.encode()).hexdigest()[:6]
            if len(known) < GROUP_DIGESTS_HELD:
                known[text] = digest
        out.append(digest)
    return out


DECIMALS_HELD = 1024  # a rounded decimal field's values whose spelling is kept while a column is spelled


def _spelled(f: Field, values: list[Any]) -> list[str]:
    """``name=canonical value`` for each of a column's values."""
    prefix = f.name + "="
    if f.type is FieldType.STR and set(map(type, values)) == {str}:  # references, EVSE IDs: mostly each its own
        forms = each_stripped_text(values, f.comparable)  # ``canonical_value`` of each, at once
        if forms is not None:
            return [prefix + text for text in forms]
    seen: dict[tuple[type, Any], str] = {}  # towns, dates, operators, powers: the same few values again
    # A decimal rounded to the field's places is spelled by its value alone, if it is finite and not 0 (0 and -0 are
    # equal): 22 and 22.0 are "22.000" (powers: a few values again). Kept for up to DECIMALS_HELD values, then no
    # more tried (amounts: each its own). Any other decimal: equal ones may be spelled otherwise, each on its own.
    rounded: dict[Decimal, str] | None = {} if f.type is FieldType.DECIMAL and f.decimals is not None else None
    out = []
    for value in values:
        kind = type(value)
        if kind is Decimal and rounded is not None and value.is_finite() and value:
            text = rounded.get(value)
            if text is None:
                text = rounded[value] = prefix + canonical_value(f, value)
                if len(rounded) >= DECIMALS_HELD:
                    rounded = None
            out.append(text)
            continue
        # amounts, mostly unique; and equal values spelled otherwise (1.0 and 1.00, 0.0 and -0.0, one instant in two
        # time zones), which a memory of equal values would spell alike: each spelled on its own
        if kind is Decimal or kind is float or kind is datetime:
            out.append(prefix + canonical_value(f, value))
            continue
        key = (kind, value)
        try:
            text = seen.get(key)
        except TypeError:  # a value that cannot be a key (never from a cell): spelled out
            out.append(prefix + canonical_value(f, value))
            continue
        if text is None:
            text = seen[key] = prefix + canonical_value(f, value)
        out.append(text)
    return out


def service_fingerprints(resource: Resource, service: Sequence[dict[str, Any]],
                         linked: Iterable[tuple[dict[str, Any] | None, Mapping[str, Any], str]]) -> dict[int, str]:
    """The fingerprint of each of the service's records, by the record's ``id()``. ``linked``: (record, the values
    of a row linked to it, the row's fingerprint): a record whose every pushed field is spelled as the row's (an
    unchanged row, most of a push) has the row's fingerprint, which is not worked out twice; the rest are."""
    alike = _SpelledAlike(_spelling(resource).fields)
    fps: dict[int, str] = {}
    for record, values, fp in linked:
        if record is not None and id(record) not in fps and alike(values, record):
            fps[id(record)] = fp
    rest = [rec for rec in service if id(rec) not in fps]
    fps.update(zip(map(id, rest), fingerprints(resource, rest), strict=True))
    return fps


class _SpelledAlike:
    """Whether two sets of values surely spell alike field by field (``canonical_value``), and so have one
    fingerprint: each pair the same value of the same kind, of the kinds spelled by their value alone (a text, a
    whole number, a date, nothing) or a decimal. A decimal is rounded to its field's places (22 and 22.0 alike),
    if it is one of modest size and of the same sign (-0 is not 0); any other decimal must have the very same
    digits and exponent. Anything else (a float, a time, True for 1) is not alike here, and is worked out."""

    _PLAIN = frozenset({str, int, date, type(None), Decimal})
    _ROUNDED_BELOW = 15  # a decimal's adjusted exponent below which rounding it to at most 9 places cannot fail

    def __init__(self, fields: tuple[Field, ...]) -> None:
        self._names = tuple(f.name for f in fields)
        # every name's value at once, in C (a KeyError where one is missing: then each is looked up); itemgetter
        # gives a lone name's value as such, so one name (or none) is taken into a tuple here
        self._all: Callable[[Mapping[str, Any]], tuple[Any, ...]] = (
            operator.itemgetter(*self._names) if len(self._names) > 1
            else lambda values: tuple(values[name] for name in self._names))
        self._rounded = tuple(f.type is FieldType.DECIMAL and f.decimals is not None and f.decimals < 10
                              for f in fields)
        self._decimals: dict[tuple[type, ...], tuple[int, ...] | None] = {}  # kinds -> where the decimals are

    def __call__(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
        x: tuple[Any, ...]
        y: tuple[Any, ...]
        try:
            x, y = self._all(a), self._all(b)
        except KeyError:
            x, y = tuple(map(a.get, self._names)), tuple(map(b.get, self._names))
        try:
            if x != y:
                return False
        except ArithmeticError:  # a signalling NaN
            return False
        kinds = tuple(map(type, x))
        if kinds != tuple(map(type, y)):
            return False
        if kinds in self._decimals:
            decimals = self._decimals[kinds]
        else:
            decimals = self._decimals[kinds] = tuple(i for i, k in enumerate(kinds) if k is Decimal) \
                if self._PLAIN.issuperset(kinds) else None
        if decimals is None:
            return False
        for i in decimals:
            u, v = x[i], y[i]
            if u is v or not u.compare_total(v):  # the very same digits and exponent
                continue
            # else equal in value (12 and 12.0): alike once rounded to the field's places, if the same sign (-0, 0)
            # and small enough to be rounded (default precision, unless someone lowered it)
            if not (self._rounded[i] and u.is_finite() and u.is_signed() == v.is_signed()
                    and u.adjusted() < self._ROUNDED_BELOW and v.adjusted() < self._ROUNDED_BELOW
                    and getcontext().prec >= 28):
                return False
        return True


def values_part(stamp: str | None) -> str | None:
    """The hash of the values in a fingerprint (what tells "changed" from "unchanged")."""
    return stamp.partition(":")[0] if stamp else None


def same_values(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and values_part(a) == values_part(b)


def identity_mismatch(resource: Resource, row_stamp: str, other: str | None) -> list[str]:
    """The headers of what says a row's data is ANOTHER record than the one ``other`` (a fingerprint: its record's,
    or the one stored when the row was last pushed) was made from; [] when it is the same record, or ``other`` is
    a bare hash that cannot tell.

    The reference decides when both have one; besides, a charge point record is another one when its EVSE ID or its
    period differs, an operator when its name AND its address differ (a rename or a move alone is an edit).
    """
    mine = row_stamp.partition(":")[2].split(".")
    theirs = (other or "").partition(":")[2].split(".")
    groups = len(resource.identity)
    if len(mine) != groups + 1 or len(theirs) != groups + 1:
        return []
    out: list[str] = []
    if mine[0] and theirs[0] and mine[0] != theirs[0] and resource.reference:
        out.append(resource.field(resource.reference).header)
    differ = [i for i in range(groups) if mine[i + 1] != theirs[i + 1]]
    if differ and (resource.identity_any or len(differ) == groups):
        out.extend(" and ".join(resource.field(n).header for n in resource.identity[i]) for i in differ)
    return out


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


def weak_key(resource: Resource, values: dict[str, Any]) -> tuple[str, ...] | None:
    """What makes a record without a reference almost surely the same one (an operator's legal name, in any case)."""
    if not resource.weak_key:
        return None
    key = tuple(canonical_value(resource.field(name), values.get(name)).casefold() for name in resource.weak_key)
    return key if all(key) else None


def reference_of(resource: Resource, values: dict[str, Any]) -> str | None:
    if not resource.reference:
        return None
    text = "" if is_blank(values.get(resource.reference)) else str(values[resource.reference]).strip()
    return text or None


def _day(value: Any) -> int | None:
    """A period bound as a day number, whatever form it came in (date, datetime, ISO text)."""
    if isinstance(value, datetime):
        return value.date().toordinal()
    if isinstance(value, date):
        return value.toordinal()
    try:
        return date.fromisoformat(str(value).strip()[:10]).toordinal()
    except ValueError:
        return None


class Periods:
    """Records by what they are about apart from their period (a charge point record: its EVSE), to find records
    whose periods overlap: the same kWh of one EVSE must never be claimed twice."""

    def __init__(self, resource: Resource, records: Iterable[dict[str, Any]]) -> None:
        self.resource = resource
        self.what = tuple(n for n in resource.natural_key if n not in (resource.period or ()))
        self._records = list(records) if resource.period is not None else []
        self._by_what: dict[tuple[str, ...], list[tuple[int, int, dict[str, Any]]]] | None = None

    @property
    def by_what(self) -> dict[tuple[str, ...], list[tuple[int, int, dict[str, Any]]]]:
        """Built when first asked (a push of rows that all have their QaaS ID never asks)."""
        if self._by_what is None:
            self._by_what = {}
            for rec in self._records:
                key, span = self._key(rec)
                if key is not None and span is not None:
                    self._by_what.setdefault(key, []).append((*span, rec))
        return self._by_what

    def _key(self, values: dict[str, Any]) -> tuple[tuple[str, ...] | None, tuple[int, int] | None]:
        assert self.resource.period is not None
        key = tuple(canonical_value(self.resource.field(n), values.get(n)) for n in self.what)
        start, end = (_day(values.get(n)) for n in self.resource.period)
        return (key if all(key) else None), ((start, end) if start is not None and end is not None else None)

    def overlapping(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        if self.resource.period is None:
            return []
        key, span = self._key(values)
        if key is None or span is None:
            return []
        return [rec for start, end, rec in self.by_what.get(key, ()) if start <= span[1] and span[0] <= end]


def period_text(resource: Resource, values: dict[str, Any]) -> str:
    """A record's period in the user's words: 01.01.2024–31.12.2024."""
    if resource.period is None:
        return ""
    bounds = []
    for name in resource.period:
        day = _day(values.get(name))
        bounds.append(date.fromordinal(day).strftime("%d.%m.%Y") if day is not None else "?")
    return "–".join(bounds)


def identity_text(resource: Resource, values: dict[str, Any]) -> str:
    """Which record values are, in words: "DE*ABC*E1*1, 01.01.2024–31.12.2024" or "Alpha GmbH, Hauptstr. 1 ..."."""
    parts = []
    for group in resource.identity:
        if resource.period and tuple(group) == tuple(resource.period):
            parts.append(period_text(resource, values))
        else:
            parts.append(" ".join(str(values.get(n) or "") for n in group).strip() or "(empty)")
    ref = reference_of(resource, values)
    return ", ".join(parts) + (f" (reference {ref!r})" if ref else "")


# --- rows and plans -------------------------------------------------------------------------------

@dataclass(slots=True)  # one a row, and a plan one a row: no __dict__ each (some 6 MiB at 50,000 rows)
class RowState:
    """One sheet row as the planner sees it."""

    row: int
    values: dict[str, Any]  # typed client-field values, operator resolved to its id
    record_id: int | None = None
    status: str | None = None
    stored_fingerprint: str | None = None
    # a row without problems shares the one empty tuple: an empty list a row was 2.7 MiB at 50,000 rows (and a plan
    # and an outcome as many again)
    problems: Sequence[Problem] = ()

    @property
    def reference(self) -> str | None:
        ref = self.values.get("customer_reference")
        return str(ref).strip() if ref not in (None, "") and str(ref).strip() else None


@dataclass(slots=True)
class Planned:
    row: int
    action: Action
    result: Result | None = None  # known already when action is NONE
    message: str = ""
    record_id: int | None = None
    payload: dict[str, Any] | None = None  # create: all client values; update: changes; else none
    fingerprint: str | None = None  # the fingerprint to store when it succeeds
    record: dict[str, Any] | None = None  # the service's record, when known
    problems: Sequence[Problem] = ()
    reference: str | None = None


def _fmt(f: Field, canonical_text: str) -> str:
    if not canonical_text:
        return "(empty)"
    if f.type is FieldType.DECIMAL:
        return german_number(Decimal(canonical_text), f.decimals or 3)
    return canonical_text


def describe_changes(resource: Resource, diffs: dict[str, tuple[str, str]]) -> str:
    """A change about to be made or just made: "Amount (kWh) 18.234,512 → 19.000,500" (old → new)."""
    return ", ".join(f"{resource.field(k).header} {_fmt(resource.field(k), old)} → {_fmt(resource.field(k), new)}"
                     for k, (old, new) in diffs.items())


def describe_sides(resource: Resource, diffs: dict[str, tuple[str, str]]) -> str:
    """Where the service and the row differ, saying which holds which: "Amount (kWh): service 2.222,000, this row
    2.500,000" (``differences`` gives (service, row))."""
    return "; ".join(f"{resource.field(k).header}: service {_fmt(resource.field(k), svc)}, this row "
                     f"{_fmt(resource.field(k), row)}" for k, (svc, row) in diffs.items())


OVERWRITE_HINT = "push it with --overwrite {row}"


class _Matches:
    """The service's records no row is linked to, by what identifies them to a row without a QaaS ID. Each index is
    built when first asked: rows found by their reference (most rows of a sheet pushed before) never ask for the
    others, which at 50,000 records hold some 12 MiB."""

    def __init__(self, resource: Resource, records: Iterable[dict[str, Any]], fps: Mapping[int, str]) -> None:
        """``fps``: each record's fingerprint by the record's ``id()``."""
        self.resource = resource
        self._records = list(records)
        self._fps = fps

    def _index(self, key_of: Callable[[dict[str, Any]], Any]) -> dict[Any, dict[str, Any]]:
        """The records by ``key_of`` each (none where it is empty); the first record of a key keeps it."""
        out: dict[Any, dict[str, Any]] = {}
        for rec in self._records:
            if key := key_of(rec):
                out.setdefault(key, rec)
        return out

    @cached_property
    def by_ref(self) -> dict[str, dict[str, Any]]:
        return self._index(lambda rec: reference_of(self.resource, rec))

    @cached_property
    def by_key(self) -> dict[tuple[str, ...], dict[str, Any]]:
        return self._index(lambda rec: natural_key(self.resource, rec))

    @cached_property
    def by_weak(self) -> dict[tuple[str, ...], dict[str, Any]]:
        return self._index(lambda rec: weak_key(self.resource, rec))

    @cached_property
    def by_fp(self) -> dict[str | None, dict[str, Any]]:
        """Identical values identify a record only where nothing else does (a resource without a natural key)."""
        out: dict[str | None, dict[str, Any]] = {}
        for rec in self._records:
            out.setdefault(values_part(self._fps[id(rec)]), rec)
        return out

    def find(self, r: RowState, fp: str) -> tuple[dict[str, Any] | None, str]:
        resource = self.resource
        if r.reference and r.reference in self.by_ref:
            return self.by_ref[r.reference], "your reference"  # the row's own, beside its message
        if (key := natural_key(resource, r.values)) and key in self.by_key:
            return self.by_key[key], "the same " + " and ".join(_key_words(resource, resource.natural_key))
        if not r.reference:
            if (weak := weak_key(resource, r.values)) and weak in self.by_weak:
                return self.by_weak[weak], "the same " + " and ".join(_key_words(resource, resource.weak_key))
            if not resource.natural_key and values_part(fp) in self.by_fp:
                return self.by_fp[values_part(fp)], "identical values"
        return None, ""


def _key_words(resource: Resource, names: tuple[str, ...]) -> list[str]:
    words = [resource.field(n).header for n in names if n not in (resource.period or ())]
    if resource.period and all(n in names for n in resource.period):
        words.append("period")
    return words


def plan_rows(resource: Resource, rows: Iterable[RowState], service: list[dict[str, Any]], *,
              claimed: Mapping[int, str] | None = None, overwrite: Collection[int] = (),
              sheet: str | None = None, place: Place | None = None) -> list[Planned]:
    """Decide per row what to do, from the rows (an interrupted run already replayed into them, see
    ``pipeline._replay_journal``) and the service's records (one list call).

    ``claimed``: records that rows of other sheets of this run are linked to (id -> "Sheet row 7"): no row here
    may be linked to them or create them again. ``overwrite``: rows whose values the user decided should replace
    the service's where they conflict (never over a frozen record, never onto another record). ``place`` puts a
    problem found here where the user looks (its column's letter and header, its cell).
    """
    place = place or _by_header(resource)
    rows = list(rows)
    claimed = claimed or {}
    by_id = {r["id"]: r for r in service if r.get("id") is not None}
    owners: dict[int, list[int]] = {}
    for r in rows:
        if r.record_id is not None:
            owners.setdefault(r.record_id, []).append(r.row)
    valid = [r for r in rows if not r.problems]
    # the valid rows' fingerprints in the rows' order, taken one by one below (a dict by row held 4 MiB at 50,000)
    valid_fps = fingerprints(resource, [r.values for r in valid])
    linked = ((by_id.get(r.record_id), r.values, fp) for r, fp in zip(valid, valid_fps, strict=True)
              if r.record_id is not None)
    service_fps = service_fingerprints(resource, service, linked)
    del valid
    matches = _Matches(resource, (rec for rec in service if rec.get("id") not in owners and rec.get("id") not in
                                  claimed), service_fps)
    periods = Periods(resource, service)
    row_fps = iter(valid_fps)
    # Sorting moves a row's values but not its fingerprint: values that are exactly what another row last pushed
    # belong to that row's record.
    pushed_as: dict[str | None, RowState] = {r.stored_fingerprint.partition(":")[0]: r for r in rows
                                             if r.record_id is not None and r.stored_fingerprint}  # (values_part)

    def where(record_id: int) -> str:
        return f"row {owners[record_id][0]}" if record_id in owners else claimed.get(record_id, "")

    planned: list[Planned] = []
    taken: dict[int, int] = {}
    for r in rows:
        if r.problems:
            planned.append(Planned(r.row, Action.NONE, Result.INVALID, _problem_summary(r.problems),
                                   record_id=r.record_id, problems=r.problems))
            continue
        fp = next(row_fps)
        if r.record_id is None:
            planned.append(_plan_new(resource, r, fp, matches, periods, taken, where, sheet, place, service_fps))
            continue
        owned = owners[r.record_id]
        others = [row for row in owned if row != r.row] if len(owned) > 1 else ()  # (most rows: only their own)
        if others or r.record_id in claimed:
            elsewhere = f"row {others[0]}" if others else claimed[r.record_id]
            note = (f"QaaS ID {r.record_id} is also the QaaS ID of {elsewhere}: two rows cannot be one record. "
                    "Nothing was sent for either; keep the ID on the row that is this record, clear it on the other.")
            planned.append(_invalid(r, "id", "record-claimed-twice", note, sheet, r.record_id, place))
            continue
        twin = pushed_as.get(fp.partition(":")[0])  # (``values_part`` of a fingerprint, which is never empty)
        if twin is not None and twin.row != r.row and not same_values(fp, r.stored_fingerprint):
            planned.append(_mismatch(resource, r, by_id.get(r.record_id), sheet, place,
                                     f"this row holds exactly the values last pushed as record {twin.record_id} "
                                     f"(the QaaS ID of row {twin.row})"))
            continue
        record = by_id.get(r.record_id)
        planned.append(_plan_existing(resource, r, fp, record, overwrite=r.row in overwrite, sheet=sheet, place=place,
                                      service_fp=service_fps[id(record)] if record is not None else None))
    return planned


def _problem_summary(problems: Sequence[Problem]) -> str:
    return " | ".join(p.message for p in problems)


Place = Callable[[Problem], Problem]


def _by_header(resource: Resource) -> Place:
    """Without a sheet's column map: a problem names its column by the template's header."""
    def place(p: Problem) -> Problem:
        return p if p.label or p.field is None else replace(p, label=resource.field(p.field).header)
    return place


def _invalid(r: RowState, field_name: str, code: str, note: str, sheet: str | None, value: Any,
             place: Place) -> Planned:
    problem = place(Problem(r.row, field_name, code, note, sheet, value))
    return Planned(r.row, Action.NONE, Result.INVALID, problem.message, record_id=r.record_id, problems=[problem])


def _mismatch(resource: Resource, r: RowState, record: dict[str, Any] | None, sheet: str | None, place: Place,
              why: str) -> Planned:
    """The row's data is another record's than the one its QaaS ID names: nothing is sent, nothing is written into
    the record's columns (its status, last update) either."""
    theirs = f" (the service's record {r.record_id} is {identity_text(resource, record)})" if record else ""
    note = (f"the data of this row no longer belongs to record {r.record_id}: {why}{theirs}. Were rows sorted "
            "without their QaaS columns? Nothing was sent. Put the rows back beside their QaaS IDs (undo the sort); "
            "if this row is another record, clear its QaaS ID so it is matched or created on its own; if you changed "
            "it on purpose, restore it: a record keeps what it is about once it exists.")
    problem = place(Problem(r.row, "id", "row-record-mismatch", note, sheet, r.record_id))
    return Planned(r.row, Action.NONE, Result.MISMATCH, problem.message, record_id=r.record_id,
                   record={"id": r.record_id}, problems=[problem])


@lru_cache(maxsize=16)
def _adopted_message(how: str) -> str:
    """One text for each way a record is found, shared by the rows found that way (50,000 adopted rows held 7 MiB
    of copies of it)."""
    return f"Already on the service (found by {how}); linked to this row, not created again."


def _plan_new(resource: Resource, r: RowState, fp: str, matches: _Matches, periods: Periods, taken: dict[int, int],
              where: Callable[[int], str], sheet: str | None, place: Place, service_fps: Mapping[int, str]) -> Planned:
    """``service_fps``: each record's fingerprint by the record's ``id()``."""
    match, how = matches.find(r, fp)
    if match is not None:
        if match["id"] in taken:
            return _invalid(r, "id", "record-claimed-twice",
                            f"row {taken[match['id']]} and this row both are record {match['id']} on the service "
                            f"(found by {how}); nothing was sent for this row. Two rows cannot be one record.",
                            sheet, None, place)
        taken[match["id"]] = r.row
        # the same values hash alike (most rows a push adopts): nothing to take apart field by field
        diffs = {} if same_values(fp, service_fps[id(match)]) else differences(resource, r.values, match)
        if not diffs:
            return Planned(r.row, Action.NONE, Result.ADOPTED, _adopted_message(how), record_id=match["id"],
                           fingerprint=fp, record=match)
        # Neither the record nor a fingerprint goes with a conflict: the row stays unlinked, so the next push finds
        # the same conflict again instead of quietly turning it into an update of the service's record.
        return Planned(r.row, Action.NONE, Result.CONFLICT,
                       f"The service already holds record {match['id']} with {how} but different values "
                       f"({describe_sides(resource, diffs)}). Nothing was sent. If this row is that record and "
                       f"right, put {match['id']} into its QaaS ID column and {OVERWRITE_HINT.format(row=r.row)}; "
                       "if it is another record, give this row its own reference.")
    clash = periods.overlapping(r.values)
    if clash:
        first = resource.period[0] if resource.period else "id"
        listed = "; ".join(f"record {rec['id']} ({period_text(resource, rec)}"
                           + (f", linked to {w}" if (w := where(rec["id"])) else "") + ")" for rec in clash[:3])
        more = f" and {len(clash) - 3} more" if len(clash) > 3 else ""
        what = " and ".join(_key_words(resource, periods.what)) or "record"
        return _invalid(r, first, "overlap-on-service",
                        f"the period {period_text(resource, r.values)} overlaps what the service already holds for "
                        f"the same {what}: {listed}{more}. A kWh may be claimed once; nothing was sent.",
                        sheet, r.values.get(first), place)
    return Planned(r.row, Action.CREATE, payload=dict(r.values), fingerprint=fp, reference=r.reference)


def _plan_existing(resource: Resource, r: RowState, fp: str, record: dict[str, Any] | None, *,
                   overwrite: bool = False, sheet: str | None = None, place: Place | None = None,
                   service_fp: str | None = None) -> Planned:
    """``service_fp``: the record's fingerprint, when already worked out."""
    if record is None:
        return Planned(r.row, Action.NONE, Result.FAILED,
                       f"QaaS ID {r.record_id} is not on the service (deleted, or it belongs to another "
                       "account). Clear the QaaS ID to create the record again.", record_id=r.record_id)
    service_fp = service_fp or fingerprint(resource, record)
    stored = r.stored_fingerprint or None
    if fp == stored == service_fp:  # the row as last pushed, the record as it was then: unchanged (most rows)
        return Planned(r.row, Action.NONE, Result.UNCHANGED, "", record_id=r.record_id, record=record, fingerprint=fp)
    # (a fingerprint equal to the row's is the same record: most rows, not worth taking apart)
    wrong = ((fp != service_fp and identity_mismatch(resource, fp, service_fp))
             or (fp != stored and identity_mismatch(resource, fp, stored)))
    if wrong:
        return _mismatch(resource, r, record, sheet, place or _by_header(resource),
                         f"its {' and '.join(wrong)} differ from the record's")
    hint = OVERWRITE_HINT.format(row=r.row)
    if stored is None:
        if same_values(fp, service_fp):
            return Planned(r.row, Action.NONE, Result.UNCHANGED, "", record_id=r.record_id, record=record,
                           fingerprint=fp)
        if not overwrite:
            return Planned(r.row, Action.NONE, Result.CONFLICT,
                           f"This row differs from record {r.record_id} ("
                           f"{describe_sides(resource, differences(resource, r.values, record))}) and there is no "
                           "fingerprint of the last push to tell which side changed (was the hidden column removed, "
                           "e.g. by Excel's Document Inspector?). Nothing was sent. If the service is right, type its "
                           f"values in; if this row is right, {hint}.", record_id=r.record_id, record=record)
        changed_here, changed_there = True, False
    else:
        changed_here, changed_there = not same_values(fp, stored), not same_values(service_fp, stored)
    status = record.get("status")
    if not changed_here:
        note = ""
        if changed_there:
            note = ("Changed on the service since your last push (" +
                    describe_sides(resource, differences(resource, r.values, record)) + "); run reconcile.")
        return Planned(r.row, Action.NONE, Result.UNCHANGED, note, record_id=r.record_id, record=record,
                       fingerprint=stored or fp)
    if same_values(fp, service_fp):  # both sides already agree (changed the same way, or never diverged)
        return Planned(r.row, Action.NONE, Result.UNCHANGED, "", record_id=r.record_id, record=record, fingerprint=fp)
    diffs = differences(resource, r.values, record)
    if changed_there and not overwrite:
        return Planned(r.row, Action.NONE, Result.CONFLICT,
                       "Changed here and on the service since your last push; nothing was overwritten ("
                       + describe_sides(resource, diffs) + "). Pull or reconcile, then decide: if the service is "
                       f"right, type its values in; if this row is right, {hint}.",
                       record_id=r.record_id, record=record)
    frozen = [k for k in diffs if not resource.field(k).patchable]
    if frozen:
        names = ", ".join(resource.field(k).header for k in frozen)
        return Planned(r.row, Action.NONE, Result.LOCKED,
                       f"{names} cannot be changed once the record exists ("
                       f"{describe_sides(resource, {k: diffs[k] for k in frozen})}). Restore the value, "
                       "or clear the QaaS ID to create a new record.", record_id=r.record_id, record=record)
    if resource.has_status and not is_editable_status(status):
        return Planned(r.row, Action.NONE, Result.LOCKED,
                       f"Not sent: the record has status {status!r} and can no longer be changed "
                       f"(wanted: {describe_changes(resource, diffs)}).", record_id=r.record_id, record=record)
    changes = {k: r.values.get(k) for k in diffs}
    return Planned(r.row, Action.UPDATE, record_id=r.record_id, payload=changes, fingerprint=fp, record=record,
                   message=("overwriting the service's values: " if changed_there else "")
                   + describe_changes(resource, diffs))


def find_twins(resource: Resource, created: Mapping[int, dict[str, Any]],
               service: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """After creating: the records of the service that are the same record as one this run created (another run,
    from a copy of the workbook or another machine, created it at the same moment). Row -> its twins."""
    others = [rec for rec in service if rec.get("id") is not None]
    periods = Periods(resource, others)
    by_ref: dict[str, list[dict[str, Any]]] = {}
    by_weak: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    by_fp: dict[str | None, list[dict[str, Any]]] = {}
    for rec, fp in zip(others, fingerprints(resource, others), strict=True):
        if ref := reference_of(resource, rec):
            by_ref.setdefault(ref, []).append(rec)
        if weak := weak_key(resource, rec):
            by_weak.setdefault(weak, []).append(rec)
        by_fp.setdefault(values_part(fp), []).append(rec)
    out: dict[int, list[dict[str, Any]]] = {}
    for row, rec in created.items():
        found: dict[Any, dict[str, Any]] = {}
        ref = reference_of(resource, rec)
        for other in by_ref.get(ref, []) if ref else []:
            found[other["id"]] = other
        for other in periods.overlapping(rec):
            found[other["id"]] = other
        if not ref:
            for other in by_weak.get(weak_key(resource, rec) or (), []):
                found[other["id"]] = other
            if not resource.natural_key:
                for other in by_fp.get(values_part(fingerprint(resource, rec)), []):
                    found[other["id"]] = other
        twins = [o for i, o in found.items() if i != rec.get("id")]
        if twins:
            out[row] = sorted(twins, key=lambda o: o["id"])
    return out


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
             progress: Callable[[int], None] | None = None, stop: Stop | None = None) -> list[Outcome]:
    """Send the creates and updates concurrently (bounded pool); everything else is already decided.

    No request leaves once ``stop`` is requested (Ctrl-C) or once the journal or the audit trail could not be
    written (``stop.failure``): an answer that cannot be journaled is followed by no other request. Those rows are
    ``failed`` with "Not sent"; the requests already on their way are waited for.
    """
    headers = headers or {f.name: f.header for f in resource.fields}
    stop = stop if stop is not None else Stop()
    outcomes: dict[int, Outcome] = {}
    todo = [p for p in plan if p.action is not Action.NONE]
    for p in plan:
        if p.action is Action.NONE:
            outcomes[p.row] = Outcome(p.row, p.result or Result.UNCHANGED, p.message, p.record, p.fingerprint,
                                      p.problems)
    if todo and not stop.requested():
        audit = getattr(client, "audit", None)
        short = free_space_problem([p for p in (journal.path if journal else None, audit.path if audit else None)
                                    if p], len(todo))
        if short is not None:
            if not stop.sending:
                raise short  # this run has sent nothing: it ends here, the workbook as it was
            stop.fail(short)

    gave_up = threading.Event()  # the service stopped answering: the rows not yet sent are left for the next push
    streak = [0]  # transient failures in a row, across the workers
    streak_lock = threading.Lock()

    def count(failed_transiently: bool) -> None:
        with streak_lock:
            streak[0] = streak[0] + 1 if failed_transiently else 0
            if streak[0] >= GIVE_UP_AFTER:
                gave_up.set()

    def journaled(entry: JournalEntry) -> None:
        if journal:
            try:
                journal.append(entry)
            except StateWriteError as exc:
                stop.fail(exc)

    def send(p: Planned) -> Outcome:
        if stop.requested():
            return Outcome(p.row, Result.FAILED, f"Not sent: {stop.why()}. Push again to send it; nothing is created "
                           "twice.")
        if gave_up.is_set():
            return Outcome(p.row, Result.FAILED, "Not sent: the service stopped answering during this push "
                           "(the rows before this one failed). Push again later; nothing is created twice.",
                           transient=True)
        journaled(JournalEntry("intent", sheet, p.row, p.fingerprint or "", p.reference, p.action.value, p.record_id))
        if stop.failure is not None:  # the intent is not on disk: this request must not leave
            return Outcome(p.row, Result.FAILED, f"Not sent: {stop.why()}. Push again to send it.")
        assert p.payload is not None  # a create or an update is planned with what it sends
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
        except StateWriteError as exc:  # the audit trail's "sending" entry could not be written: nothing left
            stop.fail(exc)
            return Outcome(p.row, Result.FAILED, f"Not sent: {stop.why()}. Push again to send it.")
        except errors.QaasError as exc:
            count(isinstance(exc, errors.TransientError))
            journaled(JournalEntry("failed", sheet, p.row, p.fingerprint or "", p.reference, p.action.value,
                                   p.record_id, message=str(exc)))
            return Outcome(p.row, Result.FAILED, _failure_message(resource, exc, headers),
                           problems=_service_problems(resource, p.row, exc, headers, sheet, p.payload),
                           transient=isinstance(exc, errors.TransientError))
        count(False)
        journaled(JournalEntry("done", sheet, p.row, p.fingerprint or "", p.reference, p.action.value,
                               record.get("id"), record.get("status"), _iso(record.get("last_updated")),
                               result.value, msg))
        return Outcome(p.row, result, msg, record, p.fingerprint)

    if todo and not stop.requested():
        stop.sending = True
        pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="qaas-push")
        try:
            futures = [pool.submit(send, p) for p in todo]
            for fut in as_completed(futures):
                outcome = fut.result()
                outcomes[outcome.row] = outcome
                if progress:
                    progress(1)
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting; what is on its way is journaled by its worker
            stop.request()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        except BaseException:
            stop.request()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
    for p in todo:
        if p.row not in outcomes:  # stopped before the pool was started
            outcomes[p.row] = Outcome(p.row, Result.FAILED, f"Not sent: {stop.why()}. Push again to send it.")
    return [outcomes[p.row] for p in plan]


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return utc_text(value)
    return None if value is None else str(value)
