"""Validate a whole sheet at once: typed records plus every problem of every row.

Rules come from ``resources.py`` (required, types, lengths, patterns, decimals, > 0) plus the
charge point rules of the brief: period within one calendar year and in order, amount not above
max power × hours, commissioning date not in the future, no duplicate reference or (EVSE ID,
period) within the sheet, operator reference known.

Plain vectorised pandas rather than pandera: the rules need exact decimal arithmetic (amounts
as integer thousandths) and messages that quote each row's own values in the user's column
names; masks over typed columns do both directly and stay well under a second for 100,000 rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast

import numpy as np
import pandas as pd
from openpyxl.utils.cell import get_column_letter

from qaas_excel import parsing
from qaas_excel.formatting import german_number_as_typed
from qaas_excel.problems import Problem, count_by_code
from qaas_excel.resources import CHARGEPOINT, Field, FieldType, Resource, as_numbers, year_key
from qaas_excel.values import is_blank


@dataclass
class ValidationResult:
    records: pd.DataFrame  # index: Excel rows; one column per client field, typed (Decimal/date/datetime/int/str)
    problems: list[Problem] = field(default_factory=list)

    @property
    def invalid_rows(self) -> set[int]:
        return {p.row for p in self.problems if p.row is not None}

    @property
    def counts(self) -> dict[str, int]:
        return count_by_code(self.problems)


class _Collector:
    def __init__(self, resource: Resource, data: pd.DataFrame, sheet: str | None,
                 headers: dict[str, str] | None, columns: Mapping[str, int] | None = None) -> None:
        self.resource, self.data, self.sheet, self.headers = resource, data, sheet, headers or {}
        self.columns = columns or {}
        self.problems: list[Problem] = []
        self._comparable: dict[str, pd.Series] = {}
        self.present: dict[str, pd.Series] = {}  # a field's ``notna()``, as its parser knew it
        self.distinct: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # ``Parsed.known_distinct``, where known
        self.texts: dict[str, np.ndarray] = {}  # ``Parsed.known_texts``, where known

    def given(self, records: pd.DataFrame, name: str) -> pd.Series:
        """Whether each row has a value in field ``name`` (``records[name].notna()``, each column asked once)."""
        present = self.present.get(name)
        if present is None:
            present = self.present[name] = records[name].notna()
        return present.copy()  # the caller's to combine in place

    def comparable(self, records: pd.DataFrame, name: str, rows: pd.Index) -> pd.Series:
        """``_comparable`` of a field's values in ``rows``, the whole column made once (several checks ask)."""
        if self.resource.field(name).type is not FieldType.STR:
            return cast(pd.Series, records.loc[rows, name])  # compared as they are
        column = self._comparable.get(name)
        if column is None:
            given = self.given(records, name)
            column = self._comparable[name] = pd.Series(None, index=records.index, dtype=object)
            column[given] = _comparable(self.resource.field(name), records.loc[given, name]).to_numpy()
        return column.loc[rows]

    def header(self, name: str) -> str:
        return self.headers.get(name) or self.resource.field(name).header

    def add(self, rows: Iterable[int], column: str | None, code: str, note: str | Callable[..., str]) -> None:
        """``note``: a text, or a function of the row giving one. Each problem carries its cell's value as it was
        read (blank: None) and, where the sheet's columns are known, the cell's name ("K2")."""
        label = self.header(column) if column else None
        rows = [int(row) for row in rows]
        if not rows:
            return
        if column is not None and column in self.data.columns:  # the cells as read, taken at once, not one by one
            cells = [None if is_blank(v) else v for v in self.data[column].loc[rows].tolist()]
        else:
            cells = [None] * len(rows)
        col = self.columns.get(column) if column is not None else None
        letter = get_column_letter(col) if col else None
        for row, cell in zip(rows, cells, strict=True):
            text = note(row) if callable(note) else note
            self.problems.append(Problem(row, column, code, text, self.sheet, cell, label,
                                         f"{letter}{row}" if letter else None))


