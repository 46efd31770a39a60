"""The worksheet-function stubs inside qaas_excel.xlam: one per Python function, with its arguments, calling
xlwings' function server as the stubs xlwings itself generates do."""

from __future__ import annotations

import ast
import inspect
import io
import re
import types
import typing
from pathlib import Path

import pytest
import xlwings
from oletools.olevba import VBA_Parser
from xlwings.utils import VBAWriter

from qaas_excel.excel import udf_stubs, udfs
from qaas_excel.excel.addin.build import build_addin

DECLARATION = re.compile(r"^(?:Public )?Function (QAAS_\w+)\(([^)]*)\)\r?$", re.M)


@pytest.fixture(scope="module")
def functions_code(tmp_path_factory: pytest.TempPathFactory) -> str:
    parser = VBA_Parser(str(build_addin(tmp_path_factory.mktemp("addin"))))
    try:
        return {name: code for _, _, name, code in parser.extract_macros()}["QaasFunctions.bas"]
    finally:
        parser.close()


def stubs(code: str) -> dict[str, str]:
    """Function name -> its body, from "Function NAME(" to "End Function"."""
    out = {}
    for match in DECLARATION.finditer(code):
        out[match.group(1)] = code[match.start():code.index("End Function", match.end())]
    return out


def xlwings_generated_stubs() -> str:
    """What xlwings' Import Functions would write for our functions into an add-in: its own generator
    (xlwings/udfs.py, which imports pywin32 at the top, so only the generator's functions are run here)."""
    source = (Path(xlwings.__file__).parent / "udfs.py").read_text(encoding="utf-8")
    wanted = {"func_sig", "get_category", "check_bool", "get_async_mode", "extract_type_and_annotations", "xlfunc",
              "generate_vba_wrapper"}
    tree = ast.parse(source)
    module = ast.Module([n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted], [])
    namespace = {"_F": typing.Callable, "VBAWriter": VBAWriter, "inspect": inspect, "dt": __import__("datetime"),
                 **{name: getattr(typing, name) for name in typing.__all__}}
    exec(compile(module, "xlwings/udfs.py", "exec"), namespace)  # noqa: S102 - xlwings' own, installed code
    fake = types.SimpleNamespace()
    for func in udfs.FUNCTIONS:
        def twin(*args: object) -> None:
            """Carries the real function's name and signature for xlwings' decorator."""
        twin.__name__, twin.__doc__ = func.__name__, func.__doc__
        twin.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
        setattr(fake, func.__name__, namespace["xlfunc"](twin))
    out = io.StringIO()
    namespace["generate_vba_wrapper"](udf_stubs.UDF_MODULE, fake, out, types.SimpleNamespace(Name="qaas_excel.xlam"))
    return out.getvalue()


def test_every_worksheet_function_of_the_module_gets_a_stub() -> None:
    public = {name for name, f in vars(udfs).items() if name.startswith("QAAS_") and callable(f)}
    assert {f.__name__ for f in udfs.FUNCTIONS} == public


def test_each_stub_declares_the_python_parameters_in_order(functions_code: str) -> None:
    found = stubs(functions_code)
    assert list(found) == [f.__name__ for f in udfs.FUNCTIONS]
    for func in udfs.FUNCTIONS:
        params = inspect.signature(func).parameters.values()
        declared = [a.strip() for a in DECLARATION.search(found[func.__name__]).group(2).split(",") if a.strip()]
        assert declared == [("Optional " if p.default is not p.empty else "") + p.name for p in params]
        assert f'{func.__name__} = CallPython("{func.__name__}", Array({", ".join(p.name for p in params)}))' \
            in found[func.__name__]
        assert getattr(udfs, func.__name__) is func


def test_stubs_call_the_function_server_as_xlwings_generated_stubs_do(functions_code: str) -> None:
    theirs = stubs(xlwings_generated_stubs())
    ours = stubs(functions_code)
    assert set(theirs) == set(ours)
    call = re.compile(r'XLPy\.CallUDF\("([\w.]+)", "(\w+)", (Array\([^)]*\)), ActiveWorkbook, Application\.Caller\)')
    for name, body in theirs.items():
        assert DECLARATION.search(body).group(2) == DECLARATION.search(ours[name]).group(2), name
        module, function, args = call.search(body).groups()
        assert (module, function) == (udf_stubs.UDF_MODULE, name)
        assert f'CallPython("{name}", {args})' in ours[name]
    # the same five arguments, XLPy reached through Application.Run instead of a VBA reference
    assert (f'Set server = Application.Run("{udf_stubs.XLPY}")\r\n    '
            f'CallPython = server.CallUDF("{udf_stubs.UDF_MODULE}", '
            "functionName, args, book, Application.Caller)") in functions_code
    assert udf_stubs.XLPY == "xlwings.xlam!XLPy"


def test_stubs_say_on_a_mac_that_functions_need_windows(functions_code: str) -> None:
    helper = functions_code[functions_code.index("Private Function CallPython"):]
    assert helper.index("#If Mac Then") < helper.index(f'CallPython = "{udf_stubs.MAC_TEXT}"') < helper.index(
        "#Else") < helper.index("server.CallUDF") < helper.index("#End If")


def test_descriptions_come_from_the_docstrings(functions_code: str) -> None:
    for func in udfs.FUNCTIONS:
        first_line = inspect.getdoc(func).splitlines()[0].replace('"', '""')
        assert f'Attribute {func.__name__}.VB_Description = "{first_line}"' in functions_code


def test_a_function_vba_cannot_declare_is_refused() -> None:
    def QAAS_BAD(date: object) -> None:  # noqa: N802
        """Date is a VBA type name."""

    def QAAS_MANY(*values: object) -> None:  # noqa: N802
        """No ParamArray stubs."""

    with pytest.raises(ValueError, match="'date' cannot be a VBA argument name"):
        udf_stubs.vba_module([QAAS_BAD])
    with pytest.raises(ValueError, match="plain parameters"):
        udf_stubs.vba_module([QAAS_MANY])


def test_the_function_servers_entry_module_offers_every_function() -> None:
    """xlwings imports UDF_MODULE: its import is that Python's start (trust store first), then the functions."""
    source = Path(udfs.__file__).with_name(udf_stubs.UDF_MODULE.rsplit(".", 1)[1] + ".py").read_text(encoding="utf-8")
    assert source.index("use_os_trust_store()") < source.index("from qaas_excel.excel.udfs import")
    tree = ast.parse(source)
    exported = next(n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == udfs.__name__)
    assert {a.name for a in exported.names} == {"FUNCTIONS", *(f.__name__ for f in udfs.FUNCTIONS)}
