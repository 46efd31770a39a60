"""Users bring their own workbooks: every headless command on every foreign workbook of the corpus touches
only what it owns. Parts it does not own stay byte-identical, every foreign cell keeps its exact XML, the
file opens in openpyxl and calamine with the values written, a second push is all `unchanged`, and no
third-party warning reaches the user."""

from __future__ import annotations

import json
import re
import shutil
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from qaas_excel.cli import app
from tests.support.xlsx_parts import cell_xml, changed_parts, outside_sheet_data, read_package, sheet_part

CORPUS_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "foreign"
CORPUS = json.loads((CORPUS_DIR / "corpus.json").read_text(encoding="utf-8"))
SMALL = [e["file"] for e in CORPUS if e.get("charge_points", 0) <= 50]
DATA_SHEETS = ("Operators", "ChargePoints")
SYSTEM_HEADERS = ("QaaS ID", "Status", "Last updated (UTC)", "Result", "Message", "Synced at (UTC)",
                  "_qaas_fingerprint")
runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner.invoke(app, list(args), catch_exceptions=False)
    # (the in-process sandbox's event loop may report its own idle sockets: not something the user sees)
    shown = [w for w in caught if not issubclass(w.category, ResourceWarning)]
    assert not shown, [str(w.message) for w in shown]
    assert "Warning" not in result.stderr, result.stderr
    return result.exit_code, result.stdout, result.stderr


def owned_parts(before: dict[str, bytes], after: dict[str, bytes], *, report: bool) -> set[str]:
    """The parts a run may change: the data sheets (cells, notes), their rels and tables, the style sheet,
    the content types; with reconcile, the workbook's sheet list and the Reconciliation sheet's own parts."""
    owned = {"xl/styles.xml", "[Content_Types].xml"}
    for sheet in DATA_SHEETS:
        part = sheet_part(before, sheet)
        owned |= {part, re.sub(r"([^/]+)$", r"_rels/\1.rels", part)}
        rels = after.get(re.sub(r"([^/]+)$", r"_rels/\1.rels", part), b"").decode()
        for target in re.findall(r'Target="([^"]+)"', rels):
            name = target.lstrip("/") if target.startswith("/") else \
                re.sub(r"[^/]+/\.\./", "", f"xl/worksheets/{target}")
            if "comments" in name or "vmlDrawing" in name or "/tables/" in name:
                owned.add(name)
    if report:
        owned |= {"xl/workbook.xml", "xl/_rels/workbook.xml.rels"}
        owned |= set(after) - set(before)  # the Reconciliation sheet's new parts
    return owned


def assert_only_owned_changed(before: dict[str, bytes], after: dict[str, bytes], *, report: bool = False,
                              marked: frozenset[str] = frozenset()) -> None:
    """``marked``: input cells a problem was found in, whose format (only) the run may change."""
    assert set(before) <= set(after), f"parts lost: {set(before) - set(after)}"
    changed = set(changed_parts(before, after))
    # the workbook part may gain a sheet, but the pivot caches it lists stay listed (else the pivot tables break)
    caches = re.findall(rb"<(?:\w+:)?pivotCache\b[^>]*/>", before["xl/workbook.xml"])
    assert re.findall(rb"<(?:\w+:)?pivotCache\b[^>]*/>", after["xl/workbook.xml"]) == caches
    assert changed <= owned_parts(before, after, report=report), changed - owned_parts(before, after, report=report)
    for sheet in DATA_SHEETS:
        part = sheet_part(before, sheet)
        old_cells, new_cells = cell_xml(before[part]), cell_xml(after[part])
        system_cols = {re.match(r"[A-Z]+", ref).group() for ref, xml in new_cells.items()
                       if ref.endswith("1") and any(h.encode() in xml for h in SYSTEM_HEADERS)}
        for ref, xml in old_cells.items():
            column = re.match(r"[A-Z]+", ref).group()
            if sheet == "ChargePoints" and ref in marked:
                unstyled = re.compile(rb'\ss="\d+"')
                assert unstyled.sub(b"", new_cells.get(ref, b"")) == unstyled.sub(b"", xml), ref
            elif column not in system_cols:
                assert new_cells.get(ref) == xml, f"{sheet}!{ref} changed: {xml!r} -> {new_cells.get(ref)!r}"
        old_head, old_tail = outside_sheet_data(before[part])
        new_head, new_tail = outside_sheet_data(after[part])
        strip = re.compile(rb"<(?:\w+:)?dimension\b[^>]*/>|<(?:\w+:)?cols\b.*?</(?:\w+:)?cols>", re.S)
        assert strip.sub(b"", new_head) == strip.sub(b"", old_head)
        assert re.sub(rb"<(?:\w+:)?legacyDrawing\b[^>]*/>", b"", new_tail) == \
            re.sub(rb"<(?:\w+:)?legacyDrawing\b[^>]*/>", b"", old_tail)


def column_values(path: Path, sheet: str, header: str) -> list:
    ws = openpyxl.load_workbook(path, data_only=True)[sheet]
    headers = [c.value for c in ws[1]]
    j = headers.index(header)
    return [row[j] for row in ws.iter_rows(min_row=2, values_only=True) if any(v is not None for v in row[:3])]


