"""Workbooks in formats the tool does not read are named for what they are, with how to save them as .xlsx:
Strict Open XML (refused: its namespaces differ, and what a run writes back would be transitional parts inside a
Strict package) and the binary workbook (.xlsb). The fixtures and the script that made them: tests/fixtures/formats/."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app

FORMATS = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
FOREIGN = FORMATS.parent / "foreign"
STRICT = FORMATS / "strict_open_xml.xlsx"
XLSB = FORMATS / "binary_workbook.xlsb"
STRICT_SAYS = "is a Strict Open XML Spreadsheet: Strict Open XML is not supported; in Excel use Save As > Excel " \
              "Workbook (*.xlsx)."
XLSB_SAYS = "is an Excel Binary Workbook (.xlsb), which this tool cannot read. In Excel use Save As > Excel Workbook " \
            "(*.xlsx)"

runner = CliRunner()


def test_the_strict_fixture_is_the_libreoffice_workbook_in_strict_namespaces_and_nothing_else() -> None:
    from tests.fixtures.formats.make_formats import STRICT_NAMESPACES, STRICT_TYPES

    with zipfile.ZipFile(STRICT) as strict, zipfile.ZipFile(FOREIGN / "libreoffice_flat.xlsx") as source:
        assert strict.namelist() == source.namelist()
        workbook = strict.read("xl/workbook.xml")
        assert b'conformance="strict"' in workbook and b'xmlns="http://purl.oclc.org/ooxml/spreadsheetml/main"' \
            in workbook
        for name in strict.namelist():
            data = strict.read(name).decode("utf-8", "replace")
            assert "schemas.openxmlformats.org/spreadsheetml" not in data, name
            for old, new in STRICT_TYPES.items():
                data = data.replace(new, old)
            for transitional, strict_ns in STRICT_NAMESPACES.items():
                data = data.replace(strict_ns, transitional)
            assert data.replace(' conformance="strict"', "").encode() == source.read(name), name


def test_the_xlsb_fixture_is_a_binary_workbook() -> None:
    with zipfile.ZipFile(XLSB) as z:
        assert "xl/workbook.xml" not in z.namelist()
        assert z.read("xl/workbook.bin")[:2] == b"\x83\x01"  # BIFF12 BrtBeginBook
        assert b"application/vnd.ms-excel.sheet.binary.macroEnabled.main" in z.read("[Content_Types].xml")


@pytest.mark.parametrize(("fixture", "name", "says"), [
    (STRICT, "Meldung 2024.xlsx", STRICT_SAYS),
    (XLSB, "Meldung 2024.xlsb", XLSB_SAYS),
    (XLSB, "Meldung 2024.xlsx", XLSB_SAYS),  # renamed: the content tells
])
def test_every_command_names_the_format_and_how_to_save_it_as_xlsx(sandbox, signed_in, tmp_path: Path, fixture,
                                                                     name, says) -> None:
    book = tmp_path / name
    shutil.copyfile(fixture, book)
    for command in (["validate", str(book)], ["push", str(book), "--env", "sandbox"],
                    ["pull", str(book), "--env", "sandbox"], ["reconcile", str(book), "--env", "sandbox"]):
        result = runner.invoke(app, [*command, "--json"], catch_exceptions=False)
        assert result.exit_code == 2, (command, result.stderr)
        error = json.loads(result.stdout)["error"]
        assert error["message"] == f"{name} {says}" + ("" if fixture == STRICT else " and run it on that file."), \
            error["message"]
        assert f"{name} {says}" in result.stderr
    assert book.read_bytes() == fixture.read_bytes()
    assert sandbox.admin.records("operator") == [] and sandbox.admin.requests("POST /chargepointoperator") == 0


def test_the_same_workbook_saved_as_transitional_open_xml_is_read(tmp_path: Path, qaas_home: Path) -> None:
    book = tmp_path / "Meldung 2024.xlsx"
    shutil.copyfile(FOREIGN / "libreoffice_flat.xlsx", book)
    result = runner.invoke(app, ["validate", str(book), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["counts"] == {"valid": 8}
