"""Checks on a workbook file before any backend opens or saves it, and the date format a backend gives a
date it writes into an unformatted cell.

Below every backend (openpyxl, in-place package, xlwings, Office JSON), so one backend never imports another
for them.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from qaas_excel.workbook.table import WorkbookError

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


# What a user can do about a damaged workbook, said wherever one is found.
REPAIR_HINT = "Restore it from a backup, or open it in Excel, which may offer to repair it."


def check_file(path: Path) -> None:
    """Refuse what openpyxl cannot (or must not) read, with a message a user can act on."""
    name = path.name
    if not path.exists():
        raise WorkbookError(f"{path}: no such file.", path=str(path))
    if path.is_dir():
        raise WorkbookError(f"{path} is a folder, not a workbook.", path=str(path))
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot be read ({exc.strerror}).", path=str(path)) from None
    if not head:
        raise WorkbookError(f"{name} is empty (0 bytes): not a workbook.", path=str(path))
    if head.startswith(OLE_MAGIC):
        if _is_encrypted_ole(path):
            raise WorkbookError(f"{name} is password-protected. Remove the password in Excel (File > Info > "
                                "Protect Workbook > Encrypt with Password) and try again.", path=str(path))
        raise WorkbookError(f"{name} is an old Excel 97-2003 workbook (.xls). Open it in Excel and save it as "
                            "Excel Workbook (.xlsx).", path=str(path))
    if not head.startswith(b"PK"):
        kind = "a CSV/text file" if _looks_like_text(head) else "not an Excel workbook"
        raise WorkbookError(f"{name} is {kind}, not an .xlsx workbook. Open it in Excel and save it as "
                            "Excel Workbook (.xlsx).", path=str(path))
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            strict = _is_strict(z, names)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise WorkbookError(f"{name} is damaged (not a readable .xlsx archive). {REPAIR_HINT}",
                            path=str(path)) from None
    if "xl/workbook.bin" in names:
        raise WorkbookError(f"{name} is an Excel Binary Workbook (.xlsb), which this tool cannot read. In Excel use "
                            "Save As > Excel Workbook (*.xlsx) and run it on that file.", path=str(path))
    if strict:
        raise WorkbookError(f"{name} is a Strict Open XML Spreadsheet: Strict Open XML is not supported; in Excel "
                            "use Save As > Excel Workbook (*.xlsx).", path=str(path))
    if "xl/workbook.xml" not in names:
        raise WorkbookError(f"{name} is a zip archive but not an Excel workbook.", path=str(path))


STRICT_MARK = b"http://purl.oclc.org/ooxml/"  # where Strict Open XML's namespaces and relationship types begin


def _is_strict(z: zipfile.ZipFile, names: set[str]) -> bool:
    """Saved as Strict Open XML: its package relationships (or workbook part) speak the Strict namespaces.

    Refused rather than read: its parts name every element in other namespaces, and what a run writes back
    (cells, styles, notes, the Reconciliation sheet) would be transitional parts inside a Strict package.
    """
    for part in ("_rels/.rels", "xl/workbook.xml"):
        if part in names and z.getinfo(part).file_size < 2**20:
            head = z.read(part)[:4096]
            if STRICT_MARK in head:
                return True
    return False


def _is_encrypted_ole(path: Path) -> bool:
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    return "EncryptedPackage".encode("utf-16-le") in data


def _looks_like_text(head: bytes) -> bool:
    return all(32 <= b < 127 or b in (9, 10, 13) for b in head) or head.startswith(b"\xef\xbb\xbf")


def check_writable(path: Path, output: Path | None = None) -> None:
    """Before any request is sent: will the result be savable? (Excel's lock file, read-only file or folder.)"""
    target = Path(output) if output else path
    if target.is_dir():
        raise WorkbookError(f"--output {target} is a folder; name a file such as {target / path.name}.",
                            path=str(target))
    real = Path(os.path.realpath(target))
    folder = real.parent
    if not folder.is_dir():
        raise WorkbookError(f"Cannot save to {target}: the folder {folder} does not exist.", path=str(target))
    lock = folder / f"~${real.name}"
    if lock.exists():
        raise WorkbookError(f"{target.name} is open in Excel (lock file {lock.name}); close it first, "
                            "or write the result elsewhere with --output OTHER.xlsx.", path=str(target))
    if real.exists() and not os.access(real, os.W_OK):
        raise WorkbookError(f"{target} cannot be written: the file is read-only; use --output OTHER.xlsx.",
                            path=str(target))
    if not os.access(folder, os.W_OK):
        raise WorkbookError(f"{target} cannot be written: the folder {folder} is read-only for you; use --output "
                            "OTHER.xlsx.", path=str(target))
