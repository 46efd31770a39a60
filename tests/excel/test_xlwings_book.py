"""The xlwings backend on the remote engine: what it would do to the workbook, and how few calls it makes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from qaas_excel.problems import Problem
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.templates import DEMO_CHARGE_POINTS, DEMO_OPERATORS, build_workbook
from qaas_excel.workbook import table as table_module
from qaas_excel.workbook.table import WorkbookError, WriteBack
from qaas_excel.workbook.xlwings_book import (
    _PROTECTION_FLAGS,
    NOTE_HEADING,
    XlwingsBook,
    excel_value,
    note_text,
    python_value,
    row_runs,
)
from tests.excel.conftest import actions


def test_reads_the_table_like_the_headless_backend(remote_book, demo_book: Path) -> None:
    from qaas_excel.workbook.openpyxl_book import OpenpyxlBook

    xb = XlwingsBook(remote_book(demo_book))
    for resource in (OPERATOR, CHARGEPOINT):
        table = xb.read(resource)
        headless = OpenpyxlBook.open(demo_book).read(resource)
        assert (table.header_row, table.columns, table.headers, table.last_row) == \
            (headless.header_row, headless.columns, headless.headers, headless.last_row)
        pd.testing.assert_frame_equal(table.data, headless.data)  # same values, same Python types
    assert xb.sheet_names() == ["Instructions", "Operators", "ChargePoints"]


def written(done: list[dict]) -> dict[tuple[int, int], object]:
    """(Excel row, column) -> value, from the recorded value writes (actions count from 0)."""
    cells: dict[tuple[int, int], object] = {}
    for a in done:
        if a["func"] == "setValues":
            for i, line in enumerate(a["values"]):
                for j, value in enumerate(line):
                    cells[(a["start_row"] + 1 + i, a["start_column"] + 1 + j)] = value
    return cells


def filled(done: list[dict]) -> dict[tuple[int, int], object]:
    """(Excel row, column) -> fill colour last set, from the recorded colour writes."""
    cells: dict[tuple[int, int], object] = {}
    for a in done:
        if a["func"] == "setRangeColor":
            for i in range(a["row_count"]):
                for j in range(a["column_count"]):
                    cells[(a["start_row"] + 1 + i, a["start_column"] + 1 + j)] = a["args"][0]
    return cells


def test_write_back_values_colours_and_notes(remote_book, demo_book: Path) -> None:
    book = remote_book(demo_book)
    xb = XlwingsBook(book)
    table = xb.read(OPERATOR)
    values = pd.DataFrame({"id": {2: 335, 3: 336}, "result": {2: "created", 3: "invalid"},
                           "message": {2: "Created.", 3: "=cmd|' /C calc'!A0"}}, dtype=object)
    changes = WriteBack(values, pd.Series({2: "created", 3: "invalid"}, dtype=object),
                        [Problem(3, "town", "required", "Town: a value is required")])
    start = len(actions(book))
    xb.write_back(table, changes)
    done = actions(book)[start:]
    col = table.columns
    assert written(done) == {(2, col["id"]): 335, (3, col["id"]): 336,
                             (2, col["result"]): "created", (3, col["result"]): "invalid",
                             (2, col["message"]): "Created.",
                             (3, col["message"]): "'=cmd|' /C calc'!A0"}  # text, never a formula
    fills = filled(done)
    system = [c for k, c in col.items() if k in ("id", "last_updated", "result", "message", "synced_at",
                                                   "fingerprint")]
    assert {fills[(2, c)] for c in system} == {"#C6EFCE"} and {fills[(3, c)] for c in system} == {"#FFC7CE"}
    assert fills[(3, col["town"])] == "#FFC7CE" and (2, col["town"]) not in fills
    [note] = [a for a in done if a["func"] == "addNote"]
    assert note["args"] == ["$E$3", f"{NOTE_HEADING}\nTown: a value is required"]


def test_a_10000_row_write_back_costs_a_few_dozen_operations(remote_book, tmp_path: Path) -> None:
    rows = [dict(DEMO_CHARGE_POINTS[0], customer_reference=f"R-{i}", evse_id=f"DE*SWE*E{i:07d}*1")
            for i in range(10_000)]
    path = tmp_path / "big.xlsx"
    build_workbook(DEMO_OPERATORS[:1], rows, size=0).save(path)
    book = remote_book(path)
    xb = XlwingsBook(book)
    table = xb.read(CHARGEPOINT)
    assert xb.operations <= 5  # used range and values of _qaas and of the sheet, the sheet's tables
    index = list(table.data.index)
    values = pd.DataFrame({"id": range(1, 10_001), "status": "created", "last_updated": None, "result": "created",
                           "message": "Created.", "synced_at": None, "fingerprint": "abc"}, index=index, dtype=object)
    values.loc[index[5_000], "message"] = float("nan")  # one row without a new message splits the block
    start_ops, start_actions = xb.operations, len(actions(book))
    xb.write_back(table, WriteBack(values, pd.Series("created", index=index, dtype=object)))
    assert xb.operations - start_ops <= 30
    done = actions(book)[start_actions:]
    assert len(done) <= 30
    cells = written(done)
    ids, messages = table.columns["id"], table.columns["message"]
    assert [cells[(r, ids)] for r in index] == list(range(1, 10_001))
    assert (index[5_000], messages) not in cells and cells[(index[5_001], messages)] == "Created."
    assert {colour for (r, c), colour in filled(done).items()} == {"#C6EFCE"}


def test_earlier_marks_on_touched_rows_are_cleared_and_every_other_note_stays(remote_book, demo_book: Path) -> None:
    # town of rows 3 and 5; M3 is outside the table (a user's own column)
    book = remote_book(demo_book, notes={"Operators": ["E3", "E5", "M3"]})
    xb = XlwingsBook(book)
    table = xb.read(OPERATOR)
    town = table.columns["town"]
    assert town == 5 and max(table.columns.values()) < 13  # E, and M is not a table column
    start = len(actions(book))
    xb.write_back(table, WriteBack(pd.DataFrame({"result": {3: "valid"}}, dtype=object),
                                   pd.Series({3: "valid"}, dtype=object)))
    done = actions(book)[start:]
    assert [a["args"] for a in done if a["func"] == "deleteNote"] == [["$E$3"]]
    assert [cell for cell, colour in filled(done).items() if colour is None] == [(3, town)]


def test_a_users_own_note_is_never_overwritten(remote_book, demo_book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(XlwingsBook, "_is_ours", staticmethod(lambda note: False))  # as for a note the user wrote
    book = remote_book(demo_book, notes={"Operators": ["E3"]})
    xb = XlwingsBook(book)
    table = xb.read(OPERATOR)
    start = len(actions(book))
    xb.write_back(table, WriteBack(pd.DataFrame({"result": {3: "invalid", 4: "invalid"}}, dtype=object),
                                   marks=[Problem(3, "town", "required", "Town: a value is required"),
                                          Problem(4, "town", "required", "Town: a value is required")]))
    done = actions(book)[start:]
    assert not [a for a in done if a["func"] == "deleteNote"]
    assert [a["args"][0] for a in done if a["func"] == "addNote"] == ["$E$4"]
    assert filled(done)[(3, table.columns["town"])] == "#FFC7CE"


def write_town_problems(remote_book, tmp_path: Path, rows: int, *, second: bool = False) -> tuple[list, Any, list]:
    """``rows`` charge points without a town, each marked (the first twice with ``second``) and written back: the
    recorded actions, the table and its data rows."""
    lines = [dict(DEMO_CHARGE_POINTS[0], customer_reference=f"R-{i}", town=None) for i in range(rows)]
    path = tmp_path / "marks.xlsx"
    build_workbook(DEMO_OPERATORS[:1], lines, size=0).save(path)
    book = remote_book(path)
    xb = XlwingsBook(book)
    table = xb.read(CHARGEPOINT)
    index = list(table.data.index)
    marks = [Problem(r, "town", "required", "Town: a value is required") for r in index]
    if second:
        marks.append(Problem(index[0], "town", "pattern", "Town: second problem"))
    values = pd.DataFrame({"result": "invalid", "message": "Town: a value is required"}, index=index, dtype=object)
    start = len(actions(book))
    xb.write_back(table, WriteBack(values, pd.Series("invalid", index=index, dtype=object), marks))
    return actions(book)[start:], table, index


def test_problem_fills_are_one_call_per_run_of_rows_and_a_note_per_cell(remote_book, tmp_path: Path) -> None:
    done, table, _index = write_town_problems(remote_book, tmp_path, 500, second=True)
    fills = [a for a in done if a["func"] == "setRangeColor" and a["args"] == ["#FFC7CE"]]
    problem_fill = [a for a in fills if a["start_column"] == table.columns["town"] - 1]
    assert len(problem_fill) == 1 and problem_fill[0]["row_count"] == 500
    notes = [a for a in done if a["func"] == "addNote"]
    assert len(notes) == 500
    assert notes[0]["args"][1] == f"{NOTE_HEADING}\nTown: a value is required\nTown: second problem"


def test_nan_leaves_a_cell_alone_and_none_clears_it(remote_book, demo_book: Path) -> None:
    book = remote_book(demo_book)
    xb = XlwingsBook(book)
    table = xb.read(OPERATOR)
    values = pd.DataFrame({"message": {2: "ok", 3: float("nan"), 4: None, 5: "ok"}}, dtype=object)
    start = len(actions(book))
    xb.write_back(table, WriteBack(values))
    col = table.columns["message"]
    assert written(actions(book)[start:]) == {(2, col): "ok", (4, col): "", (5, col): "ok"}  # "" empties a cell


def test_write_conversions() -> None:
    berlin = timezone(timedelta(hours=2))
    assert excel_value(datetime(2024, 5, 1, 12, 0, tzinfo=berlin)) == datetime(2024, 5, 1, 10, 0)
    assert excel_value(pd.Timestamp("2024-05-01T12:00Z")) == datetime(2024, 5, 1, 12, 0)
    assert excel_value(Decimal("12.345")) == 12.345 and excel_value(np.int64(7)) == 7
    assert excel_value(Decimal("NaN")) == "NaN"
    assert excel_value(float("nan")) is None and excel_value(pd.NaT) is None
    assert [excel_value(t) for t in ("=1+1", "+49 30", "-5", "@x", "a=b")] == ["'=1+1", "'+49 30", "'-5", "'@x", "a=b"]


def test_whole_numbers_read_as_int_like_the_headless_backend() -> None:
    assert [python_value(v) for v in (335.0, 12.5, "01067", True, None)] == [335, 12.5, "01067", True, None]
    assert row_runs([8, 2, 3, 4, 7, 3]) == [(2, 4), (7, 8)]


class FakeNote:
    def __init__(self, author: str, text: str) -> None:
        self.author, self.text = author, text


def test_our_notes_are_known_by_author_or_heading_and_the_users_are_not() -> None:
    assert XlwingsBook._is_ours(FakeNote("qaas-excel", "Town: a value is required"))  # written headless
    assert XlwingsBook._is_ours(FakeNote("Erika Muster", note_text(["Town: a value is required"])))  # in Excel
    assert not XlwingsBook._is_ours(FakeNote("Erika Muster", "Checked with finance"))


class FakeSheetApi:
    """Enough of a COM Worksheet to follow protection: records Unprotect/Protect."""

    def __init__(self, *, password: bool = False) -> None:
        self.ProtectContents, self.ProtectDrawingObjects, self.ProtectScenarios = True, True, False
        self.Protection = SimpleNamespace(**{flag: flag in ("AllowSorting", "AllowFiltering")
                                            for flag in _PROTECTION_FLAGS})
        self.calls: list[tuple[str, dict]] = []
        self.password = password

    def Unprotect(self) -> None:  # noqa: N802 - COM names
        if self.password:
            raise RuntimeError("com_error: the password you supplied is not correct")
        self.calls.append(("Unprotect", {}))

    def Protect(self, **kwargs: object) -> None:  # noqa: N802
        self.calls.append(("Protect", kwargs))


def test_a_protected_sheet_is_unprotected_for_the_write_and_protected_again_as_it_was(
        remote_book, demo_book: Path) -> None:
    xb = XlwingsBook(remote_book(demo_book))
    xb.engine = "windows"  # the COM path, on a stand-in sheet
    sheet = SimpleNamespace(name="Operators", api=FakeSheetApi())
    settings = xb._unprotect(sheet)
    xb._protect(sheet, settings)
    assert [name for name, _ in sheet.api.calls] == ["Unprotect", "Protect"]
    again = sheet.api.calls[1][1]
    assert again["Contents"] is True and again["AllowSorting"] is True and again["AllowInsertingRows"] is False
    assert again["DrawingObjects"] is True and again["Scenarios"] is False
    locked = SimpleNamespace(name="Operators", api=FakeSheetApi(password=True))
    with pytest.raises(WorkbookError, match="protected with a password"):
        xb._unprotect(locked)


def test_save_is_a_no_op_on_the_remote_engine_and_skips_a_never_saved_book(remote_book, demo_book: Path) -> None:
    assert XlwingsBook(remote_book(demo_book)).save() is None
    saved: list[object] = []
    desktop = SimpleNamespace(name="Book1", fullname="Book1", impl=object(), save=lambda *a: saved.append(a))
    assert XlwingsBook(desktop).save() is None and saved == []
    desktop.fullname = "https://contoso.sharepoint.com/sites/x/Shared Documents/qaas.xlsx"
    assert XlwingsBook(desktop).save() is not None and saved == [()]


def test_the_excel_path_never_loads_the_licensed_remote_engine(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "XLWINGS_LICENSE_KEY"}
    env.update(HOME=str(tmp_path), USERPROFILE=str(tmp_path))  # no user config with a licence key either
    code = ("import sys, qaas_excel.cli, qaas_excel.excel.macros, qaas_excel.excel.udfs, "
            "qaas_excel.workbook.xlwings_book; "
            "print(sorted(m for m in sys.modules if m.startswith('xlwings.pro.') and m != 'xlwings.pro.utils'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    sources = Path(__file__).resolve().parents[2] / "qaas_excel"
    imports = re.compile(r"^\s*(from\s+xlwings\.pro|import\s+xlwings\.pro|from\s+xlwings\s+import\s+pro)", re.M)
    assert not [p for p in sources.rglob("*.py") if imports.search(p.read_text(encoding="utf-8"))]


def test_the_xlwings_backend_notes_the_first_rows_and_fills_every_problem_cell(
        remote_book, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_module, "MAX_NOTED_ROWS", 10)
    done, table, index = write_town_problems(remote_book, tmp_path, 25)
    town = table.columns["town"]
    fills = [a for a in done if a["func"] == "setRangeColor" and a["args"] == ["#FFC7CE"]
             and a["start_column"] == town - 1]
    assert sum(a["row_count"] for a in fills) == 25
    noted = [a["args"][0] for a in done if a["func"] == "addNote"]
    assert len(noted) == 10
    assert noted[0].endswith(f"${index[0]}") and noted[-1].endswith(f"${index[9]}")
