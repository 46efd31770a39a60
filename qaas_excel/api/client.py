"""The QaaS API client: one pooled session, errors by meaning, safe retries, exact decimals.

- GET and PATCH (setting absolute values, so repeating one is harmless) are retried with
  exponential backoff and jitter on 429/502/503/504 and lost connections, honouring Retry-After.
- A POST is never repeated blindly: when its outcome is unknown (connection lost, 5xx) the
  record is first looked up by its ``customer_reference``; only when it is not there is the
  POST sent again. A 429 means "not processed", so a POST is retried after Retry-After.
- On a 401 the token is refreshed silently once and the request repeated once; a second 401
  becomes ``SignInRequired``.
- A list is read whole, following the service's paging to the end (``api/paging.py``), or not at all:
  ``IncompleteListError`` says why, and nothing may be created against it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import requests
import urllib3
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from qaas_excel.api import errors, paging
from qaas_excel.api.auth import TokenProvider
from qaas_excel.api.http import VerifyingSession, describe_proxy_error
from qaas_excel.audit import AuditLog
from qaas_excel.config import Environment
from qaas_excel.jsonl import StateWriteError
from qaas_excel.resources import Resource, decode_record, encode_record
from qaas_excel.values import decimal_text

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# A page of a list is a plain read: one that failed (500) is asked again too, so one bad page does not leave the
# whole list unread (and a push without its creates).
LIST_RETRY_STATUSES = RETRY_STATUSES | {500}
MAX_RETRY_AFTER_S = 120.0


@dataclass
class ClientStats:
    """What a run cost: requests sent, retries, silent token refreshes, creates resolved by look-up."""

    requests: Counter[str] = field(default_factory=Counter)  # "METHOD /path-template" -> count
    retries: int = 0
    token_refreshes: int = 0
    resolved_by_lookup: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, key: str) -> None:
        with self._lock:
            self.requests[key] += 1

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "total_requests": sum(self.requests.values()),
            "retries": self.retries,
            "token_refreshes": self.token_refreshes,
            "resolved_by_lookup": self.resolved_by_lookup,
        }


@dataclass(frozen=True)
class FirstPage:
    """The first page of a list, fetched ahead (``QaasClient.first_page``): for which resource and query."""

    resource: str
    params: dict[str, Any] | None
    response: requests.Response


@dataclass(frozen=True)
class Created:
    """The outcome of a create: the record, and whether it already existed (found by reference)."""

    record: dict[str, Any]
    adopted: bool = False


_Sent = TypeVar("_Sent", dict[str, Any], Created)  # what an audited request gives back: a record, or a create's


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_text(value)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def _is_retryable(exc: BaseException, statuses: frozenset[int] = RETRY_STATUSES) -> bool:
    if isinstance(exc, errors.ProxyFailedError):
        return False  # a wrong proxy setting does not heal by waiting
    if isinstance(exc, errors.RateLimitedError | errors.UnreachableError):
        return True
    return isinstance(exc, errors.ServerError) and exc.status in statuses


class QaasClient:
    """Talks to one environment of the service as one signed-in account."""

    def __init__(self, env: Environment, tokens: TokenProvider, *, session: VerifyingSession | None = None,
                 max_attempts: int = 6, max_wait_s: float = 30.0, give_up_after_s: float = 300.0,
                 pool_size: int = 16, audit: AuditLog | None = None, max_pages: int = paging.MAX_PAGES,
                 max_records: int = paging.MAX_RECORDS) -> None:
        self.env = env
        self.tokens = tokens
        self.audit = audit
        self._account: str | None = None
        self.session = session or VerifyingSession(env.verify, pool_size=pool_size)
        self.stats = ClientStats()
        self.max_attempts = max_attempts
        self.max_wait_s = max_wait_s
        self.give_up_after_s = give_up_after_s
        self.max_pages, self.max_records = max_pages, max_records  # bounds of one list read

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> QaasClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request --------------------------------------------------------------------------------
    def _send_once(self, method: str, path: str, route: str, *, params: dict[str, Any] | None = None,
                   body: dict[str, Any] | None = None, url: str | None = None,
                   stream: bool = False) -> requests.Response:
        """One HTTP exchange, with one silent token refresh on 401; errors mapped by meaning.

        ``url``: a whole URL on the service's host instead of ``path`` (a list's next link). ``stream``: return once
        the answer's head has come, its body read when asked for (a failure then is the caller's)."""
        url = url or self.env.base_url + path
        data = json.dumps(body, default=_json_default, ensure_ascii=False).encode() if body is not None else None
        refreshed = False
        while True:
            try:
                token = self.tokens.token(force_refresh=refreshed)
            except errors.UnreachableError as exc:
                exc.sent = False  # the request itself never left
                raise
            headers = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            self.stats.count(f"{method} {route}")
            try:
                response = self.session.request(method, url, params=params, data=data, headers=headers,
                                                **({"stream": True} if stream else {}))
            except requests.exceptions.SSLError as exc:
                raise errors.UnreachableError(
                    f"TLS verification of {self.env.base_url} failed ({exc.__class__.__name__}); "
                    "check the CA bundle of this environment.", method=method, url=url) from None
            except requests.exceptions.ProxyError as exc:
                raise errors.ProxyFailedError(describe_proxy_error(exc, url) or str(exc), method=method, url=url,
                                              sent=False) from None
            except requests.exceptions.RequestException as exc:
                raise errors.UnreachableError(
                    f"No answer from {self.env.base_url} ({_describe(exc)}).", method=method, url=url,
                    sent=not _never_sent(exc)) from None
            if response.status_code == 401 and not refreshed:
                response.close()  # its connection back to the pool (a streamed answer's body is never read)
                refreshed = True
                self.stats.add("token_refreshes")
                log.info("401 from %s %s: refreshing the token once", method, route)
                continue
            if response.status_code == 401:
                raise errors.SignInRequired(
                    "The service rejected the sign-in even after a fresh token: sign in again with "
                    f"`qaas-excel login --env {self.env.name}`.", status=401, method=method, url=url)
            if response.status_code >= 400:
                raise errors.error_for_response(
                    response.status_code, response.content, content_type=response.headers.get("Content-Type"),
                    method=method, url=url, retry_after=response.headers.get("Retry-After"))
            return response

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), MAX_RETRY_AFTER_S)
        return wait_random_exponential(multiplier=0.25, max=self.max_wait_s)(state)

    def _retrying(self, should_retry: Any) -> Retrying:
        def before_sleep(state: RetryCallState) -> None:
            self.stats.add("retries")
            log.info("retrying after %s (attempt %d)", state.outcome.exception() if state.outcome else "?",
                     state.attempt_number)

        return Retrying(
            retry=retry_if_exception(should_retry),
            wait=self._wait,
            stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.give_up_after_s),
            before_sleep=before_sleep,
            reraise=True,
        )

    def request(self, method: str, path: str, *, route: str | None = None, params: dict[str, Any] | None = None,
                body: dict[str, Any] | None = None, url: str | None = None,
                retry_statuses: frozenset[int] = RETRY_STATUSES, stream: bool = False) -> requests.Response:
        """An idempotent request (GET, PATCH of absolute values), retried when that is safe."""
        return self._retrying(lambda exc: _is_retryable(exc, retry_statuses))(
            self._send_once, method, path, route or path, params=params, body=body, url=url, stream=stream)

    @staticmethod
    def _json(response: requests.Response) -> Any:
        if response.status_code == 204 or not response.content.strip():
            return None
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise errors.UnexpectedResponseError(
                f"The service answered {response.request.method} {response.url} with a body that is not JSON.",
                status=response.status_code) from None

    # -- resources ----------------------------------------------------------------------------------
    def list(self, resource: Resource, *, first: FirstPage | None = None, **filters: Any) -> list[dict[str, Any]]:
        """All records of the account (204 = none), optionally filtered: the whole list, every page of it.

        Raises ``IncompleteListError`` (with what was read) when it cannot be read whole. ``first``: its first page,
        fetched ahead (``first_page``).
        """
        seen: dict[str, dict[str, Any]] = {}  # a field's texts met again in the list: decoded once
        items = self.read_list(resource, first=first, **filters).items
        records = []
        for i, item in enumerate(items):  # each record as it came let go once decoded: never the list twice over
            records.append(self._record(resource, item, seen))
            items[i] = None  # type: ignore[call-overload]
        return records

    def first_page(self, resource: Resource) -> FirstPage:
        """The first page of a resource's whole list, asked for as ``list`` would, once the service has answered
        (the time it takes is the service's): what a run asks for while it reads the workbook (``pipeline.
        ListsAhead``). Its body is read by ``list(first=...)``, in the thread that makes the records: read in the
        asking thread, its 20 MB at 50,000 records stayed with that thread's memory (40 MiB more at the peak)."""
        paging_ = self.env.contract.paging
        params = (paging_.params(0, 0) if paging_ else None) or None  # the query ``read_whole`` asks first
        return FirstPage(resource.name, params, self._list_get(resource, params, stream=True))

    def _list_get(self, resource: Resource, params: dict[str, Any] | None = None, url: str | None = None,
                  stream: bool = False) -> requests.Response:
        contract = self.env.contract
        return self.request("GET", contract.path(resource.list_path), route=resource.list_path, params=params,
                            url=url, retry_statuses=LIST_RETRY_STATUSES, stream=stream)

    def read_list(self, resource: Resource, *, lookup: bool = False, first: FirstPage | None = None,
                  **filters: Any) -> paging.ListRead:
        """The whole list as it came (the service's field names), with how it was paged.

        ``lookup``: read on when the list changes meanwhile (see ``paging.read_whole``). ``first``: the first page
        fetched ahead (``first_page``), used if it is this list's (the same resource and query) and only once."""
        unknown = set(filters) - set(resource.list_filters)
        if unknown:
            raise ValueError(f"{resource.name} lists cannot be filtered by {sorted(unknown)}")
        contract = self.env.contract
        params = {contract.name(resource, k): v for k, v in filters.items() if v is not None}
        path = contract.path(resource.list_path)
        ahead = [first] if first is not None else []

        def page(response: requests.Response) -> paging.Page:
            return paging.Page(response.url, response.status_code, self._json(response), response.headers)

        def first_(extra: dict[str, Any] | None) -> paging.Page:
            query = {**params, **(extra or {})} or None
            if ahead and ahead[0].resource == resource.name and ahead[0].params == query:
                response = ahead.pop().response
                try:
                    _ = response.content  # its body, read now
                except requests.exceptions.RequestException as exc:  # cut off: asked anew, as any request is
                    log.info("the list's first page, asked for ahead, came cut off (%s): asking again", exc)
                    response.close()
                else:
                    return page(response)
            for unused in ahead:
                unused.response.close()
            ahead.clear()  # another query: fetched anew, as is any page after
            return page(self._list_get(resource, query))

        def follow(url: str) -> paging.Page:
            return page(self._list_get(resource, url=url))

        def incomplete(reason: str, pages: int, items: list[dict[str, Any]],
                       cause: errors.QaasError | None) -> errors.IncompleteListError:
            seen: dict[str, dict[str, Any]] = {}
            records = [self._record(resource, item, seen) for item in items]
            read = f"read {len(records)} on {pages} page{'s' if pages != 1 else ''}" if pages else "nothing kept"
            return errors.IncompleteListError(
                f"The service's list of {resource.title}s could not be read whole: {reason} ({read}).",
                reason=reason, pages=pages, records=records, cause=cause, method="GET", url=self.env.base_url + path)

        return paging.read_whole(first_, follow, base_url=self.env.base_url, paging=contract.paging,
                                 id_key=contract.name(resource, "id"), max_pages=self.max_pages,
                                 max_records=self.max_records, on_incomplete=incomplete, lookup=lookup)

    def _record(self, resource: Resource, body: dict[str, Any],
                seen: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """A record from the service in our field names (the environment's contract renames); ``seen``: see
        ``decode_record``."""
        record = decode_record(resource, self.env.contract.from_wire(resource, body), seen)
        record_id = record.get("id")
        if record_id is not None and (not isinstance(record_id, int) or isinstance(record_id, bool)):
            # the workbook, the journal and the planner link rows by whole-number ids: a text id would leave a pushed
            # row looking unpushed, and the next push could create its record again
            raise errors.UnexpectedResponseError(
                f"The service's {resource.title} ids are not whole numbers ({str(record_id)[:40]!r}); this release "
                "of qaas-excel links rows to records by whole-number QaaS IDs only, so it stops here rather than risk "
                "a record created twice (see 'Record ids' in the README).")
        return record

    def _body(self, resource: Resource, values: dict[str, Any]) -> dict[str, Any]:
        return self.env.contract.to_wire(resource, encode_record(resource, values))

    def _our_fields(self, resource: Resource, exc: errors.RejectedError) -> None:
        """Field errors of a 400 in our field names, so they land on our columns."""
        exc.fields = self.env.contract.from_wire(resource, exc.fields)

    def get(self, resource: Resource, record_id: int) -> dict[str, Any]:
        record_id = _whole(record_id)
        response = self.request("GET", self.env.contract.item_path(resource, record_id), route=resource.item_path)
        return self._record(resource, self._json(response) or {})

    @property
    def account(self) -> str | None:
        """Who the writes are made as (for the audit trail)."""
        if self._account is None:
            try:
                self._account = self.tokens.username
            except errors.QaasError:
                return None
        return self._account

    def _audited(self, method: str, resource: Resource, send: Callable[[], _Sent], *, record_id: int | None,
                 reference: str | None, changes: dict[str, dict[str, Any]]) -> _Sent:
        if self.audit is None:
            return send()
        entry = self.audit.begin(environment=self.env.name, account=self.account, method=method,
                                 resource=resource.name, record_id=record_id, customer_reference=reference,
                                 changes=changes)
        try:
            result = send()
        except errors.QaasError as exc:
            known = not isinstance(exc, errors.TransientError) or isinstance(exc, errors.RateLimitedError)
            self.audit.finish(entry, ok=False,
                              outcome=f"{exc.status or ''} {exc}".strip() if known else f"unknown: {exc}")
            raise
        record = result.record if isinstance(result, Created) else result
        outcome = ("adopted (already existed)" if isinstance(result, Created) and result.adopted
                   else "created" if method == "POST" else "updated")
        # the answer counts even when the trail cannot take it: the trail remembers and lets no further write leave
        with contextlib.suppress(StateWriteError):
            self.audit.finish(entry, ok=True, outcome=outcome, record_id=record.get("id"))
        return result

    def update(self, resource: Resource, record_id: int, changes: dict[str, Any], *,
               before: dict[str, Any] | None = None) -> dict[str, Any]:
        """PATCH the given client fields (``before``: the record as last seen, for the audit); returns it edited."""
        body = self._body(resource, changes)
        record_id = _whole(record_id)

        def send() -> dict[str, Any]:
            try:
                response = self.request("PATCH", self.env.contract.item_path(resource, record_id),
                                        route=resource.item_path, body=body)
            except errors.RejectedError as exc:
                self._our_fields(resource, exc)
                raise
            return self._record(resource, self._json(response) or {})

        return self._audited("PATCH", resource, send, record_id=record_id,
                             reference=(before or {}).get("customer_reference"),
                             changes={k: {"old": (before or {}).get(k), "new": v} for k, v in changes.items()})

    def find_by_reference(self, resource: Resource, reference: str) -> dict[str, Any] | None:
        """The record with this reference; a list not read whole that does not hold it says nothing: that raises.

        Other creates of the same push may change the list while it is read: what is found is there all the same."""
        def unknown(why: str) -> errors.OutcomeUnknownError:
            return errors.OutcomeUnknownError(
                f"Whether the {resource.title} with reference {reference!r} was created could not be found out "
                f"({why}); it was not sent again. Push again later: it is looked up first, never created twice.",
                method="GET", url=self.env.base_url + self.env.contract.path(resource.list_path))

        try:
            read = self.read_list(resource, lookup=True)
            records, changed = [self._record(resource, item) for item in read.items], read.changed
        except errors.IncompleteListError as exc:
            records, changed = exc.records, str(exc)
        found = next((r for r in records if str(r.get("customer_reference") or "") == reference), None)
        if found is None and changed:
            raise unknown(f"the list of {resource.title}s changed while it was read: {changed}")
        return found

    def find_or_create(self, resource: Resource, values: dict[str, Any]) -> Created:
        """The record with ``values``' reference when the service has one (``adopted``: nothing is sent), else
        a new one. Never two: a create refused because the reference appeared meanwhile finds that record."""
        reference = str(values.get(resource.reference or "") or "").strip()
        if reference:
            found = self.find_by_reference(resource, reference)
            if found is not None:
                return Created(found, adopted=True)
        try:
            return self.create(resource, values)
        except errors.RejectedError:
            found = self.find_by_reference(resource, reference) if reference else None
            if found is None:
                raise
            return Created(found, adopted=True)

    def create(self, resource: Resource, values: dict[str, Any]) -> Created:
        """POST a new record; never creates it twice (see module docstring)."""
        reference = str(values.get("customer_reference") or "").strip() or None
        changes = {k: {"old": None, "new": v} for k, v in values.items() if v is not None}
        return self._audited("POST", resource, lambda: self._create(resource, values), record_id=None,
                             reference=reference, changes=changes)

    def _create(self, resource: Resource, values: dict[str, Any]) -> Created:
        body = self._body(resource, values)
        reference = str(values.get("customer_reference") or "").strip() or None
        state = {"lookup_first": False}

        def attempt() -> Created:
            if state["lookup_first"] and reference:
                found = self.find_by_reference(resource, reference)
                if found is not None:
                    self.stats.add("resolved_by_lookup")
                    return Created(found, adopted=True)
            state["lookup_first"] = False
            try:
                response = self._send_once("POST", self.env.contract.path(resource.create_path),
                                           resource.create_path, body=body)
            except errors.RejectedError as exc:
                self._our_fields(resource, exc)
                raise
            except errors.RateLimitedError:
                raise  # not processed: plain retry after Retry-After
            except (errors.UnreachableError, errors.ServerError) as exc:
                if isinstance(exc, errors.UnreachableError) and not exc.sent:
                    raise  # no connection was made: nothing can have been created
                if not reference:
                    raise errors.OutcomeUnknownError(
                        f"Creating the {resource.title} may or may not have succeeded ({exc}); it has no "
                        "'Your reference' to look it up by, so it was not sent again. Check the service "
                        "before pushing this row again.", method="POST", url=exc.url) from None
                state["lookup_first"] = True  # find out whether it went through before sending again
                raise
            return Created(self._record(resource, self._json(response) or {}))

        def should_retry(exc: BaseException) -> bool:
            if isinstance(exc, errors.ProxyFailedError):
                return False
            if isinstance(exc, errors.UnreachableError) and not exc.sent:
                return True
            return isinstance(exc, errors.RateLimitedError) or (
                state["lookup_first"] and isinstance(exc, errors.UnreachableError | errors.ServerError))

        try:
            return self._retrying(should_retry)(attempt)
        except (errors.UnreachableError, errors.ServerError) as exc:
            if state["lookup_first"]:
                raise errors.OutcomeUnknownError(
                    f"Creating the {resource.title} with reference {reference!r} may or may not have "
                    f"succeeded and the service kept failing ({exc}); push again later: the record will "
                    "be looked up by its reference first, never created twice.", method="POST") from None
            raise


def _whole(record_id: Any) -> int:
    """Record ids go into URLs: 10001.0 must never become '/chargepoint/10001.0'."""
    if isinstance(record_id, float) and record_id.is_integer():
        return int(record_id)
    if isinstance(record_id, int) and not isinstance(record_id, bool):
        return record_id
    raise ValueError(f"not a record id: {record_id!r}")


def _never_sent(exc: BaseException) -> bool:
    """True when the connection failed before any byte of the request left this machine."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "no answer in time"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection lost while reading the answer"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "Connection refused" in text or "Errno 111" in text:
            return "connection refused; is the service (or the sandbox) running?"
        return "connection lost"
    return exc.__class__.__name__


def connect(env: Environment, *, account: str | None = None, **kwargs: Any) -> QaasClient:
    """A client for an environment, signed in from the token cache (or QAAS_ACCESS_TOKEN)."""
    from qaas_excel.api.auth import token_provider

    session = VerifyingSession(env.verify, pool_size=kwargs.pop("pool_size", 16))
    kwargs.setdefault("audit", AuditLog())
    return QaasClient(env, token_provider(env, account=account, session=session), session=session, **kwargs)
