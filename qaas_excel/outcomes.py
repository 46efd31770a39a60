"""What a run did with each row (its outcome; the result names are in ``results``), shared by every layer.

The planner (``sync``) produces outcomes, the workbook layer writes them back, the front ends count them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from qaas_excel.problems import Problem
from qaas_excel.results import ATTENTION, Result


@dataclass
class Outcome:
    row: int
    result: Result
    message: str = ""
    record: dict[str, Any] | None = None
    fingerprint: str | None = None  # None: leave the stored one as it is
    problems: list[Problem] = field(default_factory=list)
    transient: bool = False  # failed because the service could not be reached or failed: try again later


def count_results(outcomes: Iterable[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result.value] = counts.get(o.result.value, 0) + 1
    return counts


def needs_attention(outcomes: Iterable[Outcome]) -> bool:
    return any(o.result in ATTENTION for o in outcomes)
