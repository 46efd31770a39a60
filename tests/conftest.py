"""Shared fixtures: a private state directory per test and a real sandbox on an ephemeral port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def qaas_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh state directory (config, token cache, journals) that no other test shares."""
    home = tmp_path / "qaas-home"
    home.mkdir()
    monkeypatch.setenv("QAAS_HOME", str(home))
    monkeypatch.delenv("QAAS_ENV", raising=False)
    monkeypatch.delenv("QAAS_ACCESS_TOKEN", raising=False)
    return home


PAGED = "drf:4"  # the paged sandbox the key end-to-end tests also run against (marker ``both_sandboxes``)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--paged-sandbox", default=None, metavar="STYLE:N",
                     help="every sandbox pages its lists: drf, link or odata, N records a page (e.g. drf:3)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_sandboxes(paging): run against a plain and a paged sandbox "
                            f"(paging STYLE:N, default {PAGED})")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("both_sandboxes")
    if marker is not None and "sandbox_paging" in metafunc.fixturenames:
        metafunc.parametrize("sandbox_paging", ["plain", marker.args[0] if marker.args else PAGED], indirect=True)


@pytest.fixture
def sandbox_paging(request: pytest.FixtureRequest):
    """How the sandbox pages its lists: None (one answer holds the list), or a SandboxPaging."""
    from qaas_excel.sandbox.paging import SandboxPaging

    spec = getattr(request, "param", None) or request.config.getoption("--paged-sandbox")
    if not spec or spec == "plain":
        return None
    style, _, size = str(spec).partition(":")
    return SandboxPaging(style, int(size or 4))


@pytest.fixture
def sandbox(qaas_home: Path, request: pytest.FixtureRequest, sandbox_paging) -> Iterator:
    """A real HTTPS sandbox on 127.0.0.1 (ephemeral port, temp SQLite, auto-approved sign-in).

    Options via ``@pytest.mark.parametrize("sandbox", [{"token_lifetime": 3}], indirect=True)``; it pages its
    lists when ``sandbox_paging`` says so (``--paged-sandbox STYLE:N``, or the marker ``both_sandboxes``).
    """
    from qaas_excel.sandbox.server import SandboxServer

    options = {"auto_approve": True, "paging": sandbox_paging, **getattr(request, "param", {})}
    server = SandboxServer(qaas_home, port=0, db_path=qaas_home / "sandbox.sqlite3", **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def signed_in(sandbox, qaas_home: Path):
    """The sandbox environment with DEFAULT_USER signed in through the real device-code flow."""
    from qaas_excel.api.auth import MsalSignIn

    MsalSignIn(sandbox.environment, home=qaas_home).login(lambda code: None, timeout=30)
    return sandbox.environment


@pytest.fixture
def client(signed_in, qaas_home: Path):
    from qaas_excel.api.client import connect

    with connect(signed_in, max_wait_s=0.2) as c:
        yield c


@pytest.fixture
def demo_book(tmp_path: Path) -> Path:
    """A fresh copy of the demo workbook, generated from the resource definitions."""
    from qaas_excel.templates import write_demo_workbook

    return write_demo_workbook(tmp_path / "demo.xlsx")
