"""Ribbon macros and worksheet functions against remote-engine books and the real sandbox."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from qaas_excel.excel import macros, session, udfs
from tests.excel.conftest import actions
from tests.pipeline.test_push_cli import list_reads


@pytest.fixture
def excel_env(signed_in, qaas_home: Path):
    session.save_settings(env="sandbox")
    udfs.cache.clear()
    yield signed_in
    session.reset_clients()
    udfs.cache.clear()


def alerts(book) -> list[str]:
    return [a["args"][0] for a in actions(book) if a["func"] == "alert"]


def headless_validation(path: Path) -> dict[str, dict[str, int]]:
    """Sheet -> result counts of the command line's validation of the same file."""
    from qaas_excel.pipeline import validate_book
    from qaas_excel.workbook.openpyxl_book import OpenpyxlBook

    return {s.sheet: dict(s.counts) for s in validate_book(OpenpyxlBook.open(path)).sheets}


def test_validate_macro_marks_rows_and_reports_in_a_message_box(remote_book, demo_book: Path, qaas_home) -> None:
    expected = headless_validation(demo_book)
    assert expected["ChargePoints"].get("invalid")  # the demo has mistakes to find
    book = remote_book(demo_book)
    report = macros.validate(book)
    assert {s.sheet: dict(s.counts) for s in report.sheets} == expected  # the same verdicts as the command line
    assert "ChargePoints" in alerts(book)[-1] and any(a["func"] == "addNote" for a in actions(book))


def test_push_macro_creates_and_writes_ids_with_few_calls(remote_book, demo_book: Path, sandbox, excel_env) -> None:
    expected = headless_validation(demo_book)
    book = remote_book(demo_book)
    report = macros.push(book)
    assert report.counts == {"created": sum(c.get("valid", 0) for c in expected.values()),
                             "invalid": sum(c.get("invalid", 0) for c in expected.values())}
    assert sandbox.admin.requests("POST /chargepoint") == expected["ChargePoints"]["valid"]
    assert len(actions(book)) < 60
    assert "Push finished" in alerts(book)[-1]


def test_push_selected_sends_only_those_rows(remote_book, demo_book: Path, sandbox, excel_env) -> None:
    empty = remote_book(demo_book)
    assert macros.push_selected(empty, rows=set(), sheet="Operators") is None  # nothing selected: nothing sent
    assert "Select the rows" in alerts(empty)[-1]
    assert sandbox.admin.requests("POST /chargepointoperator") == 0
    report = macros.push_selected(remote_book(demo_book), rows={2, 3}, sheet="Operators")
    assert report.counts == {"created": 2}
    assert sandbox.admin.requests("POST /chargepointoperator") == 2


def test_errors_reach_the_user_as_a_message_box_not_a_traceback(remote_book, demo_book: Path, sandbox,
                                                                qaas_home) -> None:
    session.save_settings(env="sandbox")  # but nobody signed in
    book = remote_book(demo_book)
    assert macros.push(book) is None
    assert "Sign in" in alerts(book)[-1]


@pytest.mark.both_sandboxes("link:5")
def test_functions_batch_lookups_one_list_call_for_a_thousand_cells(sandbox, excel_env, remote_book,
                                                                   demo_book: Path) -> None:
    macros.push(remote_book(demo_book))
    ids = [r["id"] for r in sandbox.admin.records("chargepoint")]
    sandbox.admin.reset_stats()
    statuses = [udfs.QAAS_STATUS(ids[i % len(ids)]) for i in range(1000)]
    assert set(statuses) == {"created"}
    api = {k: v for k, v in sandbox.admin.stats()["requests"].items() if " /chargepoint" in k}
    assert api == list_reads(sandbox, "chargepoint")  # one list read, whatever its pages
    assert udfs.QAAS_STATUS(999999) == "not found"
    assert udfs.QAAS_RECORD(ids[0], "Amount (kWh)") == float(sandbox.admin.records("chargepoint")[0]["amount"])
    table = udfs.QAAS_CHARGEPOINTS("SW-DD", "created", 2024)
    assert table[0][0] == "QaaS ID" and len(table) == 1 + 5
    total = sum(float(r["amount"]) for r in sandbox.admin.records("chargepoint"))
    assert udfs.QAAS_TOTAL() == pytest.approx(total)
    assert udfs.QAAS_OPERATORS()[0][2] == "Organization name"


