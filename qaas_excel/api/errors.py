"""Errors a caller can catch by meaning, and the one place that turns HTTP answers into them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict


class QaasError(Exception):
    """Anything the service (or the way to it) said no to."""

    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None, method: str | None = None,
                 url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.method, self.url = method, url


class SignInRequired(QaasError):
    """No usable token: the user must sign in (again) with `qaas-excel login`."""


class UnauthorizedError(QaasError):
    status = 401


class ForbiddenError(QaasError):
    status = 403


class NotFoundError(QaasError):
    status = 404


class RejectedError(QaasError):
    """The service read the request and said no to its data: 400 or 422, with what its body said.

    ``fields`` maps field name -> messages; ``reason`` is a message about the whole record.
    """

    def __init__(self, message: str, *, reason: str = "", fields: Mapping[str, list[str]] | None = None,
                 **kw: Any) -> None:
        super().__init__(message, **kw)
        self.reason = reason
        self.fields: dict[str, list[str]] = dict(fields or {})

    @property
    def body(self) -> ErrorBody:
        return ErrorBody(fields=self.fields, reason=self.reason)


class BadRequestError(RejectedError):
    """400: the service rejected the submitted data field by field (not our local validation)."""

    status = 400


class UnprocessableError(RejectedError):
    """422: the request was understood but cannot be processed; ``reason`` says why."""

    status = 422


class TransientError(QaasError):
    """The service could not be reached or failed: trying again later may work (exit code 4)."""


class ServerError(TransientError):
    """5xx: the service failed; per its FAQ the request was *likely* not processed."""


class RateLimitedError(TransientError):
    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class UnreachableError(TransientError):
    """No answer: DNS, refused connection, TLS failure, timeout, dropped connection."""

    def __init__(self, message: str, *, sent: bool = True, **kw: Any) -> None:
        super().__init__(message, **kw)
        # False when the request provably never left this machine (connection refused/timed out).
        self.sent = sent


class ProxyFailedError(UnreachableError):
    """The proxy from HTTPS_PROXY could not be reached or did not pass the request on (never retried: a setting)."""


class OutcomeUnknownError(TransientError):
    """A create may or may not have happened and could not be resolved by looking it up."""


class UnexpectedResponseError(QaasError):
    """An answer the contract does not foresee (a status code or a body we cannot read)."""


class IncompleteListError(QaasError):
    """A list of the service could not be read whole: a later page failed, a declared count did not match,
    the page or record limit was hit, a next link repeated or led elsewhere, or the service said there is more
    without saying where.

    Nothing may be created against such a list (a record on a page not read would be created twice). ``reason``
    says why in words, ``pages`` how many pages were read, ``records`` what was read (our field names), ``cause``
    the error of the page that failed, if one did.
    """

    def __init__(self, message: str, *, reason: str, pages: int, records: list[dict[str, Any]] | None = None,
                 cause: QaasError | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.reason, self.pages, self.cause = reason, pages, cause
        self.records: list[dict[str, Any]] = list(records or [])

    @property
    def transient(self) -> bool:
        """The service failed or could not be reached on a page: reading again later may work (exit code 4)."""
        return isinstance(self.cause, TransientError)


# --- error bodies ---------------------------------------------------------------------------------

NON_FIELD_KEYS = frozenset({"non_field_errors", "__all__", "", "detail", "message", "error", "title"})


@dataclass
class ErrorBody:
    """What an error answer said: field messages and/or a reason, whatever shape it came in."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    reason: str = ""

    def summary(self, headers: Mapping[str, str] | None = None) -> str:
        """Plain words, naming fields by their column header when known."""
        parts = []
        for name, messages in self.fields.items():
            label = (headers or {}).get(name, name)
            parts.append(f"{label}: {' '.join(messages)}" if label else " ".join(messages))
        if self.reason:
            parts.insert(0, self.reason)
        return "; ".join(parts)


def _as_messages(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        out: list[str] = []
        for item in value:
            out.extend(_as_messages(item))
        return out
    if isinstance(value, Mapping):
        for key in ("msg", "message", "detail", "description"):
            if key in value:
                return _as_messages(value[key])
        return [json.dumps(value, default=str, ensure_ascii=False)]
    return [str(value)]


def _field_from_loc(loc: Any) -> str:
    """FastAPI/pydantic ``loc`` such as ["body", "amount"] -> "amount"."""
    if not isinstance(loc, list | tuple):
        return str(loc or "")
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts)


