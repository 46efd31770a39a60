"""The module xlwings' function server imports for the worksheet functions: the entry point of that Python.

Importing it is that program's start, so the OS certificate store is trusted here, once, before any
request; the functions themselves live in ``udfs`` (a library module, importable without side effects).
"""

from qaas_excel.startup import use_os_trust_store

use_os_trust_store()

from qaas_excel.excel.udfs import (  # noqa: E402 - after the trust store, on purpose
    FUNCTIONS,
    QAAS_CHARGEPOINTS,
    QAAS_CHECK_EVSE,
    QAAS_OPERATORS,
    QAAS_RECORD,
    QAAS_STATUS,
    QAAS_TOTAL,
)

__all__ = ["FUNCTIONS", "QAAS_CHARGEPOINTS", "QAAS_CHECK_EVSE", "QAAS_OPERATORS", "QAAS_RECORD", "QAAS_STATUS",
           "QAAS_TOTAL"]
