"""Worksheet functions: live QaaS data in cells.

A function never starts an interactive sign-in: without a cached sign-in it returns a text
asking to sign in from the QaaS tab. Lookups are batched: the first cell that needs charge
points fetches the whole list once (one list call) and every other cell recalculating within
``CACHE_TTL_S`` reads from that, so 1,000 ``QAAS_STATUS`` cells cost one request, not 1,000.
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

import xlwings as xw

from qaas_excel.api import errors
from qaas_excel.excel import session
from qaas_excel.resources import CHARGEPOINT, OPERATOR, Resource
from qaas_excel.validation import check_evse_id
from qaas_excel.values import as_id

CACHE_TTL_S = 60.0
SIGN_IN_TEXT = "Not signed in: sign in from the QaaS tab"


class _ListCache:
    """Whole-list snapshots per environment/account and resource, shared by all cells."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = {}

    def records(self, resource: Resource) -> list[dict[str, Any]]:
        client = session.client()
        key = (f"{client.env.name}|{client.env.base_url}|{session.account() or ''}", resource.name)
        with self._lock:  # one fetch while the other cells of a recalculation wait for it
            hit = self._data.get(key)
            if hit and time.monotonic() - hit[0] < CACHE_TTL_S:
                return hit[1]
            records = client.list(resource)
            self._data[key] = (time.monotonic(), records)
            return records

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


cache = _ListCache()


def _excel(value: Any) -> Any:
    """Values Excel can hold: numbers as float, UTC datetimes naive, the rest as text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date | int | float | str) or value is None:
        return value
    return str(value)


def _guard(func: Any) -> Any:
    """A cell shows a short text instead of a Python error."""

    def wrapper(*args: Any) -> Any:
        try:
            return func(*args)
        except errors.SignInRequired:
            return SIGN_IN_TEXT
        except errors.ForbiddenError:
            return "Access denied: this account is not a QaaS customer"
        except errors.UnreachableError:
            return "QaaS not reachable"
        except errors.IncompleteListError as exc:  # never a partial list or a total of some of the records
            return f"QaaS list incomplete: {exc.reason}"
        except errors.QaasError as exc:
            return f"QaaS error: {exc}"
        except (ValueError, TypeError) as exc:
            return f"Invalid argument: {exc}"

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    wrapper.__wrapped__ = func  # type: ignore[attr-defined]  # any function takes it; typeshed does not say
    # Keep the real signature so xlwings registers the right arguments.
    import inspect

    wrapper.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]  # as __wrapped__ above
    return wrapper


def _as_id(value: Any) -> int:
    record_id = as_id(value)
    if record_id is None:
        raise ValueError(f"{value!r} is not a QaaS ID")
    return record_id


def _by_id(resource: Resource) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in cache.records(resource)}


def _operator_id(operator: Any) -> int | None:
    """An operator given as QaaS ID or as your reference; empty means all."""
    if operator in (None, ""):
        return None
    try:
        return _as_id(operator)
    except ValueError:
        pass
    ref = str(operator).strip()
    key = OPERATOR.reference
    assert key is not None  # operators are named by their reference
    for op in cache.records(OPERATOR):
        if str(op.get(key) or "").strip() == ref:
            return cast(int, op["id"])
    raise ValueError(f"no operator with reference {ref!r}")


def _filtered(operator: Any, status: Any, year: Any) -> list[dict[str, Any]]:
    op_id = _operator_id(operator)
    wanted_status = str(status).strip() if status not in (None, "") else None
    wanted_year = int(float(year)) if year not in (None, "") else None
    out = []
    for rec in cache.records(CHARGEPOINT):
        if op_id is not None and rec.get(CHARGEPOINT.operator_field or "") != op_id:
            continue
        if wanted_status and rec.get("status") != wanted_status:
            continue
        start = rec.get(CHARGEPOINT.period[0]) if CHARGEPOINT.period else None
        if wanted_year is not None and not (isinstance(start, date) and start.year == wanted_year):
            continue
        out.append(rec)
    return out


def _table(resource: Resource, records: list[dict[str, Any]]) -> list[list[Any]]:
    header = [resource.field(c).header for c in resource.listing]
    return [header] + [[_excel(r.get(c)) for c in resource.listing] for r in records]


@xw.func
@_guard
def QAAS_STATUS(record_id: Any) -> Any:  # noqa: N802 - Excel function names are upper case
    """Status of a charge point record (created, sent_to_uba, ...), by QaaS ID."""
    record = _by_id(CHARGEPOINT).get(_as_id(record_id))
    return record.get("status") if record else "not found"


@xw.func
@_guard
def QAAS_RECORD(record_id: Any, field: str, resource: str = "chargepoint") -> Any:  # noqa: N802
    """Any field of a record by QaaS ID, e.g. =QAAS_RECORD(A2, "amount")."""
    res = OPERATOR if str(resource).strip().lower() in ("operator", "operators", "chargepointoperator") else CHARGEPOINT
    record = _by_id(res).get(_as_id(record_id))
    if record is None:
        return "not found"
    name = str(field).strip()
    if name not in record:
        headers = {f.header.casefold(): f.name for f in res.fields}
        name = headers.get(name.casefold(), name)
    if name not in record:
        raise ValueError(f"unknown field {field!r}")
    return _excel(record[name])


@xw.func
@_guard
def QAAS_OPERATORS() -> Any:  # noqa: N802
    """All operators of the account as a table (spills)."""
    return _table(OPERATOR, cache.records(OPERATOR))


@xw.func
@_guard
def QAAS_CHARGEPOINTS(operator: Any = None, status: Any = None, year: Any = None) -> Any:  # noqa: N802
    """Charge point records, optionally of one operator (ID or reference), status and year (spills)."""
    return _table(CHARGEPOINT, _filtered(operator, status, year))


@xw.func
@_guard
def QAAS_TOTAL(status: Any = None, operator: Any = None, year: Any = None) -> Any:  # noqa: N802
    """Total kWh of the matching charge point records (exact sum, shown as a number)."""
    quantity = CHARGEPOINT.quantity or ""
    total = sum((r[quantity] for r in _filtered(operator, status, year) if isinstance(r.get(quantity), Decimal)),
                Decimal(0))
    return float(total)


@xw.func
def QAAS_CHECK_EVSE(evse_id: Any) -> str:  # noqa: N802
    """Checks an EVSE ID's form locally (no network): "ok" or what is wrong."""
    return check_evse_id(evse_id)


# The worksheet functions, in the order their VBA stubs appear in qaas_excel.xlam (see excel/udf_stubs.py).
FUNCTIONS = (QAAS_STATUS, QAAS_RECORD, QAAS_OPERATORS, QAAS_CHARGEPOINTS, QAAS_TOTAL, QAAS_CHECK_EVSE)
