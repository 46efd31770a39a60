"""The sandbox server: the FastAPI app behind uvicorn with real TLS on 127.0.0.1, in a thread or in the foreground.

``SandboxServer(home, *, port=8765, db_path=None, auto_approve=False, token_lifetime=3600, latency_ms=0,
fail_rate=0.0, seed_demo_data=False, seed=None, retry_after=1.0, openapi_transform=None,
contract=NO_CONTRACT, paging=None)``:

- ``start()`` returns the server once it accepts HTTPS connections (uvicorn in a background thread) and
  writes ``<home>/sandbox.json`` (base_url, authority, client_id, ca_file, admin_token); ``stop()``
  removes it; ``with SandboxServer(...) as s:`` does both. ``serve_forever(on_ready)`` is the foreground
  variant behind ``qaas-excel sandbox serve``.
- ``base_url`` (``https://127.0.0.1:PORT``; port 0 picks a free one), ``authority`` (``base_url/<tenant>``),
  ``port``, ``ca_file`` (the local CA in ``home``), ``admin_token`` (new on every start), ``environment``
  (a ``config.Environment`` named "sandbox"), ``admin`` (a :class:`~qaas_excel.sandbox.admin.SandboxAdmin`).
- Data lives in SQLite (``<home>/sandbox.sqlite3`` unless ``db_path``), with the token signing key.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from qaas_excel.config import CLIENT_ID, TENANT_ID, Environment, sandbox_info_path
from qaas_excel.config_files import private_dir
from qaas_excel.contract import NO_CONTRACT, Contract, apply_to_document
from qaas_excel.sandbox import HOST, admin, api, docs, identity
from qaas_excel.sandbox.demo_data import seed_records
from qaas_excel.sandbox.faults import DropLogFilter, FaultMiddleware, FaultSettings, Stats
from qaas_excel.sandbox.paging import SandboxPaging
from qaas_excel.sandbox.paging import apply_to_document as paged_document
from qaas_excel.sandbox.store import Store
from qaas_excel.sandbox.tls import CA_FILE, make_certificates

log = logging.getLogger(__name__)


class SandboxServer:
    """A running sandbox; ``start()`` returns once it accepts HTTPS connections."""

    def __init__(self, home: Path, *, port: int = 8765, db_path: Path | None = None, auto_approve: bool = False,
                 token_lifetime: int = 3600, latency_ms: int = 0, fail_rate: float = 0.0,
                 seed_demo_data: bool = False, seed: int | None = None, retry_after: float = 1.0,
                 openapi_transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 contract: Contract = NO_CONTRACT, paging: SandboxPaging | None = None) -> None:
        self.home = Path(home)
        private_dir(self.home)
        self.store = Store(db_path or self.home / "sandbox.sqlite3")
        self.identity = identity.Identity(self.store, token_lifetime=token_lifetime, auto_approve=auto_approve)
        self.stats = Stats()
        self.faults = FaultSettings(latency_ms=latency_ms, fail_rate=fail_rate, retry_after=retry_after)
        self.faults.seed(seed)
        self.admin_token = secrets.token_urlsafe(24)
        self.openapi_transform = openapi_transform  # tests: serve a document that differs from ours
        self.contract = contract  # play a service whose paths, field names and statuses differ from ours
        self.paging = paging  # play a service that pages its lists
        self._requested_port = port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._admin: admin.SandboxAdmin | None = None
        self._cleaned = False
        self._info_written = False
        # written once the port is ours: a second sandbox that cannot bind must not replace a running one's CA
        self.ca_file = self.home / CA_FILE
        self._cert_file = self._key_file = Path()
        if seed_demo_data:
            seed_records(self.store)  # only into an empty account: a restart does not duplicate them

    # -- addresses ---------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the sandbox is not started")
        return self._socket.getsockname()[1]

    @property
    def base_url(self) -> str:
        return f"https://{HOST}:{self.port}"

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{TENANT_ID}"

    @property
    def environment(self) -> Environment:
        return Environment(name="sandbox", base_url=self.base_url, authority=self.authority,
                           ca_bundle=str(self.ca_file), admin_token=self.admin_token)

    @property
    def admin(self) -> admin.SandboxAdmin:
        if self._admin is None:
            self._admin = admin.SandboxAdmin(self.base_url, self.admin_token, str(self.ca_file))
        return self._admin

    # -- app ---------------------------------------------------------------------------------------
    def app(self) -> Any:
        # FastAPI's own /docs and /openapi.json stay off: the API page serves our document (sandbox/docs.py)
        fastapi = FastAPI(title="QaaS sandbox", docs_url=None, redoc_url=None, openapi_url=None,
                          exception_handlers={StarletteHTTPException: _empty_error, Exception: _empty_500})
        fastapi.include_router(identity.router(self.identity))
        fastapi.include_router(docs.router(self.identity, self._document))
        fastapi.include_router(api.router(self.store, self.identity, self.contract, self.paging))
        fastapi.include_router(admin.router(self.store, self.identity, self.stats, self.faults, self.admin_token))
        return FaultMiddleware(fastapi, self.faults, self.stats, api.api_path_test(self.contract))

    def _document(self, document: dict[str, Any]) -> dict[str, Any]:
        """The OpenAPI document this sandbox serves: ours, as its contract changes it."""
        document = apply_to_document(document, self.contract)
        if self.paging:
            document = paged_document(document, self.paging)
        return self.openapi_transform(document) if self.openapi_transform else document

    def _bind(self) -> None:
        # proto=IPPROTO_TCP matters: asyncio only switches Nagle off (TCP_NODELAY) for sockets that say so,
        # and without it every answer with a body waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, self._requested_port))
            sock.listen(256)
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self.identity.base_url = self.base_url
        self.ca_file, self._cert_file, self._key_file = make_certificates(self.home)

    def _uvicorn(self, log_level: str) -> uvicorn.Server:
        uvicorn_log = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, DropLogFilter) for f in uvicorn_log.filters):
            uvicorn_log.addFilter(DropLogFilter())
        config = uvicorn.Config(self.app(), ssl_certfile=str(self._cert_file), ssl_keyfile=str(self._key_file),
                                http="h11", ws="none", lifespan="off", log_level=log_level, access_log=False,
                                timeout_keep_alive=30, timeout_graceful_shutdown=2)
        return uvicorn.Server(config)

    def _write_info(self) -> None:
        path = sandbox_info_path(self.home)
        info = {"base_url": self.base_url, "authority": self.authority, "client_id": CLIENT_ID,
                "ca_file": str(self.ca_file), "admin_token": self.admin_token}
        path.unlink(missing_ok=True)  # created anew, so that it is never readable by others (it holds a secret)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as f:
            f.write(json.dumps(info, indent=2))
        self._info_written = True

    def start(self, *, timeout: float = 20.0) -> SandboxServer:
        self._bind()
        self._server = self._uvicorn("warning")
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="qaas-sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox did not start (see the log above)")
            time.sleep(0.02)
        self._write_info()
        return self

    def serve_forever(self, on_ready: Any = None) -> None:
        """Foreground: until Ctrl-C / SIGTERM (uvicorn handles the signals)."""
        self._bind()
        self._server = self._uvicorn("warning")
        thread = threading.Thread(target=self._announce, args=(on_ready,), daemon=True)
        thread.start()

        def stop(signum: int, frame: Any) -> None:
            # uvicorn re-raises the signal after its graceful shutdown; this handler then tidies up and exits
            self._cleanup()
            raise SystemExit(0)

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        assert self._socket is not None  # bound above
        try:
            self._server.run(sockets=[self._socket])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._cleanup()

    def _announce(self, on_ready: Any) -> None:
        while self._server is not None and not self._server.started:
            time.sleep(0.02)
        self._write_info()
        if on_ready:
            on_ready(self)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True  # do not wait for idle keep-alive connections
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._cleaned:
            return
        self._cleaned = True
        if self._info_written:
            self._remove_info()
        if self._socket is not None:
            self._socket.close()
        if self._admin is not None:
            self._admin.session.close()
        self.store.close()

    def _remove_info(self) -> None:
        """Remove sandbox.json if it is still ours (another sandbox may have started in the same home since)."""
        path = sandbox_info_path(self.home)
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("admin_token") != self.admin_token:
                return
        except (OSError, ValueError):
            return
        path.unlink(missing_ok=True)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _empty_error(request: Request, exc: StarletteHTTPException) -> Response:
    # unknown paths and methods answer like the FAQ's errors: a status code, no body
    return Response(status_code=exc.status_code, headers=exc.headers)


async def _empty_500(request: Request, exc: Exception) -> Response:
    return Response(status_code=500)  # the fault middleware logs the exception