def validate(resource: Resource, data: pd.DataFrame, *, sheet: str | None = None,
             headers: dict[str, str] | None = None, operator_refs: set[str] | None = None,
             operator_ids: set[int] | None = None, today: date | None = None,
             date1904: bool = False, columns: Mapping[str, int] | None = None) -> ValidationResult:
    """Check every row; ``data`` holds raw cell values (index: Excel rows, columns: field names).

    ``date1904``: the workbook counts date serials from 1904 (a date typed in a number format is read so).
    ``columns``: field -> the sheet's column, when known: each problem in a row's field then names its cell ("K2").

    Charge points name their operator by QaaS ID or by reference: a reference must be in
    ``operator_refs`` (when given); an ID must be in ``operator_ids`` when that is given (None:
    any ID is accepted and the service will say if it is not yours).
    """
    today = today or datetime.now(UTC).date()
    out = _Collector(resource, data, sheet, headers, columns)
    records = pd.DataFrame(index=data.index)
    failed: dict[str, pd.Series] = {}

    for f in resource.client_fields:
        if f.name not in data.columns:
            records[f.name] = pd.Series([None] * len(data), index=data.index, dtype=object)
            failed[f.name] = pd.Series(False, index=data.index)
            out.present[f.name] = pd.Series(False, index=data.index)
            if f.required and len(data):
                out.problems.append(Problem(None, f.name, "missing-column",
                                            f"The required column '{f.header}' is missing.", sheet))
            continue
        parsed = f.parse(data[f.name], date1904=date1904)
        records[f.name] = parsed.values
        failed[f.name] = broken = parsed.failed  # made once: each asks every cell again
        out.present[f.name] = parsed.present
        if parsed.known_distinct is not None:
            out.distinct[f.name] = parsed.known_distinct
            if parsed.known_texts is not None:
                out.texts[f.name] = parsed.known_texts
        for row, (code, text) in parsed.errors[broken].items():
            out.add([cast(int, row)], f.name, code, text)  # the index: Excel rows
        _field_rules(f, records[f.name], out.given(records, f.name), broken, out)

    _record_rules(resource, records, failed, out, today)
    _duplicate_keys(resource, records, out)
    _overlapping_periods(resource, records, out)
    _duplicate_weak_keys(resource, records, out)
    if resource.operator_field:
        _operator_references(records[resource.operator_field], resource.operator_field, out, operator_refs,
                             operator_ids)
    _duplicate_references(resource, records, out)
    out.problems.sort(key=lambda p: (p.row is not None, p.row or 0))
    return ValidationResult(records, out.problems)


def _field_rules(f: Field, values: pd.Series, present: pd.Series, failed: pd.Series, out: _Collector) -> None:
    if f.required:
        empty = ~present & ~failed
        out.add(empty[empty].index, f.name, "required", "a value is required")
    if not present.any():
        return
    if f.type is FieldType.STR:
        given = values[present]
        # each distinct text checked once where the parser knew them (a town, a PLZ), else each row's
        texts, each = _texts_once(given, out.distinct.get(f.name), present)

        def rows(bad: np.ndarray) -> tuple[pd.Index, dict[Any, str]]:
            """The rows whose text is ``bad`` (one flag a text), and the text of each (what a note names)."""
            which = np.flatnonzero(bad if each is None else bad[each])  # the rows' positions
            spelled = which if each is None else each[which]  # their texts'
            return given.index[which], dict(zip(given.index[which], (texts[i] for i in spelled.tolist()), strict=True))

        if f.max_length and max(map(len, texts)) > f.max_length:  # the longest first: most sheets have none
            long, too_long = rows(np.fromiter((len(t) > f.max_length for t in texts), dtype=bool, count=len(texts)))
            out.add(long, f.name, "too-long",
                    lambda r: f"{len(too_long[r])} characters; at most {f.max_length} are allowed")
        if f.regex is not None:
            match = f.regex.fullmatch
            if not all(map(match, texts)):  # (a match is true, None false) the rows and texts, only where one is wrong
                bad, wrong = rows(np.fromiter((match(t) is None for t in texts), dtype=bool, count=len(texts)))
                out.add(bad, f.name, "pattern", lambda r: f"{wrong[r]!r} is not valid: expected {f.pattern_help}")
    if f.type is FieldType.DECIMAL:
        decimals = values[present]
        # a column of plain numbers, none too fine and none at or below zero, is seen to be so in its text at once
        plain = None
        if f.decimals is not None or f.positive:
            spelled = out.texts.get(f.name)  # each distinct value's text, where its parser knew it
            known = None if spelled is None else spelled[out.distinct[f.name][0][present.to_numpy()]].tolist()
            plain = parsing.plain_decimal_texts(decimals.to_numpy(), known)
        if f.decimals is not None and (plain is None or re.search(rf"\.\d{{{f.decimals}}}\d*[1-9]", plain)):
            many = pd.Series(_too_many_places(decimals.to_numpy(), f.decimals), index=decimals.index, dtype=bool)
            too_fine = decimals[many].to_dict()
            out.add(many[many].index, f.name, "too-many-decimals",
                    lambda r: f"{too_fine[r]} has more than {f.decimals} decimal places")
        if f.positive and (plain is None or _at_most_zero(plain)):
            neg = pd.Series([d <= 0 for d in decimals.to_numpy()], index=decimals.index, dtype=bool)
            not_positive = decimals[neg].to_dict()
            out.add(neg[neg].index, f.name, "not-positive",
                    lambda r: f"{german_number_as_typed(not_positive[r])} must be greater than 0")


