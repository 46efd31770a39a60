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
    INVALID = "invalid"
    FAILED = "failed"
    VALID = "valid"  # dry run / validate: would be sent
    PULLED = "pulled"


# Results that make a run exit with code 1: the user has something to look at.
ATTENTION = frozenset({Result.LOCKED, Result.CONFLICT, Result.INVALID, Result.FAILED})
