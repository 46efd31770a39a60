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
    needs_workbook: bool = True  # False: runs in an Excel with no workbook open (on a blank one)


GROUPS = {"account": "Account", "data": "Data", "workbook": "Workbook", "help": "Help"}

BUTTONS = (
    Button("qaasSignIn", "Sign in", "account", "Lock", "QaasSignIn", "sign_in",
           "Sign in with a device code; later sessions refresh silently.", needs_workbook=False),
    Button("qaasSignOut", "Sign out", "account", "Delete", "QaasSignOut", "sign_out", "Forget the cached sign-in.",
           needs_workbook=False),
    Button("qaasEnvironment", "Environment", "account", "ServerConnection", "QaasEnvironment", "choose_environment",
           "Switch between production and the sandbox.", needs_workbook=False),
    Button("qaasValidate", "Validate", "data", "AcceptInvitation", "QaasValidate", "validate",
           "Check every row; problems are marked red with a note."),
    Button("qaasPush", "Push all rows", "data", "ExportExcel", "QaasPush", "push",
           "Create new rows, update changed ones, skip unchanged ones."),
    Button("qaasPushSelected", "Push selected rows", "data", "ExportSharePointList", "QaasPushSelected",
           "push_selected", "Push only the selected rows of the active sheet."),
    Button("qaasOverwriteSelected", "Overwrite with selected", "data", "FileSaveAs", "QaasOverwriteSelected",
           "overwrite_selected", "Your decision over a conflict: send the selected rows' values where they and the "
           "service both changed. Never over a frozen record, never onto another record."),
    Button("qaasPull", "Pull statuses", "data", "Refresh", "QaasPull", "pull",
           "Refresh status and last update of pushed rows."),
    Button("qaasReconcile", "Reconcile", "data", "ReviewCompareMenu", "QaasReconcile", "reconcile",
           "Compare the workbook with the service, to the kWh."),
    Button("qaasNewWorkbook", "New workbook", "workbook", "FileNew", "QaasNewWorkbook", "new_workbook",
           "A fresh copy of the QaaS template.", needs_workbook=False),
    Button("qaasHelp", "Help", "help", "Help", "QaasHelp", "show_help", "What the buttons do.", needs_workbook=False),
)

CUSTOMUI_NS = "http://schemas.microsoft.com/office/2009/07/customui"
MODULE_NAME = "QaasRibbon"
MACROS_MODULE = "qaas_excel.excel.macros"
RUNPYTHON = "xlwings.xlam!RunPython"  # the function of the standard xlwings add-in
# Each RunPython starts a Python: its first act, before the macro, is trusting the OS certificate store.
START = "import qaas_excel.startup as s; s.use_os_trust_store();"
NO_WORKBOOK_TEXT = "Open a QaaS workbook first, or make one with New workbook on the QaaS tab."


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
             "Private Sub Py(ByVal functionName As String, ByVal needsWorkbook As Boolean)",
             "    ' Application.Run finds RunPython in the loaded xlwings add-in without a VBA reference to it.",
             "    Dim blank As Workbook",
             "    On Error GoTo Failed",
             "    If ActiveWorkbook Is Nothing Then",
             "        If needsWorkbook Then",
             f'            MsgBox "{NO_WORKBOOK_TEXT}", vbInformation, "QaaS"',
             "            Exit Sub",
             "        End If",
             "        ' RunPython reads ActiveWorkbook (error 91 if none is open); Python uses it to reach Excel.",
             "        Set blank = Workbooks.Add",
             "        blank.Saved = True",
             "    End If",
             f'    Application.Run "{RUNPYTHON}", "{START} import {MACROS_MODULE} as m; m." & functionName & "()"',
             "#If Mac Then",
             "    ' RunPython returns before Python is done, and Python finds Excel through the blank book: it stays.",
             "#Else",
             "    If Not blank Is Nothing Then blank.Close SaveChanges:=False",
             "#End If",
             "    Exit Sub",
             "Failed:",
             '    MsgBox "QaaS could not start Python through the xlwings add-in:" & vbCrLf & Err.Description & '
             'vbCrLf & vbCrLf & "Run \'qaas-excel addin install\' in a terminal, then restart Excel.", '
             'vbCritical, "QaaS"',
             "End Sub", ""]
    for b in BUTTONS:
        lines += [f"Public Sub {b.vba_sub}(control As IRibbonControl)", f'    Py "{b.python}", {b.needs_workbook}',
                  "End Sub", ""]
    return "\r\n".join(lines)