def _texts_once(given: pd.Series, distinct: tuple[np.ndarray, np.ndarray] | None, present: pd.Series
                ) -> tuple[list[str], np.ndarray | None]:
    """``_texts`` of the values ``given`` (the column's ``present`` ones); where the column's distinct values are
    known, of each distinct value given, once, and each row's position among them (else None: one text a row)."""
    if distinct is None:
        return _texts(given), None
    codes = distinct[0][present.to_numpy(dtype=bool)]  # (each value given is there: none has code -1)
    held = np.flatnonzero(np.bincount(codes, minlength=len(distinct[1])))
    position = np.zeros(len(distinct[1]), dtype=np.intp)
    position[held] = np.arange(len(held))
    return _texts(pd.Series(distinct[1][held], dtype=object)), position[codes]


def _texts(values: pd.Series) -> list[str]:
    """``str`` of each value (a text field's values are texts already: each is made one only where not)."""
    texts = values.to_numpy().tolist()
    return texts if set(map(type, texts)) == {str} else [str(v) for v in texts]


_AT_MOST_ZERO = re.compile(r"(?:^|\x00)(?:-|0+(?:\.0+)?(?:\x00|$))")  # in plain numbers joined: one negative or zero


def _at_most_zero(plain: str) -> bool:
    """``_AT_MOST_ZERO`` found in ``plain``: a text that begins with "-" is; only one that begins with "0" needs the
    regex, which tries every position (16 ms for 100,000 amounts, against a find's fraction of one)."""
    plain = parsing.UNSEEN + plain  # each text now begins after one
    if parsing.UNSEEN + "-" in plain:
        return True
    return parsing.UNSEEN + "0" in plain and _AT_MOST_ZERO.search(plain) is not None


def _too_many_places(decimals: Any, places: int) -> list[bool]:
    """Per Decimal: more than ``places`` decimal places once trailing zeros are dropped (1.500 has one)."""
    return [parsing.decimal_places(d) > places for d in decimals]


def _each_distinct(codes: np.ndarray, uniques: np.ndarray, convert: Callable[[np.ndarray], list[Any]]) -> np.ndarray:
    """``convert`` of each value ``uniques[codes]``, made once per distinct value the codes pick (none of them the
    None of code -1: the rows asked about hold valid values)."""
    held = np.zeros(len(uniques), dtype=bool)
    held[codes] = True
    taken = uniques[held]
    each = np.full(len(uniques), None, dtype=object)
    each[held] = np.fromiter(convert(taken), dtype=object, count=len(taken))
    spread: np.ndarray = each[codes]
    return spread


