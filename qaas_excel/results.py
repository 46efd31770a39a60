"""The result every row gets from a run, by name: the one list the workbook's colours, the template's
help and the command line's styles are keyed on."""

from __future__ import annotations

from enum import StrEnum


class Result(StrEnum):
    CREATED = "created"
    ADOPTED = "adopted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    LOCKED = "locked"
    CONFLICT = "conflict"
    MISMATCH = "mismatch"  # the row's data is another record's than the one its QaaS ID names (sorted rows?)
    DUPLICATE = "duplicate"  # created, but the service now holds the record twice (runs at the same moment)
    INVALID = "invalid"
    FAILED = "failed"
    VALID = "valid"  # dry run / validate: would be sent
    PULLED = "pulled"


# Each result's name, as the workbook and the report write it: a dict lookup, where ``.value`` is a Python call that
# a report of 200,000 rows would make several times a row.
NAMES: dict[Result, str] = {result: result.value for result in Result}

# Results that make a run exit with code 1: the user has something to look at.
ATTENTION = frozenset({Result.LOCKED, Result.CONFLICT, Result.MISMATCH, Result.DUPLICATE, Result.INVALID,
                       Result.FAILED})
