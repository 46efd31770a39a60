"""A sandbox that pages its lists the way real services do (``sandbox serve --page-size N --paging STYLE``).

- ``drf``: Django REST framework's PageNumberPagination: ``?page=K``, ``{"count", "next", "previous", "results"}``
  with absolute links, 404 ``{"detail": "Invalid page."}`` past the last page;
- ``link``: a bare list with ``Link: <...>; rel="next"`` (relative links, GitHub style), ``?page=&per_page=``,
  ``X-Total-Count``;
- ``odata``: ``{"@odata.count", "value", "@odata.nextLink"}``, ``$top`` and ``$skip``;
- ``offset``: a bare list cut at ``?limit=`` (default: the page size) from ``?offset=``, and nothing else: neither
  a next link nor a count. Only the OpenAPI document tells that there is more (the nastiest kind: a client that
  does not know reads the first page as the whole list).

An account without records still gets the FAQ's 204. The OpenAPI document the sandbox serves says how it pages.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

STYLES = ("drf", "link", "odata", "offset")


@dataclass(frozen=True)
class SandboxPaging:
    style: str = "drf"
    page_size: int = 100

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"paging style {self.style!r} is not one of {', '.join(STYLES)}")
        if self.page_size < 1:
            raise ValueError("the page size must be at least 1")

    def describe(self) -> str:
        return f"{self.style} pages of {self.page_size}"


def _number(request: Request, name: str, default: int) -> int | None:
    text = request.query_params.get(name)
    if text is None:
        return default
    return int(text) if text.isascii() and text.isdigit() else None


def answer(paging: SandboxPaging, records: list[dict[str, Any]], request: Request) -> Response:
    """One page of ``records`` (already in the wire's names) as ``paging`` says."""
    size, url = paging.page_size, request.url
    if paging.style == "drf":
        page = _number(request, "page", 1)
        last = max(1, -(-len(records) // size))
        if page is None or not 1 <= page <= last:
            return JSONResponse({"detail": "Invalid page."}, status_code=404)
        nxt = str(url.include_query_params(page=page + 1)) if page < last else None
        prev = None if page == 1 else str(url.include_query_params(page=page - 1))
        return JSONResponse({"count": len(records), "next": nxt, "previous": prev,
                             "results": records[(page - 1) * size: page * size]})
    if paging.style == "link":
        page, per_page = _number(request, "page", 1), _number(request, "per_page", size)
        if page is None or per_page is None or page < 1 or per_page < 1:
            return JSONResponse({"detail": "page and per_page must be whole numbers from 1"}, status_code=400)
        per_page = min(per_page, size)
        last = max(1, -(-len(records) // per_page))

        def link(number: int, rel: str) -> str:
            target = url.include_query_params(page=number)
            return f'<{target.path}?{target.query}>; rel="{rel}"'

        links = [link(1, "first"), link(last, "last")]
        if page < last:
            links.append(link(page + 1, "next"))
        if page > 1:
            links.append(link(page - 1, "prev"))
        return JSONResponse(records[(page - 1) * per_page: page * per_page],
                            headers={"Link": ", ".join(links), "X-Total-Count": str(len(records))})
    if paging.style == "odata":
        skip, top = _number(request, "$skip", 0), _number(request, "$top", size)
        if skip is None or top is None or top < 1:
            return JSONResponse({"detail": "$skip and $top must be whole numbers"}, status_code=400)
        top = min(top, size)
        body: dict[str, Any] = {"@odata.count": len(records), "value": records[skip: skip + top]}
        if skip + top < len(records):
            body["@odata.nextLink"] = str(url.include_query_params(**{"$skip": skip + top, "$top": top}))
        return JSONResponse(body)
    offset, limit = _number(request, "offset", 0), _number(request, "limit", size)
    if offset is None or limit is None or limit < 1:
        return JSONResponse({"detail": "offset and limit must be whole numbers"}, status_code=400)
    chunk = records[offset: offset + min(limit, size)]
    return JSONResponse(chunk) if chunk else Response(status_code=204)


_PARAMS = {"drf": (("page", "A page number within the paginated result set."),),
           "link": (("page", "Page number, from 1."), ("per_page", "Records per page.")),
           "odata": (("$skip", "Records to skip."), ("$top", "Records to return.")),
           "offset": (("limit", "Number of results to return per page."),
                      ("offset", "The initial index from which to return the results."))}


def apply_to_document(document: dict[str, Any], paging: SandboxPaging) -> dict[str, Any]:
    """The OpenAPI document of a service that pages its lists as ``paging`` says."""
    doc = copy.deepcopy(document)
    for item in doc["paths"].values():
        operation = item.get("get")
        if not operation or not str(operation.get("operationId", "")).startswith("list_"):
            continue
        operation["parameters"] = [*operation.get("parameters", []), *(
            {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "integer"}}
            for name, text in _PARAMS[paging.style])]
        answer_ = operation["responses"]["200"]
        items = answer_["content"]["application/json"]["schema"]["items"]
        nullable_uri = {"type": ["string", "null"], "format": "uri"}
        if paging.style == "drf":
            schema: dict[str, Any] = {"type": "object", "required": ["count", "results"], "properties": {
                "count": {"type": "integer"}, "next": nullable_uri, "previous": nullable_uri,
                "results": {"type": "array", "items": items}}}
        elif paging.style == "odata":
            schema = {"type": "object", "required": ["value"], "properties": {
                "@odata.count": {"type": "integer"}, "@odata.nextLink": {"type": "string", "format": "uri"},
                "value": {"type": "array", "items": items}}}
        else:
            schema = {"type": "array", "items": items}
            if paging.style == "link":
                answer_["headers"] = {
                    "Link": {"description": "RFC 8288 links: next, prev, first, last", "schema": {"type": "string"}},
                    "X-Total-Count": {"description": "records in the whole list", "schema": {"type": "integer"}}}
        answer_["content"]["application/json"]["schema"] = schema
        answer_["description"] = f"one page of at most {paging.page_size} records"
    return doc