def _camel_to_field(name: str) -> str:
    """ASP.NET's "ZipCode" / "$.zip_code" -> "zip_code"."""
    name = name.lstrip("$.")
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (name[i - 1].islower() or name[i - 1].isdigit()):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def parse_error_body(body: bytes | str | None, content_type: str | None = None) -> ErrorBody:
    """Read a 400/422 body in any of the shapes in the API contract; never raises.

    DRF ``{"field": ["msg"]}``, ``{"detail": "reason"}``, FastAPI ``{"detail": [{"loc", "msg"}]}``,
    ASP.NET problem details ``{"title", "errors": {"Field": [...]}}``, plain text, empty.
    """
    if body is None:
        return ErrorBody()
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
    text = text.strip()
    if not text:
        return ErrorBody()
    try:
        data = json.loads(text)
    except ValueError:
        if content_type and "html" in content_type.lower():
            return ErrorBody(reason="The service answered with an HTML page instead of an error message.")
        return ErrorBody(reason=text[:500])
    return _parse_json_error(data)


def _parse_json_error(data: Any) -> ErrorBody:
    result = ErrorBody()
    if isinstance(data, str):
        result.reason = data
        return result
    if isinstance(data, list):
        # A bare list of messages, or of pydantic-style items.
        for item in data:
            if isinstance(item, Mapping) and "loc" in item:
                result.fields.setdefault(_field_from_loc(item["loc"]), []).extend(_as_messages(item))
            else:
                result.reason = " ".join(filter(None, [result.reason, *_as_messages(item)]))
        return result
    if not isinstance(data, Mapping):
        result.reason = str(data)
        return result

    # ASP.NET Core problem details: {"type", "title", "status", "detail"?, "errors": {...}}.
    if isinstance(data.get("errors"), Mapping):
        for name, messages in data["errors"].items():
            result.fields.setdefault(_camel_to_field(str(name)), []).extend(_as_messages(messages))
        result.reason = " ".join(_as_messages(data.get("detail"))) or (
            "" if result.fields else " ".join(_as_messages(data.get("title")))
        )
        return result

    detail = data.get("detail")
    if isinstance(detail, list):  # FastAPI / pydantic
        inner = _parse_json_error(detail)
        result.fields.update(inner.fields)
        result.reason = inner.reason
    elif detail is not None:
        result.reason = " ".join(_as_messages(detail))

    for key, value in data.items():
        if key in NON_FIELD_KEYS or key in ("type", "status", "instance", "code", "traceId"):
            continue
        result.fields.setdefault(str(key), []).extend(_as_messages(value))
    for key in ("non_field_errors", "__all__", "message", "error"):
        if key in data and key != "detail":
            extra = " ".join(_as_messages(data[key]))
            result.reason = " ".join(filter(None, [result.reason, extra]))
    if not result.fields and not result.reason and "title" in data:
        result.reason = " ".join(_as_messages(data["title"]))
    return result


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (delta-seconds or HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


_MEANING = {
    401: "The service did not accept the sign-in (missing, invalid or expired token).",
    403: "Access denied: this user is not a QaaS customer, or has no access to this record.",
    404: "No such record (wrong id, or it belongs to another account).",
    500: "The service had an unexpected error; the request was likely not processed.",
    502: "The service's gateway failed (502).",
    503: "The service is unavailable right now (503).",
    504: "The service's gateway timed out (504).",
}


class _Where(TypedDict):
    """What every error from an answer carries (the keywords of QaasError)."""

    status: int
    method: str | None
    url: str | None


def error_for_response(status: int, body: bytes | None, *, content_type: str | None = None,
                       method: str | None = None, url: str | None = None,
                       retry_after: str | None = None) -> QaasError:
    """The one mapping from an HTTP error answer to an exception a caller can catch by meaning."""
    kw: _Where = {"status": status, "method": method, "url": url}
    where = f"{method} {url}" if method and url else ""
    if status == 400:
        parsed = parse_error_body(body, content_type)
        text = parsed.summary() or "The service rejected the submitted data (400) without saying why."
        return BadRequestError(text, reason=parsed.reason, fields=parsed.fields, **kw)
    if status == 422:
        parsed = parse_error_body(body, content_type)
        reason = parsed.reason or parsed.summary() or "The service could not process the request (422)."
        return UnprocessableError(reason, reason=reason, fields=parsed.fields, **kw)
    if status == 401:
        return UnauthorizedError(_MEANING[401], **kw)
    if status == 403:
        return ForbiddenError(_MEANING[403], **kw)
    if status == 404:
        return NotFoundError(_MEANING[404], **kw)
    if status == 429:
        seconds = parse_retry_after(retry_after)
        hint = f" Retry after {seconds:g} s." if seconds is not None else ""
        return RateLimitedError(f"The service is rate limiting requests (429).{hint}", retry_after=seconds, **kw)
    if status >= 500:
        return ServerError(_MEANING.get(status, f"The service failed with HTTP {status}."), **kw)
    return UnexpectedResponseError(f"Unexpected answer HTTP {status} to {where}".strip(), **kw)
