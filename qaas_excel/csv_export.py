"""CSV exports that are safe to open in Excel (the OWASP guidance on CSV injection).

A text field that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a live formula
for whoever opens the file in a spreadsheet (``=HYPERLINK(...)``, ``-2+3+cmd|' /C calc'!A0``); it is
written with a single quote in front, which spreadsheets show as text. Numbers stay numbers: a field
that *is* a number (an int or Decimal, or text that is nothing but a plain number such as ``-0.001``,
the way amounts come out of the audit trail) is written unchanged and unquoted, because a spreadsheet
reads it as that number and it cannot carry a formula. Every other field is quoted, so a ``;`` inside
a name cannot start a new cell when a German-locale Excel splits the line at semicolons.
The JSON exports are not touched: they carry every value exactly.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from qaas_excel.values import FORMULA_PREFIXES, decimal_text, is_missing

FORMULA_STARTS = (*FORMULA_PREFIXES, "\t", "\r")  # OWASP adds tab and carriage return for CSV
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class _Number(float):
    """A number the csv writer leaves unquoted, printed exactly as given (no float rounding)."""

    text: str

    def __new__(cls, text: str) -> _Number:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def csv_field(value: Any) -> Any:
    """One field as it is written: "" for nothing, numbers as exact numbers, formula-like text neutralised."""
    if is_missing(value):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | Decimal | float):
        return _Number(decimal_text(value) if isinstance(value, Decimal) else repr(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if _PLAIN_NUMBER.fullmatch(text):
        return _Number(text)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A whole CSV document (comma-separated, CRLF line ends as RFC 4180 says); write it with newline=""."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_field(v) for v in row])
    return buf.getvalue()
