"""The records a sheet's rows are linked to, as the other sheets of a push see them (``pipeline._claims``)."""

from __future__ import annotations

import pandas as pd

from qaas_excel import pipeline
from qaas_excel.resources import CHARGEPOINT
from qaas_excel.workbook import columns as C
from qaas_excel.workbook.table import SheetTable


def test_a_sheets_claims_are_its_rows_qaas_ids_each_naming_the_sheet_and_row() -> None:
    ids = [41, None, "42", 43.0, "", "  44 "]
    rows = list(range(2, 2 + len(ids)))
    data = pd.DataFrame({C.ID: pd.Series(ids, index=rows, dtype=object)})
    table = SheetTable("x.xlsx", "Charge Points '25", CHARGEPOINT, 1, {C.ID: 13}, {}, data, rows[-1])
    assert pipeline._claims(table) == {41: "\"Charge Points '25\" row 2", 42: "\"Charge Points '25\" row 4",
                                       43: "\"Charge Points '25\" row 5", 44: "\"Charge Points '25\" row 7"}