def _as_numbers(f: Field, values: np.ndarray, distinct: tuple[np.ndarray, np.ndarray] | None = None
                ) -> dict[str, np.ndarray]:
    """A column's valid values as the record rules see them (``resources.as_number``): exact Python ints; a date
    made once per distinct date (a Decimal is slower to hash than to convert: each is converted in turn).

    ``distinct``: (codes, distinct values), each value ``distinct[code]``, where the parser knew them: each distinct
    value a row holds is then converted once (a power or a date is shared by many rows), none hashed."""
    if distinct is not None:
        spread = {f.name: _each_distinct(*distinct, lambda taken: as_numbers(f, taken))}
        if f.type is FieldType.DATE:
            spread[year_key(f.name)] = _each_distinct(*distinct, lambda taken: [v.year for v in taken])
        return spread
    if f.type is not FieldType.DATE:
        numbers = np.empty(len(values), dtype=object)
        numbers[:] = as_numbers(f, values)
        return {f.name: numbers}
    codes, uniques = pd.factorize(values)
    return {f.name: np.array(as_numbers(f, uniques), dtype=object)[codes],
            year_key(f.name): np.array([v.year for v in uniques], dtype=object)[codes]}


def _record_rules(resource: Resource, records: pd.DataFrame, failed: dict[str, pd.Series], out: _Collector,
                  today: date) -> None:
    """The resource's rules across fields, on every row whose fields they need are valid."""
    if not resource.rules:
        return
    flawed: dict[str | None, set[int | None]] = {}
    for p in out.problems:
        flawed.setdefault(p.field, set()).add(p.row)
    valid: dict[str, np.ndarray] = {}
    numbers: dict[str, np.ndarray] = {}  # every row's number (None where its value is not valid), by position
    for name in dict.fromkeys(n for rule in resource.rules for n in rule.needs):
        column = records[name]
        valid[name] = mask = (out.given(records, name) & ~failed[name]).to_numpy(dtype=bool) & ~records.index.isin(
            list(flawed.get(name, ())))
        distinct = out.distinct.get(name)
        for key, part in _as_numbers(resource.field(name), column.to_numpy(dtype=object)[mask],
                                     None if distinct is None else (distinct[0][mask], distinct[1])).items():
            numbers[key] = np.full(len(records), None, dtype=object)
            numbers[key][mask] = part
    for rule in resource.rules:
        ok = np.ones(len(records), dtype=bool)
        for name in rule.needs:
            ok &= valid[name]
        if not ok.any():
            continue
        rows = records.index[np.flatnonzero(ok)]
        given: dict[str, Any] = {"today": today.toordinal()}
        given.update({key: column[ok] for key, column in numbers.items() if key.partition(".")[0] in rule.needs})
        broken = np.asarray(rule.breached(given), dtype=bool)
        needs = list(rule.needs)
        out.add(rows[broken], rule.field, rule.code, lambda r, rule=rule, needs=needs:
                rule.note(dict(zip(needs, records.loc[r, needs], strict=True))))


def _duplicate_keys(resource: Resource, records: pd.DataFrame, out: _Collector) -> None:
    """The same natural key twice (for charge points: the same EVSE in the same period)."""
    if not resource.natural_key:
        return
    present = pd.Series(True, index=records.index)
    for name in resource.natural_key:
        present &= out.given(records, name)
    if not present.any():
        return
    rows = present[present].index
    lead = out.comparable(records, resource.natural_key[0], rows)
    if len(set(lead.tolist())) == len(lead):  # no two rows share the key's first part (the EVSE): no key twice
        return
    frame = pd.DataFrame({name: out.comparable(records, name, rows) for name in resource.natural_key})
    dup = frame.duplicated(keep=False)
    if not dup.any():
        return
    keys = pd.Series(list(frame.itertuples(index=False, name=None)), index=rows, dtype=object)
    groups: dict[Any, list[int]] = {}
    for r in dup[dup].index:
        groups.setdefault(keys[r], []).append(int(r))
    first = resource.natural_key[0]
    out.add(dup[dup].index, first, "duplicate-evse-period" if resource.period else "duplicate-key",
            lambda r: f"{_key_text(resource, cast(pd.Series, records.loc[r]))} appears more than once "  # one label
                      f"(rows {', '.join(map(str, groups[keys[r]]))})")


