"""A corpus of bad input: each case gets a clear message and the documented exit code, never a traceback,
and the file stays byte-identical unless a save succeeded."""

from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.templates import DEMO_CHARGE_POINTS, DEMO_OPERATORS, build_workbook

runner = CliRunner()
CP = dict(DEMO_CHARGE_POINTS[0])


def book_with(path: Path, **changes) -> Path:
    build_workbook(DEMO_OPERATORS[:1], [dict(CP, **changes)], size=0).save(path)
    return path


def edited(path: Path, edit) -> Path:
    build_workbook(DEMO_OPERATORS[:1], [CP], size=0).save(path)
    wb = openpyxl.load_workbook(path)
    edit(wb)
    wb.save(path)
    return path


def header_col(ws, text: str) -> int:
    return [str(c.value or "").rstrip(" *") for c in ws[1]].index(text) + 1


def raw(content: bytes):
    return lambda p: (p.write_bytes(content), p)[1]


def rename_header(old: str, new: str | None):
    def edit(wb):
        ws = wb["ChargePoints"]
        ws.cell(1, header_col(ws, old)).value = new
        wb["_qaas"].sheet_state = "visible"
        del wb["_qaas"]
    return edit


def encrypted_ole(p: Path) -> Path:
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512 + "EncryptedPackage".encode("utf-16-le"))
    return p


def zip_without_workbook(p: Path) -> Path:
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    return p


def truncated(p: Path) -> Path:
    build_workbook(DEMO_OPERATORS[:1], [CP], size=0).save(p)
    p.write_bytes(p.read_bytes()[:-200])
    return p


# (name, builder, command exit code, words in the output)
CASES = [
    ("xls", raw(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600), 2, "97-2003"),
    ("csv renamed", raw(b"reference;amount\nA;1,5\n"), 2, "CSV"),
    ("password-protected", encrypted_ole, 2, "password-protected"),
    ("corrupt zip", raw(b"PK\x03\x04\x14\x00garbage" * 10), 2, "damaged"),
    ("truncated zip", truncated, 2, "damaged"),
    ("zip without workbook", zip_without_workbook, 2, "not an Excel workbook"),
    ("empty file", raw(b""), 2, "empty"),
    ("binary noise", raw(bytes(range(256)) * 4), 2, "not an Excel workbook"),
    ("missing column", None, 2, "'Amount (kWh)' is missing"),
    ("renamed column", None, 2, "'EVSE ID' is missing"),
    ("duplicate headers", None, 2, "appears twice"),
    ("text in amount", lambda p: book_with(p, amount="zwölf"), 1, "is not a number"),
    ("formula error", lambda p: book_with(p, amount="#REF!"), 1, "#REF!"),
    ("boolean amount", lambda p: book_with(p, amount=True), 1, "not a number"),
    ("date in amount", lambda p: book_with(p, amount=datetime(2024, 1, 1)), 1, "a date"),
    ("ambiguous decimal", lambda p: book_with(p, amount="1.234"), 1, "ambiguous"),
    ("german decimal", lambda p: book_with(p, amount="18.234,5"), 0, "valid"),
    ("english thousands", lambda p: book_with(p, amount="18,234.5"), 0, "valid"),
    ("date as german text", lambda p: book_with(p, period_start="01.01.2024", period_end="31.12.2024"), 0, "valid"),
    ("date as iso text", lambda p: book_with(p, period_start="2024-01-01"), 0, "valid"),
    ("impossible date", lambda p: book_with(p, period_end="31.02.2024"), 1, "not a valid date"),
    ("us date", lambda p: book_with(p, commissioning_date="06/01/2021"), 1, "31.12.2024"),
    ("zip lost its zero", lambda p: book_with(p, zip_code=1067), 0, "valid"),
    ("zip too long", lambda p: book_with(p, zip_code="010677"), 1, "five digits"),
    ("trailing spaces", lambda p: book_with(p, town="  Dresden  ", evse_id=" de*swe*e1000001*1 "), 0, "valid"),
    ("huge number", lambda p: book_with(p, amount=1e300), 1, "out of range"),
    ("negative zero", lambda p: book_with(p, amount=-0.0), 1, "greater than 0"),
    ("emoji in town", lambda p: book_with(p, town="Dresden ⚡"), 0, "valid"),
    ("very long street", lambda p: book_with(p, street="Weg " * 100), 1, "at most 200"),
    ("formula-like reference", lambda p: book_with(p, customer_reference="=1+1"), 0, "valid"),
    ("unknown operator", lambda p: book_with(p, chargepointoperator_id="NOPE"), 1, "neither a QaaS operator ID"),
    ("operator id as float text", lambda p: book_with(p, chargepointoperator_id="335.5"), 1, "Operator"),
    ("million formatted empty rows", None, 0, "valid"),
    ("merged cells", None, 1, "is merged over rows 2–3"),  # two charge points: a merge is never shared
]


def million_rows(p: Path) -> Path:
    def edit(wb):
        wb["ChargePoints"].cell(1_000_000, 3).number_format = "@"
    return edited(p, edit)


def merged(p: Path) -> Path:
    build_workbook(DEMO_OPERATORS[:1], [CP, dict(CP, customer_reference="B", evse_id="DE*SWE*E1000009*1")],
                   size=0).save(p)
    wb = openpyxl.load_workbook(p)
    ws = wb["ChargePoints"]
    col = header_col(ws, "Town")
    ws.merge_cells(start_row=2, start_column=col, end_row=3, end_column=col)
    wb.save(p)
    return p


BUILDERS = {
    "missing column": lambda p: edited(p, rename_header("Amount (kWh)", None)),
    "renamed column": lambda p: edited(p, rename_header("EVSE ID", "Ladepunkt-Kennung")),
    "duplicate headers": lambda p: edited(p, rename_header("Street", "Town")),
    "million formatted empty rows": million_rows,
    "merged cells": merged,
}


@pytest.mark.parametrize(("name", "build", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_message_and_exit_code(tmp_path: Path, qaas_home: Path, name, build, code,
                                                      words) -> None:
    path = tmp_path / "Meldung 2024.xlsx"
    (BUILDERS.get(name) or build)(path)
    before = path.read_bytes()
    result = runner.invoke(app, ["validate", str(path), "--sheet", "ChargePoints"])
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, output
    if code == 2:
        assert "Meldung 2024.xlsx" in output and words in output
        assert path.read_bytes() == before
    else:
        ws = openpyxl.load_workbook(path)["ChargePoints"]
        texts = [str(c.value) for row in ws.iter_rows(min_row=2, max_row=3) for c in row if c.value is not None]
        assert any(words in t for t in texts), texts


def content(path: Path) -> object:
    """What a case feeds the tool: the bytes, or for an .xlsx its parts (without the save time in core.xml)."""
    try:
        with zipfile.ZipFile(path) as z:
            return tuple(sorted((n, z.read(n)) for n in z.namelist() if n != "docProps/core.xml"))
    except zipfile.BadZipFile:
        return path.read_bytes()


def test_the_corpus_holds_at_least_thirty_different_inputs(tmp_path: Path) -> None:
    inputs = []
    for name, build, _, _ in CASES:
        path = tmp_path / f"{len(inputs)}.xlsx"
        (BUILDERS.get(name) or build)(path)
        inputs.append(content(path))
    assert len(set(inputs)) == len(CASES) >= 30  # no two cases build the same file
    assert set(BUILDERS) <= {name for name, *_ in CASES}  # and no builder is left out
