"""Plain-HTTP helpers for the sandbox's own tests: no project client in between, just requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from qaas_excel.config import CLIENT_ID
from qaas_excel.resources import CHARGEPOINT, OPERATOR, Resource, encode_value
from qaas_excel.sandbox import DEFAULT_USER


def example_body(resource: Resource, **overrides: Any) -> dict[str, Any]:
    """A valid POST body built from the examples in resources.py (fields are not listed here)."""
    body = {f.name: encode_value(f, f.example) for f in resource.client_fields if f.example is not None}
    body.update(overrides)
    return body


class Caller:
    """requests against a running sandbox as one user; the sandbox's CA is passed on every request,
    because REQUESTS_CA_BUNDLE (set on CI) would otherwise override a session's verify."""

    def __init__(self, sandbox: Any, user: str = DEFAULT_USER) -> None:
        self.sandbox = sandbox
        self.user = user
        self.token = sandbox.identity.issue(user, CLIENT_ID)["access_token"]

    def __call__(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.sandbox.base_url + path, headers=headers,
                                verify=str(self.sandbox.ca_file), timeout=10, **kwargs)

    def create_operator(self, **overrides: Any) -> dict[str, Any]:
        answer = self("POST", OPERATOR.create_path, json=example_body(OPERATOR, **overrides))
        assert answer.status_code == 201, answer.text
        return answer.json()

    def create_charge_point(self, operator_id: int, **overrides: Any) -> dict[str, Any]:
        body = example_body(CHARGEPOINT, chargepointoperator_id=operator_id, **overrides)
        answer = self("POST", CHARGEPOINT.create_path, json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()


@pytest.fixture(scope="module")
def _module_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from qaas_excel.sandbox.server import SandboxServer

    with SandboxServer(tmp_path_factory.mktemp("shared-sandbox"), port=0, auto_approve=True) as server:
        yield server


@pytest.fixture
def shared_sandbox(_module_sandbox) -> Any:
    """One sandbox for a whole test module (starting one per test costs ~0.3 s), emptied before each test."""
    _module_sandbox.admin.reset()
    _module_sandbox.admin.set_faults(latency_ms=0, fail_rate=0, retry_after=1, kinds=[])
    _module_sandbox.admin.set_auto_approve_user(DEFAULT_USER)
    return _module_sandbox


@pytest.fixture
def as_user(sandbox) -> Callable[[str], Caller]:
    """A Caller for any sandbox user (tokens signed by the sandbox itself: the sign-in has its own tests)."""
    return lambda user: Caller(sandbox, user)


@pytest.fixture
def call(sandbox) -> Caller:
    """A Caller for DEFAULT_USER."""
    return Caller(sandbox)
