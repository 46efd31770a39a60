"""Every foreign workbook in the corpus is what corpus.json says it is.

The write-back tests rely on these files holding what another program wrote: the template's input
headers without system columns, valid rows, amounts as formulas with cached values, and the
features each claims (sparklines, text boxes, form controls, VBA...). If a regenerated file lost
one of them, the proof built on it would silently prove less; these tests fail instead.
"""

from __future__ import annotations

import json
import re
import warnings
import zipfile
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from lxml import etree
from python_calamine import CalamineWorkbook

from qaas_excel.resources import CHARGEPOINT, OPERATOR
from qaas_excel.templates import DEMO_CHARGE_POINTS
from qaas_excel.validation import validate
from qaas_excel.workbook import columns as C
from qaas_excel.workbook import mapping
from tests.support.xlsx_parts import parse_xml, read_package, sheet_part

CORPUS_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "foreign"
CORPUS: list[dict[str, Any]] = json.loads((CORPUS_DIR / "corpus.json").read_text(encoding="utf-8"))
FILES = [entry["file"] for entry in CORPUS]
OPERATOR_HEADERS = [c.header for c in C.columns_for(OPERATOR) if not c.system]
CHARGE_POINT_HEADERS = [c.header for c in C.columns_for(CHARGEPOINT) if not c.system]
AMOUNT_COL = CHARGE_POINT_HEADERS.index("Amount (kWh) *")  # 0-based; the quarters follow it
# the first row of each reference (the demo repeats one on purpose, as a mistake to find)
DEMO_AMOUNTS = {cp["customer_reference"]: Decimal(str(cp["amount"])) for cp in reversed(DEMO_CHARGE_POINTS)
                if isinstance(cp["amount"], float)}
X14 = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"
MAX_SIZE = 200 * 1024


def _entry(name: str) -> dict[str, Any]:
    return next(e for e in CORPUS if e["file"] == name)


def _matches(package: dict[str, bytes], pattern: str, xpath: str) -> bool:
    """Some XML part whose name matches ``pattern`` has a node for ``xpath`` (local names, any prefix)."""
    return any(re.fullmatch(pattern, name) and bool(parse_xml(data).xpath(xpath)) for name, data in package.items())


def _ln(*names: str) -> str:
    """A path of elements by local name: _ln("a", "b") -> //*[local-name()='a']/*[local-name()='b']."""
    return "//" + "/".join(f"*[local-name()='{n}']" for n in names)


SHEETS = r"xl/worksheets/sheet\d+\.xml"
DRAWINGS = r"xl/drawings/drawing\d+\.xml"
VML = r"xl/drawings/vmlDrawing\d+\.vml"
CTRL_PROPS = r"xl/ctrlProps/ctrlProps?\d+\.xml"
TRUE = "(@{0}='1' or @{0}='true')"


def _hyperlinks(package: dict[str, bytes]) -> bool:
    """A hyperlink cell whose relationship goes out of the package."""
    for name, data in package.items():
        if re.fullmatch(SHEETS, name) and parse_xml(data).xpath(_ln("hyperlink")):
            rels = package.get(name.replace("worksheets/", "worksheets/_rels/") + ".rels", b"")
            if rels and parse_xml(rels).xpath(_ln("Relationship") + "[@TargetMode='External']"):
                return True
    return False


def _vba(package: dict[str, bytes]) -> bool:
    types = parse_xml(package["[Content_Types].xml"])
    macro_main = types.xpath(_ln("Override") + "[@PartName='/xl/workbook.xml'][contains(@ContentType, 'macroEnabled')]")
    bin_ = package.get("xl/vbaProject.bin", b"")
    return bool(macro_main) and bin_.startswith(b"\xd0\xcf\x11\xe0")  # an OLE compound file


def _excel_parts_verbatim(package: dict[str, bytes]) -> bool:
    """Every part of xlwings' Excel-saved quickstart.xlsm that the corpus script did not edit is unchanged."""
    import xlwings

    edited = {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml",
              "xl/sharedStrings.xml"}
    with zipfile.ZipFile(Path(xlwings.__file__).parent / "quickstart.xlsm") as z:
        original = {n: z.read(n) for n in z.namelist()}
    app = parse_xml(original["docProps/app.xml"]).xpath(_ln("Application") + "/text()")
    return app == ["Microsoft Excel"] and all(package.get(n) == data for n, data in original.items() if n not in edited)


def _pivot_table(package: dict[str, bytes]) -> bool:
    """A pivot table with a data field, and the workbook's pivot cache with its fields and records or source."""
    table = _matches(package, r"xl/pivotTables/pivotTable\d+\.xml",
                     "/*[local-name()='pivotTableDefinition'][@cacheId]/*[local-name()='dataFields']"
                     "/*[local-name()='dataField'][@fld]")
    cache = _matches(package, r"xl/pivotCache/pivotCacheDefinition\d+\.xml",
                     "/*[local-name()='pivotCacheDefinition'][*[local-name()='cacheFields']/*[local-name()='cacheField']]"
                     "[*[local-name()='cacheSource']/*[local-name()='worksheetSource'][@ref or @name]]")
    records = _matches(package, r"xl/pivotCache/pivotCacheRecords\d+\.xml", _ln("pivotCacheRecords", "r"))
    listed = _matches(package, r"xl/workbook\.xml", _ln("pivotCaches", "pivotCache") + "[@cacheId]")
    return table and cache and records and listed


