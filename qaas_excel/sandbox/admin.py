"""Sandbox-only admin endpoints (never part of the real API, not in the OpenAPI document) and their client.

All under ``/_sandbox``, all requiring the header ``X-Sandbox-Admin: <admin token>`` (403 without it).
``{resource}`` is a name from resources.py: ``operator`` or ``chargepoint``.

- ``POST /_sandbox/records/{resource}/{id}/status`` ``{"status": ...}``: set a record's status (any text)
- ``PATCH /_sandbox/records/{resource}/{id}`` ``{field: value}``: change any fields, no rules (a change
  made on the service side); bumps last_updated
- ``DELETE /_sandbox/records/{resource}/{id}``: delete a record
- ``POST /_sandbox/records/{resource}?user=`` ``{field: value}``: create a record in that user's account, no rules
- ``GET /_sandbox/records/{resource}[?user=]``: that user's account's records, or all (each with ``_account``)
- ``GET /_sandbox/stats``, ``DELETE /_sandbox/stats``: request counts, and resetting them
- ``POST /_sandbox/reset``: forget all records, counts and queued faults (sign-ins stay valid)
- ``POST /_sandbox/approve`` ``{"user_code", "user", "decline"}``: what a person does on /devicelogin
- ``POST /_sandbox/auto-approve`` ``{"user", "enabled"}``: who new device codes are approved as
- ``POST /_sandbox/faults`` ``{"latency_ms", "fail_rate", "retry_after", "seed", "kinds", "fail_next"}``

Statistics: ``{"requests": {"METHOD /route": n}, "faults": {kind: n}, "total": n}`` where a route is
the template (``PATCH /chargepoint/{id}``, ``POST /{tenant}/oauth2/v2.0/token``); admin calls are not
counted. Fault kinds: ``500``, ``503``, ``429`` (with Retry-After), ``drop-before`` (connection cut,
request not processed), ``drop-after`` (processed and committed, answer cut off); on request only
(``fail_next``) also ``400`` and ``422`` with a canned body. A ``fail_next`` entry ``"503@POST /chargepoint"``
waits for that route.

:class:`SandboxAdmin` wraps these as Python methods; ``SandboxServer.admin`` is one.
"""

from __future__ import annotations

import functools
import secrets
from typing import Any

import requests
from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse

from qaas_excel.api.errors import NotFoundError, QaasError, UnreachableError
from qaas_excel.api.http import VerifyingSession
from qaas_excel.resources import RESOURCES, Resource
from qaas_excel.sandbox import DEFAULT_USER, USERS
from qaas_excel.sandbox.api import next_stamp, now_text
from qaas_excel.sandbox.faults import FAULTS, REFUSALS, FaultSettings, Stats
from qaas_excel.sandbox.identity import Identity
from qaas_excel.sandbox.store import Store

HEADER = "X-Sandbox-Admin"
PREFIX = "/_sandbox"
NUMBER_SETTINGS = {"latency_ms": int, "fail_rate": float, "retry_after": float}


