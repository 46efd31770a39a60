"""The companion server: the add-in's app behind uvicorn with TLS on 127.0.0.1, in a thread or in the foreground.

``CompanionServer(home=None, *, port=None)``: ``port`` None takes the installed port (the manifest names it),
0 a free one (tests). ``start()`` returns once it accepts HTTPS connections; ``serve_forever()`` is
``qaas-excel serve``. While it runs, ``office/companion.json`` in the state folder says where (port, process).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from qaas_excel.config import state_dir
from qaas_excel.office import HOST, certs
from qaas_excel.office import settings as office_settings
from qaas_excel.office.app import create_app
from qaas_excel.office.runs import Runs

log = logging.getLogger(__name__)
INFO_FILE = "companion.json"


class CompanionServer:
    def __init__(self, home: Path | None = None, *, port: int | None = None, runs: Runs | None = None) -> None:
        self.home = home or state_dir()
        self.settings = office_settings.load(self.home)
        self.certificates, self.new_certificates = certs.ensure(self.settings.tls_dir)
        self._requested_port = self.settings.port if port is None else port
        self.runs = runs or Runs()
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._cleaned = False

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the companion is not started")
        return int(self._socket.getsockname()[1])

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def secret(self) -> str:
        return self.settings.secret

    @property
    def info_path(self) -> Path:
        return self.settings.folder / INFO_FILE

    def app(self) -> Any:
        return create_app(port=lambda: self.port, secret=self.settings.secret, runs=self.runs)

    def _bind(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        if os.name != "nt":  # on Windows SO_REUSEADDR would let a second companion share the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, self._requested_port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._socket = sock

    def _uvicorn(self) -> uvicorn.Server:
        config = uvicorn.Config(self.app(), ssl_certfile=str(self.certificates.cert_file),
                                ssl_keyfile=str(self.certificates.key_file), http="h11", ws="none", lifespan="off",
                                log_level="warning", access_log=False, timeout_keep_alive=30,
                                timeout_graceful_shutdown=2, server_header=False)
        return uvicorn.Server(config)

    def _write_info(self) -> None:
        data = {"port": self.port, "origin": self.origin, "pid": os.getpid()}
        self.info_path.write_text(json.dumps(data, indent=2), encoding="utf-8")

    def start(self, *, timeout: float = 20.0) -> CompanionServer:
        self._bind()
        assert self._socket is not None
        self._server = self._uvicorn()
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="qaas-companion", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the companion did not start (see the log above)")
            time.sleep(0.02)
        self._write_info()
        return self

    def serve_forever(self, on_ready: Callable[[CompanionServer], None] | None = None) -> None:
        """Foreground, until Ctrl-C / SIGTERM."""
        self._bind()
        assert self._socket is not None
        self._server = self._uvicorn()

        def announce() -> None:
            while self._server is not None and not self._server.started:
                time.sleep(0.02)
            self._write_info()
            if on_ready:
                on_ready(self)

        threading.Thread(target=announce, daemon=True).start()

        def stop(signum: int, frame: Any) -> None:
            self._cleanup()
            raise SystemExit(0)

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._server.run(sockets=[self._socket])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._cleanup()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._cleaned:
            return
        self._cleaned = True
        try:
            if json.loads(self.info_path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                self.info_path.unlink()
        except (OSError, ValueError):
            pass
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> CompanionServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
