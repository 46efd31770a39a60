"""Text from the service, the workbook and the command line is printed as text: never read as terminal markup,
never a traceback, always the documented exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.cli._app import console, err_console
from qaas_excel.templates import DEMO_CHARGE_POINTS, DEMO_OPERATORS, build_workbook

runner = CliRunner()

# rich markup tags, a lone closing tag, brackets, an emoji code, and a trailing backslash (a Windows folder)
HOSTILE_NAMES = ["ACME [/] GmbH", "[bold]Fett[/bold] AG", "Klammer [ ] und ] GmbH", "Smile :thumbs_up: AG",
                 "x [red]rot [link=https://example.com]y", "Ablage C:\\Daten\\"]
HOSTILE_FILES = ["a[/]b.xlsx", "[bold]x.xlsx", "[red]c[/red] [/].xlsx"]


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal wide enough that no name or path is folded across lines."""
    monkeypatch.setattr(console, "_width", 300)
    monkeypatch.setattr(err_console, "_width", 300)


def operator(sandbox, name: str, reference: str, **fields: str) -> dict:
    values = {"organization_name": name, "customer_reference": reference, "street": "Weg [/] 1",
              "zip_code": "01067", "town": "Dresden [b]", "terms_agreed": "2024-01-15T09:30:00Z", **fields}
    return sandbox.admin.create_record("operator", **values)


def test_operators_list_and_show_print_every_name_literally(sandbox, signed_in, wide) -> None:
    created = [operator(sandbox, name, f"[R{i}]") for i, name in enumerate(HOSTILE_NAMES)]
    listed = cli("operators", "list", "--env", "sandbox")
    assert listed.exit_code == 0, listed.output
    for name in HOSTILE_NAMES:
        assert name in listed.stdout
    assert "[R0]" in listed.stdout and "Weg [/] 1" in listed.stdout
    for record in created:
        shown = cli("operators", "show", str(record["id"]), "--env", "sandbox")
        assert shown.exit_code == 0 and record["organization_name"] in shown.stdout
        as_json = json.loads(cli("operators", "show", str(record["id"]), "--env", "sandbox", "--json").stdout)
        assert as_json["organization_name"] == record["organization_name"]  # the object, not a list


def test_chargepoints_list_and_show_print_references_and_streets_literally(sandbox, signed_in, wide) -> None:
    op = operator(sandbox, "ACME [/] GmbH", "OP-1")
    records = [sandbox.admin.create_record(
        "chargepoint", chargepointoperator_id=op["id"], customer_reference=ref, evse_id=f"DE*ACM*E000000{i}*1",
        street=f"[bold]Straße[/] {i}", zip_code="01067", town="[/]", commissioning_date="2021-06-01",
        max_power_kw="22", period_start="2024-01-01", period_end="2024-12-31", amount="100.5", status="created")
        for i, ref in enumerate(["[/]", "[bold]R-1", "R-2\\"])]
    listed = cli("chargepoints", "list", "--env", "sandbox")
    assert listed.exit_code == 0, listed.output
    for ref in ("[/]", "[bold]R-1", "R-2\\", "[bold]Straße[/] 0"):
        assert ref in listed.stdout
    shown = json.loads(cli("chargepoints", "show", str(records[1]["id"]), "--env", "sandbox", "--json").stdout)
    assert shown["customer_reference"] == "[bold]R-1" and shown["id"] == records[1]["id"]


def test_a_conflicting_push_with_a_markup_name_prints_it_and_exits_1(sandbox, signed_in, tmp_path: Path,
                                                                     wide) -> None:
    book = tmp_path / "[bold]push[" / "].xlsx"
    book.parent.mkdir()
    mine = dict(DEMO_OPERATORS[0], customer_reference="R1", organization_name="Andere GmbH")
    build_workbook([mine], [], size=0).save(book)
    operator(sandbox, "ACME [/] GmbH", "R1", street=mine["street"], town=mine["town"])
    result = cli("push", str(book), "--env", "sandbox")
    assert result.exit_code == 1, result.output
    assert "conflict" in result.stdout and "ACME [/] GmbH" in result.stdout
    assert f"Saved: {book}" in result.stdout and f"push: {book.name}" in result.stdout


