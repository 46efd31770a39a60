"""A problem with a row is data: where it is, what kind it is, and what to tell the user.

Local validation and the service's 400/422 answers both produce these, so the workbook
layer writes them back the same way whatever found them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    row: int | None  # the Excel row number (1-based, as the user sees it); None for the whole sheet/file
    column: str | None  # the API field name; None when the problem is about the row or file
    code: str  # a stable type code, e.g. "required", "not-a-number", "service-rejected"
    message: str  # plain words for the user, naming the column by its header
    sheet: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def count_by_code(problems: Iterable[Problem]) -> dict[str, int]:
    return dict(Counter(p.code for p in problems))


def by_row(problems: Iterable[Problem]) -> dict[int | None, list[Problem]]:
    out: dict[int | None, list[Problem]] = {}
    for p in problems:
        out.setdefault(p.row, []).append(p)
    return out
