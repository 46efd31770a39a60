"""The manifest against Microsoft's documented rules, and functions.json against excel/udfs.py.

No XSD for current add-in manifests ships in any package (the copies in OfficeDev/office-js-docs-pr were
removed as out of date), so the rules are checked as documented: element order from
docs/develop/manifest-element-ordering.md, the shared runtime from
docs/develop/configure-your-add-in-to-use-a-shared-runtime.md, functions.json from
docs/excel/custom-functions-json.md and custom-functions-naming.md. Microsoft's validator (a web service) was
not run.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest
from lxml import etree

from qaas_excel.excel import ribbon, udf_stubs, udfs
from qaas_excel.office import ADDIN_ID, NAMESPACE, manifest
from qaas_excel.resources import OPERATOR

ORIGIN = "https://localhost:44355"
NS = {"o": manifest.NS, "v": manifest.OV, "bt": manifest.BT, "xsi": manifest.XSI}
ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "qaas_excel" / "office" / "static" / "app"

# Child order, per parent, as manifest-element-ordering.md lists it (task pane add-in).
ORDER = {
    "OfficeApp": ["Id", "AlternateID", "Version", "ProviderName", "DefaultLocale", "DisplayName", "Description",
                  "IconUrl", "HighResolutionIconUrl", "SupportUrl", "AppDomains", "Hosts", "Requirements",
                  "DefaultSettings", "Permissions", "Dictionary", "VersionOverrides", "ExtendedOverrides"],
    "VersionOverrides": ["Description", "Requirements", "Hosts", "Resources", "WebApplicationInfo",
                         "EquivalentAddins"],
    "Host@Workbook": ["Runtimes", "AllFormFactors", "DesktopFormFactor"],
    "ExtensionPoint@CustomFunctions": ["Script", "Page", "Metadata", "Namespace"],
    "DesktopFormFactor": ["GetStarted", "FunctionFile", "ExtensionPoint"],
    "GetStarted": ["Title", "Description", "LearnMoreUrl"],
    "CustomTab": ["Group", "OfficeGroup", "Label", "InsertAfter", "InsertBefore"],
    "Group": ["OverriddenByRibbonApi", "Label", "Icon", "Control"],
    "Control": ["OverriddenByRibbonApi", "Label", "Supertip", "Icon", "Action", "Enabled", "Items"],
    "Supertip": ["Title", "Description"],
    "Action": ["TaskpaneId", "SourceLocation", "Title", "FunctionName"],
    "Resources": ["Images", "Urls", "ShortStrings", "LongStrings"],
}
# Which resource list a resid must be in, by the element that names it.
RESID_KIND = {"Image": "Images", "SourceLocation": "Urls", "LearnMoreUrl": "Urls", "FunctionFile": "Urls",
              "Runtime": "Urls", "Label": "ShortStrings", "Title": "ShortStrings", "Namespace": "ShortStrings",
              "Description": "LongStrings"}


@pytest.fixture(scope="module")
def doc():
    return etree.fromstring(manifest.manifest_xml(ORIGIN))


def _local(el) -> str:
    return etree.QName(el).localname


def _key(el) -> str:
    xsi_type = el.get(f"{{{manifest.XSI}}}type")
    name = _local(el)
    return f"{name}@{xsi_type}" if f"{name}@{xsi_type}" in ORDER else name


def test_every_element_is_in_the_documented_order(doc):
    checked = 0
    for el in doc.iter():
        if not isinstance(el.tag, str) or _key(el) not in ORDER:
            continue
        order = ORDER[_key(el)]
        children = [_local(c) for c in el if isinstance(c.tag, str)]
        unknown = [c for c in children if c not in order]
        assert not unknown, f"{_key(el)} has children the documentation does not list there: {unknown}"
        positions = [order.index(c) for c in children]
        assert positions == sorted(positions), f"{_key(el)}: {children}"
        checked += 1
    assert checked > 20


def test_the_namespaces_and_types_are_the_documented_ones(doc):
    assert doc.tag == f"{{{manifest.NS}}}OfficeApp" and doc.get(f"{{{manifest.XSI}}}type") == "TaskPaneApp"
    vo = doc.find("v:VersionOverrides", NS)
    assert vo is not None and vo.get(f"{{{manifest.XSI}}}type") == "VersionOverridesV1_0"
    assert doc.findtext("o:Id", namespaces=NS) == ADDIN_ID
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", ADDIN_ID)
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", doc.findtext("o:Version", namespaces=NS))
    assert [h.get("Name") for h in doc.findall("o:Hosts/o:Host", NS)] == ["Workbook"]
    assert doc.findtext("o:Permissions", namespaces=NS) == "ReadWriteDocument"


def test_it_asks_for_a_shared_runtime_the_documented_way(doc):
    sets = {s.get("Name"): s.get("MinVersion") for s in doc.findall("o:Requirements/o:Sets/o:Set", NS)}
    assert sets["SharedRuntime"] == "1.1"
    runtimes = doc.findall(".//v:Runtimes/v:Runtime", NS)
    assert len(runtimes) == 1 and runtimes[0].get("lifetime") == "long"
    shared = runtimes[0].get("resid")
    assert shared == "Taskpane.Url"
    # the runtime's resid, the functions' page and the function file are the same (else it does not load)
    assert doc.find(".//v:ExtensionPoint[@xsi:type='CustomFunctions']/v:Page/v:SourceLocation", NS).get(
        "resid") == shared
    assert doc.find(".//v:FunctionFile", NS).get("resid") == shared


def test_every_resid_is_defined_once_in_the_right_list_and_within_limits(doc):
    resources = doc.find(".//v:Resources", NS)
    defined: dict[str, dict[str, str]] = {}
    for kind in ("Images", "Urls", "ShortStrings", "LongStrings"):
        items = resources.findall(f"bt:{kind}/*", NS)
        ids = [i.get("id") for i in items]
        assert len(ids) == len(set(ids)), kind
        defined[kind] = {i.get("id"): i.get("DefaultValue") for i in items}
    used = 0
    for el in doc.iter():
        resid = el.get("resid") if isinstance(el.tag, str) else None
        if resid is None:
            continue
        used += 1
        assert len(resid) <= 32, resid
        kind = RESID_KIND[_local(el)]
        assert resid in defined[kind], f"{_local(el)} names {resid}, not in {kind}"
    assert all(len(v) <= 125 for v in defined["ShortStrings"].values())
    assert all(len(v) <= 250 for v in defined["LongStrings"].values())
    assert defined["ShortStrings"]["Functions.Namespace"] == NAMESPACE
    assert used > 50


def test_every_url_is_https_on_the_companion(doc):
    urls = _urls(doc)
    assert urls and all(u.startswith(ORIGIN + "/") for u in urls)


def _urls(doc) -> set[str]:
    out = set()
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in ("DefaultValue", "Value"):
            value = el.get(attr) or ""
            if value.startswith("http"):
                out.add(value)
    return out


def test_the_tab_has_exactly_the_vba_ribbons_buttons_in_its_groups(doc):
    tab = doc.find(".//v:CustomTab", NS)
    groups = tab.findall("v:Group", NS)
    assert [g.get("id") for g in groups] == [f"QaasGroup.{k}" for k in ribbon.GROUPS]
    buttons = [(g.get("id").split(".")[1], c.get("id"), c.find("v:Action/v:FunctionName", NS).text)
               for g in groups for c in g.findall("v:Control", NS)]
    assert buttons == [(b.group, b.id, b.python) for b in ribbon.BUTTONS]
    strings = {s.get("id"): s.get("DefaultValue") for s in doc.findall(".//bt:ShortStrings/bt:String", NS)}
    assert [strings[f"{b.id}.Label"] for b in ribbon.BUTTONS] == [b.label for b in ribbon.BUTTONS]


def test_the_javascript_runs_every_button_the_manifest_names():
    source = (STATIC / "controller.js").read_text(encoding="utf-8")
    items = re.search(r"export const COMMANDS = \[(.*?)\];", source, re.S).group(1)
    listed = re.findall(r'"(\w+)"', items)
    assert listed == manifest.command_names()


def test_functions_json_is_made_from_the_python_signatures():
    data = manifest.functions_metadata()
    assert [f["name"] for f in data["functions"]] == [f.__name__.removeprefix("QAAS_") for f in udfs.FUNCTIONS]
    for entry, func in zip(data["functions"], udfs.FUNCTIONS, strict=True):
        params = inspect.signature(func).parameters.values()
        assert [p["name"] for p in entry["parameters"]] == [p.name for p in params]
        assert [p.get("optional", False) for p in entry["parameters"]] == [
            p.default is not inspect.Parameter.empty for p in params]
        assert entry["parameters"] == [{**p, "name": n} for p, (n, _) in
                                       zip(entry["parameters"], udf_stubs.parameters(func), strict=True)]
        assert entry["description"] == inspect.getdoc(func).splitlines()[0].replace("QAAS_", "QAAS.")
        assert entry["result"]["dimensionality"] == ("matrix" if func in (udfs.QAAS_OPERATORS,
                                                                          udfs.QAAS_CHARGEPOINTS) else "scalar")


def test_function_ids_and_names_follow_the_documented_rules():
    ids = [f["id"] for f in manifest.functions_metadata()["functions"]]
    assert len(ids) == len(set(ids))
    for f in manifest.functions_metadata()["functions"]:
        assert re.fullmatch(r"[A-Z][A-Z0-9.]{2,}", f["id"]), f["id"]  # letters, digits and periods only
        assert re.fullmatch(r"[A-Z][A-Z0-9_.]{2,}", f["name"]), f["name"]
        assert not re.fullmatch(r"[A-Z]{1,3}[0-9]+", f["name"])  # not a cell reference


def test_the_javascript_registers_every_function_of_functions_json():
    source = (STATIC / "functions.js").read_text(encoding="utf-8")
    listed = json.loads(re.search(r"export const FUNCTION_IDS = (\[.*?\]);", source).group(1))
    assert listed == [f["id"] for f in manifest.functions_metadata()["functions"]]


def test_every_url_in_the_served_manifest_is_served_by_the_companion(addin):
    served = addin.get("/manifest.xml")
    assert served.status_code == 200 and served.headers["content-type"].startswith("application/xml")
    doc = etree.fromstring(served.content)
    urls = _urls(doc)
    assert len(urls) > 30
    for url in sorted(urls):
        assert url.startswith(addin.origin + "/")
        answer = addin.get(url.removeprefix(addin.origin))
        assert answer.status_code == 200, url
        if url.endswith(".png"):
            assert answer.content.startswith(b"\x89PNG")
    page = addin.get("/taskpane.html").text
    assert f'content="{addin.secret}"' in page and "{{QAAS_SECRET}}" not in page
    for script in re.findall(r'src="(app/[^"]+)"', page):
        assert addin.get("/" + script).status_code == 200
    for module in STATIC.glob("*.js"):  # every module the page imports, directly or not
        assert addin.get(f"/app/{module.name}").text == module.read_text(encoding="utf-8")


def test_every_function_in_functions_json_is_answered(addin, sandbox):
    from tests.sandbox.conftest import example_body

    rec = sandbox.admin.create_record("operator", **example_body(OPERATOR, customer_reference="OP-1"))
    data = addin.get("/functions.json").json()
    assert data == manifest.functions_metadata()
    calls = [{"id": f["id"], "args": [rec["id"], "organization_name", "operator"][:len(f["parameters"])]
              if f["id"] == "RECORD" else [None] * len(f["parameters"])} for f in data["functions"]]
    results = addin.ok("/api/functions", {"calls": calls})["results"]
    assert len(results) == len(calls)
    by_id = dict(zip([c["id"] for c in calls], results, strict=True))
    for f in data["functions"]:
        answer = by_id[f["id"]]
        assert answer != "Unknown QaaS function"
        if f["result"]["dimensionality"] == "matrix":
            assert isinstance(answer, list) and all(isinstance(r, list) for r in answer), f["id"]
    assert by_id["RECORD"] == rec["organization_name"]
    header, *rows = by_id["OPERATORS"]
    assert "QaaS ID" in header and [r[header.index("QaaS ID")] for r in rows] == [rec["id"]]
    assert by_id["CHECKEVSE"] != "ok"  # no EVSE ID given
