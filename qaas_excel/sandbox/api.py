"""The service's API as we understand it (resources.py), answering with the FAQ's status codes.

200 GET/PATCH · 201 POST · 204 empty list (empty body) · 400 field errors (DRF style) ·
401 bad token (empty) · 403 no customer (empty) · 404 unknown or another account's id (empty) ·
422 {"detail": reason} · 500 unexpected (empty).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from qaas_excel.contract import NO_CONTRACT, Contract
from qaas_excel.resources import (
    EDITABLE_STATUSES,
    OPERATOR,
    RESOURCES,
    Field,
    FieldType,
    Resource,
    Status,
    decode_record,
    encode_value,
)
from qaas_excel.sandbox import USERS
from qaas_excel.sandbox.identity import Identity, TokenError
from qaas_excel.sandbox.paging import SandboxPaging
from qaas_excel.sandbox.paging import answer as paged_answer
from qaas_excel.sandbox.store import Store
from qaas_excel.values import UTC_FORMAT, utc_now_text, utc_text

log = logging.getLogger(__name__)


def now_text() -> str:
    return utc_now_text()


def empty(status: int) -> Response:
    return Response(status_code=status, headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)


def bad_request(errors: dict[str, list[str]]) -> JSONResponse:
    return JSONResponse(errors, status_code=400)


def unprocessable(reason: str) -> JSONResponse:
    return JSONResponse({"detail": reason}, status_code=422)


# --- validation of one record, as the service would do it --------------------------------------------

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse(f: Field, value: Any) -> tuple[Any, str | None]:
    """(wire value, error) for one client field; JSON numbers arrive as int or Decimal, never float."""
    if f.type is FieldType.STR:
        if not isinstance(value, str):
            return None, "Not a valid string."
        text = value.strip()
        if f.max_length and len(text) > f.max_length:
            return None, f"Ensure this field has no more than {f.max_length} characters."
        if f.min_length and len(text) < f.min_length:
            return None, f"Ensure this field has at least {f.min_length} characters."
        if f.regex and text and not f.regex.fullmatch(text.upper() if f.case_insensitive else text):
            return None, f"Enter a valid value ({f.pattern_help or f.pattern})."
        return text, None
    if f.type is FieldType.INT:
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            return None, "A valid integer is required."
        try:
            number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
        except InvalidOperation:
            return None, "A valid integer is required."
        if not number.is_finite() or number != number.to_integral_value():
            return None, "A valid integer is required."
        return int(number), None
    if f.type is FieldType.DECIMAL:
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            return None, "A valid number is required."
        try:
            d = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
        except InvalidOperation:
            return None, "A valid number is required."
        if not d.is_finite():
            return None, "A valid number is required."
        if f.decimals is not None and -cast(int, d.as_tuple().exponent) > f.decimals:  # finite: an int
            step = Decimal(1).scaleb(-f.decimals)
            if d != d.quantize(step):
                return None, f"Ensure that there are no more than {f.decimals} decimal places."
            d = d.quantize(step)  # 1.2300 is 1.230: trailing zeros beyond the field's decimals are dropped
        if f.positive and d <= 0:
            return None, "Ensure this value is greater than 0."
        return encode_value(f, d), None
    if f.type is FieldType.DATE:
        try:
            if not isinstance(value, str) or not ISO_DATE.match(value.strip()):
                raise ValueError(value)
            return date.fromisoformat(value.strip()).isoformat(), None
        except ValueError:
            return None, "Date has wrong format. Use YYYY-MM-DD."
    if f.type is FieldType.DATETIME:
        try:
            if not isinstance(value, str) or not ISO_DATE.match(value.strip()[:10]):
                raise ValueError(value)
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None, "Datetime has wrong format. Use YYYY-MM-DDThh:mm:ssZ."
        return encode_value(f, dt if dt.tzinfo else dt.replace(tzinfo=UTC)), None
    return value, None


def validate_record(resource: Resource, body: dict[str, Any], *, partial: bool,
                    existing: dict[str, Any] | None = None,
                    today: date | None = None) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Client fields of a POST/PATCH body as wire values, and field errors (server fields are ignored).

    The record rules are the resource's own (``resources.py``), the ones the workbook's validation checks.
    """
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for f in resource.client_fields:
        if f.name not in body:
            if f.required and not partial:
                errors.setdefault(f.name, []).append("This field is required.")
            continue
        if partial and not f.patchable:
            errors.setdefault(f.name, []).append("This field cannot be changed once the record exists.")
            continue
        value = body[f.name]
        if value is None or (isinstance(value, str) and not value.strip()):
            if f.required:
                errors.setdefault(f.name, []).append("This field may not be blank.")
            else:
                clean[f.name] = None
            continue
        parsed, error = _parse(f, value)
        if error:
            errors.setdefault(f.name, []).append(error)
        else:
            clean[f.name] = parsed
    # the rules across fields judge the record as it will be: stored values, then this body's valid ones
    merged = {k: v for k, v in {**(existing or {}), **clean}.items() if k not in errors}
    values = decode_record(resource, {f.name: merged.get(f.name) for f in resource.client_fields})
    for rule in resource.broken_rules(values, today or datetime.now(UTC).date()):
        errors.setdefault(rule.field, []).append(rule.api_message(values))
    return clean, errors


