"""Small conversions every layer needs, written once: times as UTC text, exact decimals as text,
missing and blank values, record ids typed into cells, formula-like text, the notes' author.

Nothing here knows about resources, the service or workbooks; everything may import it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

# The author of every note qaas-excel writes: only notes by this author are ever replaced or removed.
NOTE_AUTHOR = "qaas-excel"

# Text starting with one of these is a formula to Excel (and to other spreadsheets opening a CSV).
FORMULA_PREFIXES = ("=", "+", "-", "@")

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_text(value: datetime) -> str:
    """A point in time as the service writes it, "2024-01-15T09:30:00Z"; a naive time is taken as UTC."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).strftime(UTC_FORMAT)


def utc_now_text() -> str:
    return utc_text(datetime.now(UTC))


def decimal_text(value: Decimal) -> str:
    """An exact decimal as plain digits: 1E+3 is "1000", 1.500 stays "1.500"."""
    return format(value, "f")


def is_missing(value: Any) -> bool:
    """No value: None, NaN (float or numpy), NaT or pandas' NA; text, even blank, is a value."""
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float | np.floating) and value != value


def is_blank(value: Any) -> bool:
    """Missing, or text with nothing but white space: an empty cell as the user sees it."""
    return is_missing(value) or (isinstance(value, str) and not value.strip())


def jsonable(value: Any) -> Any:
    """A value JSON holds exactly: decimals as digits, aware times as UTC text, dates as ISO, missing as None."""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return utc_text(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return None if is_missing(value) else value


def json_default(value: Any) -> Any:
    """For ``json.dumps(default=...)``: what ``jsonable`` knows, else the value's text."""
    plain = jsonable(value)
    return str(value) if plain is value else plain


def as_id(value: Any) -> int | None:
    """A QaaS ID as a cell may hold it (12, 12.0, "12", " 12.0 "); None when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    return int(text) if text.isascii() and text.isdigit() else None


def is_formula_like(value: Any) -> bool:
    """Text a spreadsheet would run as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


TIMES_HELD = 4096  # different times a run converts once (a last update many records share, the run's own time)


def converted_once(times: dict[datetime, Any], when: datetime, convert: Callable[[datetime], Any], *,
                   naive: bool) -> Any:
    """``convert(when)``, remembered in ``times`` for the next time equal to it, up to ``TIMES_HELD`` times. Only
    where equal means the same: a fixed offset (UTC among them), and times without a zone if ``naive`` (when
    ``convert`` reads only their clock). In a zone with summer time two times an hour apart, in the hour that comes
    twice, compare equal; a time without a zone made UTC by the machine's zone may be such a time."""
    held = type(when.tzinfo) is timezone or (naive and when.tzinfo is None)
    got = times.get(when) if held else None
    if got is None:
        got = convert(when)
        if held and len(times) < TIMES_HELD:
            times[when] = got
    return got
