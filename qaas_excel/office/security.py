"""The companion's gate: every request passes here before any route sees it.

The companion acts for a signed-in user, and every web page that user opens can send requests to
localhost. So, before anything else:

- ``Host`` must be ``localhost:PORT`` or ``127.0.0.1:PORT`` (a DNS-rebinding page sends its own name): 400;
- ``/api/`` takes POST only (no state changes by GET, no CORS preflight is ever answered with a grant): 405;
- an API request must come from the add-in's own origin (``Origin``; ``Sec-Fetch-Site`` not cross-site): 403,
  carry the per-install secret that only the served add-in knows (a foreign page cannot read it): 403,
  and be JSON (a plain HTML form cannot send that type): 415;
- bodies are bounded (by ``Content-Length`` and while reading): 413.

The refusal is a short JSON message; nothing of the request (body, secret, headers) is logged.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECRET_HEADER = "x-qaas-secret"
API_PREFIX = "/api/"
DEFAULT_LIMIT = 64 * 1024  # small JSON: sign-in, settings, settle
# A workbook's sheets for a run (200,000 rows of 20 columns fit), and a recalculation's worksheet function calls.
LIMITS = {"/api/run/": 128 * 1024 * 1024, "/api/functions": 4 * 1024 * 1024}
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def body_limit(path: str) -> int:
    for prefix, limit in LIMITS.items():
        if path.startswith(prefix):
            return limit
    return DEFAULT_LIMIT


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Guard:
    """ASGI middleware in front of the companion's app."""

    def __init__(self, app: ASGIApp, *, port: Callable[[], int], secret: str) -> None:
        self.app = app
        self.port = port
        self.secret = secret.encode()

    def hosts(self) -> set[str]:
        port = self.port()
        return {f"localhost:{port}", f"127.0.0.1:{port}"}

    def origins(self) -> set[str]:
        return {f"https://{h}" for h in self.hosts()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for k, v in scope.get("headers", []):
            name = k.decode("latin-1").lower()
            if name in headers and name in ("host", "origin", SECRET_HEADER):
                headers[name] = "\x00duplicate"  # two Host/Origin/secret headers: refuse rather than guess
            else:
                headers[name] = v.decode("latin-1")
        try:
            receive = await self._check(scope, headers, receive)
        except Refused as exc:
            log.warning("refused a %s request: %s", str(scope.get("method"))[:10], exc.status)
            await _refuse(send, exc.status, str(exc))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _check(self, scope: Scope, headers: dict[str, str], receive: Receive) -> Receive:
        if headers.get("host", "").lower() not in self.hosts():
            raise Refused(400, "Invalid Host header: the companion answers only as localhost.")
        path, method = scope.get("path", ""), scope.get("method", "")
        if not path.startswith(API_PREFIX):
            if method not in ("GET", "HEAD"):
                raise Refused(405, "Method not allowed.")
            return receive
        if method != "POST":
            raise Refused(405, "The API takes POST only.")
        if headers.get("origin") not in self.origins() or headers.get("sec-fetch-site") == "cross-site":
            raise Refused(403, "Requests are accepted from the QaaS add-in only.")
        if not hmac.compare_digest(headers.get(SECRET_HEADER, "").encode("latin-1", "replace"), self.secret):
            raise Refused(403, "Requests are accepted from the QaaS add-in only.")
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise Refused(415, "The API takes JSON.")
        limit = body_limit(path)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise Refused(400, "Invalid Content-Length.")
            if int(length) > limit:
                raise Refused(413, f"The request is larger than {limit // 1024:,} KiB.")
        body = await _read_body(receive, limit)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()  # e.g. http.disconnect
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(400, "The request ended early.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"The request is larger than {limit // 1024:,} KiB.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
