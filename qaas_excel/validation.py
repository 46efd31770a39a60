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

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from qaas_excel import parsing
from qaas_excel.formatting import german_number
from qaas_excel.problems import Problem
from qaas_excel.resources import CHARGEPOINT, Field, FieldType, Resource


@dataclass
class ValidationResult:
    records: pd.DataFrame  # index: Excel rows; one column per client field, typed (Decimal/date/datetime/int/str)
    problems: list[Problem] = field(default_factory=list)

    @property
    def invalid_rows(self) -> set[int]:
        return {p.row for p in self.problems if p.row is not None}

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(p.code for p in self.problems))


def _parser(f: Field, resource: Resource) -> Any:
    if f.name == "zip_code":
        return parsing.parse_zip
    if f.name == "evse_id":
        return parsing.parse_evse
    if resource is CHARGEPOINT and f.name == "chargepointoperator_id":
        return parsing.parse_id_or_reference
    return {
        FieldType.DECIMAL: parsing.parse_decimal,
        FieldType.DATE: parsing.parse_date,
        FieldType.DATETIME: parsing.parse_datetime,
        FieldType.INT: parsing.parse_int,
        FieldType.STR: parsing.parse_text,
    }[f.type]


class _Collector:
    def __init__(self, resource: Resource, sheet: str | None, headers: dict[str, str] | None) -> None:
        self.resource, self.sheet, self.headers = resource, sheet, headers or {}
        self.problems: list[Problem] = []

    def header(self, name: str) -> str:
        return self.headers.get(name) or self.resource.field(name).header

    def add(self, rows: Iterable[int], column: str | None, code: str, message: Any) -> None:
        """``message``: a text, or a function of the row giving one."""
        for row in rows:
            text = message(row) if callable(message) else message
            label = self.header(column) if column else ""
            self.problems.append(Problem(int(row), column, code, f"{label}: {text}" if label else text, self.sheet))


def validate(resource: Resource, data: pd.DataFrame, *, sheet: str | None = None,
             headers: dict[str, str] | None = None, operator_refs: set[str] | None = None,
             operator_ids: set[int] | None = None, today: date | None = None) -> ValidationResult:
    """Check every row; ``data`` holds raw cell values (index: Excel rows, columns: field names).

    Charge points name their operator by QaaS ID or by reference: a reference must be in
    ``operator_refs`` (when given); an ID must be in ``operator_ids`` when that is given (None:
    any ID is accepted and the service will say if it is not yours).
    """
    today = today or datetime.now(UTC).date()
    out = _Collector(resource, sheet, headers)
    records = pd.DataFrame(index=data.index)
    failed: dict[str, pd.Series] = {}

    for f in resource.client_fields:
        if f.name not in data.columns:
            records[f.name] = pd.Series([None] * len(data), index=data.index, dtype=object)
            failed[f.name] = pd.Series(False, index=data.index)
            if f.required and len(data):
                out.problems.append(Problem(None, f.name, "missing-column",
                                            f"The required column '{f.header}' is missing.", sheet))
            continue
        parsed = _parser(f, resource)(data[f.name])
        records[f.name] = parsed.values
        failed[f.name] = parsed.failed
        bad = parsed.errors[parsed.failed]
        for row, (code, text) in bad.items():
            out.problems.append(Problem(int(row), f.name, code, f"{out.header(f.name)}: {text}", sheet))
        _field_rules(f, records[f.name], parsed.failed, out)

    if resource is CHARGEPOINT:
        _charge_point_rules(records, failed, out, today, operator_refs, operator_ids)
    _duplicate_references(records, out)
    out.problems.sort(key=lambda p: (p.row is not None, p.row or 0))
    return ValidationResult(records, out.problems)


def _shown(value: Decimal) -> str:
    """A number as the user typed it: 22 stays 22, 11.5 shows as 11,5."""
    return german_number(value, parsing.decimal_places(value))


def _field_rules(f: Field, values: pd.Series, failed: pd.Series, out: _Collector) -> None:
    empty = values.isna() & ~failed
    if f.required:
        out.add(empty[empty].index, f.name, "required", "a value is required")
    present = values.notna()
    if f.type is FieldType.STR and present.any():
        text = values[present].astype(str)
        if f.max_length:
            long = text.str.len() > f.max_length
            out.add(long[long].index, f.name, "too-long",
                    lambda r: f"{len(text[r])} characters; at most {f.max_length} are allowed")
        if f.regex is not None:
            ok = text.str.fullmatch(f.pattern)  # type: ignore[arg-type]
            out.add(ok[~ok].index, f.name, "pattern", lambda r: f"{text[r]!r} is not valid: expected {f.pattern_help}")
    if f.type is FieldType.DECIMAL and present.any():
        decimals = values[present]
        if f.decimals is not None:
            limit = -f.decimals
            many = pd.Series([d.as_tuple().exponent < limit and parsing.decimal_places(d) > f.decimals
                              for d in decimals.to_numpy()], index=decimals.index, dtype=bool)
            out.add(many[many].index, f.name, "too-many-decimals",
                    lambda r: f"{decimals[r]} has more than {f.decimals} decimal places")
        if f.positive:
            neg = pd.Series([d <= 0 for d in decimals.to_numpy()], index=decimals.index, dtype=bool)
            out.add(neg[neg].index, f.name, "not-positive",
                    lambda r: f"{_shown(decimals[r])} must be greater than 0")


