"""More rows than the template prepares (typed or pasted below its table), in both backends."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.templates import DEMO_OPERATORS, TEMPLATE_ROWS, write_template
from qaas_excel.workbook import columns as C

N = 2_000


def filled_template(path: Path, n: int = N) -> Path:
    """The empty template with one operator and ``n`` charge points written as a user's paste would."""
    write_template(path)
    wb = openpyxl.load_workbook(path)
    op_cols = {c.key: j for j, c in enumerate(C.columns_for(OPERATOR), start=1)}
    cp_cols = {c.key: j for j, c in enumerate(C.columns_for(CHARGEPOINT), start=1)}
    for key, value in DEMO_OPERATORS[0].items():
        if key in op_cols and value is not None:
            wb["Operators"].cell(2, op_cols[key], value)
    ws = wb["ChargePoints"]
    for i in range(n):
        row = {"customer_reference": f"R-{i:05d}", "chargepointoperator_id": DEMO_OPERATORS[0]["customer_reference"],
               "evse_id": f"DE*SWE*E{i:07d}*1", "street": "Teststraße 1", "zip_code": "01067", "town": "Dresden",
               "commissioning_date": datetime(2021, 6, 1), "max_power_kw": 22, "period_start": datetime(2024, 1, 1),
               "period_end": datetime(2024, 12, 31), "amount": 1000 + i}
        for key, value in row.items():
            ws.cell(2 + i, cp_cols[key], value)
    wb.save(path)
    return path


def test_a_headless_push_writes_rows_beyond_the_prepared_ones(sandbox, signed_in, tmp_path: Path) -> None:
    book = filled_template(tmp_path / "many.xlsx")
    assert N + 1 > TEMPLATE_ROWS + 1  # rows below the template's table, with no cells in the system block
    result = CliRunner().invoke(app, ["push", str(book), "--env", "sandbox", "--json", "--workers", "8"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["counts"] == {"created": N + 1}
    ws = openpyxl.load_workbook(book)["ChargePoints"]
    headers = [c.value for c in ws[1]]
    ids = [ws.cell(r, headers.index("QaaS ID") + 1).value for r in range(2, N + 2)]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == N
    assert ws.cell(N + 1, headers.index("Result") + 1).value == "created"
    [table] = ws.tables.values()
    assert table.ref.endswith(str(N + 1))  # the table grew over every row written
    result = CliRunner().invoke(app, ["push", str(book), "--env", "sandbox", "--json"], catch_exceptions=False)
    assert json.loads(result.stdout)["counts"] == {"unchanged": N + 1}


def test_the_template_lets_excel_users_type_below_the_prepared_rows(tmp_path: Path) -> None:
    ws = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx"))["ChargePoints"]
    assert ws.protection.sheet
    for j, col in enumerate(C.columns_for(CHARGEPOINT), start=1):
        dim = ws.column_dimensions[openpyxl.utils.get_column_letter(j)]
        assert dim.protection.locked is col.system, col.header  # input columns open as whole columns
        assert dim.number_format == col.number_format
    covered = {str(r) for dv in ws.data_validations.dataValidation for r in dv.sqref.ranges}
    assert any(r.endswith("1048576") for r in covered)
