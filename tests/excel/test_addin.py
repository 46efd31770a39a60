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
from qaas_excel.excel import macros, ribbon, udf_stubs
from qaas_excel.excel.addin import install as addin_install
from qaas_excel.excel.addin.build import CUSTOMUI, FUNCTIONS_MODULE, VBA_MODULE, build_addin, write_sources

NS = {"ui": ribbon.CUSTOMUI_NS}


@pytest.fixture(scope="module")
def xlam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_addin(tmp_path_factory.mktemp("addin"))


def vba_modules(xlam: Path) -> dict[str, str]:
    parser = VBA_Parser(str(xlam))
    try:
        return {name: code for _, _, name, code in parser.extract_macros()}
    finally:
        parser.close()


def vba_code(xlam: Path) -> str:
    return vba_modules(xlam)["QaasRibbon.bas"]


def test_the_ribbon_xml_is_well_formed_and_named_as_excel_2010_reads_it(xlam: Path) -> None:
    with zipfile.ZipFile(xlam) as z:
        ui = ElementTree.fromstring(z.read("customUI/customUI14.xml"))
    assert ui.tag == f"{{{ribbon.CUSTOMUI_NS}}}customUI"


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
    assert ('Application.Run "xlwings.xlam!RunPython", "import qaas_excel.startup as s; s.use_os_trust_store(); '
            'import qaas_excel.excel.macros as m; m."') in code
    targets = re.findall(r'Py "(\w+)"', code)
    assert len(targets) == len(ribbon.BUTTONS)
    for name in targets:
        assert callable(getattr(macros, name)), name


def py_entry_point(code: str) -> list[str]:
    start = code.index("Private Sub Py(")
    return [line.strip() for line in code[start:code.index("End Sub", start)].splitlines()]


def test_buttons_that_need_no_workbook_run_in_an_excel_without_one(xlam: Path) -> None:
    code = vba_code(xlam)
    free = {b.python for b in ribbon.BUTTONS if not b.needs_workbook}
    assert {"new_workbook", "sign_in", "show_help"} <= free
    assert {"validate", "push", "push_selected", "pull", "reconcile"}.isdisjoint(free)
    calls = dict(re.findall(r'Py "(\w+)", (True|False)', code))
    assert calls == {b.python: str(b.needs_workbook) for b in ribbon.BUTTONS}
    body = py_entry_point(code)
    run = next(i for i, line in enumerate(body) if line.startswith('Application.Run "xlwings.xlam!RunPython"'))
    guard = body.index("If ActiveWorkbook Is Nothing Then")
    assert body.index("On Error GoTo Failed") < guard < run  # ActiveWorkbook is read only after the check
    # without a workbook: a message for the buttons that need one, a blank book for the others
    assert body[guard + 1:guard + 5] == ["If needsWorkbook Then", f'MsgBox "{ribbon.NO_WORKBOOK_TEXT}", '
                                         'vbInformation, "QaaS"', "Exit Sub", "End If"]
    assert body[guard + 6:guard + 9] == ["Set blank = Workbooks.Add", "blank.Saved = True", "End If"]
    # closed after the (synchronous) Windows RunPython; macOS' RunPython returns while Python still needs it
    assert body[run + 1:run + 6] == ["#If Mac Then", body[run + 2], "#Else",
                                     "If Not blank Is Nothing Then blank.Close SaveChanges:=False", "#End If"]


def test_vba_project_holds_our_module_verbatim_and_empty_document_modules(xlam: Path) -> None:
    modules = vba_modules(xlam)
    assert set(modules) == {"QaasRibbon.bas", "QaasFunctions.bas", "Sheet1.cls", "ThisWorkbook.cls"}
    assert modules["QaasRibbon.bas"] == VBA_MODULE.read_bytes().decode("ascii")
    assert modules["QaasFunctions.bas"] == FUNCTIONS_MODULE.read_bytes().decode("ascii")
    for name in ("Sheet1", "ThisWorkbook"):  # exactly one module header each, no code
        assert modules[f"{name}.cls"].count("Attribute VB_Name") == 1, name
        assert all(line.startswith("Attribute ") for line in modules[f"{name}.cls"].splitlines() if line), name
    with zipfile.ZipFile(xlam) as z:
        assert 'codeName="ThisWorkbook"' in z.read("xl/workbook.xml").decode()
        assert 'codeName="Sheet1"' in z.read("xl/worksheets/sheet1.xml").decode()


def test_build_is_reproducible_and_writes_nothing_into_ms_ovba(tmp_path: Path) -> None:
    import ms_ovba

    package = Path(ms_ovba.__file__).resolve().parent
    before = {p: p.stat().st_mtime_ns for p in package.rglob("*") if "__pycache__" not in p.parts}
    first = build_addin(tmp_path / "a").read_bytes()
    second = build_addin(tmp_path / "b").read_bytes()
    assert first == second
    assert {p: p.stat().st_mtime_ns for p in package.rglob("*") if "__pycache__" not in p.parts} == before


