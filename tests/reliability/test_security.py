"""Security: no secret leaks anywhere after a full run; text never becomes a formula."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.pipeline import default_journal, push_book
from qaas_excel.workbook.openpyxl_book import OpenpyxlBook

runner = CliRunner()


def secrets_of(home: Path) -> list[str]:
    cache = json.loads((home / "token_cache.sandbox.bin").read_text())
    found = [v["secret"] for kind in ("AccessToken", "RefreshToken", "IdToken") for v in cache.get(kind, {}).values()]
    assert found
    return found


def test_no_token_or_secret_in_workbook_logs_journal_audit_or_messages(sandbox, signed_in, qaas_home: Path,
                                                                      demo_book: Path) -> None:
    fresh = demo_book.with_name("fresh.xlsx")
    fresh.write_bytes(demo_book.read_bytes())
    outputs = []
    for args in (["-v", "push", str(demo_book), "--env", "sandbox"], ["reconcile", str(demo_book), "--env", "sandbox"],
                 ["audit"], ["whoami", "--env", "sandbox"]):
        result = runner.invoke(app, args)
        outputs.append(result.stdout + result.stderr)
    from qaas_excel.api.client import connect

    sandbox.admin.reset()
    with connect(signed_in) as client:  # leave a journal behind, as a killed run would
        push_book(OpenpyxlBook.open(fresh), client, journal=default_journal(fresh))
    sandbox.admin.set_faults(fail_next=["500"])
    outputs.append(runner.invoke(app, ["operators", "list", "--env", "sandbox"]).stderr)  # an error message
    texts = list(outputs)
    with zipfile.ZipFile(demo_book) as z:
        texts.extend(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    for path in qaas_home.rglob("*"):
        # the token cache is where tokens belong; the sandbox server's own files are the service side
        if path.is_file() and not path.name.startswith(("token_cache", "sandbox")):
            texts.append(f"{path.name}: " + path.read_text("utf-8", "replace"))
    assert any("journal" in str(p) for p in qaas_home.rglob("*.jsonl"))
    for secret in secrets_of(qaas_home):
        leaks = [text[:300] for text in texts if secret in text]
        assert not leaks, leaks
    assert "Authorization" not in "".join(outputs)


def test_service_strings_that_look_like_formulas_stay_text(sandbox, signed_in, qaas_home: Path, tmp_path: Path) -> None:
    from qaas_excel.templates import DEMO_CHARGE_POINTS, DEMO_OPERATORS, build_workbook

    book = tmp_path / "inject.xlsx"
    evil = dict(DEMO_OPERATORS[0], organization_name='=HYPERLINK("http://evil.example","click")',
                customer_reference="@SUM(1)")
    build_workbook([evil], [dict(DEMO_CHARGE_POINTS[0], chargepointoperator_id="@SUM(1)")], size=0).save(book)
    runner.invoke(app, ["push", str(book), "--env", "sandbox"])
    runner.invoke(app, ["pull", str(book), "--env", "sandbox", "--add-missing"])
    with zipfile.ZipFile(book) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    formulas = [s[s.index("<f>") - 200:s.index("<f>") + 100] for s in sheets if "<f>" in s]
    assert not formulas, formulas
