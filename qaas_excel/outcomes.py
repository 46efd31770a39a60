"""What a run did with each row (its outcome; the result names are in ``results``), shared by every layer.

The planner (``sync``) produces outcomes, the workbook layer writes them back, the front ends count them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from qaas_excel.problems import Problem
from qaas_excel.results import ATTENTION, Result


@dataclass(slots=True)  # one a row, held until the run's report is made
class Outcome:
    row: int
    result: Result
    message: str = ""
    record: dict[str, Any] | None = None
    fingerprint: str | None = None  # None: leave the stored one as it is
    problems: Sequence[Problem] = ()  # one empty tuple shared by the rows without problems
    transient: bool = False  # failed because the service could not be reached or failed: try again later


def count_results(outcomes: Iterable[Outcome]) -> dict[str, int]:
    """How many rows had each result, in the order the results first appear. Counted in C by the results
    themselves, each named once: a result's ``.value`` is a Python call, and a report of 200,000 rows asked it four
    times a row."""
    return {result.value: n for result, n in Counter(map(attrgetter("result"), outcomes)).items()}


def needs_attention(outcomes: Iterable[Outcome]) -> bool:
    return any(o.result in ATTENTION for o in outcomes)