FEATURES: dict[str, Callable[[dict[str, bytes]], bool]] = {
    "notes": lambda p: _matches(p, r"xl/comments\d*\.xml", _ln("commentList", "comment")),
    "threaded_comments": lambda p: (_matches(p, r"xl/threadedComments/.+\.xml", _ln("threadedComment", "text"))
                                    and _matches(p, r"xl/persons/person\.xml", _ln("person"))),
    "shape": lambda p: _matches(p, DRAWINGS, _ln("sp", "spPr")),
    "textbox": lambda p: _matches(p, DRAWINGS, _ln("sp", "txBody", "p", "r", "t") + "[normalize-space()]"),
    "picture": lambda p: (_matches(p, DRAWINGS, _ln("pic", "blipFill", "blip"))
                          and any(n.startswith("xl/media/") for n in p)),
    "chart": lambda p: (_matches(p, r"xl/charts/chart\d+\.xml", _ln("chart", "plotArea"))
                        and _matches(p, DRAWINGS, _ln("graphicFrame"))),
    "sparklines": lambda p: _matches(p, SHEETS, _ln("ext", "sparklineGroups", "sparklineGroup", "sparklines",
                                                    "sparkline")),
    "databar_2010": lambda p: _matches(p, SHEETS, f"//*[namespace-uri()='{X14}' and local-name()='dataBar']"),
    "form_button": lambda p: (_matches(p, CTRL_PROPS, "/*[@objectType='Button']")
                              or _matches(p, VML, _ln("ClientData") + "[@ObjectType='Button']")),
    "form_checkbox": lambda p: (_matches(p, CTRL_PROPS, "/*[@objectType='CheckBox']")
                                and _matches(p, SHEETS, _ln("controls", "AlternateContent", "Choice", "control"))),
    "cell_checkboxes": lambda p: _matches(p, r"xl/featurePropertyBag/featurePropertyBag\.xml",
                                          _ln("bag") + "[@type='Checkbox']"),
    "table": lambda p: _matches(p, r"xl/tables/table\d+\.xml", "/*[local-name()='table']/*[local-name()="
                                "'tableColumns']"),
    "list_validation_other_sheet": lambda p: _matches(
        p, SHEETS, _ln("dataValidation") + "[@type='list']/*[local-name()='formula1'][contains(., '!')]"),
    "hyperlinks": _hyperlinks,
    "defined_names": lambda p: _matches(p, r"xl/workbook\.xml",
                                        _ln("definedName") + "[not(starts-with(@name, '_xlnm.'))]"),
    "grouped_rows": lambda p: _matches(p, SHEETS, _ln("row") + "[@outlineLevel > 0]"),
    "grouped_columns": lambda p: _matches(p, SHEETS, _ln("col") + "[@outlineLevel > 0]"),
    "hidden_rows": lambda p: _matches(p, SHEETS, _ln("row") + "[" + TRUE.format("hidden") + "]"),
    "hidden_columns": lambda p: _matches(p, SHEETS, _ln("col") + "[" + TRUE.format("hidden") + "]"),
    "print_settings": lambda p: (_matches(p, SHEETS, _ln("pageSetup") + "[@orientation='landscape']")),
    "custom_properties": lambda p: _matches(p, r"docProps/custom\.xml", _ln("property")),
    "rich_text": lambda p: _matches(p, r"xl/sharedStrings\.xml", _ln("si", "r", "rPr")),
    "shared_formulas": lambda p: _matches(p, SHEETS, _ln("c", "f") + "[@t='shared']"),
    "external_link": lambda p: (_matches(p, r"xl/externalLinks/externalLink\d+\.xml", _ln("externalBook"))
                                and _matches(p, r"xl/workbook\.xml", _ln("externalReference"))),
    "pivot_table": _pivot_table,
    "vba": _vba,
    "excel_parts_verbatim": _excel_parts_verbatim,
}


def test_the_manifest_claims_only_known_features_and_covers_the_issue() -> None:
    claimed = {f for e in CORPUS for f in e["features"]}
    assert claimed <= FEATURES.keys()
    assert claimed == FEATURES.keys()  # every feature this file can check is proved by some fixture
    assert {"XlsxWriter", "LibreOffice"} <= {e["writer"] for e in CORPUS}
    assert any(e["writer"].startswith("Excel") for e in CORPUS)
    assert any(e["charge_points"] >= 2000 for e in CORPUS)
    assert sorted(p.name for p in CORPUS_DIR.glob("*.xls?")) == sorted(FILES)


@pytest.mark.parametrize("name", FILES)
def test_fixture_is_small_and_holds_every_feature_it_claims(name: str) -> None:
    path = CORPUS_DIR / name
    assert path.stat().st_size < MAX_SIZE
    package = read_package(path)
    missing = [f for f in _entry(name)["features"] if not FEATURES[f](package)]
    assert missing == []


