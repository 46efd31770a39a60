"""Workbook table I/O behind one small interface: openpyxl (headless) and xlwings (Excel)."""
