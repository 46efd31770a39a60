"""The add-in's manifest and ``functions.json``, made from the same sources as the VBA add-in.

- The QaaS tab's buttons are ``excel/ribbon.py``'s ``BUTTONS``: each runs the JavaScript command named like
  the Python macro the VBA button runs (``validate``, ``push``, ...), which calls the companion.
- The worksheet functions are ``excel/udfs.py``'s ``FUNCTIONS``: their parameters, optional ones and
  descriptions come from the Python signatures and docstrings. Office puts a namespace before a function's
  name, so ``QAAS_STATUS`` becomes ``QAAS.STATUS`` in the Office add-in.

An add-in-only XML manifest (``VersionOverrides`` 1.0, a shared runtime so that ribbon commands, the task
pane and the functions share one page), with elements in the order Microsoft documents
(``docs/develop/manifest-element-ordering.md`` in OfficeDev/office-js-docs-pr).
"""

from __future__ import annotations

import inspect
import json
import struct
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from lxml import etree

from qaas_excel import __version__ as _package_version
from qaas_excel.excel import ribbon, udf_stubs, udfs
from qaas_excel.office import ADDIN_ID, NAMESPACE

NS = "http://schemas.microsoft.com/office/appforoffice/1.1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
BT = "http://schemas.microsoft.com/office/officeappbasictypes/1.0"
OV = "http://schemas.microsoft.com/office/taskpaneappversionoverrides"
TASKPANE_PAGE = "taskpane.html"
FUNCTIONS_SCRIPT = "app/functions.js"
FUNCTIONS_METADATA = "functions.json"
HELP_PAGE = "help.html"
ICON_SIZES = (16, 32, 80)
# A glyph per ribbon button (by the Python macro it runs), drawn on the group's colour.
GLYPHS = {"sign_in": "I", "sign_out": "O", "choose_environment": "E", "validate": "V", "push": "P",
          "push_selected": "S", "overwrite_selected": "W", "pull": "U", "reconcile": "R", "new_workbook": "N",
          "show_help": "?"}
GROUP_COLOURS = {"account": (0x44, 0x72, 0xC4), "data": (0x37, 0x86, 0x4B), "workbook": (0x7F, 0x60, 0x84),
                 "help": (0x59, 0x59, 0x59)}
# Functions whose result spills (a table): their docstring says so.
SPILL_MARK = "(spills)"


def version() -> str:
    """The manifest wants four numbers."""
    numbers = [int(p) if p.isdigit() else 0 for p in _package_version.split(".")[:4]]
    return ".".join(str(n) for n in numbers + [0] * (4 - len(numbers)))


# --- functions.json ---------------------------------------------------------------------------------

def function_name(func: Callable[..., Any]) -> str:
    """QAAS_STATUS -> STATUS: Office shows it as QAAS.STATUS."""
    return func.__name__.removeprefix(NAMESPACE + "_")


def function_id(func: Callable[..., Any]) -> str:
    """IDs may hold letters, digits and periods only (custom-functions-json.md): CHECK_EVSE -> CHECKEVSE."""
    return function_name(func).replace("_", "")


def spills(func: Callable[..., Any]) -> bool:
    return SPILL_MARK in (inspect.getdoc(func) or "")


def _description(func: Callable[..., Any]) -> str:
    """The docstring's first line, with the functions named as Office shows them (QAAS_RECORD -> QAAS.RECORD)."""
    return (inspect.getdoc(func) or func.__name__).splitlines()[0].replace(NAMESPACE + "_", NAMESPACE + ".")


def functions_metadata(functions: Sequence[Callable[..., Any]] = udfs.FUNCTIONS) -> dict[str, Any]:
    """functions.json: one entry per worksheet function, parameters from its Python signature."""
    out = []
    for func in functions:
        params = []
        for name, optional in udf_stubs.parameters(func):  # the same rules as the VBA stubs' arguments
            param: dict[str, Any] = {"name": name, "type": "any", "dimensionality": "scalar"}
            if optional:
                param["optional"] = True
            params.append(param)
        out.append({"id": function_id(func), "name": function_name(func), "description": _description(func),
                    "result": {"dimensionality": "matrix" if spills(func) else "scalar"},
                    "parameters": params})
    return {"functions": out}


def functions_json() -> str:
    return json.dumps(functions_metadata(), indent=2) + "\n"


def python_function(function_id_: str) -> Callable[..., Any] | None:
    """The Python function behind a functions.json id."""
    for func in udfs.FUNCTIONS:
        if function_id(func) == function_id_:
            return func
    return None


# --- icons -------------------------------------------------------------------------------------------