@pytest.mark.parametrize("name", HOSTILE_FILES)
def test_validate_a_file_named_with_markup_saves_and_prints_its_name(tmp_path: Path, qaas_home: Path, wide,
                                                                     name: str) -> None:
    book = tmp_path / name  # "a[/]b.xlsx" is b.xlsx in a folder named "a[", as a shell passes it
    book.parent.mkdir(parents=True, exist_ok=True)
    build_workbook(DEMO_OPERATORS[:1], DEMO_CHARGE_POINTS[:1], size=0).save(book)
    result = cli("validate", str(book))
    assert result.exit_code == 0, result.output
    assert f"Saved: {book}" in result.stdout and f"validate: {book.name}" in result.stdout


@pytest.mark.parametrize("name", HOSTILE_FILES)
def test_a_missing_file_named_with_markup_is_a_usage_error_naming_it(tmp_path: Path, qaas_home: Path, wide,
                                                                     name: str) -> None:
    result = cli("validate", str(tmp_path / name))
    assert result.exit_code == 2
    assert f"{tmp_path / name}: no such file." in result.stderr


@pytest.mark.parametrize("exc, code", [
    ("ConfigError", 2), ("QaasError", 1), ("RuntimeError", 70)])
def test_the_error_handler_prints_markup_in_a_message_literally(capsys: pytest.CaptureFixture, exc: str,
                                                                code: int) -> None:
    from qaas_excel.api.errors import QaasError
    from qaas_excel.cli._app import handle_errors
    from qaas_excel.config_files import ConfigError

    message = "bad [/] value [bold]x[/bold] in C:\\Daten\\"
    error = {"ConfigError": ConfigError, "QaasError": QaasError, "RuntimeError": RuntimeError}[exc](message)

    @handle_errors
    def failing() -> None:
        raise error

    with pytest.raises(typer.Exit) as exit_info:
        failing()
    assert exit_info.value.exit_code == code
    assert message in capsys.readouterr().err


def test_a_usage_error_raised_by_a_command_exits_2_not_70(sandbox, signed_in) -> None:
    result = cli("operators", "update", "1", "--env", "sandbox")
    assert result.exit_code == 2
    assert "nothing to change" in result.output


def test_reconcile_and_audit_tables_print_names_and_references_literally(sandbox, signed_in, tmp_path: Path,
                                                                        wide) -> None:
    book = tmp_path / "book.xlsx"
    ops = [dict(DEMO_OPERATORS[0], organization_name="ACME [/] GmbH")]
    build_workbook(ops, [dict(DEMO_CHARGE_POINTS[0], customer_reference="[bold]K-1")], size=0).save(book)
    assert cli("push", str(book), "--env", "sandbox").exit_code == 0
    result = cli("reconcile", str(book), "--env", "sandbox")
    assert result.exit_code == 0, result.output
    assert "ACME [/] GmbH" in result.stdout
    audit = cli("audit")
    assert audit.exit_code == 0 and "[bold]K-1" in audit.stdout and "ACME [/] GmbH" in audit.stdout


def test_a_narrow_terminal_shows_fewer_operator_columns_and_json_has_them_all(sandbox, signed_in,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    operator(sandbox, "Stadtwerke Elbtal GmbH", "SW-DD", street="Rosa-Luxemburg-Platz 2")
    monkeypatch.setattr(console, "_width", 80)
    narrow = cli("operators", "list", "--env", "sandbox")
    assert narrow.exit_code == 0
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80
    assert "Stadtwerke Elbtal GmbH" in narrow.stdout  # the name on one line, not folded
    assert "Street" not in narrow.stdout and "--json" in narrow.stdout  # says where the rest is
    monkeypatch.setattr(console, "_width", 250)
    wide = cli("operators", "list", "--env", "sandbox")
    assert "Street" in wide.stdout and "Rosa-Luxemburg-Platz 2" in wide.stdout
    [record] = json.loads(cli("operators", "list", "--env", "sandbox", "--json").stdout)
    assert record["street"] == "Rosa-Luxemburg-Platz 2" and "terms_agreed" in record
