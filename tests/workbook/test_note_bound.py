"""Notes on the first rows with problems only (issue 20): a sheet of 200,000 invalid rows got 400,000 notes, a drawn
shape each, and Excel could hardly open it. Every problem cell is still filled and every row's Message says what
is wrong; our notes beyond the bound, written by an earlier run, go."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from qaas_excel.pipeline import validate_file
from qaas_excel.templates import DEMO_OPERATORS, build_workbook
from qaas_excel.workbook import table as table_module
from qaas_excel.workbook.table import MAX_NOTED_ROWS


def invalid_rows(path: Path, n: int) -> Path:
    """n charge point rows, each with an EVSE ID of the wrong shape (one problem, one cell, per row)."""
    rows = [{"customer_reference": f"N-{i:05d}", "chargepointoperator_id": "SW-DD", "evse_id": f"SWE-{i}",
             "street": "Weg 1", "zip_code": "01067", "town": "Dresden", "commissioning_date": datetime(2021, 6, 1),
             "max_power_kw": 22, "period_start": datetime(2024, 1, 1), "period_end": datetime(2024, 12, 31),
             "amount": 1000 + i} for i in range(n)]
    build_workbook(DEMO_OPERATORS[:1], rows, size=0).save(path)
    return path


def _sheet_state(path: Path) -> tuple[set[int], list[int], dict[int, str | None], dict[int, str]]:
    """(rows with a note, data rows, row -> Message, row -> the EVSE cell's fill) of the charge point sheet."""
    ws = openpyxl.load_workbook(path)["ChargePoints"]
    header = {c.value: c.column for c in ws[1] if c.value}
    evse = next(col for text, col in header.items() if str(text).startswith("EVSE ID"))
    message = header["Message"]
    rows = list(range(2, ws.max_row + 1))
    noted = {c.row for line in ws.iter_rows(min_row=2) for c in line if c.comment is not None}
    return (noted, rows, {r: ws.cell(r, message).value for r in rows},
            {r: ws.cell(r, evse).fill.fgColor.rgb for r in rows})


def test_a_sheet_of_more_invalid_rows_than_the_bound_gets_notes_on_the_first_only_and_every_row_its_message(
        tmp_path: Path) -> None:
    path = invalid_rows(tmp_path / "many.xlsx", MAX_NOTED_ROWS + 50)
    report = validate_file(path)
    noted, rows, messages, fills = _sheet_state(path)
    assert noted == set(rows[:MAX_NOTED_ROWS])
    assert all(messages[r] and "EVSE ID" in str(messages[r]) for r in rows)
    assert {fills[r] for r in rows} == {"FFFFC7CE"}
    assert any(f"notes are on the cells of the first {MAX_NOTED_ROWS:,}" in n for n in report.notes)


def test_our_notes_beyond_the_bound_from_an_earlier_run_are_removed(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = invalid_rows(tmp_path / "few.xlsx", 8)
    validate_file(path)
    assert _sheet_state(path)[0] == set(range(2, 10))
    monkeypatch.setattr(table_module, "MAX_NOTED_ROWS", 5)
    report = validate_file(path)
    noted, rows, messages, fills = _sheet_state(path)
    assert noted == set(range(2, 7))
    assert all(messages[r] for r in rows) and {fills[r] for r in rows} == {"FFFFC7CE"}
    assert any("8 rows have problems; notes are on the cells of the first 5" in n for n in report.notes)


def test_marked_cells_gives_messages_to_the_noted_cells_only_and_marks_every_cell(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A cell's messages, each once, where it gets a note; every problem cell in the result, for its fill. A merged
    range's first cell (named by a later row's problem) counts from the first row it is marked for."""
    import pandas as pd

    from qaas_excel.problems import Problem
    from qaas_excel.resources import CHARGEPOINT
    from qaas_excel.workbook.table import SheetTable

    monkeypatch.setattr(table_module, "MAX_NOTED_ROWS", 2)
    table = SheetTable("b.xlsx", "ChargePoints", CHARGEPOINT, 1, {"evse_id": 3, "amount": 11}, {}, pd.DataFrame(), 9)
    marks = [Problem(2, "evse_id", "pattern", "wrong", label="EVSE ID"),
             Problem(2, "evse_id", "pattern", "wrong", label="EVSE ID"),  # the same message twice: once
             Problem(2, "amount", "not-positive", "below 0", label="Amount"),
             Problem(3, "evse_id", "pattern", "merged", label="EVSE ID", cell="C2"),  # a merge from row 2: noted
             Problem(4, "amount", "not-positive", "below 0", label="Amount"),
             Problem(6, "amount", "not-positive", "below 0", label="Amount"),  # beyond the first two rows
             Problem(None, "amount", "missing-column", "no column")]  # no cell: not marked
    messages, noted = table.marked_cells(marks)
    assert list(messages) == [(2, 3), (2, 11), (4, 11), (6, 11)]
    assert noted == {(2, 3), (2, 11), (4, 11)}
    assert messages[(2, 3)] == ["EVSE ID: wrong", "EVSE ID: merged"]
    assert messages[(2, 11)] == ["Amount: below 0"] and messages[(4, 11)] == ["Amount: below 0"]
    assert not messages[(6, 11)]
