"""Sign-in from the task pane: the ribbon's device-code flow, waited for in the companion, never in Excel.

The task pane shows the code and the link and asks every few seconds how it went; the tokens stay in the
companion's msal cache (the same cache the command line and the VBA ribbon use) and never reach the browser.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from qaas_excel.api import errors
from qaas_excel.excel import session

log = logging.getLogger(__name__)


@dataclass
class SignInState:
    state: str = "idle"  # idle | pending | signed_in | failed
    user_code: str | None = None
    verification_uri: str | None = None
    expires_at: float | None = None
    message: str | None = None
    env: str | None = None
    username: str | None = None

    def to_dict(self) -> dict[str, Any]:
        left = max(0, int(self.expires_at - time.time())) if self.expires_at and self.state == "pending" else None
        return {"state": self.state, "user_code": self.user_code, "verification_uri": self.verification_uri,
                "expires_in": left, "message": self.message, "env": self.env, "username": self.username}


class SignIn:
    """At most one device-code flow at a time; a second Sign in while one waits shows the same code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = SignInState()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def status(self) -> dict[str, Any]:
        with self._lock:
            return self._state.to_dict()

    def start(self) -> dict[str, Any]:
        with self._lock:
            if self._state.state == "pending" and self._thread is not None and self._thread.is_alive():
                return self._state.to_dict()
            signin = session.sign_in_for()
            flow = signin.start_login()  # SignInRequired / UnreachableError reach the caller
            code = signin.device_code(flow)
            self._stop = threading.Event()
            self._state = SignInState("pending", code.user_code, code.verification_uri, time.time() + code.expires_in,
                                      f"Open {code.verification_uri} and enter the code {code.user_code}.",
                                      signin.env.name)
            self._thread = threading.Thread(target=self._wait, args=(signin, flow, self._stop), daemon=True,
                                            name="qaas-office-signin")
            self._thread.start()
            return self._state.to_dict()

    def _wait(self, signin: Any, flow: dict[str, Any], stop: threading.Event) -> None:
        try:
            username = signin.finish_login(flow, should_stop=stop.is_set)
        except (errors.QaasError, OSError) as exc:
            with self._lock:
                if self._stop is stop:
                    self._state.state = "failed"
                    self._state.message = "Cancelled." if stop.is_set() else str(exc)
            return
        session.reset_clients()
        from qaas_excel.excel.udfs import cache

        cache.clear()
        with self._lock:
            if self._stop is stop:
                self._state = SignInState("signed_in", env=signin.env.name, username=username,
                                          message=f"Signed in to {signin.env.name} as {username}.")
        log.info("office sign-in finished")

    def cancel(self) -> None:
        with self._lock:
            self._stop.set()

    def reset(self) -> None:
        self.cancel()
        with self._lock:
            self._state = SignInState()
