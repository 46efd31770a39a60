"""The companion's API end to end: real TLS, real msal sign-in, the real sandbox, the library's own lifecycle."""

from __future__ import annotations

import json
from pathlib import Path

from qaas_excel.journal import journal_path
from qaas_excel.pipeline import validate_file
from qaas_excel.resources import CHARGEPOINT, OPERATOR
from tests.office.model import BookModel


def _results(report: dict) -> dict[tuple[str, int], tuple[str, str]]:
    return {(s["sheet"], r["row"]): (r["result"], r["message"]) for s in report["sheets"] for r in s["rows"]}


def test_validate_gives_the_command_lines_results_and_messages_for_every_row(addin, demo_book: Path, tmp_path):
    book = BookModel.from_xlsx(demo_book)
    answer = addin.run("validate", book)
    cli = validate_file(demo_book)
    assert _results(answer["report"]) == {(s.sheet, o.row): (o.result.value, o.message)
                                          for s in cli.sheets for o in s.outcomes}
    assert answer["summary"].startswith("Validate finished.")


def test_push_creates_each_row_once_writes_ids_back_and_a_second_push_sends_nothing(addin, demo_book, sandbox):
    book = BookModel.from_xlsx(demo_book)
    first = addin.run("push", book)
    counts = first["report"]["counts"]
    ops, cps = sandbox.admin.records("operator"), sandbox.admin.records("chargepoint")
    assert counts.get("created") == len(ops) + len(cps) > 0
    ids = {v for v in book.column(CHARGEPOINT.sheet, "QaaS ID").values() if v}
    assert ids == {r["id"] for r in cps}
    assert {v for v in book.column(OPERATOR.sheet, "QaaS ID").values() if v} == {r["id"] for r in ops}

    sandbox.admin.reset_stats()
    second = addin.run("push", book)
    assert set(second["report"]["counts"]) <= {"unchanged", "invalid"}
    writes = {k: v for k, v in sandbox.admin.stats()["requests"].items() if not k.startswith("GET")}
    assert writes == {}
    assert len(sandbox.admin.records("chargepoint")) == len(cps)


def test_push_results_are_journaled_until_the_addin_says_they_are_saved(addin, demo_book, qaas_home):
    book = BookModel.from_xlsx(demo_book)
    journal = journal_path(str(demo_book))
    answer = addin.ok("/api/run/push", {"command": "push", "book": book.payload()})
    assert journal.exists() and journal.read_text().strip()
    book.apply(answer["instructions"])
    assert addin.ok("/api/settle", {"run": answer["run"], "applied": True, "saved": False}) == {
        "journal_cleared": False}
    assert journal.exists()
    again = addin.ok("/api/run/push", {"command": "push", "book": book.payload()})
    assert addin.ok("/api/settle", {"run": again["run"], "applied": True, "saved": True}) == {"journal_cleared": True}
    assert not journal.exists()


def test_tokens_never_reach_the_browser(addin, demo_book, qaas_home):
    from qaas_excel.excel import session

    token = session.client().tokens.token()
    book = BookModel.from_xlsx(demo_book)
    bodies = [addin.post("/api/status").text, json.dumps(addin.run("push", book)),
              addin.post("/api/functions", {"calls": [{"id": "STATUS", "args": [1]}]}).text,
              addin.post("/api/signin/status").text, addin.get("/taskpane.html").text]
    assert token and all(token not in b for b in bodies)
    assert all("refresh_token" not in b for b in bodies)
