"""The API page: a Swagger UI page whose initializer names the OpenAPI document, as the real service serves it.

``GET /`` is the page (no sign-in); the document at ``DOCUMENT_PATH`` asks for a bearer token, as a
Django REST framework service whose default permission is "authenticated" does. The document is the
project's own (``qaas_excel.openapi``), with this sandbox's addresses.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from qaas_excel import openapi
from qaas_excel.config import TENANT_ID
from qaas_excel.sandbox.identity import Identity, TokenError

DOCUMENT_PATH = "/api/schema/v1/qaas.json"  # not one of the usual paths: discovery must read the page

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="https://unpkg.invalid/swagger-ui-dist/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="https://unpkg.invalid/swagger-ui-dist/swagger-ui-bundle.js"></script>
<script>
window.onload = () => {{
  window.ui = SwaggerUIBundle({{
    url: "{url}",
    dom_id: "#swagger-ui",
    persistAuthorization: true,
  }});
}};
</script></body></html>
"""


def document(base_url: str, authority: str, transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None
             ) -> dict[str, Any]:
    """Our OpenAPI document as this sandbox serves it: its own server and sign-in addresses."""
    doc = openapi.document()
    doc["servers"] = [{"url": base_url}]
    flows = doc["components"]["securitySchemes"]["entra"]["flows"]["authorizationCode"]
    flows["authorizationUrl"] = f"{authority}/oauth2/v2.0/authorize"
    flows["tokenUrl"] = f"{authority}/oauth2/v2.0/token"
    return transform(doc) if transform else doc


def router(identity: Identity, transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> APIRouter:
    r = APIRouter()

    @r.get("/", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE.format(title=html.escape("QaaS charging points API"), url=DOCUMENT_PATH))

    @r.get(DOCUMENT_PATH, include_in_schema=False)
    def schema(request: Request) -> Response:
        try:
            identity.verify(request.headers.get("Authorization"))
        except TokenError:
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        base = str(request.base_url).rstrip("/")
        return JSONResponse(document(base, f"{base}/{TENANT_ID}", transform))  # transform: the sandbox's variant

    return r