_FONT = {  # 5x7 bitmaps, one string per row
    "I": ["11111", "00100", "00100", "00100", "00100", "00100", "11111"],
    "O": ["01110", "10001", "10001", "10001", "10001", "10001", "01110"],
    "E": ["11111", "10000", "10000", "11110", "10000", "10000", "11111"],
    "V": ["10001", "10001", "10001", "10001", "01010", "01010", "00100"],
    "P": ["11110", "10001", "10001", "11110", "10000", "10000", "10000"],
    "S": ["01111", "10000", "10000", "01110", "00001", "00001", "11110"],
    "U": ["10001", "10001", "10001", "10001", "10001", "10001", "01110"],
    "R": ["11110", "10001", "10001", "11110", "10100", "10010", "10001"],
    "N": ["10001", "11001", "10101", "10011", "10001", "10001", "10001"],
    "?": ["01110", "10001", "00001", "00110", "00100", "00000", "00100"],
    "Q": ["01110", "10001", "10001", "10001", "10101", "10010", "01101"],
}


def icon_png(glyph: str, size: int, colour: tuple[int, int, int]) -> bytes:
    """A square PNG: the glyph in white on the colour, drawn without any imaging library."""
    bitmap = _FONT.get(glyph, _FONT["Q"])
    scale = max(1, size // 10)
    left, top = (size - 5 * scale) // 2, (size - 7 * scale) // 2
    rows = []
    for y in range(size):
        line = bytearray(b"\x00")  # filter: none
        for x in range(size):
            gx, gy = (x - left) // scale, (y - top) // scale
            on = 0 <= gx < 5 and 0 <= gy < 7 and x >= left and y >= top and bitmap[gy][gx] == "1"
            line += bytes((255, 255, 255, 255)) if on else bytes((*colour, 255))
        rows.append(bytes(line))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + \
        chunk(b"IEND", b"")


def icon_files() -> dict[str, bytes]:
    """Every icon the manifest names, by path below the companion's root."""
    files = {}
    for b in ribbon.BUTTONS:
        for size in ICON_SIZES:
            files[f"assets/{b.python}-{size}.png"] = icon_png(GLYPHS.get(b.python, "Q"), size, GROUP_COLOURS.get(
                b.group, (0x44, 0x72, 0xC4)))
    for key, colour in GROUP_COLOURS.items():
        for size in ICON_SIZES:
            files[f"assets/group-{key}-{size}.png"] = icon_png("Q", size, colour)
    for size in (32, 64, 80):
        files[f"assets/qaas-{size}.png"] = icon_png("Q", size, (0x1F, 0x4E, 0x79))
    return files


# --- the manifest ------------------------------------------------------------------------------------

def _e(parent: Any, ns: str, tag: str, text: str | None = None, **attrs: str) -> Any:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}")
    for k, v in attrs.items():
        el.set(f"{{{XSI}}}type" if k == "xsi_type" else k, v)
    if text is not None:
        el.text = text
    return el


