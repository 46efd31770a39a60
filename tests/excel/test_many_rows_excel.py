"""The xlwings backend writes rows the template never prepared (typed or pasted below its table)."""

from __future__ import annotations

from pathlib import Path

from qaas_excel.excel import macros
from tests.excel.conftest import actions
from tests.excel.test_macros_udfs import excel_env  # noqa: F401 - the fixture
from tests.pipeline.test_many_rows import N, filled_template


def test_the_xlwings_backend_writes_rows_beyond_the_prepared_ones(remote_book, sandbox, excel_env,  # noqa: F811
                                                                  tmp_path: Path) -> None:
    book = remote_book(filled_template(tmp_path / "many.xlsx"))
    report = macros.push(book)
    assert report.counts == {"created": N + 1}
    ids: dict[int, object] = {}  # Excel row -> the QaaS ID written there
    for a in actions(book):
        if a["func"] == "setValues" and a["sheet_position"] == 2:  # ChargePoints
            for i, line in enumerate(a["values"]):
                ids[a["start_row"] + 1 + i] = line[0]
    assert set(range(2, N + 2)) <= set(ids)  # every row, far below the 500 the template prepares
    assert all(isinstance(ids[r], int) for r in range(2, N + 2))
    assert sorted(ids[r] for r in range(2, N + 2)) == sorted(r["id"] for r in sandbox.admin.records("chargepoint"))


def test_a_hand_made_sheet_gets_the_system_block_in_excel_too(remote_book, sandbox, excel_env,  # noqa: F811
                                                              tmp_path: Path) -> None:
    import shutil

    from tests.reliability.test_foreign_workbooks import CORPUS_DIR

    path = tmp_path / "hand.xlsx"
    shutil.copyfile(CORPUS_DIR / "xlsxwriter_table.xlsx", path)
    book = remote_book(path)
    report = macros.push(book)
    assert report.counts == {"created": 8}
    assert any(n.startswith("ChargePoints: it had no columns for the results; added QaaS ID") for n in report.notes)
    header = [a for a in actions(book) if a["func"] == "setValues" and a["sheet_position"] == 1 and a["start_row"] == 0]
    assert header and header[0]["values"][0][:2] == ["QaaS ID", "Status"]
    first_new = header[0]["start_column"]
    ids = [a for a in actions(book) if a["func"] == "setValues" and a["sheet_position"] == 1
           and a["start_row"] > 0 and a["start_column"] == first_new]
    assert ids and sorted(line[0] for a in ids for line in a["values"]) == \
        sorted(r["id"] for r in sandbox.admin.records("chargepoint"))
