"""The sandbox plays a service that pages its lists (drf, link, odata, offset), says so in its OpenAPI document, and the
client reads every style whole against it; a fault on one later page makes the list incomplete and names it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qaas_excel.api import errors
from qaas_excel.config import Environment
from qaas_excel.contract import Contract, Paging
from qaas_excel.resources import OPERATOR
from qaas_excel.sandbox.docs import DOCUMENT_PATH
from qaas_excel.sandbox.paging import STYLES, SandboxPaging
from tests.sandbox.conftest import Caller


@pytest.fixture(scope="module")
def paged_sandboxes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    from qaas_excel.sandbox.server import SandboxServer

    servers = {style: SandboxServer(tmp_path_factory.mktemp(style), port=0, auto_approve=True,
                                    paging=SandboxPaging(style, 4)).start() for style in STYLES}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def environment(server, paging: Paging | None = None) -> Environment:
    env = server.environment
    return Environment(env.name, env.base_url, env.authority, ca_bundle=env.ca_bundle,
                       contract=Contract(paging=paging))


class StaticTokens:
    def __init__(self, server) -> None:
        self.value = Caller(server).token
        self.username = "demo@example.com"

    def token(self, force_refresh: bool = False) -> str:
        return self.value


def client_of(server, paging: Paging | None = None, **kwargs):
    from qaas_excel.api.client import QaasClient

    return QaasClient(environment(server, paging), StaticTokens(server), max_wait_s=0.01, max_attempts=2,  # type: ignore[arg-type]
                      **kwargs)


PARAMETERS = {"drf": {"page"}, "link": {"page", "per_page"}, "odata": {"$skip", "$top"}, "offset": {"limit", "offset"}}
DECLARED = {"offset": Paging(offset="offset", size="limit", page_size=4)}


@pytest.mark.parametrize("style", STYLES)
def test_every_paging_style_is_read_whole_and_the_document_says_how_it_pages(paged_sandboxes, style: str) -> None:
    server = paged_sandboxes[style]
    server.admin.reset()
    caller = Caller(server)
    made = [caller.create_operator(customer_reference=f"OP-{i}")["id"] for i in range(11)]
    first = caller("GET", OPERATOR.list_path)
    assert first.status_code == 200
    body = first.json()
    shown = body if isinstance(body, list) else body.get("results", body.get("value"))
    assert len(shown) == 4  # one page, not the list

    client = client_of(server, DECLARED.get(style))
    server.admin.reset_stats()
    assert [r["id"] for r in client.list(OPERATOR)] == made
    pages = server.admin.requests(f"GET {OPERATOR.list_path}")
    assert pages == (4 if style == "offset" else 3)  # the offset style only stops at an empty page

    operation = caller("GET", DOCUMENT_PATH).json()["paths"][OPERATOR.list_path]["get"]
    assert {p["name"] for p in operation["parameters"]} == PARAMETERS[style]
    answer = operation["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]
    assert schema["type"] == ("object" if style in ("drf", "odata") else "array")
    assert ("Link" in answer.get("headers", {})) == (style == "link")


def test_without_the_declared_parameters_an_offset_service_looks_whole_which_is_why_doctor_asks(
        paged_sandboxes) -> None:
    server = paged_sandboxes["offset"]
    server.admin.reset()
    caller = Caller(server)
    for i in range(6):
        caller.create_operator(customer_reference=f"OP-{i}")
    assert len(client_of(server).list(OPERATOR)) == 4  # the trap the contract's paging block closes
    assert len(client_of(server, DECLARED["offset"]).list(OPERATOR)) == 6


@pytest.mark.parametrize("style", ["drf", "link", "odata"])
def test_a_fault_on_a_later_page_makes_the_list_incomplete_and_names_it(paged_sandboxes, style: str) -> None:
    server = paged_sandboxes[style]
    server.admin.reset()
    caller = Caller(server)
    for i in range(10):
        caller.create_operator(customer_reference=f"OP-{i}")
    page3 = {"drf": "page=3", "link": "page=3", "odata": "%24skip=8"}[style]
    server.admin.set_faults(fail_next=[f"503@GET {OPERATOR.list_path}?{page3}"] * 2)  # retried once, then given up
    with pytest.raises(errors.IncompleteListError) as info:
        client_of(server).list(OPERATOR)
    assert info.value.pages == 2 and len(info.value.records) == 8
    assert "page 3 could not be read" in str(info.value) and info.value.transient
    assert server.stats.snapshot()["faults"] == {"503": 2}


def test_an_empty_account_is_still_204_in_every_style(paged_sandboxes) -> None:
    for server in paged_sandboxes.values():
        server.admin.reset()
        assert Caller(server)("GET", OPERATOR.list_path).status_code == 204
        assert client_of(server, DECLARED.get("offset")).list(OPERATOR) == []
