"""Request counting and fault injection, as a raw ASGI middleware in front of the whole app.

Faults apply to API routes only (never to sign-in or admin routes):

- ``latency_ms``: every API request waits this long (asyncio.sleep, the server stays responsive);
- ``fail_rate``: this fraction of API requests, drawn with a seeded ``random.Random``, gets one of
  ``kinds`` (default all of FAULTS): ``"500"`` / ``"503"`` (empty body), ``"429"`` (Retry-After:
  ``retry_after`` seconds), ``"drop-before"`` (the connection is cut and the request never processed),
  ``"drop-after"`` (processed and committed, then the connection is cut before the answer's body);
- ``fail_next``: a queue of faults for the next API requests, before any dice; an entry may name its
  route (``"503@POST /chargepoint"``) and query parameters the request must have (``"503@GET /chargepoints?page=3"``,
  one page of a paged list); it may also hold ``"400"`` or ``"422"`` (a canned refusal).

Stats count every request but admin ones under ``"METHOD /route-template"`` (``"PATCH /chargepoint/{id}"``,
``"POST /{tenant}/oauth2/v2.0/token"``), and injected faults by kind.
Any exception that escapes the app becomes an empty 500 (the FAQ's answer) and is logged.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from qaas_excel.sandbox.api import is_api_path

log = logging.getLogger(__name__)
ADMIN_PREFIX = "/_sandbox"
FAULTS = ("500", "503", "429", "drop-before", "drop-after")
# Only on request (fail_next), never drawn at random: the service's own refusals, with a canned body.
REFUSALS = {"400": b'{"amount": ["Rejected by the sandbox (injected)."]}',
            "422": b'{"detail": "Rejected by the sandbox (injected)."}'}
DROP_LOG_TEXT = "ASGI callable returned without completing response."

_NUMBER = re.compile(r"/\d+(?=/|$)")
_TENANT = re.compile(r"^/[0-9a-f-]{36}/")


def route_of(path: str) -> str:
    """/chargepoint/10007 -> /chargepoint/{id}; /<tenant>/oauth2/... -> /{tenant}/oauth2/..."""
    return _TENANT.sub("/{tenant}/", _NUMBER.sub("/{id}", path))


@dataclass
class FaultSettings:
    """What goes wrong on API routes; changed at run time through the admin API (from another thread)."""

    latency_ms: int = 0
    fail_rate: float = 0.0  # fraction of API requests answered with one of ``kinds``, drawn by ``rng``
    retry_after: float = 1.0  # seconds, in the Retry-After header of injected 429s
    kinds: tuple[str, ...] = FAULTS
    fail_next: deque[str] = field(default_factory=deque)  # queued faults, applied before any dice are rolled
    rng: random.Random = field(default_factory=random.Random)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def seed(self, seed: int | None) -> None:
        with self._lock:
            self.rng = random.Random(seed)

    def queue(self, entries: list[str]) -> None:
        with self._lock:
            self.fail_next.extend(entries)

    def clear_queue(self) -> None:
        with self._lock:
            self.fail_next.clear()

    def next_fault(self, route: str, query: str = "") -> str | None:
        """The next queued fault (``"503"``, or ``"422@POST /chargepoint"`` for one route only, or
        ``"503@GET /chargepoints?page=3"`` for a request with these query parameters), else the dice."""
        asked = set(parse_qsl(query, keep_blank_values=True))
        with self._lock:
            for i, entry in enumerate(self.fail_next):
                kind, _, target = entry.partition("@")
                target_route, _, target_query = target.partition("?")
                if not target or (target_route == route and set(parse_qsl(target_query)) <= asked):
                    del self.fail_next[i]
                    return kind
            if self.fail_rate and self.rng.random() < self.fail_rate:
                return self.rng.choice(self.kinds)
        return None


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()

    def count(self, key: str) -> None:
        with self._lock:
            self.requests[key] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": dict(self.requests), "faults": dict(self.faults),
                    "total": sum(self.requests.values())}

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.faults.clear()


class DropLogFilter(logging.Filter):
    """Deliberately dropped connections are not server errors worth logging; neither is closing idle ones."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        # also quiet: idle keep-alive connections outliving shutdown, when no request was cut short
        return DROP_LOG_TEXT not in text and not text.startswith("Cancel 0 running task(s)")


def retry_after_header(seconds: float) -> bytes:
    """Whole seconds as HTTP wants them ("1"); a fraction only when asked for one (fast tests)."""
    return (str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))).encode()


class FaultMiddleware:
    """Counts requests, injects faults on API routes, and turns any unexpected exception into an empty 500."""

    def __init__(self, app: Any, settings: FaultSettings, stats: Stats,
                 api_path: Callable[[str], bool] = is_api_path) -> None:
        self.app, self.settings, self.stats = app, settings, stats
        self.api_path = api_path  # a variant contract serves the API at other paths

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._handle(scope, receive, tracked)
        except Exception:
            log.exception("unexpected error answering %s %s", scope["method"], scope["path"])
            if not started:  # the FAQ's 500: empty body
                await send({"type": "http.response.start", "status": 500,
                            "headers": [(b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})

    async def _handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        if not path.startswith(ADMIN_PREFIX):
            self.stats.count(f"{scope['method']} {route_of(path)}")
        if not self.api_path(path):
            await self.app(scope, receive, send)
            return
        s = self.settings
        if s.latency_ms:
            await asyncio.sleep(s.latency_ms / 1000)
        kind = s.next_fault(f"{scope['method']} {route_of(path)}", scope.get("query_string", b"").decode("latin-1"))
        if kind is None:
            await self.app(scope, receive, send)
            return
        self.stats.fault(kind)
        if kind == "drop-after":
            captured: list[dict[str, Any]] = []

            async def capture(message: dict[str, Any]) -> None:
                captured.append(message)

            await self.app(scope, receive, capture)  # processed and committed ...
            body = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
            await self._drop(send, len(body) + 1)  # ... but the answer never arrives
            return
        if kind == "drop-before":
            await self._drop(send, 64)
            return
        status = int(kind)
        body = REFUSALS.get(kind, b"")
        headers = [(b"content-length", str(len(body)).encode())]
        if body:
            headers.append((b"content-type", b"application/json"))
        if status == 429:
            headers.append((b"retry-after", retry_after_header(s.retry_after)))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _drop(send: Any, length: int) -> None:
        # A 200 whose headers promise a body that never comes; uvicorn then closes the connection,
        # and the client gets an error (never a success) without knowing whether the request took effect.
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]})
