"""A merged cell is never one value counted for several rows: a merged Amount claims nothing twice, a merge
across columns never reads one column's value as another's, and the note lands on the cell the user sees.

Through the CLI on files written by XlsxWriter and by openpyxl (from the template), against the sandbox, with
the service's records counted afterwards.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.resources import CHARGEPOINT
from tests.support.workbooks import by_openpyxl, by_xlsxwriter, charge_point, note_cells, position

runner = CliRunner()
CPS = CHARGEPOINT.sheet
H1 = {"period_start": datetime(2024, 1, 1), "period_end": datetime(2024, 6, 30)}
H2 = {"period_start": datetime(2024, 7, 1), "period_end": datetime(2024, 12, 31)}


def push(path: Path) -> tuple[int, dict]:
    result = runner.invoke(app, ["push", str(path), "--env", "sandbox", "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def merged(ranges: dict[str, object]):
    """An edit merging each range (its value in the first cell), on either writer's sheet."""
    def edit(wb, _ops, ws) -> None:
        for ref, value in ranges.items():
            if hasattr(wb, "add_format"):  # XlsxWriter
                (r1, c1), (r2, c2) = (position(part) for part in ref.split(":"))
                ws.merge_range(r1, c1, r2, c2, value)
            else:  # openpyxl: Excel allows no merge inside a table, so the sheet is a plain range, as users have it
                for name in list(ws.tables):
                    del ws.tables[name]
                ws[ref.split(":")[0]] = value
                ws.merge_cells(ref)
    return edit


WRITERS = {"xlsxwriter": by_xlsxwriter, "openpyxl": by_openpyxl}


def rows_of(report: dict) -> dict[int, dict]:
    return {r["row"]: r for s in report["sheets"] if s["sheet"] == CPS for r in s["rows"]}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_merged_amount_over_two_periods_claims_nothing_and_names_the_range(sandbox, signed_in, tmp_path: Path,
                                                                             writer: str) -> None:
    # two periods of one EVSE, the amount typed once into K2:K3: it must never become 500 + 500 kWh
    path = WRITERS[writer](tmp_path / "merged.xlsx", [charge_point(1, amount=None, **H1),
                                                      charge_point(2, evse_id="DE*SWE*E0000001*1", amount=None, **H2)],
                           edit=merged({"K2:K3": 500}))
    code, report = push(path)
    assert code == 1
    rows = rows_of(report)
    assert {r: rows[r]["result"] for r in rows} == {2: "invalid", 3: "invalid"}
    assert all("K2:K3 is merged over rows 2–3" in rows[r]["message"] for r in (2, 3))
    assert [p["cell"] for p in rows[3]["problems"]] == ["K2"]
    assert sandbox.admin.records("chargepoint") == []  # not one kWh claimed
    notes = note_cells(path, CPS)
    assert "K2:K3 is merged" in notes["K2"] and "K3" not in notes  # on the cell the user sees, never the hidden one


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_merge_across_street_and_zip_code_never_reads_the_street_as_the_zip_code(sandbox, signed_in,
                                                                                  tmp_path: Path, writer: str) -> None:
    path = WRITERS[writer](tmp_path / "across.xlsx", [charge_point(1), charge_point(2, street=None, zip_code=None)],
                           edit=merged({"D3:E3": "Hauptstr. 1"}))
    code, report = push(path)
    rows = rows_of(report)
    assert code == 1 and rows[2]["result"] == "created" and rows[3]["result"] == "invalid"
    assert "D3:E3 is merged over the columns 'Street', 'Zip code'" in rows[3]["message"]
    assert "is not valid" not in rows[3]["message"]  # the street is never checked as a zip code
    assert len(sandbox.admin.records("chargepoint")) == 1
    notes = note_cells(path, CPS)
    assert "D3:E3" in notes["D3"] and "E3" not in notes


def test_a_town_merged_over_the_periods_of_one_charge_point_is_each_periods_town(sandbox, signed_in,
                                                                                tmp_path: Path) -> None:
    # the one exception: a shareable field (resources.Field.shareable) merged down over rows of one EVSE ID
    rows = [charge_point(1, town=None, **H1), charge_point(2, evse_id="DE*SWE*E0000001*1", town=None, **H2)]
    path = by_xlsxwriter(tmp_path / "shared.xlsx", rows, edit=merged({"F2:F3": "Dresden", }))
    code, report = push(path)
    assert code == 0 and report["counts"] == {"created": 3}  # the operator and both periods
    records = sandbox.admin.records("chargepoint")
    assert sorted((r["town"], r["period_start"], Decimal(r["amount"])) for r in records) == [
        ("Dresden", "2024-01-01", Decimal(500)), ("Dresden", "2024-07-01", Decimal(500))]


def test_a_shareable_field_merged_over_two_charge_points_is_refused(sandbox, signed_in, tmp_path: Path) -> None:
    rows = [charge_point(1, max_power_kw=None), charge_point(2, max_power_kw=None)]  # two EVSE IDs
    path = by_xlsxwriter(tmp_path / "two.xlsx", rows, edit=merged({"H2:H3": 22}))
    code, report = push(path)
    assert code == 1 and [r["result"] for r in rows_of(report).values()] == ["invalid", "invalid"]
    assert sandbox.admin.records("chargepoint") == []
