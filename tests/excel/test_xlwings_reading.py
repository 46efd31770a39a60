"""Excel (xlwings' remote engine) reads the rows of issue 18's workbooks as the headless backend does: a cell a
merge hides is empty, a table's totals row is not a row, the user's own "ID" and "Status" stay theirs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from qaas_excel.resources import CHARGEPOINT
from qaas_excel.workbook.package_book import PackageBook
from qaas_excel.workbook.xlwings_book import XlwingsBook
from tests.workbook.test_reading_parity import CASES


@pytest.mark.parametrize("case", ["merged-amount-xlsxwriter", "merged-across-xlsxwriter", "totals-xlsxwriter",
                                  "own-columns", "hidden-openpyxl"])
def test_excel_reads_the_same_rows(remote_book, tmp_path: Path, case: str) -> None:
    path = CASES[case](tmp_path / f"{case}.xlsx")
    table, headless = XlwingsBook(remote_book(path)).read(CHARGEPOINT), PackageBook.open(path).read(CHARGEPOINT)
    assert (table.header_row, table.columns, table.last_row, table.theirs) == \
        (headless.header_row, headless.columns, headless.last_row, headless.theirs)
    pd.testing.assert_frame_equal(table.data, headless.data)
