"""Reconciliation to the kWh, and the audit trail of every write."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app
from tests.pipeline.test_push_cli import CPS, column, row_of, set_cell

runner = CliRunner()


def reconcile(book: Path) -> tuple[int, dict]:
    result = runner.invoke(app, ["reconcile", str(book), "--env", "sandbox", "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.both_sandboxes
def test_every_verdict_with_exact_totals_and_a_sheet_with_a_chart(sandbox, signed_in, demo_book: Path) -> None:
    runner.invoke(app, ["push", str(demo_book), "--env", "sandbox"], catch_exceptions=False)
    code, report = reconcile(demo_book)
    assert code == 1  # the invalid rows were never pushed, and a push would refuse them: not counted
    assert report["counts"] == {"in sync": 13, "invalid in workbook": 7}
    invalid = [d for d in report["detail"] if d["verdict"] == "invalid in workbook"]
    assert all(d["workbook_kwh"] is None and d["note"] for d in invalid)
    assert Decimal(report["totals"]["workbook_kwh"]) == Decimal(report["totals"]["service_kwh"])

    ids = column(demo_book, CPS, "QaaS ID")
    amount_row, status_row, gone_row = (row_of(demo_book, r) for r in ("DD-001-2024", "HH-001-2024", "M-001-2024"))
    sandbox.admin.update_record("chargepoint", ids[amount_row], amount="18234.511")  # 0.001 kWh less
    sandbox.admin.set_status("chargepoint", ids[status_row], "sent_to_uba")
    sandbox.admin.delete_record("chargepoint", ids[gone_row])
    from qaas_excel.api.client import connect
    from qaas_excel.resources import CHARGEPOINT

    with connect(signed_in) as client:
        extra = client.create(CHARGEPOINT, {
            "chargepointoperator_id": client.list(CHARGEPOINT)[0]["chargepointoperator_id"],
            "evse_id": "DE*SWE*E9999999*1", "street": "Neumarkt 1", "zip_code": "01067", "town": "Dresden",
            "commissioning_date": "2020-01-01", "max_power_kw": Decimal("22"), "period_start": "2024-01-01",
            "period_end": "2024-12-31", "amount": Decimal("100.25"), "customer_reference": "ONLY-SERVICE"}).record

    code, report = reconcile(demo_book)
    assert code == 1
    assert report["counts"] == {"in sync": 10, "amount differs": 1, "status changed": 1, "invalid in workbook": 7,
                                "only on service": 1, "missing on service": 1}
    detail = {(d["row"], d["verdict"]): d for d in report["detail"]}
    assert detail[(amount_row, "amount differs")]["difference_kwh"] == "-0.001"
    assert detail[(amount_row, "amount differs")]["difference_mwh"] == "-0.000001"
    [only] = [d for d in report["detail"] if d["verdict"] == "only on service"]
    assert only["id"] == extra["id"] and only["service_kwh"] == "100.25"
    # totals are exact sums of the service's amounts
    service_sum = sum(Decimal(r["amount"]) for r in sandbox.admin.records("chargepoint"))
    assert Decimal(report["totals"]["service_kwh"]) == service_sum
    by_status = {s["status"]: s for s in report["by_status"]}
    assert by_status["sent_to_uba"]["records"] == 1 and by_status["(not pushed)"]["records"] == 8

    wb = openpyxl.load_workbook(demo_book)
    ws = wb["Reconciliation"]
    assert ws._charts, "a native chart of kWh by status"
    assert {t.displayName for t in ws.tables.values()} >= {"QaasReconDetail", "QaasReconByStatus"}
    assert wb.sheetnames[:3] == ["Instructions", "Operators", "ChargePoints"]


def test_in_sync_exits_0_and_a_rerun_replaces_the_sheet(sandbox, signed_in, tmp_path: Path) -> None:
    from qaas_excel.templates import DEMO_CHARGE_POINTS, DEMO_OPERATORS, build_workbook

    book = tmp_path / "clean.xlsx"
    build_workbook(DEMO_OPERATORS[:3], DEMO_CHARGE_POINTS[:5], size=0).save(book)
    runner.invoke(app, ["push", str(book), "--env", "sandbox"], catch_exceptions=False)
    code, report = reconcile(book)
    assert code == 0 and report["in_sync"] and report["counts"] == {"in sync": 5}
    code, _ = reconcile(book)
    assert openpyxl.load_workbook(book).sheetnames.count("Reconciliation") == 1


def test_audit_holds_a_pair_per_write_with_old_and_new_values_and_no_token(sandbox, signed_in, demo_book: Path,
                                                                          qaas_home: Path) -> None:
    runner.invoke(app, ["push", str(demo_book), "--env", "sandbox"], catch_exceptions=False)
    row = row_of(demo_book, "DD-001-2024")
    set_cell(demo_book, CPS, "Amount (kWh)", row, 18000)
    runner.invoke(app, ["push", str(demo_book), "--env", "sandbox"], catch_exceptions=False)
    result = runner.invoke(app, ["audit", "--json"], catch_exceptions=False)
    entries = json.loads(result.stdout)
    writes = {}
    for e in entries:
        writes.setdefault(e["write_id"], []).append(e["phase"])
    assert len(writes) == 17 and all(phases == ["sending", "done"] for phases in writes.values())
    [patch] = [e for e in entries if e["method"] == "PATCH" and e["phase"] == "done"]
    assert patch["changes"] == {"amount": {"old": "18234.512", "new": "18000"}}
    assert patch["account"] == "demo@qaas-sandbox.test" and patch["environment"] == "sandbox"
    token = json.loads((qaas_home / "token_cache.sandbox.bin").read_text())["AccessToken"]
    secret = next(iter(token.values()))["secret"]
    assert secret not in (qaas_home / "audit.jsonl").read_text()
    csv = qaas_home / "audit.csv"
    runner.invoke(app, ["audit", "--csv", str(csv)], catch_exceptions=False)
    assert '"amount",18234.512,18000' in csv.read_text()  # text quoted, numbers as numbers


def test_each_service_record_is_listed_once_whether_matched_by_id_reference_or_not_at_all() -> None:
    from datetime import date

    from qaas_excel.reconcile import reconcile_records

    def cp(**values) -> dict:
        base = {"evse_id": None, "period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31),
                "customer_reference": None, "amount": Decimal("10"), "status": "created"}
        return {**base, **values}

    service = [cp(id=1, evse_id="DE*AAA*E1*1"), cp(id=2, evse_id="DE*AAA*E2*1", customer_reference="R-2"),
               cp(id=3, evse_id="DE*AAA*E3*1"), cp(id=4, evse_id="DE*AAA*E4*1", amount=Decimal("11"))]
    rows = [cp(row=2, id=1, evse_id="DE*AAA*E1*1"), cp(row=3, id=1, evse_id="DE*AAA*E1*1"),
            cp(row=4, id=None, status=None, customer_reference="R-2"),
            cp(row=5, id=None, status=None, evse_id="DE*AAA*E4*1"), cp(row=6, id=99, evse_id="DE*AAA*E9*1")]
    detail = reconcile_records(rows, service, {})
    verdicts = sorted(zip(detail["verdict"], detail["id"], detail["row"].fillna(0), strict=True))
    assert verdicts == [("amount differs", 4, 5), ("claimed by two rows", 1, 2), ("claimed by two rows", 1, 3),
                        ("in sync", 2, 4),
                        ("missing on service", 99, 6), ("only on service", 3, 0)]