def manifest_xml(origin: str) -> bytes:
    """The add-in-only manifest for a companion at ``origin`` (``https://localhost:PORT``)."""
    base = origin.rstrip("/")
    root = etree.Element(f"{{{NS}}}OfficeApp", nsmap={None: NS, "xsi": XSI, "bt": BT})
    root.set(f"{{{XSI}}}type", "TaskPaneApp")
    _e(root, NS, "Id", ADDIN_ID)
    _e(root, NS, "Version", version())
    _e(root, NS, "ProviderName", "qaas-excel")
    _e(root, NS, "DefaultLocale", "en-US")
    _e(root, NS, "DisplayName", DefaultValue="QaaS")
    _e(root, NS, "Description", DefaultValue="Validate, push, pull and reconcile QaaS charge point records "
                                             "(THG-Quote) from Excel, through the local qaas-excel companion.")
    _e(root, NS, "IconUrl", DefaultValue=f"{base}/assets/qaas-32.png")
    _e(root, NS, "HighResolutionIconUrl", DefaultValue=f"{base}/assets/qaas-64.png")
    _e(root, NS, "SupportUrl", DefaultValue=f"{base}/{HELP_PAGE}")
    hosts = _e(root, NS, "Hosts")
    _e(hosts, NS, "Host", Name="Workbook")
    req = _e(root, NS, "Requirements")
    sets = _e(req, NS, "Sets", DefaultMinVersion="1.1")
    _e(sets, NS, "Set", Name="SharedRuntime", MinVersion="1.1")
    defaults = _e(root, NS, "DefaultSettings")
    _e(defaults, NS, "SourceLocation", DefaultValue=f"{base}/{TASKPANE_PAGE}")
    _e(root, NS, "Permissions", "ReadWriteDocument")

    images: dict[str, str] = {}
    urls: dict[str, str] = {"Taskpane.Url": f"{base}/{TASKPANE_PAGE}",
                            "Functions.Script.Url": f"{base}/{FUNCTIONS_SCRIPT}",
                            "Functions.Metadata.Url": f"{base}/{FUNCTIONS_METADATA}",
                            "Help.Url": f"{base}/{HELP_PAGE}"}
    short: dict[str, str] = {"Functions.Namespace": NAMESPACE, "GetStarted.Title": "QaaS is ready",
                             "Tab.Label": "QaaS"}
    long: dict[str, str] = {"GetStarted.Description": "Open the QaaS tab: sign in, then validate and push your "
                                                      "charge point rows."}

    # VersionOverrides declares its own default namespace, as in Microsoft's samples.
    vo = etree.SubElement(root, f"{{{OV}}}VersionOverrides", nsmap={None: OV})
    vo.set(f"{{{XSI}}}type", "VersionOverridesV1_0")
    vo_hosts = _e(vo, OV, "Hosts")
    host = _e(vo_hosts, OV, "Host", xsi_type="Workbook")
    runtimes = _e(host, OV, "Runtimes")
    _e(runtimes, OV, "Runtime", resid="Taskpane.Url", lifetime="long")
    all_ff = _e(host, OV, "AllFormFactors")
    cf = _e(all_ff, OV, "ExtensionPoint", xsi_type="CustomFunctions")
    _e(_e(cf, OV, "Script"), OV, "SourceLocation", resid="Functions.Script.Url")
    _e(_e(cf, OV, "Page"), OV, "SourceLocation", resid="Taskpane.Url")
    _e(_e(cf, OV, "Metadata"), OV, "SourceLocation", resid="Functions.Metadata.Url")
    _e(cf, OV, "Namespace", resid="Functions.Namespace")
    desktop = _e(host, OV, "DesktopFormFactor")
    started = _e(desktop, OV, "GetStarted")
    _e(started, OV, "Title", resid="GetStarted.Title")
    _e(started, OV, "Description", resid="GetStarted.Description")
    _e(started, OV, "LearnMoreUrl", resid="Help.Url")
    _e(desktop, OV, "FunctionFile", resid="Taskpane.Url")
    surface = _e(desktop, OV, "ExtensionPoint", xsi_type="PrimaryCommandSurface")
    tab = _e(surface, OV, "CustomTab", id="QaasTab")
    for key, label in ribbon.GROUPS.items():
        group = _e(tab, OV, "Group", id=f"QaasGroup.{key}")
        short[f"Group.{key}"] = label
        _e(group, OV, "Label", resid=f"Group.{key}")
        icon = _e(group, OV, "Icon")
        for size in ICON_SIZES:
            images[f"Group.{key}.{size}"] = f"{base}/assets/group-{key}-{size}.png"
            _e(icon, BT, "Image", size=str(size), resid=f"Group.{key}.{size}")
        for b in (b for b in ribbon.BUTTONS if b.group == key):
            control = _e(group, OV, "Control", xsi_type="Button", id=b.id)
            short[f"{b.id}.Label"] = b.label
            long[f"{b.id}.Tip"] = b.screentip
            _e(control, OV, "Label", resid=f"{b.id}.Label")
            tip = _e(control, OV, "Supertip")
            _e(tip, OV, "Title", resid=f"{b.id}.Label")
            _e(tip, OV, "Description", resid=f"{b.id}.Tip")
            icon = _e(control, OV, "Icon")
            for size in ICON_SIZES:
                images[f"{b.id}.{size}"] = f"{base}/assets/{b.python}-{size}.png"
                _e(icon, BT, "Image", size=str(size), resid=f"{b.id}.{size}")
            action = _e(control, OV, "Action", xsi_type="ExecuteFunction")
            _e(action, OV, "FunctionName", b.python)
    _e(tab, OV, "Label", resid="Tab.Label")
    resources = _e(vo, OV, "Resources")
    for kind, items in (("Images", images), ("Urls", urls), ("ShortStrings", short), ("LongStrings", long)):
        parent = _e(resources, BT, kind)
        tag = {"Images": "Image", "Urls": "Url"}.get(kind, "String")
        for resid, value in items.items():
            _e(parent, BT, tag, id=resid, DefaultValue=value)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8", pretty_print=True)


def command_names() -> list[str]:
    """The JavaScript commands the manifest's buttons run (Office.actions.associate names)."""
    return [b.python for b in ribbon.BUTTONS]