def test_committed_sources_match_the_button_and_function_lists(tmp_path: Path) -> None:
    assert CUSTOMUI.read_text(encoding="utf-8") == ribbon.customui_xml()
    assert VBA_MODULE.read_bytes().decode("ascii") == ribbon.vba_module()
    assert FUNCTIONS_MODULE.read_bytes().decode("ascii") == udf_stubs.vba_module()
    fresh = write_sources(tmp_path)  # what `write_sources()` would commit
    assert [p.read_bytes() for p in fresh] == [CUSTOMUI.read_bytes(), VBA_MODULE.read_bytes(),
                                               FUNCTIONS_MODULE.read_bytes()]


def test_cli_builds_it_and_refuses_to_install_where_there_is_no_excel(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setattr(sys, "platform", "linux")
    runner = CliRunner()
    result = runner.invoke(app, ["addin", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0 and (tmp_path / "qaas_excel.xlam").exists()
    result = runner.invoke(app, ["addin", "install"])
    assert result.exit_code == 2
    assert "Excel is not available on Linux" in result.stderr and "Windows or macOS" in result.stderr


class FakeApp:
    """An Excel as xlwings shows it: the startup folder it reports and the books it has open."""

    def __init__(self, startup: Path, open_books: dict | None = None) -> None:
        self.startup_path = str(startup)
        self.books = open_books or {}
        self.entered: list[bool] = []

    def __enter__(self) -> FakeApp:
        self.entered.append(True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.entered.append(False)


class FakeApps(list):
    @property
    def active(self) -> FakeApp:
        return self[0]


class OpenAddin:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_install_puts_the_add_in_where_the_running_excel_says_and_points_xlwings_at_this_python(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    import xlwings

    conf = tmp_path / "home" / ".xlwings" / "xlwings.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text('"INTERPRETER_WIN","C:\\old\\python.exe"\n"UDF MODULES","mine"\n"LICENSE_KEY","k"\n')
    ran = []
    reported = tmp_path / "where Excel starts" / "XLSTART"
    loaded = OpenAddin()
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.delenv("CONDA_DEFAULT_ENV", raising=False)
    monkeypatch.setattr(xlwings, "USER_CONFIG_FILE", str(conf))
    monkeypatch.setattr(xlwings, "apps", FakeApps([FakeApp(reported, {"qaas_excel.xlam": loaded})]))
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: ran.append(args) or subprocess.CompletedProcess(args, 0))
    done = addin_install.install()
    assert ran == [[sys.executable, "-m", "xlwings", "addin", "install"]]
    assert (reported / "qaas_excel.xlam").is_file()
    assert loaded.closed  # the copy Excel had open is closed before it is replaced
    assert conf.read_text().splitlines() == [f'"INTERPRETER_WIN","{sys.executable}"', '"UDF MODULES","mine"',
                                             '"LICENSE_KEY","k"']
    assert len(done) == 3 and str(reported) in done[1]


def test_without_a_running_excel_an_unseen_one_is_asked_for_its_startup_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import xlwings

    started = []

    def app(visible: bool) -> FakeApp:
        started.append(FakeApp(tmp_path / "Startup.localized" / "Excel"))
        assert visible is False
        return started[-1]

    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(xlwings, "apps", FakeApps())
    monkeypatch.setattr(xlwings, "App", app)
    assert addin_install.startup_folder() == tmp_path / "Startup.localized" / "Excel"
    assert len(started) == 1 and started[0].entered == [True, False]  # and quit again
    conf = addin_install.configure_interpreter(tmp_path / "xlwings.conf")
    assert conf.read_text().splitlines() == [f'"INTERPRETER_MAC","{sys.executable}"']


def test_an_add_in_excel_keeps_locked_is_reported_with_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    from qaas_excel.config_files import ConfigError

    def locked(folder: Path) -> Path:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(addin_install, "startup_folder", lambda: tmp_path)
    monkeypatch.setattr(addin_install, "_close_open_copies", lambda: None)
    monkeypatch.setattr(addin_install, "build_addin", locked)
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: subprocess.CompletedProcess(args, 0))
    with pytest.raises(ConfigError, match="quit Excel and run `qaas-excel addin install` again"):
        addin_install.install()


def test_a_windows_conda_environment_is_configured_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("CONDA_DEFAULT_ENV", "qaas")
    monkeypatch.setenv("CONDA_EXE", str(Path("miniconda3", "Scripts", "conda.exe")))
    conf = tmp_path / "xlwings.conf"
    conf.write_text('"INTERPRETER_WIN","C:\\old\\python.exe"\n')
    lines = addin_install.configure_interpreter(conf).read_text().splitlines()
    assert lines == ['"CONDA PATH","miniconda3"', '"CONDA ENV","qaas"']
