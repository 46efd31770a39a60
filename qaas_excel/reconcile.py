"""Reconcile the workbook's charge point records against the service, to the kWh (for finance).

Rows and service records are matched by QaaS ID, then by your reference, then by EVSE ID and
period. Amounts are compared as exact decimals; totals are exact sums. Verdicts:

- ``in sync``              same amount, same status
- ``amount differs``       the kWh differ (the difference is service minus workbook)
- ``status changed``       same amount, but the service's status is not the one in the row
- ``only in workbook``     never pushed (no QaaS ID, nothing matching on the service)
- ``only on service``      a record of the account that no row refers to
- ``missing on service``   the row has a QaaS ID the service does not know
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd

from qaas_excel.api.client import QaasClient
from qaas_excel.csv_export import write_csv
from qaas_excel.pipeline import run_on_file, validate_table
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.runlock import LOCK_WAIT_S
from qaas_excel.sync import canonical_value, natural_key
from qaas_excel.values import decimal_text, jsonable
from qaas_excel.workbook.table import SheetTable, TableBook
from qaas_excel.workbook.writeback import system_values

IN_SYNC = "in sync"
AMOUNT_DIFFERS = "amount differs"
STATUS_CHANGED = "status changed"
ONLY_IN_WORKBOOK = "only in workbook"
ONLY_ON_SERVICE = "only on service"
MISSING_ON_SERVICE = "missing on service"
VERDICTS = (IN_SYNC, AMOUNT_DIFFERS, STATUS_CHANGED, ONLY_IN_WORKBOOK, ONLY_ON_SERVICE, MISSING_ON_SERVICE)

KWH_PER_MWH = Decimal(1000)
NOT_PUSHED = "(not pushed)"

DETAIL_COLUMNS = [
    "verdict", "row", "id", "customer_reference", "operator", "evse_id", "period_start", "period_end",
    "workbook_kwh", "service_kwh", "difference_kwh", "difference_mwh", "workbook_status", "service_status",
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
            return [{k: jsonable(v) for k, v in row.items()} for row in frame.to_dict("records")]

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
    """The detail table. ``rows``: dicts with row, id, status and the typed client fields."""
    by_id = {r["id"]: r for r in service}
    by_ref = {str(r.get("customer_reference")).strip(): r for r in service if r.get("customer_reference")}
    by_key = {k: r for r in service if (k := natural_key(CHARGEPOINT, r))}
    used: set[int] = set()
    out: list[dict[str, Any]] = []

    def op_name(value: Any) -> str:
        if value in operator_names:  # by QaaS ID, or by the operator's reference
            return operator_names[value]
        return "" if value is None else str(value)

    for row in rows:
        record = None
        if row.get("id") is not None:
            record = by_id.get(row["id"])
            if record is None:
                out.append(_detail(row, None, MISSING_ON_SERVICE, op_name))
                continue
        else:
            ref = str(row.get("customer_reference") or "").strip()
            record = by_ref.get(ref) if ref else None
            if record is None and (key := natural_key(CHARGEPOINT, row)):
                record = by_key.get(key)
            if record is not None and record["id"] in used:
                record = None
        if record is None:
            out.append(_detail(row, None, ONLY_IN_WORKBOOK, op_name))
            continue
        used.add(record["id"])
        wb_amount, svc_amount = _amount(row.get("amount")), _amount(record.get("amount"))
        if wb_amount != svc_amount:
            verdict = AMOUNT_DIFFERS
        elif row.get("id") is not None and (row.get("status") or "") != (record.get("status") or ""):
            verdict = STATUS_CHANGED
        else:
            verdict = IN_SYNC
        out.append(_detail(row, record, verdict, op_name))
    for record in service:  # every record a row refers to by ID or matched is in `used`
        if record["id"] not in used:
            out.append(_detail(None, record, ONLY_ON_SERVICE, op_name))
    return pd.DataFrame(out, columns=DETAIL_COLUMNS, dtype=object)


def _detail(row: dict[str, Any] | None, record: dict[str, Any] | None, verdict: str, op_name: Any) -> dict[str, Any]:
    src = row or record or {}
    wb = _amount(row.get("amount")) if row else None
    svc = _amount(record.get("amount")) if record else None
    diff = (svc or Decimal(0)) - (wb or Decimal(0)) if verdict != IN_SYNC else Decimal(0)
    operator = (record or {}).get("chargepointoperator_id", src.get("chargepointoperator_id"))
    return {
        "verdict": verdict,
        "row": row.get("row") if row else None,
        "id": (record or {}).get("id", src.get("id")),
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


def rows_of(table: SheetTable) -> list[dict[str, Any]]:
    """The sheet's rows with typed values; what cannot be read stays as it is (and counts as differing)."""
    result = validate_table(table)
    system = system_values(table)
    out = []
    for row, values in result.records.to_dict("index").items():
        raw_amount = table.data.at[row, "amount"] if "amount" in table.data else None
        values = dict(values)
        if values.get("amount") is None and raw_amount is not None:
            values["amount"] = raw_amount
        out.append({"row": row, "id": system.at[row, "id"], "status": system.at[row, "status"], **values})
    return out


def reconcile_book(book: TableBook, client: QaasClient, *, sheet: str | None = None) -> ReconcileReport:
    table = book.read(CHARGEPOINT, sheet or CHARGEPOINT.sheet)
    service = client.list(CHARGEPOINT)
    operators: dict[Any, str] = {}
    for op in client.list(OPERATOR):
        name = str(op.get("organization_name") or op["id"])
        operators[op["id"]] = name
        if op.get("customer_reference"):
            operators[str(op["customer_reference"])] = name
    detail = reconcile_records(rows_of(table), service, operators)
    return ReconcileReport(book.name, table.sheet, detail, summarise(detail, "status"), summarise(detail, "operator"),
                           summarise(detail, "year"), stats=client.stats.to_dict())


def reconcile_file(path: Path | str, client: QaasClient, *, sheet: str | None = None, output: Path | None = None,
                   wait: float = LOCK_WAIT_S) -> ReconcileReport:
    """Reconcile a workbook file and write its Reconciliation sheet, under the workbook's run lock."""

    def work(book: TableBook, _journal: object) -> ReconcileReport:
        report = reconcile_book(book, client, sheet=sheet)
        book.write_reconciliation(report)  # type: ignore[attr-defined]
        return report

    return run_on_file(path, "reconcile", work, output=output, wait=wait)
