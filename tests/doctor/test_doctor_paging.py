"""`doctor` tells whether the service pages its lists (its OpenAPI document and one real list call) and whether the
tool reads them whole; a service paged by parameters alone is a failure until `--apply` writes the [paging] block,
and then a copy of a pushed workbook is matched, not created again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app

runner = CliRunner()


def run_json(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def lists_check(report: dict) -> dict:
    return next(c for c in report["checks"] if c["check"] == "lists")


@pytest.mark.parametrize(("sandbox_paging", "summary"), [
    ("plain", "the service does not page its lists (one answer, 3 operators; no paging declared); the tool reads "
              "them whole"),
    ("drf:2", "the service pages its lists (Django REST framework pages: 2 operators on the first page, 3 in all); "
              "the tool follows every page to the end"),
    ("link:2", "the service pages its lists (Link headers: 2 operators on the first page, 3 in all); the tool "
               "follows every page to the end"),
    ("odata:2", "the service pages its lists (OData pages: 2 operators on the first page, 3 in all); the tool "
                "follows every page to the end"),
], indirect=["sandbox_paging"])
def test_doctor_says_whether_lists_are_paged_and_read_whole(sandbox, signed_in, demo_book: Path,
                                                            summary: str) -> None:
    run_json("push", str(demo_book), "--env", "sandbox")
    code, report = run_json("doctor", "--env", "sandbox")
    check = lists_check(report)
    assert check["status"] == "ok" and check["summary"] == summary
    assert code == 0
    access = next(c for c in report["checks"] if c["check"] == "access")
    assert access["summary"].startswith("200: the service knows this account (")


@pytest.mark.parametrize("sandbox_paging", ["offset:2"], indirect=True)
def test_a_service_paged_by_declared_parameters_fails_until_apply_writes_paging_then_push_is_whole(
        sandbox, signed_in, demo_book: Path, qaas_home: Path) -> None:
    fresh = demo_book.parent / "copy.xlsx"
    fresh.write_bytes(demo_book.read_bytes())
    code, report = run_json("push", str(demo_book), "--env", "sandbox")
    assert report["counts"] == {"created": 16, "invalid": 8}
    code, report = run_json("doctor", "--env", "sandbox")
    check = lists_check(report)
    assert code == 1 and check["status"] == "fail"
    assert check["summary"] == ("the service's document declares paging parameters (limit, offset) and its answers "
                                "carry no next link: the tool would read only the first page")
    assert check["details"]["first_page"]["records"] == 2

    suggested = runner.invoke(app, ["doctor", "--env", "sandbox", "--suggest"], catch_exceptions=False).stdout
    assert '[environments.sandbox.contract.paging]\noffset = "offset"\nsize = "limit"\npage_size = 100' in suggested
    applied = runner.invoke(app, ["doctor", "--env", "sandbox", "--apply"], catch_exceptions=False)
    assert applied.exit_code == 0, applied.stdout
    code, report = run_json("doctor", "--env", "sandbox")
    assert lists_check(report)["summary"].startswith("the lists come in pages by ?offset=0, 100, ... with limit=100")

    sandbox.admin.reset_stats()
    code, report = run_json("push", str(fresh), "--env", "sandbox")
    assert report["counts"] == {"adopted": 16, "invalid": 8}
    assert len(sandbox.admin.records("chargepoint")) == 13  # without the block: 11 created twice
    assert sandbox.admin.requests("GET /chargepoints") == 8  # 7 pages of 2 (the sandbox caps), then an empty one