def _overlapping_periods(resource: Resource, records: pd.DataFrame, out: _Collector) -> None:
    """Two rows of one EVSE whose periods overlap (not the same period: that is a duplicate) claim a kWh twice."""
    if resource.period is None:
        return
    start_name, end_name = resource.period
    what = [n for n in resource.natural_key if n not in resource.period]
    present = out.given(records, start_name) & out.given(records, end_name)
    for name in what:
        present &= out.given(records, name)
    flawed = {p.row for p in out.problems if p.field in (start_name, end_name, *what)}
    present &= ~records.index.isin(list(flawed))
    if present.sum() < 2:
        return
    rows = present[present].index
    if len(what) == 1:  # one column names the thing (the EVSE): its values group the rows as they are
        key = out.comparable(records, what[0], rows).to_numpy(dtype=object)
    else:  # tuples, which a Series keeps whole
        key = pd.Series(list(zip(*(out.comparable(records, n, rows) for n in what), strict=True)) if what
                        else [()] * len(rows), index=rows, dtype=object).to_numpy(dtype=object)
    codes = pd.factorize(key)[0].astype(np.int64)
    at = np.flatnonzero(present.to_numpy(dtype=bool))
    starts, ends = (_day_numbers(records.loc[rows, name], out.distinct.get(name), at)
                    for name in (start_name, end_name))
    order = np.lexsort((ends, starts, codes))
    big = np.int64(10_000_000)  # above every day number: each group's running maximum starts afresh
    shifted_end = ends[order] + codes[order] * big
    running = np.maximum.accumulate(shifted_end)
    previous = np.concatenate(([np.int64(-1)], running[:-1]))
    same_group = np.concatenate(([False], codes[order][1:] == codes[order][:-1]))
    hit = same_group & (starts[order] + codes[order] * big <= previous)
    if not hit.any():
        return
    # The row that holds its group's latest end so far is one the hit overlaps (its start is before that end).
    n = len(order)
    holder = np.maximum.accumulate(np.where(shifted_end == running, np.arange(n), 0))
    partners: dict[int, set[int]] = {}
    for j in np.flatnonzero(hit):
        i, k = int(order[j]), int(order[holder[j - 1]])
        if (starts[i], ends[i]) == (starts[k], ends[k]):
            continue  # the same period twice: a duplicate, said already
        partners.setdefault(int(rows[i]), set()).add(int(rows[k]))
        partners.setdefault(int(rows[k]), set()).add(int(rows[i]))
    if not partners:
        return

    def period(r: int) -> str:
        start, end = (cast(date, records.at[r, n]) for n in (start_name, end_name))  # checked present above
        return f"{start:%d.%m.%Y}–{end:%d.%m.%Y}"

    def note(r: int) -> str:
        others = sorted(partners[r])
        listed = ", ".join(f"row {o} ({period(o)})" for o in others[:3]) + (
            f" and {len(others) - 3} more" if len(others) > 3 else "")
        words = " and ".join(resource.field(n).header for n in what)
        return f"the period {period(r)} overlaps {listed} of the same {words}: a kWh may be claimed once"

    out.add(sorted(partners), start_name, "overlapping-periods", note)


def _day_numbers(dates: pd.Series, distinct: tuple[np.ndarray, np.ndarray] | None, at: np.ndarray) -> np.ndarray:
    """Dates as day numbers, each distinct date (a period's start is shared by many rows) converted once; the column's
    distinct dates as its parser knew them (``distinct``), of which the dates are those at positions ``at``."""
    if distinct is not None:
        return _each_distinct(distinct[0][at], distinct[1], lambda taken: [d.toordinal() for d in taken]).astype(
            np.int64)
    codes, uniques = pd.factorize(dates.to_numpy(dtype=object))
    return np.array([d.toordinal() for d in uniques], dtype=np.int64)[codes]


