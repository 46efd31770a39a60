"""QaasClient.list reads every page of a paged list, in every common style, or raises IncompleteListError (with the
reason, the pages reached and what was read): never a first page taken for the whole list."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from qaas_excel.api import errors
from qaas_excel.api.client import QaasClient
from qaas_excel.api.paging import next_from_link_header, same_origin_url
from qaas_excel.config import Environment
from qaas_excel.contract import Contract, Paging
from qaas_excel.resources import CHARGEPOINT, OPERATOR

BASE = "https://qaas.example"
Answer = tuple[int, Any, dict[str, str]]


class FakeTokens:
    username = "user@example.com"

    def token(self, force_refresh: bool = False) -> str:
        return "token"


class FakeSession:
    """Answers each request with ``handler(url, query)``; remembers every URL asked."""

    def __init__(self, handler: Callable[[str, dict[str, str]], Answer]) -> None:
        self.handler = handler
        self.asked: list[str] = []

    def request(self, method: str, url: str, params: dict | None = None, data: Any = None,
                headers: dict | None = None, stream: bool = False) -> requests.Response:
        prepared = requests.Request(method, url, params=params).prepare()
        self.asked.append(prepared.url or "")
        parts = urlsplit(prepared.url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        status, body, extra = self.handler(parts.path, query)
        response = requests.Response()
        response.status_code = status
        response._content = b"" if body is None else json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **extra})
        response.url = prepared.url or ""
        response.request = prepared
        return response

    def close(self) -> None:
        pass


def client_for(handler: Callable[[str, dict[str, str]], Answer], contract: Contract | None = None,
               **kwargs: Any) -> tuple[QaasClient, FakeSession]:
    session = FakeSession(handler)
    env = Environment(name="test", base_url=BASE, authority="https://login.example/tenant", contract=contract)
    client = QaasClient(env, FakeTokens(), session=session, max_attempts=2, max_wait_s=0.01,  # type: ignore[arg-type]
                        **kwargs)
    return client, session


def operators(n: int, start: int = 335) -> list[dict[str, Any]]:
    return [{"id": start + i, "customer_reference": f"OP-{i}", "organization_name": f"Org {i}"} for i in range(n)]


ALL = operators(10)


def drf(size: int, absolute: bool = True, records: list[dict[str, Any]] = ALL) -> Callable[..., Answer]:
    def handler(path: str, query: dict[str, str]) -> Answer:
        page = int(query.get("page", 1))
        chunk = records[(page - 1) * size: page * size]
        if not chunk and page > 1:
            return 404, {"detail": "Invalid page."}, {}
        more = page * size < len(records)
        link = (f"{BASE if absolute else ''}{path}?page={page + 1}" if absolute else f"?page={page + 1}") if more \
            else None
        return 200, {"count": len(records), "next": link, "previous": None, "results": chunk}, {}
    return handler


def test_drf_pages_with_absolute_or_relative_next_links_are_read_to_the_end() -> None:
    for absolute in (True, False):
        client, session = client_for(drf(3, absolute))
        assert [r["id"] for r in client.list(OPERATOR)] == [r["id"] for r in ALL]
        assert len(session.asked) == 4


def test_a_link_header_beside_a_bare_list_is_followed() -> None:
    def handler(path: str, query: dict[str, str]) -> Answer:
        page = int(query.get("page", 1))
        chunk = ALL[(page - 1) * 4: page * 4]
        links = [f'<{path}?page=1>; rel="first"']
        if page * 4 < len(ALL):
            links.append(f'<{path}?page={page + 1}>; rel="next"')
        return 200, chunk, {"Link": ", ".join(links)}

    client, session = client_for(handler)
    assert [r["id"] for r in client.list(OPERATOR)] == [r["id"] for r in ALL]
    assert len(session.asked) == 3


def test_odata_next_links_and_count_are_followed() -> None:
    def handler(path: str, query: dict[str, str]) -> Answer:
        skip = int(query.get("$skip", 0))
        body: dict[str, Any] = {"@odata.count": len(ALL), "value": ALL[skip: skip + 5]}
        if skip + 5 < len(ALL):
            body["@odata.nextLink"] = f"{BASE}{path}?$skip={skip + 5}"
        return 200, body, {}

    client, _ = client_for(handler)
    assert len(client.list(OPERATOR)) == len(ALL)


def test_bare_lists_paged_by_declared_parameters_are_asked_until_an_empty_page() -> None:
    capped = 3  # the service gives fewer than asked for: a short page is not the end

    def by_offset(path: str, query: dict[str, str]) -> Answer:
        offset, limit = int(query.get("offset", 0)), min(int(query.get("limit", capped)), capped)
        chunk = ALL[offset: offset + limit]
        return (200, chunk, {}) if chunk else (204, None, {})

    client, session = client_for(by_offset, Contract(paging=Paging(offset="offset", size="limit", page_size=5)))
    assert len(client.list(OPERATOR)) == len(ALL)
    assert "offset=9" in session.asked[-2] and "offset=10" in session.asked[-1]

    def by_page(path: str, query: dict[str, str]) -> Answer:  # DRF answers 404 past the last page
        page = int(query.get("page", 1))
        chunk = ALL[(page - 1) * 4: page * 4]
        return (200, chunk, {}) if chunk else (404, {"detail": "Invalid page."}, {})

    client, _ = client_for(by_page, Contract(paging=Paging(page="page", size="page_size", page_size=4)))
    assert len(client.list(OPERATOR)) == len(ALL)


def _by_offset(path: str, query: dict[str, str]) -> Answer:
    offset, limit = int(query.get("offset", 0)), int(query.get("limit", 3))
    chunk = ALL[offset: offset + limit]
    return (200, chunk, {}) if chunk else (204, None, {})


@pytest.mark.parametrize(("handler", "contract"), [
    (drf(3), None), (drf(20), None), (_by_offset, Contract(paging=Paging(offset="offset", size="limit", page_size=3))),
], ids=["drf-pages", "one-page", "offset-parameters"])
def test_a_list_from_its_first_page_asked_for_ahead_asks_that_page_once(handler: Any, contract: Any) -> None:
    """``first_page`` asks the query ``list`` asks first, however the service pages: the list made from it is the
    list, and the first page is never asked twice."""
    client, session = client_for(handler, contract)
    at_once = client.list(OPERATOR)
    asked_at_once, session.asked = session.asked, []
    ahead = client.list(OPERATOR, first=client.first_page(OPERATOR))
    assert ahead == at_once and len(ahead) == len(ALL)
    assert session.asked == asked_at_once


def test_a_bare_list_without_paging_is_one_answer_as_before_and_204_is_empty() -> None:
    client, _ = client_for(lambda path, query: (200, ALL, {}))
    assert len(client.list(OPERATOR)) == len(ALL)
    client, _ = client_for(lambda path, query: (204, None, {}))
    assert client.list(OPERATOR) == []


def test_list_filters_travel_on_the_first_page_and_in_the_service_s_next_links() -> None:
    seen: list[dict[str, str]] = []

    def handler(path: str, query: dict[str, str]) -> Answer:
        seen.append(query)
        page = int(query.get("page", 1))
        more = page < 2
        return 200, {"count": 2, "next": f"{path}?page=2&status=created" if more else None,
                     "results": [{"id": 10000 + page, "status": "created"}]}, {}

    client, _ = client_for(handler)
    assert len(client.list(CHARGEPOINT, status="created")) == 2
    assert seen == [{"status": "created"}, {"page": "2", "status": "created"}]


def incomplete(client: QaasClient) -> errors.IncompleteListError:
    with pytest.raises(errors.IncompleteListError) as info:
        client.list(OPERATOR)
    return info.value


def test_an_error_on_a_later_page_after_its_retries_makes_the_list_incomplete_with_what_was_read() -> None:
    calls = {"page3": 0}

    def handler(path: str, query: dict[str, str]) -> Answer:
        if query.get("page") == "3":
            calls["page3"] += 1
            return 503, None, {}
        return drf(3)(path, query)

    client, _ = client_for(handler)
    exc = incomplete(client)
    assert calls["page3"] == 2  # retried like any GET first (max_attempts=2)
    assert exc.pages == 2 and [r["id"] for r in exc.records] == [r["id"] for r in ALL[:6]]
    assert isinstance(exc.cause, errors.ServerError) and exc.transient
    assert "page 3 could not be read" in str(exc) and "503" in str(exc)


def test_a_transient_error_on_a_later_page_that_heals_on_retry_is_not_incomplete() -> None:
    failed: set[str] = set()

    def handler(path: str, query: dict[str, str]) -> Answer:
        if query.get("page") == "2" and "2" not in failed:
            failed.add("2")
            return 503, None, {}
        return drf(3)(path, query)

    client, _ = client_for(handler)
    assert len(client.list(OPERATOR)) == len(ALL)
    assert client.stats.retries == 1


def test_a_count_that_does_not_match_what_was_read_is_incomplete() -> None:
    def handler(path: str, query: dict[str, str]) -> Answer:
        status, body, headers = drf(3)(path, query)
        return status, {**body, "count": 12}, headers  # two records it never shows

    exc = incomplete(client_for(handler)[0])
    assert "declared 12 records but 10 were read" in exc.reason and not exc.transient


def test_a_list_that_changes_while_read_is_read_again_and_then_whole() -> None:
    state = {"reads": 0}

    def handler(path: str, query: dict[str, str]) -> Answer:
        if "page" not in query:
            state["reads"] += 1
        records = ALL if state["reads"] > 1 else ALL[:1] + ALL  # first read: a record shifted onto page 2 too
        return drf(3, records=records)(path, query)

    client, _ = client_for(handler)
    assert [r["id"] for r in client.list(OPERATOR)] == [r["id"] for r in ALL]
    assert state["reads"] == 2


def test_page_and_record_bounds_make_the_list_incomplete() -> None:
    exc = incomplete(client_for(drf(2), max_pages=3)[0])
    assert exc.pages == 3 and "more than 3 pages" in exc.reason and len(exc.records) == 6
    exc = incomplete(client_for(drf(2), max_records=5)[0])
    assert "more than 5 records" in exc.reason


def test_a_next_link_that_repeats_is_incomplete_not_an_endless_loop() -> None:
    def handler(path: str, query: dict[str, str]) -> Answer:
        return 200, {"results": ALL[:2] if "cursor" not in query else ALL[2:4], "next": f"{path}?cursor=x"}, {}

    exc = incomplete(client_for(handler)[0])
    assert "repeats" in exc.reason and exc.pages == 2


def test_a_next_link_to_another_host_is_not_followed_with_the_sign_in() -> None:
    client, session = client_for(lambda path, query: (
        200, {"results": ALL[:3], "next": "https://elsewhere.example/operators?page=2"}, {}))
    exc = incomplete(client)
    assert "elsewhere.example" in exc.reason and len(session.asked) == 1


def test_an_http_next_link_to_our_own_host_is_followed_over_https() -> None:
    def handler(path: str, query: dict[str, str]) -> Answer:
        status, body, headers = drf(4)(path, query)
        if body.get("next"):
            body["next"] = body["next"].replace("https://", "http://")
        return status, body, headers

    client, session = client_for(handler)
    assert len(client.list(OPERATOR)) == len(ALL)
    assert all(url.startswith("https://") for url in session.asked)


def test_a_service_that_says_there_is_more_without_a_next_link_is_incomplete() -> None:
    for body in ({"data": ALL[:3], "has_more": True}, {"items": ALL[:3], "next_cursor": "abc"},
                 {"content": ALL[:3], "last": False, "totalElements": 3}):
        exc = incomplete(client_for(lambda path, query, body=body: (200, body, {}))[0])
        assert "says there is more" in exc.reason


def test_an_envelope_with_count_and_no_next_is_checked_against_its_count() -> None:
    exc = incomplete(client_for(lambda path, query: (200, {"results": ALL[:5], "count": 10, "next": None}, {}))[0])
    assert "declared 10 records but 5 were read" in exc.reason
    client, _ = client_for(lambda path, query: (200, {"results": ALL, "count": 10, "next": None}, {}))
    assert len(client.list(OPERATOR)) == 10


def test_a_paging_parameter_the_service_ignores_is_not_taken_for_more_records() -> None:
    client, _ = client_for(lambda path, query: (200, ALL[:4], {}), Contract(paging=Paging(page="page")))
    exc = incomplete(client)
    assert "came twice" in exc.reason


def test_the_id_field_of_the_service_is_used_to_find_records_that_come_twice() -> None:
    records = [{"pk": r["id"], "organization_name": r["organization_name"]} for r in ALL]
    contract = Contract(fields={"operator": {"id": "pk"}})
    client, _ = client_for(drf(3, records=records), contract)
    assert [r["id"] for r in client.list(OPERATOR)] == [r["id"] for r in ALL]


def test_find_by_reference_on_an_incomplete_list_finds_what_was_read_or_refuses_to_say() -> None:
    def handler(path: str, query: dict[str, str]) -> Answer:
        return (500, None, {}) if query.get("page") == "2" else drf(3)(path, query)

    client, _ = client_for(handler)
    assert client.find_by_reference(OPERATOR, "OP-1")["id"] == 336  # type: ignore[index]
    with pytest.raises(errors.OutcomeUnknownError, match="never created twice"):
        client.find_by_reference(OPERATOR, "OP-9")


def test_link_headers_and_origins() -> None:
    assert next_from_link_header('<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next last"') == \
        "https://a/x?page=3"
    assert next_from_link_header("<https://a/x?page=2>; rel=next") == "https://a/x?page=2"
    assert next_from_link_header('<https://a/x?page=2>; rel="prev"') is None
    assert same_origin_url("/x?page=2", f"{BASE}/y?page=1", BASE) == f"{BASE}/x?page=2"
    assert same_origin_url("https://qaas.example:8443/x", BASE, BASE) is None
    assert same_origin_url("https://127.0.0.1:9000/x", "https://127.0.0.1:9000/", "https://127.0.0.1:9000") == \
        "https://127.0.0.1:9000/x"


def test_record_ids_that_are_text_stop_the_tool_instead_of_linking_rows_wrongly() -> None:
    records = [{"id": "9f2c1e7a-0d4b-4a51-9a53-2f1c9b0e7d11", "organization_name": "Org"}]
    client, _ = client_for(lambda path, query: (200, records, {}))
    with pytest.raises(errors.UnexpectedResponseError, match="ids are not whole numbers .'9f2c1e7a"):
        client.list(OPERATOR)
    client, _ = client_for(lambda path, query: (200, [{"id": "336", "organization_name": "Org"}], {}))
    assert client.list(OPERATOR)[0]["id"] == 336  # digits in a string are still a whole number


def test_a_page_that_fails_with_500_is_asked_again_like_a_gateway_error() -> None:
    failed: set[str] = set()

    def handler(path: str, query: dict[str, str]) -> Answer:
        if query.get("page") == "3" and "3" not in failed:
            failed.add("3")
            return 500, None, {}
        return drf(3)(path, query)

    client, _ = client_for(handler)
    assert len(client.list(OPERATOR)) == len(ALL) and client.stats.retries == 1


def test_a_lookup_reads_on_while_other_creates_grow_the_list_but_not_when_records_vanish() -> None:
    state = {"reads": 0}

    def growing(path: str, query: dict[str, str]) -> Answer:  # each page: two more records created meanwhile
        state["reads"] += 1
        return drf(3, records=operators(10 + 2 * state["reads"]))(path, query)

    client, _ = client_for(growing)
    assert client.find_by_reference(OPERATOR, "OP-4")["id"] == 339  # type: ignore[index]
    assert client.find_by_reference(OPERATOR, "NOT-THERE") is None  # nothing before the read was hidden: send again
    with pytest.raises(errors.IncompleteListError, match="kept changing"):
        client.list(OPERATOR)  # planning creates never accepts such a list

    def shrinking(path: str, query: dict[str, str]) -> Answer:  # records removed meanwhile: one may be skipped
        page = int(query.get("page", 1))
        return drf(3, records=ALL[page - 1:])(path, query)

    client, _ = client_for(shrinking)
    with pytest.raises(errors.OutcomeUnknownError, match="count went down from 10 to 9"):
        client.find_by_reference(OPERATOR, "NOT-THERE")
