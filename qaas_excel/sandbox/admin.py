"""Sandbox-only admin endpoints (never part of the real API) and a small client for them.

All under ``/_sandbox``, all requiring the header ``X-Sandbox-Admin: <admin token>``:

- ``POST /_sandbox/records/{resource}/{id}/status`` ``{"status": ...}``: set a record's status
- ``PATCH /_sandbox/records/{resource}/{id}`` ``{field: value}``: change any field, no rules (a change
  made on the service side; bumps last_updated)
- ``DELETE /_sandbox/records/{resource}/{id}``; ``GET /_sandbox/records/{resource}?user=``
- ``GET /_sandbox/stats`` (requests per "METHOD /route", faults), ``DELETE /_sandbox/stats``
- ``POST /_sandbox/reset``: forget all records and counts
- ``POST /_sandbox/approve`` ``{"user_code", "user"}``; ``POST /_sandbox/auto-approve`` ``{"user"}``
- ``POST /_sandbox/faults`` ``{"latency_ms", "fail_rate", "retry_after", "seed", "kinds", "fail_next": [...]}``
"""

from __future__ import annotations

import secrets
from typing import Any

import requests
from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse

from qaas_excel.api.errors import NotFoundError, QaasError, UnreachableError
from qaas_excel.api.http import VerifyingSession
from qaas_excel.resources import get_resource
from qaas_excel.sandbox import USERS
from qaas_excel.sandbox.api import now_text
from qaas_excel.sandbox.faults import FAULTS, REFUSALS, FaultSettings, Stats
from qaas_excel.sandbox.identity import Identity
from qaas_excel.sandbox.store import Store

HEADER = "X-Sandbox-Admin"


def router(store: Store, identity: Identity, stats: Stats, faults: FaultSettings, admin_token: str) -> APIRouter:
    r = APIRouter(prefix="/_sandbox", include_in_schema=False)

    def allowed(request: Request) -> bool:
        return secrets.compare_digest(request.headers.get(HEADER, ""), admin_token)

    def deny() -> Response:
        return Response(status_code=403)

    @r.post("/records/{resource}/{record_id}/status")
    def set_status(resource: str, record_id: int, request: Request, body: dict = Body(...)) -> Response:
        return update(resource, record_id, request, {"status": body["status"]})

    @r.patch("/records/{resource}/{record_id}")
    def update(resource: str, record_id: int, request: Request, body: dict = Body(...)) -> Response:
        if not allowed(request):
            return deny()
        record = store.get(get_resource(resource).name, record_id)
        if record is None:
            return Response(status_code=404)
        record.update(body)
        record["last_updated"] = now_text()
        store.replace(resource, record)
        return JSONResponse(record)

    @r.delete("/records/{resource}/{record_id}")
    def delete(resource: str, record_id: int, request: Request) -> Response:
        if not allowed(request):
            return deny()
        return Response(status_code=204 if store.delete(get_resource(resource).name, record_id) else 404)

    @r.get("/records/{resource}")
    def records(resource: str, request: Request, user: str | None = None) -> Response:
        if not allowed(request):
            return deny()
        name = get_resource(resource).name
        if user is None:
            return JSONResponse([{**rec, "_account": acc} for acc, rec in store.list_with_accounts(name)])
        return JSONResponse(store.list(name, USERS.get(user) or "-"))

    @r.get("/stats")
    def get_stats(request: Request) -> Response:
        return JSONResponse(stats.snapshot()) if allowed(request) else deny()

    @r.delete("/stats")
    def reset_stats(request: Request) -> Response:
        if not allowed(request):
            return deny()
        stats.reset()
        return Response(status_code=204)

    @r.post("/reset")
    def reset(request: Request) -> Response:
        if not allowed(request):
            return deny()
        store.reset()
        stats.reset()
        faults.fail_next.clear()
        return Response(status_code=204)

    @r.post("/approve")
    def approve(request: Request, body: dict = Body(...)) -> Response:
        if not allowed(request):
            return deny()
        ok = identity.approve(body["user_code"], body.get("user") or identity.auto_approve_user,
                              decline=bool(body.get("decline")))
        return Response(status_code=204 if ok else 404)

    @r.post("/auto-approve")
    def auto_approve(request: Request, body: dict = Body(...)) -> Response:
        if not allowed(request):
            return deny()
        if body.get("user") not in USERS:
            return JSONResponse({"user": ["unknown user"]}, status_code=400)
        identity.auto_approve_user = body["user"]
        identity.auto_approve = bool(body.get("enabled", True))
        return Response(status_code=204)

    @r.post("/faults")
    def set_faults(request: Request, body: dict = Body(...)) -> Response:
        if not allowed(request):
            return deny()
        queued = [k.partition("@")[0] for k in body.get("fail_next", [])]
        unknown = [k for k in queued + list(body.get("kinds", [])) if k not in FAULTS and k not in REFUSALS]
        if unknown:
            return JSONResponse({"fail_next": [f"unknown faults {unknown}; known: {list(FAULTS)}"]}, status_code=400)
        for key in ("latency_ms", "fail_rate", "retry_after"):
            if key in body:
                setattr(faults, key, body[key])
        if "kinds" in body:
            faults.kinds = tuple(body["kinds"])
        if "seed" in body:
            faults.seed(body["seed"])
        faults.fail_next.extend(body.get("fail_next", []))
        return Response(status_code=204)

    return r


class SandboxAdmin:
    """Python access to the admin endpoints of a running sandbox."""

    def __init__(self, base_url: str, admin_token: str, ca_file: str) -> None:
        self.base_url = base_url.rstrip("/") + "/_sandbox"
        self.session = VerifyingSession(ca_file)
        self.session.headers[HEADER] = admin_token

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(method, self.base_url + path, **kwargs)
        except requests.RequestException:
            raise UnreachableError(f"The sandbox at {self.base_url} does not answer; is it running?") from None
        if response.status_code == 404:
            raise NotFoundError(f"No such record in the sandbox ({method} {path}).")
        if response.status_code >= 400:
            raise QaasError(f"Sandbox admin {method} {path}: HTTP {response.status_code} {response.text[:200]}",
                            status=response.status_code)
        return response

    def set_status(self, resource: str, record_id: int, status: str) -> dict[str, Any]:
        return self._call("POST", f"/records/{resource}/{record_id}/status", json={"status": status}).json()

    def update_record(self, resource: str, record_id: int, **fields: Any) -> dict[str, Any]:
        return self._call("PATCH", f"/records/{resource}/{record_id}", json=fields).json()

    def delete_record(self, resource: str, record_id: int) -> None:
        self._call("DELETE", f"/records/{resource}/{record_id}")

    def records(self, resource: str, user: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", f"/records/{resource}", params={"user": user} if user else None).json()

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats").json()

    def requests(self, key: str) -> int:
        """How often e.g. "POST /chargepoint" or "GET /chargepoints" was asked since the last reset."""
        return int(self.stats()["requests"].get(key, 0))

    def reset_stats(self) -> None:
        self._call("DELETE", "/stats")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def approve(self, user_code: str, user: str | None = None, *, decline: bool = False) -> None:
        self._call("POST", "/approve", json={"user_code": user_code, "user": user, "decline": decline})

    def set_auto_approve_user(self, user: str, *, enabled: bool = True) -> None:
        self._call("POST", "/auto-approve", json={"user": user, "enabled": enabled})

    def set_faults(self, **settings: Any) -> None:
        """latency_ms, fail_rate, retry_after, seed, kinds=[...], fail_next=["503", "422@POST /chargepoint", ...]."""
        self._call("POST", "/faults", json=settings)