# --- routes --------------------------------------------------------------------------------------

def next_stamp(previous: str | None) -> str:
    """Now, but always later than the previous stamp: last_updated changes on every change."""
    stamp = now_text()
    if previous and stamp <= previous:
        stamp = utc_text(datetime.strptime(previous, UTC_FORMAT) + timedelta(seconds=1))
    return stamp


class Api:
    def __init__(self, store: Store, identity: Identity, contract: Contract = NO_CONTRACT,
                 paging: SandboxPaging | None = None) -> None:
        self.store, self.identity = store, identity
        self.contract = contract  # a variant service: its paths, field names and statuses on the wire
        self.paging = paging  # a service that pages its lists

    def out(self, resource: Resource, record: dict[str, Any], status_code: int = 200) -> JSONResponse:
        return JSONResponse(self.contract.to_wire(resource, record), status_code=status_code)

    def refuse(self, resource: Resource, errors: dict[str, list[str]]) -> JSONResponse:
        return bad_request(self.contract.to_wire(resource, errors))

    def editable(self, status: str | None) -> bool:
        """Our editable statuses and the variant's own (not the client's configuration: another process)."""
        return status in (None, "") or status in EDITABLE_STATUSES or self.contract.editable_statuses().get(
            str(status), False)

    def account(self, request: Request) -> str | Response:
        """The caller's customer account, or the 401/403 to answer with."""
        try:
            username = self.identity.verify(request.headers.get("authorization"))
        except TokenError as exc:
            log.debug("401: %s", exc)
            return empty(401)
        account = USERS.get(username)
        return account if account else empty(403)

    async def body(self, request: Request) -> dict[str, Any] | Response:
        raw = await request.body()
        try:
            data = json.loads(raw or b"null", parse_float=Decimal)  # no float ever touches an amount
        except ValueError:
            return bad_request({"non_field_errors": ["Invalid JSON in the request body."]})
        if not isinstance(data, dict):
            return bad_request({"non_field_errors": ["Expected a JSON object."]})
        return data

    def _reference_error(self, resource: Resource, account: str, clean: dict[str, Any],
                         except_id: int | None = None) -> dict[str, list[str]]:
        ref = clean.get(resource.reference) if resource.reference else None
        if ref and resource.reference and self.store.reference_taken(resource.name, account, ref, except_id):
            return {resource.reference: [f"A record with this {resource.reference} already exists."]}
        return {}

    def _unknown_operator(self, resource: Resource, account: str, clean: dict[str, Any]) -> Response | None:
        """422 when the body names an operator that is not one of the caller's."""
        if resource.operator_field is None or clean.get(resource.operator_field) is None:
            return None
        operator_id = clean[resource.operator_field]
        if self.store.get(OPERATOR.name, operator_id, account) is None:
            return unprocessable(f"Charge point operator {operator_id} does not exist in your account.")
        return None

    async def create(self, resource: Resource, request: Request) -> Response:
        account = self.account(request)
        if isinstance(account, Response):
            return account
        body = await self.body(request)
        if isinstance(body, Response):
            return body
        clean, errors = validate_record(resource, self.contract.from_wire(resource, body), partial=False)
        errors = errors or self._reference_error(resource, account, clean)
        if errors:
            return self.refuse(resource, errors)
        refusal = self._unknown_operator(resource, account, clean)
        if refusal is not None:
            return refusal
        stamp = now_text()
        data = {**clean, "created": stamp, "last_updated": stamp}
        if resource.has_status:
            data["status"] = Status.CREATED.value
        return self.out(resource, self.store.insert(resource.name, account, data), status_code=201)

    def list(self, resource: Resource, request: Request) -> Response:
        account = self.account(request)
        if isinstance(account, Response):
            return account
        if self.paging is None and not self.contract.fields.get(resource.name) and not any(
                self.contract.name(resource, name) in request.query_params for name in resource.list_filters):
            # the whole list in our field names: each record's stored JSON as it is (50,000 records: 0.1 s, not 0.5)
            texts = self.store.list_texts(resource.name, account)
            return Response(("[" + ",".join(texts) + "]").encode(), media_type="application/json") if texts \
                else empty(204)
        records = self.store.list(resource.name, account)
        for name in resource.list_filters:
            wanted = request.query_params.get(self.contract.name(resource, name))
            if wanted is not None:
                value, error = _parse(resource.field(name), wanted)
                # a value the field cannot hold (?chargepointoperator_id=abc) matches nothing: 204, as the FAQ has it
                records = [r for r in records if error is None and r.get(name) == value]
        if not records:
            return empty(204)
        wire = [self.contract.to_wire(resource, r) for r in records]
        return paged_answer(self.paging, wire, request) if self.paging else JSONResponse(wire)

    def get(self, resource: Resource, record_id: int | None, request: Request) -> Response:
        account = self.account(request)
        if isinstance(account, Response):
            return account
        record = None if record_id is None else self.store.get(resource.name, record_id, account)
        return self.out(resource, record) if record else empty(404)

    async def patch(self, resource: Resource, record_id: int | None, request: Request) -> Response:
        account = self.account(request)
        if isinstance(account, Response):
            return account
        record = None if record_id is None else self.store.get(resource.name, record_id, account)
        if record is None:
            return empty(404)
        body = await self.body(request)
        if isinstance(body, Response):
            return body
        if resource.has_status and not self.editable(record.get("status")):
            return unprocessable(f"The record has status {record.get('status')} and can no longer be changed.")
        server = {f.name for f in resource.server_fields}
        body = self.contract.from_wire(resource, body)
        clean, errors = validate_record(resource, {k: v for k, v in body.items() if k not in server}, partial=True,
                                        existing=record)
        errors = errors or self._reference_error(resource, account, clean, except_id=record_id)
        if errors:
            return self.refuse(resource, errors)
        refusal = self._unknown_operator(resource, account, clean)
        if refusal is not None:
            return refusal
        changed = {k: v for k, v in clean.items() if record.get(k) != v}
        if changed:
            record.update(changed)
            record["last_updated"] = next_stamp(record.get("last_updated"))
            self.store.replace(resource.name, record)
        return self.out(resource, record)


