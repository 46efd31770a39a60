Attribute VB_Name = "QaasRibbon"
Option Explicit

' Ribbon callbacks of the QaaS tab. Each runs one function of qaas_excel.excel.macros
' through RunPython of the xlwings add-in (installed by `qaas-excel addin install`).

Private Sub Py(ByVal functionName As String, ByVal needsWorkbook As Boolean)
    ' Application.Run finds RunPython in the loaded xlwings add-in without a VBA reference to it.
    Dim blank As Workbook
    On Error GoTo Failed
    If ActiveWorkbook Is Nothing Then
        If needsWorkbook Then
            MsgBox "Open a QaaS workbook first, or make one with New workbook on the QaaS tab.", vbInformation, "QaaS"
            Exit Sub
        End If
        ' RunPython reads ActiveWorkbook (error 91 if none is open); Python uses it to reach Excel.
        Set blank = Workbooks.Add
        blank.Saved = True
    End If
    Application.Run "xlwings.xlam!RunPython", "import qaas_excel.startup as s; s.use_os_trust_store(); import qaas_excel.excel.macros as m; m." & functionName & "()"
#If Mac Then
    ' RunPython returns before Python is done, and Python finds Excel through the blank book: it stays.
#Else
    If Not blank Is Nothing Then blank.Close SaveChanges:=False
#End If
    Exit Sub
Failed:
    MsgBox "QaaS could not start Python through the xlwings add-in:" & vbCrLf & Err.Description & vbCrLf & vbCrLf & "Run 'qaas-excel addin install' in a terminal, then restart Excel.", vbCritical, "QaaS"
End Sub

Public Sub QaasSignIn(control As IRibbonControl)
    Py "sign_in", False
End Sub

Public Sub QaasSignOut(control As IRibbonControl)
    Py "sign_out", False
End Sub

Public Sub QaasEnvironment(control As IRibbonControl)
    Py "choose_environment", False
End Sub

Public Sub QaasValidate(control As IRibbonControl)
    Py "validate", True
End Sub

Public Sub QaasPush(control As IRibbonControl)
    Py "push", True
End Sub

Public Sub QaasPushSelected(control As IRibbonControl)
    Py "push_selected", True
End Sub

Public Sub QaasOverwriteSelected(control As IRibbonControl)
    Py "overwrite_selected", True
End Sub

Public Sub QaasPull(control As IRibbonControl)
    Py "pull", True
End Sub

Public Sub QaasReconcile(control As IRibbonControl)
    Py "reconcile", True
End Sub

Public Sub QaasNewWorkbook(control As IRibbonControl)
    Py "new_workbook", False
End Sub

Public Sub QaasHelp(control As IRibbonControl)
    Py "show_help", False
End Sub
