"""VBA stubs of the worksheet functions, made from the Python functions' signatures, for qaas_excel.xlam.

One stub per function of ``udfs.FUNCTIONS``, with the Python parameters as its arguments (a parameter
with a default becomes ``Optional``). A stub hands the call to xlwings' function server the way the
stubs xlwings' *Import Functions* writes do, ``XLPy.CallUDF(module, name, args, workbook, caller)``,
with ``XLPy`` reached through ``Application.Run`` in the installed xlwings add-in (no VBA reference to
it, as for the ribbon). A missing optional argument arrives in Python as "missing" and xlwings
substitutes the default. The function server exists on Windows only: on macOS a stub says so.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

from qaas_excel.excel import udfs

MODULE_NAME = "QaasFunctions"
# What xlwings' function server imports: the entry module (trust store first), which re-exports udfs.
UDF_MODULE = "qaas_excel.excel.functions_entry"
XLPY = "xlwings.xlam!XLPy"  # xlwings' handle on its Python function server (Windows)
MAC_TEXT = "QaaS worksheet functions need Excel on Windows"
# VBA keywords and type names a parameter cannot be called (the stub would not compile).
VBA_RESERVED = frozenset({
    "and", "as", "boolean", "byref", "byte", "byval", "call", "case", "const", "currency", "date", "decimal",
    "declare", "dim", "do", "double", "each", "else", "end", "enum", "erase", "error", "event", "exit", "false",
    "for", "friend", "function", "get", "global", "gosub", "goto", "if", "implements", "in", "integer", "is",
    "let", "lib", "like", "long", "loop", "me", "mod", "new", "next", "not", "nothing", "object", "on", "option",
    "optional", "or", "paramarray", "preserve", "private", "property", "public", "raiseevent", "redim", "resume",
    "return", "select", "set", "single", "static", "step", "stop", "string", "sub", "then", "to", "true", "type",
    "typeof", "until", "variant", "wend", "while", "with", "xor"
})


def parameters(func: Callable[..., Any]) -> list[tuple[str, bool]]:
    """(name, optional) of each parameter, as the stub declares them."""
    out = []
    for p in inspect.signature(func).parameters.values():
        if p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
            raise ValueError(f"{func.__name__}: a worksheet function takes plain parameters, not {p}")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,30}", p.name) or p.name.lower() in VBA_RESERVED:
            raise ValueError(f"{func.__name__}: {p.name!r} cannot be a VBA argument name")
        out.append((p.name, p.default is not inspect.Parameter.empty))
    return out


def _description(func: Callable[..., Any]) -> str:
    """The docstring's first line, shown by Excel's Insert Function dialog."""
    text = (inspect.getdoc(func) or func.__name__).splitlines()[0][:255]
    return text.replace('"', '""')


def stub(func: Callable[..., Any]) -> list[str]:
    name = func.__name__
    params = parameters(func)
    declared = ", ".join(f"Optional {p}" if optional else p for p, optional in params)
    return [f"Public Function {name}({declared})",
            f'Attribute {name}.VB_Description = "{_description(func)}"',
            f'    {name} = CallPython("{name}", Array({", ".join(p for p, _ in params)}))',
            "End Function", ""]


def vba_module(functions: Sequence[Callable[..., Any]] = udfs.FUNCTIONS) -> str:
    lines = [f'Attribute VB_Name = "{MODULE_NAME}"', "Option Explicit", "",
             f"' Worksheet functions of {UDF_MODULE}, generated from their Python signatures",
             "' (qaas_excel/excel/udf_stubs.py). Each runs the Python function through xlwings' function server.", "",
             "Private Function CallPython(ByVal functionName As String, ByVal args As Variant) As Variant",
             "#If Mac Then",
             f'    CallPython = "{MAC_TEXT}"',
             "#Else",
             "    Dim server As Object, book As Object",
             "    If TypeOf Application.Caller Is Range Then",
             "        On Error GoTo Failed  ' errors become the cell's text, as in xlwings' stubs",
             "        Set book = Application.Caller.Worksheet.Parent  ' the calling cell's book, active or not",
             "    Else",
             "        Set book = ActiveWorkbook",
             "    End If",
             f'    Set server = Application.Run("{XLPY}")',
             f'    CallPython = server.CallUDF("{UDF_MODULE}", functionName, args, book, Application.Caller)',
             "    Exit Function",
             "Failed:",
             "    CallPython = Err.Description",
             "#End If",
             "End Function", ""]
    for func in functions:
        lines += stub(func)
    return "\r\n".join(lines)
