"""The project's OpenAPI document: generated from resources.py, committed, and matching the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from qaas_excel import openapi
from qaas_excel.resources import RESOURCES

COMMITTED = Path(openapi.__file__).with_name("openapi.json")


def test_committed_document_is_generated_from_the_resource_definitions() -> None:
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == openapi.document(), (
        "qaas_excel/openapi.json drifted from resources.py: run `python -m qaas_excel.openapi > "
        "qaas_excel/openapi.json`")


def test_document_covers_every_field_and_faq_status_code() -> None:
    doc = openapi.document()
    for resource in RESOURCES.values():
        schema = next(s for n, s in doc["components"]["schemas"].items() if n.lower() == resource.name.replace(
            "operator", "chargepointoperator") or n.lower() == resource.name)
        assert set(schema["properties"]) == {f.name for f in resource.fields}
    codes = {code for path in doc["paths"].values() for op in path.values() for code in op["responses"]}
    assert codes == {"200", "201", "204", "400", "401", "403", "404", "422", "500"}


def test_sandbox_serves_exactly_the_documented_operations(qaas_home: Path) -> None:
    from qaas_excel.sandbox.server import SandboxServer

    app = SandboxServer(qaas_home, port=0).app().app  # the FastAPI app inside the fault middleware
    def flat(routes):  # FastAPI keeps included routers nested
        for route in routes:
            inner = getattr(route, "original_router", None)
            yield from flat(inner.routes) if inner is not None else [route]

    served = set()
    for route in flat(app.routes):
        path = getattr(route, "path", "")
        if path.startswith("/chargepoint"):
            for method in route.methods - {"HEAD"}:
                served.add((method, path.replace("{record_id}", "{id}")))
    documented = {(m.upper(), p) for p, ops in openapi.document()["paths"].items() for m in ops}
    assert served == documented
