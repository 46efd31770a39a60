"""A problem with a row is data: where it is, what kind it is, and what to tell the user.

Local validation and the service's 400/422 answers both produce these, so the workbook
layer writes them back the same way whatever found them. As in frictionless' cell errors,
the message is rendered from the parts: the column as the user named it, then the note.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from openpyxl.utils.cell import get_column_letter

from qaas_excel.api.errors import BadRequestError, ErrorBody, RejectedError

# Codes of the service's rejections, by what the service meant.
SERVICE_FIELD = "service-field-error"  # 400: the service refused the value of one field
SERVICE_BAD_REQUEST = "service-bad-request"  # 400 about the record as a whole
SERVICE_REFUSED = "service-refused"  # 422: understood, but the service will not process the record


@dataclass(frozen=True, slots=True)  # 400,000 of them in a sheet of 200,000 invalid rows: no __dict__ each
class Problem:
    row: int | None  # the Excel row number (1-based, as the user sees it); None for the whole sheet/file
    field: str | None  # the API field name; None when the problem is about the row or file
    code: str  # a stable type code, e.g. "required", "not-a-number", "service-field-error"
    note: str  # what is wrong, in plain words, without naming the column
    sheet: str | None = None
    value: Any = None  # the value found wrong (the cell's, or the one sent), when there is one
    label: str | None = None  # the column as the user named it (its header)
    # The cell the problem is shown on, as Excel names it ("K2"): the field's cell in the row, or for a
    # merged range the range's first cell (a note never goes on a cell the merge hides). None: not a cell's.
    cell: str | None = None

    @property  # made when read (the Message column, a note, the report), not held: some 50 MiB at 400,000 problems
    def message(self) -> str:
        """What the user reads: "column K (Amount (kWh)): 0 must be greater than 0" (see ``column_labels``)."""
        return f"{_label_line(self.label)}: {self.note}" if self.label else self.note

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "code": self.code, "message": self.message, "note": self.note,
                "value": self.value, "sheet": self.sheet, "cell": self.cell}


def one_line(header: str) -> str:
    """A header as one line of text: a line break typed in the cell ("EVSE\nID") is a space ("EVSE ID")."""
    return " ".join(str(header).split())


_label_line = lru_cache(maxsize=1024)(one_line)  # a sheet's few column labels, asked for by every problem


def column_labels(headers: Mapping[str, str], columns: Mapping[str, int]) -> dict[str, str]:
    """How messages name each column of a sheet: "column K (Amount (kWh))", the letter a user looks for in Excel
    and the header as the sheet spells it, on one line. ``headers``/``columns``: a SheetTable's, by key."""
    return {key: f"column {get_column_letter(col)} ({one_line(headers.get(key, key))})"
            for key, col in columns.items() if col >= 1}


def count_by_code(problems: Iterable[Problem]) -> dict[str, int]:
    return dict(Counter(p.code for p in problems))


def by_row(problems: Iterable[Problem]) -> dict[int | None, list[Problem]]:
    out: dict[int | None, list[Problem]] = {}
    for p in problems:
        out.setdefault(p.row, []).append(p)
    return out


def from_rejection(exc: RejectedError, *, row: int | None, sheet: str | None, fields: Iterable[str],
                   headers: Mapping[str, str] | None = None, sent: Mapping[str, Any] | None = None) -> list[Problem]:
    """The problems a 400/422 answer names: one per field it names, one for the reason it gives.

    ``fields``: the resource's field names (a name the service uses that we do not know stays on the row);
    ``sent``: the values sent, so a problem carries the value the service refused.
    """
    known, headers, sent = set(fields), headers or {}, sent or {}
    field_code = SERVICE_FIELD if isinstance(exc, BadRequestError) else SERVICE_REFUSED
    out = [Problem(row, name if name in known else None, field_code, " ".join(messages), sheet, sent.get(name),
                   headers.get(name, name) or None)
           for name, messages in exc.fields.items()]
    reason = exc.reason.strip()
    if exc.fields and reason == ErrorBody(fields=exc.fields).summary():
        reason = ""  # a 422 without its own reason repeats its field messages as one
    if reason or not out:  # a refusal that names no field is still the row's problem
        code = SERVICE_BAD_REQUEST if isinstance(exc, BadRequestError) else SERVICE_REFUSED
        out.append(Problem(row, None, code, reason or str(exc), sheet))
    return out