def _duplicate_weak_keys(resource: Resource, records: pd.DataFrame, out: _Collector) -> None:
    """Rows without a reference that name the same operator (by its legal name): each would be created, or each
    would be taken for the other. A reference on every such row tells them apart."""
    if not resource.weak_key or not resource.reference:
        return
    present = pd.Series(True, index=records.index)
    for name in resource.weak_key:
        present &= out.given(records, name)
    if present.sum() < 2:
        return
    rows = present[present].index
    keys = pd.Series(list(zip(*(out.comparable(records, n, rows).str.casefold()
                                for n in resource.weak_key), strict=True)), index=rows, dtype=object)
    dup = keys.duplicated(keep=False)
    if not dup.any():
        return
    refs = records.loc[rows, resource.reference]
    groups: dict[Any, list[int]] = {}
    for r in dup[dup].index:
        groups.setdefault(keys[r], []).append(int(r))
    unreferenced = [r for r in dup[dup].index if is_blank(refs[r])]
    words = " and ".join(resource.field(n).header for n in resource.weak_key)
    out.add(unreferenced, resource.weak_key[0], "duplicate-without-reference",
            lambda r: f"{records.at[r, resource.weak_key[0]]!r} is in rows "
                      f"{', '.join(map(str, groups[keys[r]]))} (the same {words}); give each of these rows its own "
                      "reference, or remove the duplicate")


def _comparable(f: Field, values: pd.Series) -> pd.Series:
    """Text in the form values are compared in (DE*ABC*E1 is deabce1); other values as they are."""
    if f.type is not FieldType.STR:
        return values
    return pd.Series(parsing.each_text(_texts(values), f.comparable), index=values.index, dtype=object)


def _key_text(resource: Resource, record: pd.Series) -> str:
    """A natural key in words: DE*ABC*E1*1 for 01.01.2024–31.12.2024."""
    period = resource.period or ()
    text = " ".join(str(record[n]) for n in resource.natural_key if n not in period)
    if period and all(n in resource.natural_key for n in period):
        text += f" for {record[period[0]]:%d.%m.%Y}–{record[period[1]]:%d.%m.%Y}"
    return text


def _operator_references(ops: pd.Series, name: str, out: _Collector, operator_refs: set[str] | None,
                         operator_ids: set[int] | None) -> None:
    """An operator named by reference must be on the Operators sheet; by ID, one of the account's."""
    op_values = ops.to_numpy()
    if operator_refs is not None:
        unknown = pd.Series([isinstance(v, str) and v not in operator_refs for v in op_values], index=ops.index,
                            dtype=bool)
        out.add(unknown[unknown].index, name, "unknown-operator",
                lambda r: f"{ops[r]!r} is neither a QaaS operator ID nor a reference on the Operators sheet")
    if operator_ids is not None:
        unknown_ids = pd.Series([isinstance(v, int) and v not in operator_ids for v in op_values], index=ops.index,
                                dtype=bool)
        out.add(unknown_ids[unknown_ids].index, name, "unknown-operator",
                lambda r: f"operator {ops[r]} is not one of your account's operators")


def _duplicate_references(resource: Resource, records: pd.DataFrame, out: _Collector) -> None:
    if not resource.reference:
        return
    refs = records[resource.reference]
    present = out.given(records, resource.reference)
    if not present.any():
        return
    given = refs[present]
    texts = _texts(given)
    folded = parsing.each_stripped_text(texts, str.casefold) or [text.strip().casefold() for text in texts]
    if len(set(folded)) == len(folded):  # most sheets: every reference once
        return
    keys = pd.Series(folded, index=given.index, dtype=object)
    dup = keys.duplicated(keep=False)
    groups: dict[str, list[int]] = {}
    for r in dup[dup].index:
        groups.setdefault(keys[r], []).append(int(r))
    out.add(dup[dup].index, resource.reference, "duplicate-reference",
            lambda r: f"{refs[r]!r} is used more than once (rows {', '.join(map(str, groups[keys[r]]))}); "
                      "a reference must be unique")


def check_evse_id(value: Any) -> str:
    """"ok", or what is wrong with an EVSE ID (the worksheet function QAAS_CHECK_EVSE)."""
    result = validate(CHARGEPOINT, pd.DataFrame({"evse_id": [value]}, index=[1]))
    problems = [p for p in result.problems if p.field == "evse_id"]
    return problems[0].note if problems else "ok"


