"""What ordinary habits do to a workbook (issue 18): overlapping periods, copies of a workbook pushed at the same
moment, rows sorted without their QaaS columns. Each through the CLI on real files, the service's records counted
afterwards: a kWh claimed twice, or one record's data written into another's, must never happen."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.templates import DEMO_OPERATORS, build_workbook
from tests.reliability.test_conflicts_and_concurrency import _cols, push_process, rows

runner = CliRunner()
OPS, CPS = "Operators", "ChargePoints"


def run_json(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def cp(evse: str, start: datetime, end: datetime, amount: float, ref: str | None = None) -> dict:
    return {"customer_reference": ref, "chargepointoperator_id": "SW-DD", "evse_id": evse, "street": "Postplatz 1",
            "zip_code": "01067", "town": "Dresden", "commissioning_date": datetime(2021, 6, 1), "max_power_kw": 22,
            "period_start": start, "period_end": end, "amount": amount}


Y24, Y24E, H1E, Q3, Q3E = (datetime(2024, 1, 1), datetime(2024, 12, 31), datetime(2024, 6, 30),
                           datetime(2024, 7, 1), datetime(2024, 9, 30))


def book_of(path: Path, charge_points: list[dict], operators: list[dict] | None = None) -> Path:
    build_workbook(DEMO_OPERATORS[:1] if operators is None else operators, charge_points, size=0).save(path)
    return path


# --- 2. overlapping periods of one EVSE --------------------------------------------------------------

def test_overlapping_periods_of_one_evse_in_a_workbook_create_nothing(sandbox, signed_in, tmp_path: Path) -> None:
    book = book_of(tmp_path / "overlap.xlsx", [cp("DE*SWE*E1000001*1", Y24, Y24E, 1000),
                                               cp("DE*SWE*E1000001*1", Y24, H1E, 500),
                                               cp("DE*SWE*E1000002*1", Y24, Y24E, 700)])
    code, report = run_json("push", str(book), "--env", "sandbox")
    assert code == 1
    cps = next(s for s in report["sheets"] if s["sheet"] == CPS)
    assert cps["counts"] == {"invalid": 2, "created": 1}
    invalid = [r for r in cps["rows"] if r["result"] == "invalid"]
    assert {r["row"] for r in invalid} == {2, 3}
    assert all(p["code"] == "overlapping-periods" for r in invalid for p in r["problems"])
    assert "row 3 (01.01.2024–30.06.2024)" in invalid[0]["message"]
    assert [r["evse_id"] for r in sandbox.admin.records("chargepoint")] == ["DE*SWE*E1000002*1"]


def test_a_period_overlapping_a_record_already_on_the_service_is_refused(sandbox, signed_in, tmp_path: Path) -> None:
    first = book_of(tmp_path / "2024.xlsx", [cp("DE*SWE*E1000001*1", Y24, Y24E, 1000, ref="A-2024")])
    assert run_json("push", str(first), "--env", "sandbox")[0] == 0
    [record] = sandbox.admin.records("chargepoint")
    # another workbook (a colleague's, or a later quarter's) claims the third quarter of the same EVSE again
    second = book_of(tmp_path / "q3.xlsx", [cp("DEsweE1000001*1", Q3, Q3E, 250, ref="A-2024-Q3")])
    code, report = run_json("push", str(second), "--env", "sandbox")
    assert code == 1
    [row] = next(s for s in report["sheets"] if s["sheet"] == CPS)["rows"]
    assert row["result"] == "invalid" and row["problems"][0]["code"] == "overlap-on-service"
    assert f"record {record['id']} (01.01.2024–31.12.2024)" in row["message"]
    assert len(sandbox.admin.records("chargepoint")) == 1
    assert sandbox.admin.requests("POST /chargepoint") == 1  # only the first workbook's


# --- 3. two copies of one workbook pushed at the same moment ----------------------------------------

@pytest.mark.parametrize("sandbox", [{"auto_approve": True, "latency_ms": 40}], indirect=True)
def test_two_copies_of_a_workbook_pushed_at_once_create_each_record_once(sandbox, signed_in, qaas_home: Path,
                                                                         tmp_path: Path) -> None:
    n = 30
    original = book_of(tmp_path / "Abrechnung.xlsx",
                       [cp(f"DE*SWE*E{i:07d}*1", Y24, Y24E, 1000 + i) for i in range(n)],  # no references
                       operators=[{**DEMO_OPERATORS[0]}])
    copy = tmp_path / "Kopie von Abrechnung.xlsx"
    shutil.copy(original, copy)
    procs = [push_process(book, qaas_home, "--wait", "60") for book in (original, copy)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _out, err in outs]
    reports = [json.loads(out) for out, _err in outs]
    assert len(sandbox.admin.records("chargepoint")) == n
    assert len(sandbox.admin.records("operator")) == 1
    created = sorted(r["counts"].get("created", 0) for r in reports)
    assert created == [0, n + 1]  # one copy created everything; the other found it all there (adopted)
    assert sorted(r["counts"].get("adopted", 0) for r in reports) == [0, n + 1]
    # and each copy now holds the IDs: pushing either again sends nothing
    for book in (original, copy):
        ids = [i for (i,) in rows(book, CPS, "QaaS ID")]
        assert len(set(ids)) == n and None not in ids


def test_a_twin_created_elsewhere_at_the_same_moment_is_reported_loudly(sandbox, signed_in, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Another machine (which this machine's lock cannot see) creates the same record between our list and our
    create: the push says so with both record IDs and exits 1, never "created" with exit 0."""
    from qaas_excel.api.client import QaasClient

    book = book_of(tmp_path / "twin.xlsx", [cp("DE*SWE*E1000001*1", Y24, Y24E, 1000),
                                            cp("DE*SWE*E1000002*1", Y24, Y24E, 700)])
    assert run_json("push", str(book), "--env", "sandbox", "--sheet", OPS)[0] == 0
    [operator] = sandbox.admin.records("operator")
    real_create = QaasClient.create
    done: list[int] = []
    once = threading.Lock()

    def create_after_a_colleague(self, resource, values):
        with once:  # the colleague's run creates the first of our records just before we do
            if resource.name == "chargepoint" and not done:
                twin = sandbox.admin.create_record("chargepoint", **{
                    **{k: str(v) if isinstance(v, Decimal) else v for k, v in values.items()},
                    "period_start": "2024-01-01", "period_end": "2024-12-31", "commissioning_date": "2021-06-01",
                    "chargepointoperator_id": operator["id"]})
                done.append(twin["id"])
        return real_create(self, resource, values)

    monkeypatch.setattr(QaasClient, "create", create_after_a_colleague)
    code, report = run_json("push", str(book), "--env", "sandbox")
    assert code == 1
    rows_out = {r["row"]: r for r in next(s for s in report["sheets"] if s["sheet"] == CPS)["rows"]}
    duplicates = [r for r in rows_out.values() if r["result"] == "duplicate"]
    assert len(duplicates) == 1
    [dup] = duplicates
    assert str(done[0]) in dup["message"] and str(dup["id"]) in dup["message"]
    assert dup["problems"][0]["code"] == "twin-on-service"
    assert len(sandbox.admin.records("chargepoint")) == 3  # what the service holds: the twin is named, not hidden
    ws = openpyxl.load_workbook(book)[CPS]
    cols = _cols(ws)
    assert ws.cell(dup["row"], cols["QaaS ID"]).value == dup["id"]  # the row stays linked to the record it created
    assert ws.cell(dup["row"], cols["Result"]).value == "duplicate"


