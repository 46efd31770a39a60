"""The QaaS ribbon tab: one list of buttons, from which the customUI XML and the VBA module are made."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr


@dataclass(frozen=True)
class Button:
    id: str
    label: str
    group: str
    image: str  # a built-in Office icon (imageMso)
    vba_sub: str  # the ribbon callback in QaasRibbon.bas
    python: str  # the function in qaas_excel.excel.macros it runs
    screentip: str


GROUPS = {"account": "Account", "data": "Data", "workbook": "Workbook", "help": "Help"}

BUTTONS = (
    Button("qaasSignIn", "Sign in", "account", "Lock", "QaasSignIn", "sign_in",
           "Sign in with a device code; later sessions refresh silently."),
    Button("qaasSignOut", "Sign out", "account", "Delete", "QaasSignOut", "sign_out", "Forget the cached sign-in."),
    Button("qaasEnvironment", "Environment", "account", "ServerConnection", "QaasEnvironment", "choose_environment",
           "Switch between production and the sandbox."),
    Button("qaasValidate", "Validate", "data", "AcceptInvitation", "QaasValidate", "validate",
           "Check every row; problems are marked red with a note."),
    Button("qaasPush", "Push all rows", "data", "ExportExcel", "QaasPush", "push",
           "Create new rows, update changed ones, skip unchanged ones."),
    Button("qaasPushSelected", "Push selected rows", "data", "ExportSharePointList", "QaasPushSelected",
           "push_selected", "Push only the selected rows of the active sheet."),
    Button("qaasPull", "Pull statuses", "data", "Refresh", "QaasPull", "pull",
           "Refresh status and last update of pushed rows."),
    Button("qaasReconcile", "Reconcile", "data", "ReviewCompareMenu", "QaasReconcile", "reconcile",
           "Compare the workbook with the service, to the kWh."),
    Button("qaasNewWorkbook", "New workbook", "workbook", "FileNew", "QaasNewWorkbook", "new_workbook",
           "A fresh copy of the QaaS template."),
    Button("qaasHelp", "Help", "help", "Help", "QaasHelp", "show_help", "What the buttons do."),
)

CUSTOMUI_NS = "http://schemas.microsoft.com/office/2009/07/customui"
MODULE_NAME = "QaasRibbon"
MACROS_MODULE = "qaas_excel.excel.macros"
RUNPYTHON = "xlwings.xlam!RunPython"  # the function of the standard xlwings add-in


def customui_xml() -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
             f'<customUI xmlns="{CUSTOMUI_NS}">', "  <ribbon>", "    <tabs>",
             '      <tab id="qaasTab" label="QaaS">']
    for key, label in GROUPS.items():
        lines.append(f'        <group id="qaasGroup_{key}" label={quoteattr(label)}>')
        for b in (b for b in BUTTONS if b.group == key):
            lines.append(f'          <button id="{b.id}" label={quoteattr(b.label)} imageMso="{b.image}" '
                         f'size="large" onAction="{b.vba_sub}" screentip={quoteattr(b.screentip)}/>')
        lines.append("        </group>")
    lines += ["      </tab>", "    </tabs>", "  </ribbon>", "</customUI>", ""]
    return "\n".join(lines)


def vba_module() -> str:
    lines = [f'Attribute VB_Name = "{MODULE_NAME}"', "Option Explicit", "",
             "' Ribbon callbacks of the QaaS tab. Each runs one function of qaas_excel.excel.macros",
             "' through RunPython of the xlwings add-in (installed by `qaas-excel addin install`).", "",
             "Private Sub Py(ByVal functionName As String)",
             "    ' Application.Run finds RunPython in the loaded xlwings add-in without a VBA reference to it.",
             "    On Error GoTo Failed",
             f'    Application.Run "{RUNPYTHON}", "import {MACROS_MODULE} as m; m." & functionName & "()"',
             "    Exit Sub",
             "Failed:",
             '    MsgBox "QaaS could not start Python through the xlwings add-in:" & vbCrLf & Err.Description & '
             'vbCrLf & vbCrLf & "Run \'qaas-excel addin install\' in a terminal, then restart Excel.", '
             'vbCritical, "QaaS"',
             "End Sub", ""]
    for b in BUTTONS:
        lines += [f"Public Sub {b.vba_sub}(control As IRibbonControl)", f'    Py "{b.python}"', "End Sub", ""]
    return "\r\n".join(lines)
