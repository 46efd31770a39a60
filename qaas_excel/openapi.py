"""The project's own OpenAPI document of the API as we understand it, generated from resources.py.

``python -m qaas_excel.openapi > qaas_excel/openapi.json`` refreshes the committed copy; a test
fails when it drifts from resources.py or from the sandbox's routes. When the live service's own
document is at hand, diffing the two shows what to change in resources.py.
"""

from __future__ import annotations

import json
from typing import Any

from qaas_excel import __version__
from qaas_excel.config import API_SCOPE_NAME, CLIENT_ID, PRODUCTION_AUTHORITY, PRODUCTION_BASE_URL
from qaas_excel.resources import RESOURCES, STATUS_HELP, Field, FieldType, Resource

_TYPES: dict[FieldType, dict[str, Any]] = {
    FieldType.INT: {"type": "integer"},
    FieldType.STR: {"type": "string"},
    FieldType.DECIMAL: {"type": "string", "format": "decimal", "description": "Exact decimal, sent as a string."},
    FieldType.DATE: {"type": "string", "format": "date"},
    FieldType.DATETIME: {"type": "string", "format": "date-time"},
}
EMPTY = {"description": "empty body"}


def _schema(f: Field) -> dict[str, Any]:
    schema = dict(_TYPES[f.type])
    schema["description"] = (schema.get("description", "") + " " + f.help).strip()
    if f.max_length:
        schema["maxLength"] = f.max_length
    if f.min_length:
        schema["minLength"] = f.min_length
    if f.type is FieldType.DECIMAL:
        places = r"(\.[0-9]+)?" if f.decimals is None else rf"(\.[0-9]{{1,{f.decimals}}})?"
        schema["pattern"] = rf"^{'' if f.positive else '-?'}[0-9]+{places}$"
        if f.decimals is not None:
            schema["x-decimal-places"] = f.decimals
        if f.positive:
            schema["x-exclusive-minimum"] = "0"
    if f.pattern:
        schema["pattern"] = f.pattern
    if f.is_server:
        schema["readOnly"] = True
    if f.name == "status":
        schema["enum"] = list(STATUS_HELP)
    if f.example is not None:
        schema["examples"] = [str(f.example) if f.type is FieldType.DECIMAL else f.example]
    if not f.required and not f.is_server:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def _name(resource: Resource) -> str:
    return {"operator": "ChargePointOperator", "chargepoint": "ChargePoint"}[resource.name]


def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "FieldErrors": {"type": "object", "description": "400: messages per field (Django REST framework style)",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "Reason": {"type": "object", "description": "422: why the request cannot be processed",
                   "properties": {"detail": {"type": "string"}}, "required": ["detail"]},
    }
    for resource in RESOURCES.values():
        name = _name(resource)
        schemas[name] = {"type": "object", "properties": {f.name: _schema(f) for f in resource.fields},
                         "required": [f.name for f in resource.fields if f.required or f.is_server]}
        schemas[f"{name}Create"] = {"type": "object",
                                    "properties": {f.name: _schema(f) for f in resource.client_fields},
                                    "required": [f.name for f in resource.required_fields]}
        schemas[f"{name}Patch"] = {"type": "object", "minProperties": 1,
                                   "properties": {f.name: _schema(f) for f in resource.patchable_fields}}
    return {
        "schemas": schemas,
        "securitySchemes": {"entra": {
            "type": "oauth2", "description": "Microsoft Entra ID; the tool uses the device authorization grant",
            "flows": {"authorizationCode": {
                "authorizationUrl": f"{PRODUCTION_AUTHORITY}/oauth2/v2.0/authorize",
                "tokenUrl": f"{PRODUCTION_AUTHORITY}/oauth2/v2.0/token",
                "scopes": {f"{CLIENT_ID}/{API_SCOPE_NAME}": "access the API as the signed-in user"}}}}},
    }


def _json(ref: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _paths() -> dict[str, Any]:
    common = {"401": EMPTY | {"description": "missing or invalid token"},
              "403": EMPTY | {"description": "not a customer: access denied"},
              "500": EMPTY | {"description": "unexpected error; the request was likely not processed"}}
    paths: dict[str, Any] = {}
    for resource in RESOURCES.values():
        name = _name(resource)
        paths[resource.create_path] = {"post": {
            "operationId": f"create_{resource.name}", "requestBody": {"required": True, **_json(f"{name}Create")},
            "responses": {"201": {"description": "created", **_json(name)},
                          "400": {"description": "field errors", **_json("FieldErrors")},
                          "422": {"description": "not processable", **_json("Reason")}, **common}}}
        params = [{"name": p, "in": "query", "required": False,
                   "schema": _TYPES[resource.field(p).type] if p != "chargepointoperator_id" else {"type": "integer"}}
                  for p in resource.list_filters]
        paths[resource.list_path] = {"get": {
            "operationId": f"list_{resource.name}s", "parameters": params,
            "responses": {"200": {"description": "the records",
                                  "content": {"application/json": {"schema": {
                                      "type": "array", "items": {"$ref": f"#/components/schemas/{name}"}}}}},
                          "204": EMPTY | {"description": "no records"}, **common}}}
        item = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
        paths[resource.item_path] = {
            "get": {"operationId": f"get_{resource.name}", "parameters": [item],
                    "responses": {"200": {"description": "the record", **_json(name)},
                                  "404": EMPTY | {"description": "no such record"}, **common}},
            "patch": {"operationId": f"patch_{resource.name}", "parameters": [item],
                      "requestBody": {"required": True, **_json(f"{name}Patch")},
                      "responses": {"200": {"description": "the edited record", **_json(name)},
                                    "400": {"description": "field errors", **_json("FieldErrors")},
                                    "404": EMPTY | {"description": "no such record"},
                                    "422": {"description": "not processable (e.g. sent to the UBA)",
                                            **_json("Reason")}, **common}}}
    return paths


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "QaaS charging points API (as understood by qaas-excel)", "version": __version__,
                 "description": "Generated from qaas_excel/resources.py. Known facts come from the service's FAQ; "
                                "the rest is our working contract (see shared/reference/api-contract.md)."},
        "servers": [{"url": PRODUCTION_BASE_URL}],
        "security": [{"entra": [f"{CLIENT_ID}/{API_SCOPE_NAME}"]}],
        "paths": _paths(),
        "components": _components(),
    }


def dumps() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(dumps(), end="")
