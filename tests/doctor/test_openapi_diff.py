"""Comparing the service's OpenAPI document with ours: what generators differ in is no difference; real ones are."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from qaas_excel import openapi
from qaas_excel.openapi_diff import FAIL, WARN, Fetched, compare, discover, document_urls_in_page

OURS = openapi.document()


def schemas(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["components"]["schemas"]


def kinds(differences) -> set[tuple[str, str | None, Any]]:
    return {(d.kind, d.field, d.theirs) for d in differences}


# --- generator styles: the same contract written the ways drf-spectacular, drf-yasg and FastAPI write it ----

def spectacular_style(doc: dict[str, Any]) -> dict[str, Any]:
    """3.0.3: status as allOf[$ref StatusEnum] with NullEnum, nullable: true, read-only fields listed as required,
    decimals with a pattern, a trailing slash and {pk} in item paths."""
    doc = copy.deepcopy(doc)
    doc["openapi"] = "3.0.3"
    for name, schema in list(schemas(doc).items()):
        for prop_name, prop in list(schema.get("properties", {}).items()):
            if "anyOf" in prop:  # 3.1 null union -> 3.0 nullable
                prop = {**prop["anyOf"][0], "nullable": True}
            if prop_name == "status":
                schemas(doc)["StatusEnum"] = {"type": "string", "enum": prop.pop("enum")}
                schemas(doc)["NullEnum"] = {"enum": [None]}
                prop = {"oneOf": [{"allOf": [{"$ref": "#/components/schemas/StatusEnum"}]},
                                  {"$ref": "#/components/schemas/NullEnum"}], "readOnly": True}
            schema["properties"][prop_name] = prop
        if not name.endswith(("Create", "Patch")) and "properties" in schema:
            schema["required"] = list(schema["properties"])  # read-only ones too
    doc["paths"] = {path.replace("{id}", "{pk}") + ("" if path.endswith("/") else "/"): item
                    for path, item in doc["paths"].items()}
    return doc


def yasg_style(doc: dict[str, Any]) -> dict[str, Any]:
    """Swagger 2.0: definitions, body parameters, x-nullable, decimals as plain strings, responses with schema."""
    doc = copy.deepcopy(doc)
    text = json.dumps(doc).replace("#/components/schemas/", "#/definitions/")
    doc = json.loads(text)
    definitions = doc["components"]["schemas"]
    for schema in definitions.values():
        for prop_name, prop in list(schema.get("properties", {}).items()):
            if "anyOf" in prop:
                prop = {**prop["anyOf"][0], "x-nullable": True}
            if prop.get("format") == "decimal":
                prop = {k: v for k, v in prop.items() if k not in ("format", "pattern")}
            schema["properties"][prop_name] = prop
    paths = {}
    for path, item in doc["paths"].items():
        for op in item.values():
            body = op.pop("requestBody", None)
            if body:
                op.setdefault("parameters", []).append(
                    {"name": "data", "in": "body", "required": True,
                     "schema": body["content"]["application/json"]["schema"]})
            for answer in op["responses"].values():
                content = answer.pop("content", None)
                if content:
                    answer["schema"] = content["application/json"]["schema"]
        paths[path] = item
    return {"swagger": "2.0", "info": doc["info"], "basePath": "/", "paths": paths, "definitions": definitions}


def fastapi_style(doc: dict[str, Any]) -> dict[str, Any]:
    """3.1: type lists with "null", decimals as anyOf[number, string], enum behind a $ref."""
    doc = copy.deepcopy(doc)
    for schema in list(schemas(doc).values()):
        for prop_name, prop in list(schema.get("properties", {}).items()):
            if "anyOf" in prop:
                inner = prop["anyOf"][0]
                prop = {**inner, "type": [inner["type"], "null"]}
            if prop.get("format") == "decimal":
                prop = {"anyOf": [{"type": "number"}, {"type": "string", "pattern": prop["pattern"]}]}
            if prop_name == "status":
                schemas(doc).setdefault("Status", {"type": "string", "enum": prop.pop("enum")})
                prop = {"$ref": "#/components/schemas/Status", "readOnly": True}
            schema["properties"][prop_name] = prop
    return doc


@pytest.mark.parametrize("style", [spectacular_style, yasg_style, fastapi_style])
def test_what_generators_differ_in_is_no_difference(style) -> None:
    differences, matches = compare(OURS, style(OURS))
    assert differences == []
    assert all(None not in m.operations.values() for m in matches)


def test_our_own_document_matches_itself() -> None:
    assert compare(OURS, OURS)[0] == []


# --- a service that differs -------------------------------------------------------------------------

def variant(doc: dict[str, Any]) -> dict[str, Any]:
    """amount renamed, a status added, a shorter reference, a new required field, a date that is a date-time."""
    doc = copy.deepcopy(doc)
    for name in ("ChargePoint", "ChargePointCreate", "ChargePointPatch"):
        props = schemas(doc)[name]["properties"]
        props["amount_kwh"] = props.pop("amount")
        if "required" in schemas(doc)[name]:
            schemas(doc)[name]["required"] = ["amount_kwh" if r == "amount" else r
                                              for r in schemas(doc)[name]["required"]]
        if "status" in props:
            props["status"]["enum"] = [*props["status"]["enum"], "in_review"]
        if "commissioning_date" in props:
            props["commissioning_date"] = {"type": "string", "format": "date-time"}
    for name in ("ChargePointOperator", "ChargePointOperatorCreate"):
        ref = schemas(doc)[name]["properties"]["customer_reference"]
        ref["anyOf"][0]["maxLength"] = 50
        schemas(doc)[name]["properties"]["vat_id"] = {"type": "string", "maxLength": 20}
        schemas(doc)[name]["required"].append("vat_id")
    return doc


@pytest.mark.parametrize("style", [lambda d: d, spectacular_style, yasg_style])
def test_every_difference_is_found_and_said_in_plain_words(style) -> None:
    differences, _ = compare(OURS, style(variant(OURS)))
    found = kinds(differences)
    assert ("renamed_field", "amount", "amount_kwh") in found
    assert ("unknown_status", "status", "in_review") in found
    assert ("max_length", "customer_reference", 50) in found
    assert ("new_required_field", "vat_id", "str") in found
    assert ("type", "commissioning_date", "datetime") in found
    messages = {d.message for d in differences}
    assert "The service calls `amount` `amount_kwh` (charge point record)." in messages
    assert "Status `in_review` is unknown to this tool: rows in it are treated as locked." in messages
    severities = {d.field: d.severity for d in differences}
    assert severities["amount"] == FAIL and severities["status"] == WARN
    assert len(differences) == 5, [d.message for d in differences]


def test_moved_and_missing_paths_are_named() -> None:
    doc = copy.deepcopy(OURS)
    doc["paths"]["/api/v2/chargepoints"] = doc["paths"].pop("/chargepoints")
    del doc["paths"]["/chargepointoperator"]
    differences, matches = compare(OURS, doc)
    assert ("moved_operation", None, "/api/v2/chargepoints") in kinds(differences)
    assert ("missing_operation", None, None) in kinds(differences)
    missing = next(d for d in differences if d.kind == "missing_operation")
    assert missing.ours == "POST /chargepointoperator" and missing.severity == FAIL
    assert {m.resource.name: m.operations["list"].path for m in matches}["chargepoint"] == "/api/v2/chargepoints"


def test_differences_are_data() -> None:
    differences, _ = compare(OURS, variant(OURS))
    rename = next(d.to_dict() for d in differences if d.kind == "renamed_field")
    assert rename == {"kind": "renamed_field", "severity": "fail", "resource": "chargepoint", "field": "amount",
                      "ours": "amount", "theirs": "amount_kwh",
                      "message": "The service calls `amount` `amount_kwh` (charge point record)."}


# --- discovery ----------------------------------------------------------------------------------------

def fetcher(pages: dict[str, tuple[int, str]]):
    asked: list[str] = []

    def fetch(url: str) -> Fetched | None:
        asked.append(url)
        status, body = pages.get(url, (404, ""))
        return Fetched(status, "application/json" if body.startswith("{") else "text/html", body)

    return fetch, asked


BASE = "https://svc.example"
DOC = json.dumps(OURS)


def test_the_swagger_ui_initializer_names_the_document() -> None:
    page = '<script>const ui = SwaggerUIBundle({\n  url: "/schema/v3/?format=json",\n  dom_id: "#swagger-ui"})</script>'
    fetch, _ = fetcher({BASE + "/": (200, page), BASE + "/schema/v3/?format=json": (200, DOC)})
    found = discover(BASE, fetch)
    assert found.url == BASE + "/schema/v3/?format=json" and found.via == "the API page's Swagger UI"
    assert found.document == OURS


def test_drf_yasg_settings_block_and_its_format_openapi() -> None:
    page = '<script id="swagger-settings" type="application/json">{"persistAuth": false}</script>'
    fetch, _ = fetcher({BASE + "/swagger/": (200, page), BASE + "/swagger/?format=openapi": (200, DOC)})
    assert discover(BASE, fetch).url == BASE + "/swagger/?format=openapi"


def test_swashbuckle_initializer_script() -> None:
    page = '<script src="./swagger-ui-bundle.js"></script><script src="index.js"></script>'
    script = 'window.ui = SwaggerUIBundle({"urls":[{"url":"/swagger/v2/swagger.json","name":"v2"}]})'
    fetch, _ = fetcher({BASE + "/swagger/": (200, page), BASE + "/swagger/index.js": (200, script),
                        BASE + "/swagger/v2/swagger.json": (200, DOC)})
    found = discover(BASE, fetch)
    assert found.url == BASE + "/swagger/v2/swagger.json" and "initializer script" in found.via


def test_usual_paths_when_no_page_names_it() -> None:
    fetch, asked = fetcher({BASE + "/openapi.json": (200, DOC)})
    found = discover(BASE, fetch)
    assert found.url == BASE + "/openapi.json" and found.via == "a usual document path"
    assert BASE + "/swagger.json" in asked


def test_not_found_says_whether_sign_in_was_asked_for_and_stays_within_budget() -> None:
    fetch, asked = fetcher({BASE + "/openapi.json": (401, "")})
    found = discover(BASE, fetch, budget=8)
    assert found.document is None and found.needs_sign_in is False  # /openapi.json is past the budget
    assert len(asked) == 8
    found = discover(BASE, fetcher({BASE + "/openapi.json": (401, "")})[0])
    assert found.needs_sign_in is True


def test_page_urls_are_resolved_against_the_page() -> None:
    assert document_urls_in_page('url: "schema.json"', BASE + "/docs/") == [BASE + "/docs/schema.json"]
