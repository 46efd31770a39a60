"""The worksheet functions for the Office add-in: a batch of cells' calls answered by ``excel/udfs.py``.

The add-in collects the calls Excel makes while it recalculates and sends them in one request; each is
answered by the same Python function the VBA stub calls, whose whole-list cache makes 1,000
``QAAS.STATUS`` cells one request to the service.
"""

from __future__ import annotations

import inspect
import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from qaas_excel.office.manifest import python_function, spills
from qaas_excel.workbook.json_book import excel_serial

log = logging.getLogger(__name__)

MAX_CALLS = 5_000  # per request: a recalculation of more cells arrives in several batches
MAX_ARGUMENT_CHARS = 1_000


def _cell(value: Any) -> Any:
    """A function's answer as Office.js can return it: numbers, text, booleans (dates as Excel serials)."""
    if value is None:
        return ""
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else ""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return excel_serial(value)
    return str(value)


def _arguments(func: Any, args: Any) -> list[Any] | str:
    if not isinstance(args, list):
        return "Invalid argument: expected a list of arguments"
    params = list(inspect.signature(func).parameters.values())
    if len(args) > len(params):
        return f"Invalid argument: {func.__name__} takes at most {len(params)} arguments"
    out = []
    for value in args:
        if value is not None and not isinstance(value, bool | int | float | str):
            return "Invalid argument: a function argument is a single value"
        if isinstance(value, str) and len(value) > MAX_ARGUMENT_CHARS:
            return "Invalid argument: text too long"
        out.append(value)
    while out and out[-1] is None and params[len(out) - 1].default is not inspect.Parameter.empty:
        out.pop()  # an omitted optional argument: the Python default applies, as with xlwings
    return out


def evaluate(calls: Any) -> list[Any]:
    """[{"id": "STATUS", "args": [5]}, ...] -> one answer per call, in order (a text where a call cannot run)."""
    if not isinstance(calls, list) or len(calls) > MAX_CALLS:
        raise ValueError(f"expected a list of at most {MAX_CALLS} calls")
    answers: list[Any] = []
    for call in calls:
        function_id = call.get("id") if isinstance(call, dict) else None
        func = python_function(function_id) if isinstance(function_id, str) else None
        if func is None:
            answers.append("Unknown QaaS function")
            continue
        args = _arguments(func, call.get("args", []))
        if isinstance(args, str):
            answers.append(args)
            continue
        try:
            result = func(*args)  # the udfs guard turns sign-in and service errors into the cell's text
        except Exception as exc:  # noqa: BLE001 - e.g. no sandbox configured: the cell says so, the batch goes on
            log.warning("worksheet function %s failed: %s", func.__name__, type(exc).__name__)
            answers.append(f"QaaS error: {exc}")
            continue
        if spills(func) and not isinstance(result, list):
            result = [[result]]  # a spilling function's message (e.g. not signed in) is a 1x1 table
        if isinstance(result, list):
            answers.append([[_cell(v) for v in row] for row in result] if result else [[""]])
        else:
            answers.append(_cell(result))
    return answers