def _record_id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def router(store: Store, identity: Identity, contract: Contract = NO_CONTRACT,
           paging: SandboxPaging | None = None) -> APIRouter:
    """The API routes of every resource in resources.py (paths from there, nothing hard-coded)."""
    api = Api(store, identity, contract, paging)
    r = APIRouter()

    def routes(resource: Resource) -> None:
        async def create(request: Request) -> Response:
            return await api.create(resource, request)

        def list_(request: Request) -> Response:
            return api.list(resource, request)

        def get(record_id: str, request: Request) -> Response:
            return api.get(resource, _record_id(record_id), request)

        async def patch(record_id: str, request: Request) -> Response:
            return await api.patch(resource, _record_id(record_id), request)

        item = contract.path(resource.item_path).replace("{id}", "{record_id}")
        add: Callable[..., Any] = r.add_api_route
        add(contract.path(resource.create_path), create, methods=["POST"], name=f"create_{resource.name}",
            status_code=201)
        add(contract.path(resource.list_path), list_, methods=["GET"], name=f"list_{resource.name}")
        add(item, get, methods=["GET"], name=f"get_{resource.name}")
        add(item, patch, methods=["PATCH"], name=f"patch_{resource.name}")

    for resource in RESOURCES.values():
        routes(resource)
    return r


def api_prefixes(contract: Contract = NO_CONTRACT) -> tuple[str, ...]:
    """The first path segment of every API route ("/chargepoint", "/chargepointoperator", ...)."""
    paths = {contract.path(p) for res in RESOURCES.values() for p in (res.create_path, res.list_path, res.item_path)}
    return tuple(sorted({"/" + p.strip("/").split("/")[0] for p in paths}))


def api_path_test(contract: Contract) -> Callable[[str], bool]:
    """``is_api_path`` for a sandbox that serves a variant contract."""
    prefixes = frozenset(api_prefixes(contract))
    return lambda path: "/" + path.strip("/").split("/")[0] in prefixes


def is_api_path(path: str) -> bool:
    """Is this a route of the service's API (not sign-in, not admin)?"""
    first = "/" + path.strip("/").split("/")[0]
    return first in API_PREFIXES


API_PREFIXES = frozenset(api_prefixes())
