"""A workbook as the add-in sees it, in Python: what it sends to the companion and what the instructions do to it.

The JavaScript that really does this is tested against a fake Excel (tests/office/js); this model lets the
Python tests chain runs (push, then push again) exactly as the add-in would.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import column_index_from_string, coordinate_to_tuple


def _cell_out(value: Any) -> Any:
    if isinstance(value, datetime | date):
        d = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
        return {"date": d.isoformat(timespec="seconds")}
    return value


class BookModel:
    """Sheets as {(row, col): value}; fills and notes by cell."""

    def __init__(self, name: str, url: str = "") -> None:
        self.name, self.url = name, url
        self.sheets: dict[str, dict[tuple[int, int], Any]] = {}
        self.fills: dict[str, dict[tuple[int, int], str]] = {}
        self.notes: dict[str, dict[tuple[int, int], str]] = {}
        self.formats: dict[str, dict[tuple[int, int], str]] = {}
        self.hidden: dict[str, set[int]] = {}

    @classmethod
    def from_xlsx(cls, path: Path, *, url: str | None = None) -> BookModel:
        wb = openpyxl.load_workbook(path, data_only=True)
        model = cls(path.name, str(path) if url is None else url)
        for ws in wb.worksheets:
            cells = model.add_sheet(ws.title)
            for row in ws.iter_rows():
                for c in row:
                    if c.value is not None:
                        cells[(c.row, c.column)] = c.value
        return model

    def add_sheet(self, name: str) -> dict[tuple[int, int], Any]:
        self.sheets[name] = {}
        self.fills[name], self.notes[name], self.formats[name], self.hidden[name] = {}, {}, {}, set()
        return self.sheets[name]

    def payload(self, sheets: list[str] | None = None) -> dict[str, Any]:
        grids = {}
        for name, cells in self.sheets.items():
            if sheets is not None and name not in sheets:
                continue
            used = [k for k, v in cells.items() if v not in (None, "")]
            if not used:
                grids[name] = {"top": 1, "left": 1, "values": [[None]], "notes": []}
                continue
            top, left = min(r for r, _ in used), min(c for _, c in used)
            bottom, right = max(r for r, _ in used), max(c for _, c in used)
            values = [[_cell_out(cells.get((r, c))) if cells.get((r, c)) != "" else None
                       for c in range(left, right + 1)] for r in range(top, bottom + 1)]
            notes = [{"row": r, "col": c, "ours": text.startswith("qaas-excel:")}
                     for (r, c), text in self.notes[name].items()]
            grids[name] = {"top": top, "left": left, "values": values, "notes": notes}
        return {"name": self.name, "url": self.url, "sheets": list(self.sheets), "grids": grids}

    def apply(self, instructions: list[dict[str, Any]]) -> None:
        for op in instructions:
            sheet = op["sheet"]
            kind = op["op"]
            if kind == "replace_sheet":
                self.add_sheet(sheet)
            elif kind == "values":
                for i, line in enumerate(op["values"]):
                    for j, value in enumerate(line):
                        if value is not None:
                            self.sheets[sheet][(op["row"] + i, op["col"] + j)] = value if value != "" else None
                for i, line in enumerate(op.get("formats") or []):
                    for j, fmt in enumerate(line):
                        if fmt is not None:
                            self.formats[sheet][(op["row"] + i, op["col"] + j)] = fmt
            elif kind == "fill":
                for area in op["areas"]:
                    for cell in cells_of(area):
                        if op["color"]:
                            self.fills[sheet][cell] = op["color"]
                        else:
                            self.fills[sheet].pop(cell, None)
            elif kind == "note":
                self.notes[sheet][coordinate_to_tuple(op["cell"])] = op["text"]
            elif kind == "delete_note":
                del self.notes[sheet][coordinate_to_tuple(op["cell"])]
            elif kind == "hide_column":
                self.hidden[sheet].add(op["col"])
            else:
                raise AssertionError(f"unknown instruction {kind}")

    def column(self, sheet: str, header: str) -> dict[int, Any]:
        """Row -> value of the column headed ``header`` (header row found by the text)."""
        cells = self.sheets[sheet]
        for (r, c), v in cells.items():
            if isinstance(v, str) and v.rstrip(" *") == header:
                return {row: val for (row, col), val in cells.items() if col == c and row > r}
        raise KeyError(header)


def cells_of(area: str) -> list[tuple[int, int]]:
    first, _, last = area.partition(":")
    r1, c1 = coordinate_to_tuple(first)
    r2, c2 = coordinate_to_tuple(last) if last else (r1, c1)
    return [(r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)]


__all__ = ["BookModel", "cells_of", "column_index_from_string"]
