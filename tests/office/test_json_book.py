"""The Office backend's own rules: what it reads from the add-in's JSON and the instructions it writes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from qaas_excel.office.runs import book_key
from qaas_excel.pipeline import validate_book
from qaas_excel.resources import CHARGEPOINT
from qaas_excel.workbook import table as table_module
from qaas_excel.workbook.json_book import JsonBook, excel_serial, json_cell, read_cell
from qaas_excel.workbook.table import WorkbookError
from tests.office.model import BookModel
from tests.workbook.test_note_bound import invalid_rows

HAND_MADE = ["EVSE ID", "Operator", "Street", "Zip code", "Town", "Commissioning date", "Max power (kW)",
             "Period start", "Period end", "Amount (kWh)", "My own notes"]


def hand_made() -> BookModel:
    model = BookModel("hand.xlsx")
    cells = model.add_sheet("ChargePoints")
    for j, h in enumerate(HAND_MADE, start=1):
        cells[(1, j)] = h
    rows = [["DE*ABC*E1234567*1", 7, "Hauptstr. 1", "01067", "Dresden", datetime(2021, 6, 1), 22,
             datetime(2024, 1, 1), datetime(2024, 12, 31), 1000.5, "mine"],
            ["not an evse", 7, "Hauptstr. 2", "01067", "Dresden", datetime(2021, 6, 1), 22,
             datetime(2024, 1, 1), datetime(2024, 12, 31), "=1+1", "mine too"]]
    for i, line in enumerate(rows, start=2):
        for j, v in enumerate(line, start=1):
            cells[(i, j)] = v
    return model


def test_a_hand_made_sheet_gets_the_system_columns_right_of_its_own_the_fingerprint_hidden():
    model = hand_made()
    book = JsonBook.from_payload(model.payload())
    report = validate_book(book)
    model.apply(book.instructions)
    assert [model.sheets["ChargePoints"][(1, c)] for c in range(12, 19)][:2] == ["QaaS ID", "Status"]
    fingerprint_col = next(c for (r, c), v in model.sheets["ChargePoints"].items() if r == 1 and v ==
                           "_qaas_fingerprint")
    assert model.hidden["ChargePoints"] == {fingerprint_col}
    assert model.fills["ChargePoints"][(1, 12)] == "#7F7F7F"
    assert model.sheets["ChargePoints"][(2, 11)] == "mine"  # the user's own column untouched
    assert report.counts == {"valid": 1, "invalid": 1}
    assert any("added QaaS ID" in n for n in report.notes)


def test_dates_arrive_as_dates_and_leave_as_excel_serials_with_the_columns_format():
    assert read_cell({"date": "2024-12-31T00:00:00"}) == datetime(2024, 12, 31)
    assert read_cell(7.0) == 7 and isinstance(read_cell(7.0), int)
    assert json_cell(datetime(2024, 12, 31, 12)) == excel_serial(datetime(2024, 12, 31, 12)) == 45657.5
    assert json_cell(None) == "" and json_cell(float("nan")) is None
    assert json_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    book = JsonBook.from_payload(hand_made().payload())
    table = book.read(CHARGEPOINT)
    assert table.data.loc[2, "commissioning_date"] == datetime(2021, 6, 1)


def test_a_formula_like_value_is_read_as_the_text_the_add_in_sent():
    book = JsonBook.from_payload(hand_made().payload())
    assert book.read(CHARGEPOINT).data.loc[3, "amount"] == "=1+1"


@pytest.mark.parametrize(("payload", "key"), [
    ({"name": "a.xlsx", "url": "https://contoso.sharepoint.com/a.xlsx"}, "https://contoso.sharepoint.com/a.xlsx"),
    ({"name": "a.xlsx", "url": "C:\\Users\\me\\a.xlsx"}, "C:\\Users\\me\\a.xlsx"),
    ({"name": "a.xlsx", "url": "/Users/me/a.xlsx"}, "/Users/me/a.xlsx"),
    ({"name": "Book1", "url": ""}, "office://unsaved/Book1"),
    ({"name": "x", "url": "/etc/passwd"}, "office://unsaved/x"),
    ({"name": "../../x", "url": "/srv/../etc/a.xlsx"}, "office://unsaved/.._.._x"),
])
def test_the_lock_and_journal_key_is_the_workbooks_file_or_url_and_nothing_else(payload, key):
    assert book_key(payload) == key


def test_a_sheet_the_add_in_did_not_send_is_named_in_the_error():
    model = hand_made()
    model.add_sheet("Operators")
    payload = model.payload(sheets=["ChargePoints"])
    with pytest.raises(WorkbookError, match="did not send sheet 'Operators'"):
        JsonBook.from_payload(payload).read(CHARGEPOINT, "Operators")


def test_the_office_backend_notes_the_first_rows_and_fills_every_problem_cell(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_module, "MAX_NOTED_ROWS", 4)
    model = BookModel.from_xlsx(invalid_rows(tmp_path / "office.xlsx", 9))
    book = JsonBook.from_payload(model.payload())
    report = validate_book(book)
    model.apply(book.instructions)
    assert report.counts == {"valid": 1, "invalid": 9}  # the operator is valid
    notes = model.notes["ChargePoints"]
    assert {r for r, _ in notes} == set(range(2, 6))
    filled = {r for (r, _c), colour in model.fills["ChargePoints"].items() if colour == "#FFC7CE"}
    assert filled == set(range(2, 11))
    assert any("9 rows have problems; notes are on the cells of the first 4" in n for n in report.notes)
