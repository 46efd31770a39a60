"""The .xlam, built here from text sources, checked part by part (Excel itself cannot run here)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from oletools.olevba import VBA_Parser
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.excel import macros, ribbon
from qaas_excel.excel.addin.build import ADDIN_TYPE, CUSTOMUI, VBA_MODULE, build_addin

NS = {"ui": ribbon.CUSTOMUI_NS}


@pytest.fixture(scope="module")
def xlam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_addin(tmp_path_factory.mktemp("addin"))


def vba_code(xlam: Path) -> str:
    parser = VBA_Parser(str(xlam))
    try:
        return "\n".join(code for _, _, name, code in parser.extract_macros() if name.startswith("QaasRibbon"))
    finally:
        parser.close()


def test_package_is_a_macro_enabled_add_in_with_its_ribbon_and_vba(xlam: Path) -> None:
    with zipfile.ZipFile(xlam) as z:
        assert z.testzip() is None
        types = z.read("[Content_Types].xml").decode()
        assert f'PartName="/xl/workbook.xml" ContentType="{ADDIN_TYPE}"' in types
        assert 'Extension="bin" ContentType="application/vnd.ms-office.vbaProject"' in types
        rels = z.read("_rels/.rels").decode()
        assert 'Target="customUI/customUI14.xml"' in rels and "ui/extensibility" in rels
        assert 'Target="vbaProject.bin"' in z.read("xl/_rels/workbook.xml.rels").decode()
        ElementTree.fromstring(z.read("customUI/customUI14.xml"))  # well-formed


def test_every_button_has_a_matching_vba_callback(xlam: Path) -> None:
    with zipfile.ZipFile(xlam) as z:
        ui = ElementTree.fromstring(z.read("customUI/customUI14.xml"))
    assert ui.tag == f"{{{ribbon.CUSTOMUI_NS}}}customUI"
    actions = {b.get("onAction") for b in ui.iterfind(".//ui:button", NS)}
    assert len(actions) == len(ribbon.BUTTONS)
    code = vba_code(xlam)
    subs = set(re.findall(r"Public Sub (\w+)\(control As IRibbonControl\)", code))
    assert actions == subs


def test_every_runpython_target_exists_in_the_macros_module(xlam: Path) -> None:
    code = vba_code(xlam)
    assert 'Application.Run "xlwings.xlam!RunPython", "import qaas_excel.excel.macros as m; m."' in code
    targets = re.findall(r'Py "(\w+)"', code)
    assert len(targets) == len(ribbon.BUTTONS)
    for name in targets:
        assert callable(getattr(macros, name)), name


def test_committed_sources_match_the_button_list() -> None:
    assert CUSTOMUI.read_text(encoding="utf-8") == ribbon.customui_xml()
    assert VBA_MODULE.read_bytes().decode("cp1252") == ribbon.vba_module()


def test_cli_builds_it_and_refuses_to_install_where_there_is_no_excel(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["addin", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0 and (tmp_path / "qaas_excel.xlam").exists()
    result = runner.invoke(app, ["addin", "install"])
    assert result.exit_code == 2 and "Windows or macOS" in result.stderr
