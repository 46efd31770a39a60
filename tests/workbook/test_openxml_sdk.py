"""What the tool writes into a workbook passes the rules of Microsoft's Open XML SDK, which openxml-audit mirrors:
on the shipped templates, the demo and every workbook of the foreign corpus, a finding that appears only after a
push (or validate) and a reconcile is a defect. Errors are compared: the SDK's validator reports errors; the
app-compat warnings openxml-audit adds (inline strings Excel would move into its shared-strings table) are not
SDK rules."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from openxml_audit import OpenXmlValidator
from openxml_audit.errors import FileFormat, ValidationSeverity
from typer.testing import CliRunner

from qaas_excel.cli import app

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "workbook_templates"
FOREIGN = REPO / "tests" / "fixtures" / "foreign"
# The corpus but its 2,000-row file (a minute here for what its small XlsxWriter siblings prove in seconds).
SMALL = sorted(e["file"] for e in json.loads((FOREIGN / "corpus.json").read_text(encoding="utf-8"))
               if e.get("charge_points", 0) <= 50)
BOOKS = [TEMPLATES / "qaas_template.xlsx", TEMPLATES / "demo.xlsx", *(FOREIGN / name for name in SMALL)]
VALIDATOR = OpenXmlValidator(file_format=FileFormat.OFFICE_2019, max_errors=0)
runner = CliRunner()


def findings(path: Path) -> set[tuple[str, str, str]]:
    result = VALIDATOR.validate(str(path))
    return {(e.part_uri, e.path, e.description) for e in result.errors if e.severity is ValidationSeverity.ERROR}


def test_the_shipped_templates_pass_the_sdk_rules(tmp_path: Path) -> None:
    from qaas_excel.templates import write_all

    for path in [TEMPLATES / "qaas_template.xlsx", TEMPLATES / "demo.xlsx", *write_all(tmp_path)]:
        assert findings(path) == set(), path


@pytest.mark.parametrize("book", BOOKS, ids=[b.name for b in BOOKS])
def test_a_run_adds_no_finding_of_the_sdk_rules(book: Path, sandbox, signed_in, tmp_path: Path) -> None:
    path = tmp_path / book.name
    shutil.copyfile(book, path)
    before = findings(path)
    for command in (["push", str(path), "--env", "sandbox"], ["reconcile", str(path), "--env", "sandbox"]):
        result = runner.invoke(app, command, catch_exceptions=False)
        assert result.exit_code in (0, 1), (command, result.stderr)
    with zipfile.ZipFile(path) as z:  # the edit under test happened: the report sheet and its fonts are in
        assert b'name="Reconciliation"' in z.read("xl/workbook.xml")
    assert findings(path) - before == set()


def test_font_children_are_put_in_the_order_the_sdk_accepts() -> None:
    from qaas_excel.workbook.xlsx_styles import font_in_sdk_order, fonts_in_sdk_order

    openpyxl_font = (b'<font><name val="Calibri"/><charset val="1"/><family val="2"/><b val="1"/><i val="1"/>'
                     b'<strike val="1"/><color rgb="FF000000"/><sz val="11"/><u val="single"/>'
                     b'<vertAlign val="superscript"/><scheme val="minor"/></font>')
    assert font_in_sdk_order(openpyxl_font) == (
        b'<font><b val="1"/><i val="1"/><strike val="1"/><u val="single"/><vertAlign val="superscript"/>'
        b'<sz val="11"/><color rgb="FF000000"/><name val="Calibri"/><family val="2"/><charset val="1"/>'
        b'<scheme val="minor"/></font>')
    prefixed = b'<x:font><x:color theme="1"/><x:sz val="11"/><x:extLst><x:ext uri="u"/></x:extLst></x:font>'
    assert font_in_sdk_order(prefixed) == b'<x:font><x:sz val="11"/><x:color theme="1"/><x:extLst><x:ext uri="u"/>' \
                                          b'</x:extLst></x:font>'
    styles = (b'<styleSheet><fonts count="2"><font/><font><color theme="1"/><b/></font></fonts><dxfs count="1">'
              b'<dxf><font><color rgb="FF9C0006"/><i/></font></dxf></dxfs></styleSheet>')
    assert fonts_in_sdk_order(styles) == (b'<styleSheet><fonts count="2"><font/><font><b/><color theme="1"/></font>'
                                          b'</fonts><dxfs count="1"><dxf><font><i/><color rgb="FF9C0006"/></font>'
                                          b'</dxf></dxfs></styleSheet>')
