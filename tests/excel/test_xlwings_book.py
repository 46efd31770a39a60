"""The xlwings backend on the remote engine: what it would do to the workbook, and how few calls it makes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from qaas_excel.problems import Problem
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.templates import DEMO_CHARGE_POINTS, DEMO_OPERATORS, build_workbook
from qaas_excel.workbook.table import WriteBack
from qaas_excel.workbook.xlwings_book import XlwingsBook
from tests.excel.conftest import actions


def test_reads_the_table_like_the_headless_backend(remote_book, demo_book: Path) -> None:
    from qaas_excel.workbook.openpyxl_book import OpenpyxlBook

    xb = XlwingsBook(remote_book(demo_book))
    table = xb.read(CHARGEPOINT)
    headless = OpenpyxlBook.open(demo_book).read(CHARGEPOINT)
    assert table.columns == headless.columns and list(table.data.index) == list(headless.data.index)
    assert list(table.data["customer_reference"]) == list(headless.data["customer_reference"])
    assert xb.sheet_names() == ["Instructions", "Operators", "ChargePoints"]


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
    writes = [a for a in done if a["func"] == "setValues"]
    id_write = next(a for a in writes if a["start_column"] == table.columns["id"] - 1)
    assert id_write["values"] == [[335], [336]] and id_write["start_row"] == 1
    message_write = next(a for a in writes if a["start_column"] == table.columns["message"] - 1)
    assert message_write["values"][1] == ["'=cmd|' /C calc'!A0"]  # text, never a formula
    colours = [a for a in done if a["func"] == "setRangeColor"]
    assert any(a["args"] == ["#C6EFCE"] for a in colours) and any(a["args"] == ["#FFC7CE"] for a in colours)
    note = next(a for a in done if a["func"] == "addNote")
    assert "a value is required" in note["args"][1]


def test_a_10000_row_write_back_costs_a_few_dozen_operations(remote_book, tmp_path: Path) -> None:
    rows = [dict(DEMO_CHARGE_POINTS[0], customer_reference=f"R-{i}", evse_id=f"DE*SWE*E{i:07d}*1")
            for i in range(10_000)]
    path = tmp_path / "big.xlsx"
    build_workbook(DEMO_OPERATORS[:1], rows, size=0).save(path)
    book = remote_book(path)
    xb = XlwingsBook(book)
    table = xb.read(CHARGEPOINT)
    index = list(table.data.index)
    values = pd.DataFrame({"id": range(1, 10_001), "status": "created", "last_updated": None, "result": "created",
                           "message": "Created.", "synced_at": None, "fingerprint": "abc"}, index=index, dtype=object)
    start_ops, start_actions = xb.operations, len(actions(book))
    xb.write_back(table, WriteBack(values, pd.Series("created", index=index, dtype=object)))
    assert xb.operations - start_ops <= 30
    assert len(actions(book)) - start_actions <= 30