class _Refused(Exception):
    """An admin request that cannot be done: answered with this status and message."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message)
        self.status, self.message = status, message

    def response(self) -> Response:
        if not self.message:
            return Response(status_code=self.status)
        return JSONResponse({"detail": self.message}, status_code=self.status)


def _resource(name: str) -> Resource:
    if name not in RESOURCES:
        raise _Refused(400, f"unknown resource {name!r}; known: {', '.join(RESOURCES)}")
    return RESOURCES[name]


def _account(user: str) -> str:
    account = USERS.get(user)
    if not account:
        raise _Refused(400, f"{user!r} is not a user of a customer account; known: {', '.join(USERS)}")
    return account


def router(store: Store, identity: Identity, stats: Stats, faults: FaultSettings, admin_token: str) -> APIRouter:
    r = APIRouter(prefix=PREFIX, include_in_schema=False)

    def guarded(handler: Any) -> Any:
        """Admin token first; a refusal becomes its answer (handlers keep their signature for FastAPI)."""

        @functools.wraps(handler)
        def wrapper(request: Request, *args: Any, **kwargs: Any) -> Response:
            if not secrets.compare_digest(request.headers.get(HEADER, ""), admin_token):
                return Response(status_code=403)
            try:
                return handler(request, *args, **kwargs)
            except _Refused as refused:
                return refused.response()

        return wrapper

    def change(resource: str, record_id: int, fields: dict[str, Any]) -> Response:
        name = _resource(resource).name
        record = store.get(name, record_id)
        if record is None:
            raise _Refused(404)
        record.update({k: v for k, v in fields.items() if k != "id"})  # the id is the record's key
        record["last_updated"] = next_stamp(record.get("last_updated"))
        store.replace(name, record)
        return JSONResponse(record)

    @r.post("/records/{resource}/{record_id}/status")
    @guarded
    def set_status(request: Request, resource: str, record_id: int, body: dict[str, Any] = Body(...)) -> Response:
        if not isinstance(body.get("status"), str) or not body["status"]:
            raise _Refused(400, "the body must be {\"status\": \"...\"}")
        return change(resource, record_id, {"status": body["status"]})

    @r.patch("/records/{resource}/{record_id}")
    @guarded
    def update(request: Request, resource: str, record_id: int, body: dict[str, Any] = Body(...)) -> Response:
        return change(resource, record_id, body)

    @r.delete("/records/{resource}/{record_id}")
    @guarded
    def delete(request: Request, resource: str, record_id: int) -> Response:
        return Response(status_code=204 if store.delete(_resource(resource).name, record_id) else 404)

    @r.post("/records/{resource}")
    @guarded
    def create(request: Request, resource: str, user: str = DEFAULT_USER, body: dict[str, Any] = Body(...)) -> Response:
        res = _resource(resource)
        stamp = now_text()
        data = {"created": stamp, "last_updated": stamp, **({"status": "created"} if res.has_status else {}),
                **{k: v for k, v in body.items() if k != "id"}}
        return JSONResponse(store.insert(res.name, _account(user), data), status_code=201)

    @r.get("/records/{resource}")
    @guarded
    def records(request: Request, resource: str, user: str | None = None) -> Response:
        name = _resource(resource).name
        if user is None:
            return JSONResponse([{**rec, "_account": acc} for acc, rec in store.list_with_accounts(name)])
        return JSONResponse(store.list(name, USERS.get(user) or "-"))  # a non-customer has no records

    @r.get("/stats")
    @guarded
    def get_stats(request: Request) -> Response:
        return JSONResponse(stats.snapshot())

    @r.delete("/stats")
    @guarded
    def reset_stats(request: Request) -> Response:
        stats.reset()
        return Response(status_code=204)

    @r.post("/reset")
    @guarded
    def reset(request: Request) -> Response:
        store.reset()
        stats.reset()
        faults.clear_queue()
        return Response(status_code=204)

    @r.post("/approve")
    @guarded
    def approve(request: Request, body: dict[str, Any] = Body(...)) -> Response:
        user = body.get("user") or identity.auto_approve_user
        if user not in USERS:
            raise _Refused(400, f"unknown user {user!r}; known: {', '.join(USERS)}")
        if not identity.approve(str(body.get("user_code", "")), user, decline=bool(body.get("decline"))):
            raise _Refused(404, "no pending sign-in with that user code")
        return Response(status_code=204)

    @r.post("/auto-approve")
    @guarded
    def auto_approve(request: Request, body: dict[str, Any] = Body(...)) -> Response:
        if body.get("user") not in USERS:
            raise _Refused(400, f"unknown user {body.get('user')!r}; known: {', '.join(USERS)}")
        identity.auto_approve_user = body["user"]
        identity.auto_approve = bool(body.get("enabled", True))
        return Response(status_code=204)

    @r.post("/faults")
    @guarded
    def set_faults(request: Request, body: dict[str, Any] = Body(...)) -> Response:
        queued = [str(k).partition("@")[0] for k in body.get("fail_next", [])]
        unknown = [k for k in queued + list(body.get("kinds", [])) if k not in FAULTS and k not in REFUSALS]
        if unknown:
            raise _Refused(400, f"unknown faults {unknown}; known: {list(FAULTS) + list(REFUSALS)}")
        extra = set(body) - set(NUMBER_SETTINGS) - {"kinds", "seed", "fail_next"}
        if extra:
            raise _Refused(400, f"unknown settings {sorted(extra)}")
        try:
            numbers = {k: cast(body[k]) for k, cast in NUMBER_SETTINGS.items() if k in body}
        except (TypeError, ValueError):
            raise _Refused(400, f"{', '.join(NUMBER_SETTINGS)} must be numbers") from None
        if not 0 <= numbers.get("fail_rate", 0) <= 1:
            raise _Refused(400, "fail_rate must lie between 0 and 1")
        for key, value in numbers.items():
            setattr(faults, key, value)
        if "kinds" in body:
            faults.kinds = tuple(body["kinds"]) or FAULTS
        if "seed" in body:
            faults.seed(body["seed"])
        faults.queue([str(k) for k in body.get("fail_next", [])])
        return Response(status_code=204)

    return r


class SandboxAdmin:
    """Python access to the admin endpoints of a running sandbox (see the module docstring)."""

    def __init__(self, base_url: str, admin_token: str, ca_file: str) -> None:
        self.base_url = base_url.rstrip("/") + PREFIX
        self.session = VerifyingSession(ca_file)
        self.session.headers[HEADER] = admin_token

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(method, self.base_url + path, **kwargs)
        except requests.RequestException:
            raise UnreachableError(f"The sandbox at {self.base_url} does not answer; is it running?") from None
        if response.status_code == 404:
            raise NotFoundError(f"No such record in the sandbox ({method} {path}).", status=404)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail") or response.text
            except ValueError:
                detail = response.text
            raise QaasError(f"Sandbox admin {method} {path}: HTTP {response.status_code} {detail}"[:300],
                            status=response.status_code)
        return response

    def set_status(self, resource: str, record_id: int, status: str) -> dict[str, Any]:
        """Set e.g. a charge point's status to ``sent_to_uba``; returns the changed record."""
        return self._call("POST", f"/records/{resource}/{record_id}/status", json={"status": status}).json()

    def update_record(self, resource: str, record_id: int, **fields: Any) -> dict[str, Any]:
        """Change any fields bypassing every rule, as the service itself might; returns the changed record."""
        return self._call("PATCH", f"/records/{resource}/{record_id}", json=fields).json()

    def delete_record(self, resource: str, record_id: int) -> None:
        self._call("DELETE", f"/records/{resource}/{record_id}")

    def create_record(self, resource: str, user: str = DEFAULT_USER, **fields: Any) -> dict[str, Any]:
        """A record in ``user``'s account, stored as given (no rules); returns it with its new id."""
        return self._call("POST", f"/records/{resource}", params={"user": user}, json=fields).json()

    def records(self, resource: str, user: str | None = None) -> list[dict[str, Any]]:
        """The records of ``user``'s account, or of every account (each with ``_account``) when None."""
        return self._call("GET", f"/records/{resource}", params={"user": user} if user else None).json()

    def stats(self) -> dict[str, Any]:
        """``{"requests": {"POST /chargepoint": n, ...}, "faults": {"503": n, ...}, "total": n}``."""
        return self._call("GET", "/stats").json()

    def requests(self, key: str) -> int:
        """How often e.g. "POST /chargepoint" or "GET /chargepoints" was asked since the last reset."""
        return int(self.stats()["requests"].get(key, 0))

    def reset_stats(self) -> None:
        self._call("DELETE", "/stats")

    def reset(self) -> None:
        """Forget every record, request count and queued fault (sign-ins stay valid)."""
        self._call("POST", "/reset")

    def approve(self, user_code: str, user: str | None = None, *, decline: bool = False) -> None:
        """Approve (or decline) a pending sign-in as ``user`` (default: the auto-approve user)."""
        self._call("POST", "/approve", json={"user_code": user_code, "user": user, "decline": decline})

    def set_auto_approve_user(self, user: str, *, enabled: bool = True) -> None:
        self._call("POST", "/auto-approve", json={"user": user, "enabled": enabled})

    def set_faults(self, **settings: Any) -> None:
        """latency_ms, fail_rate, retry_after, seed, kinds=[...], fail_next=["503", "422@POST /chargepoint", ...].

        ``fail_next`` entries are appended to the queue; the others replace the current setting.
        """
        self._call("POST", "/faults", json=settings)