def test_functions_never_prompt_without_a_sign_in(sandbox, qaas_home: Path) -> None:
    session.save_settings(env="sandbox")
    udfs.cache.clear()
    session.reset_clients()
    assert udfs.QAAS_STATUS(1) == udfs.SIGN_IN_TEXT
    assert udfs.QAAS_CHECK_EVSE("DE*ABC*E1234567*1") == "ok"  # local, no network


def test_sign_in_macro_shows_the_code_and_finishes_in_the_background(remote_book, demo_book: Path, sandbox,
                                                                    qaas_home: Path) -> None:
    import time

    from qaas_excel.api.auth import MsalSignIn

    session.save_settings(env="sandbox")
    book = remote_book(demo_book)
    code = macros.sign_in(book)
    assert code in alerts(book)[-1] and "/devicelogin" in alerts(book)[-1]
    deadline = time.monotonic() + 30
    while not MsalSignIn(sandbox.environment, home=qaas_home).accounts() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert MsalSignIn(sandbox.environment, home=qaas_home).accounts() == ["demo@qaas-sandbox.test"]


def test_new_workbook_is_a_fresh_copy_of_the_template(tmp_path: Path) -> None:
    import openpyxl

    path = macros.new_workbook_path(tmp_path / "QaaS")
    assert path.parent == tmp_path / "QaaS" and path.name.startswith("qaas-") and path.suffix == ".xlsx"
    assert openpyxl.load_workbook(path).sheetnames == ["Instructions", "Operators", "ChargePoints", "_qaas"]


def test_environment_choice_is_shared_by_macros_and_functions(remote_book, demo_book: Path, sandbox,
                                                              qaas_home: Path) -> None:
    book = remote_book(demo_book)
    assert macros.choose_environment(book, env="sandbox") == "sandbox"
    assert session.environment().base_url == sandbox.base_url
    assert "sandbox" in [a["args"][0] for a in actions(book) if a["func"] == "alert"][-1]


def test_the_ribbon_and_the_command_line_share_the_workbooks_run_lock(remote_book, demo_book: Path, sandbox,
                                                                      excel_env, monkeypatch) -> None:
    from qaas_excel.runlock import book_lock

    monkeypatch.chdir(demo_book.parent)  # the remote engine knows the book by name; Excel gives the full path
    book = remote_book(demo_book)
    with book_lock(demo_book, command="push"), monkeypatch.context() as m:
        m.setattr(macros, "book_lock", lambda path, command: book_lock(path, command=command, wait=0.2))
        assert macros.push(book) is None
    assert "busy" in alerts(book)[-1] and "push by process" in alerts(book)[-1]
    assert sandbox.admin.requests("POST /chargepointoperator") == 0


def test_overwrite_selected_sends_the_rows_values_over_a_conflict_only_when_the_user_says_yes(
        remote_book, demo_book: Path, sandbox, excel_env, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.pipeline.test_push_cli import cli, column, row_of, set_cell

    cli("push", str(demo_book), "--env", "sandbox")
    row = row_of(demo_book, "DD-001-2024")
    record_id = column(demo_book, "ChargePoints", "QaaS ID")[row]
    sandbox.admin.update_record("chargepoint", record_id, amount="9000.000")  # changed there ...
    set_cell(demo_book, "ChargePoints", "Amount (kWh)", row, 9500)  # ... and here: a conflict
    answers: list[str] = []
    real_alert = macros._alert

    def alert(book, text, **kwargs):
        if kwargs.get("buttons") == "yes_no":
            return answers.pop(0)
        return real_alert(book, text, **kwargs)

    monkeypatch.setattr(macros, "_alert", alert)
    sandbox.admin.reset_stats()
    answers.append("no")
    assert macros.overwrite_selected(remote_book(demo_book), rows={row}, sheet="ChargePoints") is None
    assert sandbox.admin.requests("PATCH /chargepoint/{id}") == 0
    answers.append("yes")
    report = macros.overwrite_selected(remote_book(demo_book), rows={row}, sheet="ChargePoints")
    assert report is not None and report.counts == {"updated": 1}
    [record] = [r for r in sandbox.admin.records("chargepoint") if r["id"] == record_id]
    assert Decimal(record["amount"]) == Decimal("9500")
