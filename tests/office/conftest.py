"""The companion on an ephemeral port against a real sandbox, and a caller that speaks to it as the add-in does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.office.model import BookModel


class AddinCaller:
    """requests as the served add-in sends them: its origin, its secret, JSON; the companion's CA verified."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.origin = server.origin
        self.secret = server.secret
        self.ca = str(server.certificates.ca_file)

    def post(self, path: str, body: Any = None, *, headers: dict[str, str] | None = None, **kwargs: Any
             ) -> requests.Response:
        h = {"Origin": self.origin, "X-QaaS-Secret": self.secret, "Content-Type": "application/json",
             **(headers or {})}
        data = kwargs.pop("data", None)
        if data is None:
            import json

            data = json.dumps({} if body is None else body)
        return requests.post(self.origin + path, data=data, headers=h, verify=self.ca, timeout=120, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.origin + path, verify=self.ca, timeout=30, **kwargs)

    def ok(self, path: str, body: Any = None) -> dict[str, Any]:
        answer = self.post(path, body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def run(self, command: str, book: BookModel, *, selection: dict[str, Any] | None = None,
            apply: bool = True, saved: bool = True) -> dict[str, Any]:
        """One button press: send the book, apply the instructions to it, settle as the add-in does."""
        answer = self.ok(f"/api/run/{command}", {"command": command, "book": book.payload(), "selection": selection})
        if apply:
            book.apply(answer["instructions"])
        if command in ("push", "push_selected", "overwrite_selected"):
            self.ok("/api/settle", {"run": answer["run"], "applied": apply, "saved": apply and saved})
        return answer


@pytest.fixture
def companion(qaas_home: Path, signed_in) -> Iterator[Any]:
    """The companion, its environment the signed-in sandbox (as the ribbon's Environment button sets it)."""
    from qaas_excel.excel import session
    from qaas_excel.office.server import CompanionServer

    session.save_settings(env="sandbox")
    session.reset_clients()
    server = CompanionServer(qaas_home, port=0).start()
    try:
        yield server
    finally:
        server.stop()
        session.reset_clients()
        from qaas_excel.excel.udfs import cache

        cache.clear()


@pytest.fixture
def addin(companion) -> AddinCaller:
    return AddinCaller(companion)
