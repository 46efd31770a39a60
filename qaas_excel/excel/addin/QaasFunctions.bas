Attribute VB_Name = "QaasFunctions"
Option Explicit

' Worksheet functions of qaas_excel.excel.functions_entry, generated from their Python signatures
' (qaas_excel/excel/udf_stubs.py). Each runs the Python function through xlwings' function server.

Private Function CallPython(ByVal functionName As String, ByVal args As Variant) As Variant
#If Mac Then
    CallPython = "QaaS worksheet functions need Excel on Windows"
#Else
    Dim server As Object, book As Object
    If TypeOf Application.Caller Is Range Then
        On Error GoTo Failed  ' errors become the cell's text, as in xlwings' stubs
        Set book = Application.Caller.Worksheet.Parent  ' the calling cell's book, active or not
    Else
        Set book = ActiveWorkbook
    End If
    Set server = Application.Run("xlwings.xlam!XLPy")
    CallPython = server.CallUDF("qaas_excel.excel.functions_entry", functionName, args, book, Application.Caller)
    Exit Function
Failed:
    CallPython = Err.Description
#End If
End Function

Public Function QAAS_STATUS(record_id)
Attribute QAAS_STATUS.VB_Description = "Status of a charge point record (created, sent_to_uba, ...), by QaaS ID."
    QAAS_STATUS = CallPython("QAAS_STATUS", Array(record_id))
End Function

Public Function QAAS_RECORD(record_id, field, Optional resource)
Attribute QAAS_RECORD.VB_Description = "Any field of a record by QaaS ID, e.g. =QAAS_RECORD(A2, ""amount"")."
    QAAS_RECORD = CallPython("QAAS_RECORD", Array(record_id, field, resource))
End Function

Public Function QAAS_OPERATORS()
Attribute QAAS_OPERATORS.VB_Description = "All operators of the account as a table (spills)."
    QAAS_OPERATORS = CallPython("QAAS_OPERATORS", Array())
End Function

Public Function QAAS_CHARGEPOINTS(Optional operator, Optional status, Optional year)
Attribute QAAS_CHARGEPOINTS.VB_Description = "Charge point records, optionally of one operator (ID or reference), status and year (spills)."
    QAAS_CHARGEPOINTS = CallPython("QAAS_CHARGEPOINTS", Array(operator, status, year))
End Function

Public Function QAAS_TOTAL(Optional status, Optional operator, Optional year)
Attribute QAAS_TOTAL.VB_Description = "Total kWh of the matching charge point records (exact sum, shown as a number)."
    QAAS_TOTAL = CallPython("QAAS_TOTAL", Array(status, operator, year))
End Function

Public Function QAAS_CHECK_EVSE(evse_id)
Attribute QAAS_CHECK_EVSE.VB_Description = "Checks an EVSE ID's form locally (no network): ""ok"" or what is wrong."
    QAAS_CHECK_EVSE = CallPython("QAAS_CHECK_EVSE", Array(evse_id))
End Function