# --- 6. sorting only the user's columns -----------------------------------------------------------------

def _swap_rows(book: Path, sheet: str, a: int, b: int, headers: list[str]) -> None:
    wb = openpyxl.load_workbook(book)
    ws = wb[sheet]
    cols = _cols(ws)
    for h in headers:
        x, y = ws.cell(a, cols[h]), ws.cell(b, cols[h])
        x.value, y.value = y.value, x.value
    wb.save(book)


OPERATOR_INPUTS = ["Your reference", "Organization name", "Street", "Zip code", "Town", "Terms agreed (UTC)"]


def test_operators_sorted_without_their_qaas_columns_are_never_patched(sandbox, signed_in, tmp_path: Path) -> None:
    book = book_of(tmp_path / "ops.xlsx", [], operators=DEMO_OPERATORS[:3])
    assert run_json("push", str(book), "--env", "sandbox")[0] == 0
    before = {r["id"]: r for r in sandbox.admin.records("operator")}
    _swap_rows(book, OPS, 2, 4, OPERATOR_INPUTS)  # sorted by name, the grey columns left where they were
    sandbox.admin.reset_stats()
    code, report = run_json("push", str(book), "--env", "sandbox")
    assert code == 1
    results = {r["row"]: r for r in report["sheets"][0]["rows"]}
    assert results[2]["result"] == results[4]["result"] == "mismatch"
    assert "no longer belongs to record" in results[2]["message"] and "sorted" in results[2]["message"]
    assert results[3]["result"] == "unchanged"
    assert sandbox.admin.requests("PATCH /chargepointoperator/{id}") == 0
    assert {r["id"]: r for r in sandbox.admin.records("operator")} == before
    ws = openpyxl.load_workbook(book)[OPS]
    id_col = _cols(ws)["QaaS ID"]
    assert ws.cell(2, id_col).comment is not None  # the ID cell is marked, with a note
    letter = openpyxl.utils.get_column_letter(id_col)
    assert results[2]["problems"][0]["cell"] == f"{letter}2"
    assert results[2]["message"].startswith(f"column {letter} (QaaS ID): the data of this row")


def test_swapped_qaas_ids_of_charge_points_are_neither_unchanged_nor_pulled(sandbox, signed_in,
                                                                           tmp_path: Path) -> None:
    book = book_of(tmp_path / "cps.xlsx", [cp("DE*SWE*E1000001*1", Y24, H1E, 500, ref="A-H1"),
                                           cp("DE*SWE*E1000001*1", Q3, Q3E, 300, ref="A-Q3")])
    assert run_json("push", str(book), "--env", "sandbox")[0] == 0
    ids = dict(rows(book, CPS, "Your reference", "QaaS ID"))
    sandbox.admin.set_status("chargepoint", ids["A-H1"], "sent_to_uba")
    _swap_rows(book, CPS, 2, 3, ["QaaS ID"])  # the two rows now name each other's record
    sandbox.admin.reset_stats()
    code, report = run_json("push", str(book), "--env", "sandbox")
    assert code == 1
    cps = next(s for s in report["sheets"] if s["sheet"] == CPS)
    assert cps["counts"] == {"mismatch": 2}
    assert sandbox.admin.requests("PATCH /chargepoint/{id}") == 0
    code, report = run_json("pull", str(book), "--env", "sandbox", "--sheet", CPS)
    assert code == 1
    assert report["sheets"][0]["counts"] == {"mismatch": 2}
    statuses = dict(rows(book, CPS, "Your reference", "Status"))
    assert statuses == {"A-H1": "created", "A-Q3": "created"}  # the other record's sent_to_uba was not written
    amounts = {r["customer_reference"]: Decimal(r["amount"]) for r in sandbox.admin.records("chargepoint")}
    assert amounts == {"A-H1": Decimal("500"), "A-Q3": Decimal("300")}
