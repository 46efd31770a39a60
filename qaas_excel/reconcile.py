"""Reconcile the workbook's charge point records against the service, to the kWh (for finance).

Rows and service records are matched by QaaS ID, then by your reference, then by EVSE ID and
period. Amounts are compared as exact decimals; totals are exact sums. Verdicts:

- ``in sync``              same amount, same status
- ``amount differs``       the kWh differ (the difference is service minus workbook)
- ``status changed``       same amount, but the service's status is not the one in the row
- ``only in workbook``     never pushed (no QaaS ID, nothing matching on the service)
- ``only on service``      a record of the account that no row refers to
- ``missing on service``   the row has a QaaS ID the service does not know
- ``invalid in workbook``  a push would refuse the row (validation, or its period overlaps a record of the same
                           EVSE): its amount is not counted
- ``claimed by two rows``  two rows have the same QaaS ID: neither amount is counted, the record is listed once
- ``QaaS ID of another record``  the row's EVSE ID, period or reference are another record's than its QaaS ID's
                           (rows sorted without their QaaS columns?): compared with the record it is

Totals count what a push would send: the amounts of invalid rows, and of rows that claim one record twice, are
left out of the workbook total.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from qaas_excel.api.client import FirstPage, QaasClient
from qaas_excel.csv_export import write_csv
from qaas_excel.pipeline import ListsAhead, OperatorDirectory, run_on_file, sheets_to_process, validate_table
from qaas_excel.problems import by_row
from qaas_excel.resources import CHARGEPOINT, OPERATOR, Resource
from qaas_excel.runlock import LOCK_WAIT_S
from qaas_excel.sync import Periods, canonical_value, fingerprints, identity_mismatch, natural_key, reference_of
from qaas_excel.values import decimal_text, jsonable
from qaas_excel.workbook.table import SheetTable, TableBook, WorkbookError
from qaas_excel.workbook.writeback import system_values

if TYPE_CHECKING:
    from qaas_excel.workbook.package_book import PackageBook

IN_SYNC = "in sync"
AMOUNT_DIFFERS = "amount differs"
STATUS_CHANGED = "status changed"
ONLY_IN_WORKBOOK = "only in workbook"
ONLY_ON_SERVICE = "only on service"
MISSING_ON_SERVICE = "missing on service"
INVALID_ROW = "invalid in workbook"
CLAIMED_TWICE = "claimed by two rows"
WRONG_RECORD = "QaaS ID of another record"
VERDICTS = (IN_SYNC, AMOUNT_DIFFERS, STATUS_CHANGED, ONLY_IN_WORKBOOK, ONLY_ON_SERVICE, MISSING_ON_SERVICE, INVALID_ROW,
            CLAIMED_TWICE, WRONG_RECORD)

KWH_PER_MWH = Decimal(1000)
NOT_PUSHED = "(not pushed)"

DETAIL_COLUMNS = [
    "verdict", "sheet", "row", "id", "service_id", "customer_reference", "operator", "evse_id", "period_start",
    "period_end", "workbook_kwh", "service_kwh", "difference_kwh", "difference_mwh", "workbook_status",
    "service_status", "note",
]


@dataclass
class ReconcileReport:
    book: str
    sheet: str
    detail: pd.DataFrame  # DETAIL_COLUMNS, exact Decimals
    by_status: pd.DataFrame
    by_operator: pd.DataFrame
    by_year: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)
    saved_to: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {v: int((self.detail["verdict"] == v).sum()) for v in VERDICTS if (self.detail["verdict"] == v).any()}

    @property
    def in_sync(self) -> bool:
        return bool((self.detail["verdict"] == IN_SYNC).all())

    @property
    def totals(self) -> dict[str, Decimal]:
        wb = _sum(self.detail["workbook_kwh"])
        svc = _sum(self.detail["service_kwh"])
        return {"workbook_kwh": wb, "service_kwh": svc, "difference_kwh": svc - wb,
                "workbook_mwh": wb / KWH_PER_MWH, "service_mwh": svc / KWH_PER_MWH}

    def to_csv(self) -> str:
        """The detail, one line per record, safe to open in Excel (the JSON keeps every value exact)."""
        return write_csv(DETAIL_COLUMNS, self.detail[DETAIL_COLUMNS].itertuples(index=False, name=None))

    def to_dict(self) -> dict[str, Any]:
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{str(k): jsonable(v) for k, v in row.items()} for row in frame.to_dict("records")]

        return {"book": self.book, "sheet": self.sheet, "in_sync": self.in_sync, "counts": self.counts,
                "totals": {k: decimal_text(v) for k, v in self.totals.items()},
                "by_status": records(self.by_status), "by_operator": records(self.by_operator),
                "by_year": records(self.by_year), "detail": records(self.detail), "stats": self.stats,
                "saved_to": self.saved_to}


def _sum(values: pd.Series) -> Decimal:
    return sum((v for v in values if isinstance(v, Decimal)), Decimal(0))


def _amount(v: Any) -> Decimal | None:
    if isinstance(v, Decimal):
        return v
    text = canonical_value(CHARGEPOINT.field("amount"), v)
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def reconcile_records(rows: list[dict[str, Any]], service: list[dict[str, Any]],
                      operator_names: dict[Any, str]) -> pd.DataFrame:
    """The detail table. ``rows``: dicts with row, id, status, the typed client fields, and ``problems`` (what a push
    would refuse the row for; such a row's amount is not counted).

    Every service record appears once. A row is matched by its QaaS ID when that record is the row's (its reference,
    EVSE ID and period agree), otherwise by what it is (reference, then EVSE ID and period).
    """
    by_id = {r["id"]: r for r in service}
    claims = Counter(row["id"] for row in rows if row.get("id") is not None)
    used: set[Any] = set()
    out: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []

    def op_name(value: Any) -> str:
        if value in operator_names:  # by QaaS ID, or by the operator's reference
            return operator_names[value]
        return "" if value is None else str(value)

    def take(record_id: Any) -> dict[str, Any] | None:
        record = by_id.get(record_id) if record_id not in used else None
        if record is not None:
            used.add(record_id)
        return record

    # fingerprints tell whether a row's QaaS ID is its record (worked out together: a column at a time)
    linked = [row for row in rows if row.get("id") in by_id]
    row_fps = {id(row): fp for row, fp in zip(linked, fingerprints(CHARGEPOINT, linked), strict=True)}
    service_fps = dict(zip(by_id, fingerprints(CHARGEPOINT, list(by_id.values())), strict=True))
    for row in rows:
        rec_id = row.get("id")
        if rec_id is not None and claims[rec_id] > 1:
            out.append(_detail(row, take(rec_id), CLAIMED_TWICE, op_name, counted=False))
        elif row.get("problems"):
            out.append(_detail(row, take(rec_id) if rec_id is not None else None, INVALID_ROW, op_name,
                               counted=False))
        elif rec_id is None:
            pending.append(row)
        elif rec_id not in by_id:
            out.append(_detail(row, None, MISSING_ON_SERVICE, op_name))
        elif identity_mismatch(CHARGEPOINT, row_fps[id(row)], service_fps[rec_id]):
            pending.append(row)  # the QaaS ID is another record's: matched below by what the row is
        else:
            record = take(rec_id)
            out.append(_detail(row, record, _compare(row, record) if record else MISSING_ON_SERVICE, op_name))

    free = [r for r in service if r["id"] not in used]
    by_ref = {ref: r for r in free if (ref := reference_of(CHARGEPOINT, r))}
    by_key = {k: r for r in free if (k := natural_key(CHARGEPOINT, r))}
    periods = Periods(CHARGEPOINT, service)
    for row in pending:
        ref = reference_of(CHARGEPOINT, row)
        record = by_ref.get(ref) if ref else None
        if record is None and (key := natural_key(CHARGEPOINT, row)):
            record = by_key.get(key)
        if record is not None and record["id"] in used:
            record = None
        if record is not None:
            used.add(record["id"])
        if row.get("id") is not None:
            out.append(_detail(row, record, WRONG_RECORD, op_name))
        elif record is not None:
            out.append(_detail(row, record, _compare(row, record), op_name))
        elif periods.overlapping(row):
            out.append(_detail(row, None, INVALID_ROW, op_name, counted=False))  # a push refuses it: a kWh twice
        else:
            out.append(_detail(row, None, ONLY_IN_WORKBOOK, op_name))
    for record in service:  # every record a row refers to by ID or matched is in `used`
        if record["id"] not in used:
            out.append(_detail(None, record, ONLY_ON_SERVICE, op_name))
    return pd.DataFrame(out, columns=DETAIL_COLUMNS, dtype=object)


def _compare(row: dict[str, Any], record: dict[str, Any]) -> str:
    if _amount(row.get("amount")) != _amount(record.get("amount")):
        return AMOUNT_DIFFERS
    if row.get("id") is not None and (row.get("status") or "") != (record.get("status") or ""):
        return STATUS_CHANGED
    return IN_SYNC


def _detail(row: dict[str, Any] | None, record: dict[str, Any] | None, verdict: str, op_name: Any, *,
            counted: bool = True) -> dict[str, Any]:
    src = row or record or {}
    wb = _amount(row.get("amount")) if row and counted else None
    svc = _amount(record.get("amount")) if record else None
    diff = (svc or Decimal(0)) - (wb or Decimal(0)) if verdict != IN_SYNC else Decimal(0)
    operator = (record or {}).get("chargepointoperator_id", src.get("chargepointoperator_id"))
    return {
        "verdict": verdict,
        "sheet": row.get("sheet") if row else None,
        "row": row.get("row") if row else None,
        "id": row.get("id") if row and row.get("id") is not None else (record or {}).get("id"),
        "service_id": (record or {}).get("id"),
        "customer_reference": src.get("customer_reference") or (record or {}).get("customer_reference"),
        "operator": op_name(operator),
        "evse_id": src.get("evse_id"),
        "period_start": src.get("period_start"),
        "period_end": src.get("period_end"),
        "workbook_kwh": wb,
        "service_kwh": svc,
        "difference_kwh": diff,
        "difference_mwh": diff / KWH_PER_MWH,
        "workbook_status": (row or {}).get("status") if row else None,
        "service_status": (record or {}).get("status"),
        "note": "; ".join(row.get("problems") or []) if row else "",
    }


def summarise(detail: pd.DataFrame, by: str) -> pd.DataFrame:
    """Counts and exact kWh/MWh sums per group (status, operator or year)."""
    frame = detail.copy()
    if by == "status":
        frame["group"] = [s if s else NOT_PUSHED for s in frame["service_status"]]
    elif by == "operator":
        frame["group"] = [o or "(none)" for o in frame["operator"]]
    else:
        frame["group"] = [d.year if isinstance(d, date) else "(no date)" for d in frame["period_start"]]
    rows = []
    for group, part in frame.groupby("group", sort=True, dropna=False):
        wb, svc = _sum(part["workbook_kwh"]), _sum(part["service_kwh"])
        rows.append({by: group, "records": len(part), "workbook_kwh": wb, "service_kwh": svc,
                     "difference_kwh": svc - wb, "service_mwh": svc / KWH_PER_MWH,
                     "differences": int((part["verdict"] != IN_SYNC).sum())})
    return pd.DataFrame(rows, columns=[by, "records", "workbook_kwh", "service_kwh", "difference_kwh",
                                       "service_mwh", "differences"], dtype=object)


def rows_of(table: SheetTable, operator_refs: set[str] | None = None) -> list[dict[str, Any]]:
    """The sheet's rows with typed values and what a push would refuse each for (validation's problems).

    ``operator_refs``: the operator references a push could resolve (the service's, and the Operators sheet's).
    """
    result = validate_table(table, operator_refs=operator_refs)
    problems = by_row(result.problems)
    system = system_values(table)
    out: list[dict[str, Any]] = []
    for label, values in result.records.to_dict("index").items():
        row = cast(int, label)  # the index: Excel rows
        out.append({"sheet": table.sheet, "row": row, "id": system.at[row, "id"], "status": system.at[row, "status"],
                    "problems": [p.message for p in problems.get(row, [])], **cast(dict[str, Any], values)})
    return out


def reconcile_book(book: TableBook, client: QaasClient, *, sheet: str | None = None) -> ReconcileReport:
    """Every charge point sheet of the workbook (or the one named) against the service's records."""
    names = [name for resource, name in sheets_to_process(book, sheet) if resource is CHARGEPOINT]
    if not names:
        raise WorkbookError(f"{book.name}: there is no charge point sheet to reconcile"
                            + (f" (sheet {sheet!r} holds operators)." if sheet else "."), path=book.name, sheet=sheet)
    def read(client: QaasClient, resource: Resource, first: FirstPage | None) -> list[dict[str, Any]]:
        return client.list(resource, first=first)  # all or an error: a total is never made of part of a list

    with ListsAhead(client, [OPERATOR, CHARGEPOINT], read) as lists:  # fetched while the workbook is read
        try:
            operator_sheets = [name for resource, name in sheets_to_process(book) if resource is OPERATOR]
        except WorkbookError:
            operator_sheets = []  # a workbook of charge points only: references resolve through the service alone
        tables = [book.read(OPERATOR, name) for name in operator_sheets]
        charge_points = [book.read(CHARGEPOINT, name) for name in names]
        service_operators = lists.take(OPERATOR)
        directory = OperatorDirectory(service_operators)
        for table in tables:
            directory.learn_sheet(table)
        rows = [row for table in charge_points for row in rows_of(table, directory.references())]
        service = lists.take(CHARGEPOINT)
    operators: dict[Any, str] = {}
    for op in service_operators:
        name = str(op.get("organization_name") or op["id"])
        operators[op["id"]] = name
        if op.get("customer_reference"):
            operators[str(op["customer_reference"])] = name
    detail = reconcile_records(rows, service, operators)
    return ReconcileReport(book.name, ", ".join(names), detail, summarise(detail, "status"),
                           summarise(detail, "operator"), summarise(detail, "year"), stats=client.stats.to_dict())


def reconcile_file(path: Path | str, client: QaasClient, *, sheet: str | None = None, output: Path | None = None,
                   wait: float = LOCK_WAIT_S) -> ReconcileReport:
    """Reconcile a workbook file and write its Reconciliation sheet, under the workbook's run lock."""

    def work(book: PackageBook, _journal: object) -> ReconcileReport:
        report = reconcile_book(book, client, sheet=sheet)
        book.write_reconciliation(report)
        return report

    return run_on_file(path, "reconcile", work, output=output, wait=wait)