def test_feature_checks_fail_on_a_workbook_without_the_features(tmp_path: Path) -> None:
    """openpyxl's plain save drops what the checks look for: they must notice."""
    source = CORPUS_DIR / "xlsxwriter_features.xlsx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        openpyxl.load_workbook(source).save(tmp_path / "resaved.xlsx")
    package = read_package(tmp_path / "resaved.xlsx")
    lost = ["cell_checkboxes", "databar_2010", "form_button", "shape", "sparklines", "textbox"]
    assert [f for f in lost if FEATURES[f](read_package(source))] == lost
    assert [f for f in lost if FEATURES[f](package)] == []
    assert FEATURES["list_validation_other_sheet"](package)  # what openpyxl keeps is still found


def _calamine_rows(path: Path, sheet: str) -> list[list[Any]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


def _openpyxl_rows(path: Path, sheet: str, data_only: bool) -> list[list[Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about every extension it cannot keep
        wb = openpyxl.load_workbook(path, data_only=data_only)
    try:
        return [list(r) for r in wb[sheet].iter_rows(values_only=True)]
    finally:
        wb.close()


@pytest.mark.parametrize("name", FILES)
def test_headers_are_the_templates_input_columns_without_system_columns(name: str) -> None:
    path = CORPUS_DIR / name
    for reader in (lambda s: _calamine_rows(path, s), lambda s: _openpyxl_rows(path, s, True)):
        ops, cps = reader("Operators"), reader("ChargePoints")
        assert ops[0][: len(OPERATOR_HEADERS)] == OPERATOR_HEADERS
        assert cps[0][: len(CHARGE_POINT_HEADERS)] == CHARGE_POINT_HEADERS
        assert cps[0][AMOUNT_COL + 1: AMOUNT_COL + 5] == ["Q1 (kWh)", "Q2 (kWh)", "Q3 (kWh)", "Q4 (kWh)"]
        system = {C.normalise_header(c.header) for r in (OPERATOR, CHARGEPOINT) for c in C.columns_for(r) if c.system}
        assert not {C.normalise_header(h) for h in ops[0] + cps[0] if h} & system


def _amount_rows(rows: list[list[Any]]) -> list[list[Any]]:
    return [r for r in rows[1:] if len(r) > AMOUNT_COL and type(r[AMOUNT_COL]) in (int, float)]


@pytest.mark.parametrize("name", FILES)
def test_amounts_are_sum_formulas_with_cached_values(name: str) -> None:
    path = CORPUS_DIR / name
    formulas = _openpyxl_rows(path, "ChargePoints", data_only=False)
    cached = {"calamine": _calamine_rows(path, "ChargePoints"),
              "openpyxl": _openpyxl_rows(path, "ChargePoints", data_only=True)}
    expected_rows = _entry(name)["charge_points"]
    for i, row in enumerate(formulas[1: expected_rows + 1], start=2):
        assert row[AMOUNT_COL] == f"=SUM(L{i}:O{i})"
    for reader, rows in cached.items():
        amounts = _amount_rows(rows)
        assert len(amounts) == expected_rows, reader
        for row in amounts:
            quarters = sum(Decimal(str(q)) for q in row[AMOUNT_COL + 1: AMOUNT_COL + 5])
            assert round(Decimal(str(row[AMOUNT_COL])), 3) == quarters, (reader, row[0])
            if row[0] in DEMO_AMOUNTS:
                assert quarters == DEMO_AMOUNTS[row[0]]


@pytest.mark.parametrize("name", FILES)
def test_rows_pass_validation_as_read_by_calamine(name: str) -> None:
    path = CORPUS_DIR / name
    today = date(2025, 6, 30)  # fixed: the rows are for 2024
    results = {}
    for resource in (OPERATOR, CHARGEPOINT):
        values = _calamine_rows(path, resource.sheet)
        layout = mapping.locate(values, resource, source=name, sheet=resource.sheet)
        assert not set(layout.columns) & set(C.SYSTEM_KEYS)
        frame, _ = mapping.rows_frame(values, layout)
        refs = set(results[OPERATOR.name].records["customer_reference"]) if resource is CHARGEPOINT else None
        results[resource.name] = validate(resource, frame, sheet=resource.sheet, headers=layout.headers,
                                          operator_refs=refs, today=today)
        assert results[resource.name].problems == []
    assert len(results[OPERATOR.name].records) == 2
    assert len(results[CHARGEPOINT.name].records) == _entry(name)["charge_points"]
    assert set(results[CHARGEPOINT.name].records["chargepointoperator_id"]) == {"SW-DD", "LN-HH"}


def test_excel_fixture_keeps_excels_own_sheets_where_they_were() -> None:
    package = read_package(CORPUS_DIR / "excel_quickstart.xlsm")
    assert sheet_part(package, "Sheet1") == "xl/worksheets/sheet1.xml"
    assert sheet_part(package, "_xlwings.conf") == "xl/worksheets/sheet2.xml"
    assert etree.QName(parse_xml(package["xl/worksheets/sheet2.xml"])).localname == "worksheet"