@pytest.mark.parametrize("name", SMALL)
def test_every_headless_command_touches_only_what_it_owns(name: str, sandbox, signed_in, tmp_path: Path) -> None:
    book = tmp_path / name
    shutil.copyfile(CORPUS_DIR / name, book)
    original = read_package(book)

    code, out, _err = cli("validate", str(book), "--json")
    assert code == 0
    notes = json.loads(out)["notes"]  # hand-made sheets get the system block, and the user is told
    assert any(n.startswith("ChargePoints: it had no columns for the results; added QaaS ID, Status") for n in notes)
    after_validate = read_package(book)
    assert_only_owned_changed(original, after_validate)

    code, out, err = cli("push", str(book), "--env", "sandbox", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["counts"] == {"created": 2 + 6}
    after_push = read_package(book)
    assert_only_owned_changed(original, after_push)
    ids = column_values(book, "ChargePoints", "QaaS ID")
    assert len(ids) == 6 and all(isinstance(i, int) for i in ids)
    assert sorted(ids) == sorted(r["id"] for r in sandbox.admin.records("chargepoint"))
    calamine = CalamineWorkbook.from_path(str(book)).get_sheet_by_name("ChargePoints").to_python()
    col = list(calamine[0]).index("QaaS ID")
    assert sorted(int(r[col]) for r in calamine[1:] if r[col] != "") == sorted(ids)
    assert set(column_values(book, "ChargePoints", "Result")) == {"created"}

    code, out, _err = cli("push", str(book), "--env", "sandbox", "--json")
    assert code == 0 and json.loads(out)["counts"] == {"unchanged": 8}

    code, _out, _err = cli("pull", str(book), "--env", "sandbox")
    assert code == 0
    assert_only_owned_changed(original, read_package(book))

    code, _out, err = cli("reconcile", str(book), "--env", "sandbox")
    assert code == 0, err
    final = read_package(book)
    assert_only_owned_changed(original, final, report=True)
    assert "Reconciliation" in openpyxl.load_workbook(book).sheetnames
    charts = [n for n in final if n.startswith("xl/charts/") and n not in original]
    assert charts, "the Reconciliation chart"

    code, _out, _err = cli("reconcile", str(book), "--env", "sandbox")  # replaced, not added twice
    again = read_package(book)
    assert openpyxl.load_workbook(book).sheetnames.count("Reconciliation") == 1
    charts_again = [n for n in again if n.startswith("xl/charts/")]
    assert len(charts_again) == len([n for n in final if n.startswith("xl/charts/")])


def _with_shared_string(source: Path, target: Path, old: bytes, new: bytes) -> Path:
    """The same workbook with one shared string changed, every other byte of every part as it was."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item.filename, data.replace(old, new) if item.filename == "xl/sharedStrings.xml" else data)
    return target


def _shapes(vml: bytes) -> list[bytes]:
    return re.findall(rb"<v:shape\b.*?</v:shape>", vml, re.S)


@pytest.mark.parametrize("name", ["xlsxwriter_features.xlsx", "libreoffice_resaved.xlsx", "excel_quickstart.xlsm"])
def test_our_note_joins_a_sheet_full_of_other_notes_and_controls_and_leaves_again(name: str, tmp_path: Path) -> None:
    book = _with_shared_string(CORPUS_DIR / name, tmp_path / name, b"DE*SWE*E1000001*1", b"DE-NOT-AN-EVSE")
    before = read_package(book)
    part = sheet_part(before, "ChargePoints")
    rels = before[re.sub(r"([^/]+)$", r"_rels/\1.rels", part)].decode()
    theirs = {t.split("/")[-1] for t in re.findall(r'Target="([^"]+(?:comments|vmlDrawing)[^"]*)"', rels)}

    code, _out, _err = cli("validate", str(book))
    assert code == 1  # one invalid EVSE ID
    marked = read_package(book)
    ws = openpyxl.load_workbook(book)["ChargePoints"]
    notes = {c.coordinate: c.comment for row in ws.iter_rows() for c in row if c.comment}
    ours = [ref for ref, note in notes.items() if note.author == "qaas-excel"]
    assert_only_owned_changed(before, marked, marked=frozenset(ours))
    assert len(ours) == 1 and "EVSE ID" in notes[ours[0]].text
    for part_name in [n for n in before if n.split("/")[-1] in theirs]:
        if part_name.endswith(".vml"):  # every shape someone else drew (notes, buttons, checkboxes) is still there
            assert set(_shapes(before[part_name])) <= set(_shapes(marked[part_name]))
    before_notes = {c.coordinate: (c.comment.author, c.comment.text) for row in
                    openpyxl.load_workbook(CORPUS_DIR / name)["ChargePoints"].iter_rows() for c in row if c.comment}
    assert {ref: (n.author, n.text) for ref, n in notes.items() if ref not in ours} == before_notes

    # fixed: our note and its shape go, everything of theirs stays
    restored = _with_shared_string(book, tmp_path / f"fixed-{name}", b"DE-NOT-AN-EVSE", b"DE*SWE*E1000001*1")
    code, _out, _err = cli("validate", str(restored))
    assert code == 0
    after = read_package(restored)
    assert_only_owned_changed(read_package(CORPUS_DIR / name), after)  # the marked cell has its own format back
    ws = openpyxl.load_workbook(restored)["ChargePoints"]
    assert {c.coordinate: (c.comment.author, c.comment.text) for row in ws.iter_rows() for c in row
            if c.comment} == before_notes
    for part_name in [n for n in before if n.endswith(".vml") and n.split("/")[-1] in theirs]:
        assert set(_shapes(after[part_name])) == set(_shapes(before[part_name]))
