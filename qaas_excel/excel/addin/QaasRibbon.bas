Attribute VB_Name = "QaasRibbon"
Option Explicit

' Ribbon callbacks of the QaaS tab. Each runs one function of qaas_excel.excel.macros
' through RunPython of the xlwings add-in (installed by `qaas-excel addin install`).

Private Sub Py(ByVal functionName As String)
    ' Application.Run finds RunPython in the loaded xlwings add-in without a VBA reference to it.
    On Error GoTo Failed
    Application.Run "xlwings.xlam!RunPython", "import qaas_excel.excel.macros as m; m." & functionName & "()"
    Exit Sub
Failed:
    MsgBox "QaaS could not start Python through the xlwings add-in:" & vbCrLf & Err.Description & vbCrLf & vbCrLf & "Run 'qaas-excel addin install' in a terminal, then restart Excel.", vbCritical, "QaaS"
End Sub

Public Sub QaasSignIn(control As IRibbonControl)
    Py "sign_in"
End Sub

Public Sub QaasSignOut(control As IRibbonControl)
    Py "sign_out"
End Sub

Public Sub QaasEnvironment(control As IRibbonControl)
    Py "choose_environment"
End Sub

Public Sub QaasValidate(control As IRibbonControl)
    Py "validate"
End Sub

Public Sub QaasPush(control As IRibbonControl)
    Py "push"
End Sub

Public Sub QaasPushSelected(control As IRibbonControl)
    Py "push_selected"
End Sub

Public Sub QaasPull(control As IRibbonControl)
    Py "pull"
End Sub

Public Sub QaasReconcile(control As IRibbonControl)
    Py "reconcile"
End Sub

Public Sub QaasNewWorkbook(control As IRibbonControl)
    Py "new_workbook"
End Sub

Public Sub QaasHelp(control As IRibbonControl)
    Py "show_help"
End Sub