def _charge_point_rules(records: pd.DataFrame, failed: dict[str, pd.Series], out: _Collector, today: date,
                        operator_refs: set[str] | None, operator_ids: set[int] | None) -> None:
    start, end = records["period_start"], records["period_end"]
    both = start.notna() & end.notna()
    if both.any():
        s = pd.to_datetime(start[both].astype(object))
        e = pd.to_datetime(end[both].astype(object))
        backwards = e < s
        out.add(backwards[backwards].index, "period_end", "period-order",
                lambda r: f"{end[r]:%d.%m.%Y} is before the period start {start[r]:%d.%m.%Y}")
        years = (s.dt.year != e.dt.year) & ~backwards
        out.add(years[years].index, "period_end", "period-years",
                lambda r: f"the period {start[r]:%d.%m.%Y}–{end[r]:%d.%m.%Y} spans two calendar years; "
                          "split it into one row per year")
        # amount <= max power x hours, exactly, in integer thousandths of a kWh
        amount, power = records["amount"], records["max_power_kw"]
        ok_rows = (~backwards).reindex(records.index, fill_value=False) & amount.notna() & power.notna()
        if ok_rows.any():
            hours = ((e - s).dt.days + 1).reindex(records.index) * 24
            amount_milli = parsing.to_milli(amount[ok_rows])
            power_milli = parsing.to_milli(power[ok_rows])
            limit_milli = power_milli * hours[ok_rows].astype("Int64")
            over = (amount_milli > limit_milli).fillna(False).astype(bool)
            out.add(over[over].index, "amount", "amount-above-capacity",
                    lambda r: f"{german_number(amount[r])} kWh is more than the charge point can deliver in the period "
                              f"({_shown(power[r])} kW × {german_number(int(hours[r]), 0)} h = "
                              f"{german_number(Decimal(int(limit_milli[r])) / 1000)} kWh)")
    commissioning = records["commissioning_date"]
    known = commissioning.notna()
    if known.any():
        future = pd.Series([d > today for d in commissioning[known].to_numpy()], index=commissioning[known].index,
                           dtype=bool)
        out.add(future[future].index, "commissioning_date", "commissioning-in-future",
                lambda r: f"{commissioning[r]:%d.%m.%Y} lies in the future")
    # the same EVSE in the same period twice
    evse = records["evse_id"]
    key_ok = evse.notna() & both
    if key_ok.any():
        f = CHARGEPOINT.field("evse_id")
        rows = key_ok[key_ok].index
        frame = pd.DataFrame({"evse": evse[rows].map(lambda v: f.comparable(str(v))), "start": start[rows],
                              "end": end[rows]})
        dup = frame.duplicated(keep=False)
        keys = pd.Series(list(zip(frame["evse"], frame["start"], frame["end"], strict=True)), index=rows, dtype=object)
        if dup.any():
            groups: dict[Any, list[int]] = {}
            for r in dup[dup].index:
                groups.setdefault(keys[r], []).append(int(r))
            out.add(dup[dup].index, "evse_id", "duplicate-evse-period",
                    lambda r: f"{evse[r]} for {start[r]:%d.%m.%Y}–{end[r]:%d.%m.%Y} appears more than once "
                              f"(rows {', '.join(map(str, groups[keys[r]]))})")
    # operator reference / id
    ops = records["chargepointoperator_id"]
    op_values = ops.to_numpy()
    if operator_refs is not None:
        unknown = pd.Series([isinstance(v, str) and v not in operator_refs for v in op_values], index=ops.index,
                            dtype=bool)
        out.add(unknown[unknown].index, "chargepointoperator_id", "unknown-operator",
                lambda r: f"{ops[r]!r} is neither a QaaS operator ID nor a reference on the Operators sheet")
    if operator_ids is not None:
        unknown_ids = pd.Series([isinstance(v, int) and v not in operator_ids for v in op_values], index=ops.index,
                                dtype=bool)
        out.add(unknown_ids[unknown_ids].index, "chargepointoperator_id", "unknown-operator",
                lambda r: f"operator {ops[r]} is not one of your account's operators")


def _duplicate_references(records: pd.DataFrame, out: _Collector) -> None:
    refs = records["customer_reference"]
    present = refs.notna()
    if not present.any():
        return
    keys = refs[present].astype(str).str.strip().str.casefold()
    dup = keys.duplicated(keep=False)
    if not dup.any():
        return
    groups: dict[str, list[int]] = {}
    for r in dup[dup].index:
        groups.setdefault(keys[r], []).append(int(r))
    out.add(dup[dup].index, "customer_reference", "duplicate-reference",
            lambda r: f"{refs[r]!r} is used more than once (rows {', '.join(map(str, groups[keys[r]]))}); "
                      "a reference must be unique")


def check_evse_id(value: Any) -> str:
    """"ok", or what is wrong with an EVSE ID (the worksheet function QAAS_CHECK_EVSE)."""
    result = validate(CHARGEPOINT, pd.DataFrame({"evse_id": [value]}, index=[1]))
    problems = [p for p in result.problems if p.column == "evse_id"]
    return problems[0].message.split(": ", 1)[1] if problems else "ok"


