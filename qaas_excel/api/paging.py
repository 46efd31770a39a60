"""Reading a list of the service whole, whatever way it pages, or saying why it could not be.

A list that is not known to be complete must never be planned against: a record on a page that was not
read would be created a second time. So ``read_whole`` returns only a list it knows to be whole, or raises
``IncompleteListError`` with the reason, the pages read and what they held.

Paging styles it follows to the end (see shared/reference/engineering-notes.md):

- Django REST framework ``{"count", "next", "previous", "results"}`` (page number or limit/offset), next
  absolute or relative; the same envelope under ``items``/``data``/``records``/``content``;
- RFC 8288 ``Link: <...>; rel="next"`` beside a bare JSON list (GitHub style);
- OData ``{"value", "@odata.nextLink", "@odata.count"}``; JSON:API ``links.next``; HAL ``_links.next.href``;
  ``nextLink``, ``next_page_url``;
- bare lists paged by query parameters alone (``?page=`` / ``?offset=&limit=``), as the environment's
  contract says (``[contract.paging]``, suggested by ``doctor`` from the service's OpenAPI document): page after
  page until one comes back empty (never trusting a short page: a service may cap the size it was asked for).

Checks: a declared count (``count``, ``@odata.count``, ``total``, ``X-Total-Count``, ...) must match what was read
and stay the same on every page; no record may come twice; a next link may not repeat, nor lead to another host
(the sign-in is never sent elsewhere; an ``http://`` link to our own host, as DRF writes behind a TLS-terminating
proxy, is followed over https); at most ``max_pages`` pages and ``max_records`` records. A list that changed
while it was read (count changed, a record twice) is read again from the start, up to ``RESTARTS`` times.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from qaas_excel.api import errors
from qaas_excel.contract import Paging

MAX_PAGES = 5_000
MAX_RECORDS = 1_000_000
RESTARTS = 2

ITEM_KEYS = ("results", "value", "items", "data", "records", "content")
COUNT_KEYS = ("count", "@odata.count", "total", "totalCount", "total_count", "totalElements", "totalItems")
COUNT_HEADERS = ("X-Total-Count", "X-Total")
# Signs that there is more, from services whose way to the next page the tool does not know.
MORE_KEYS = ("has_more", "hasMore", "more", "hasNextPage", "has_next")
CURSOR_KEYS = ("next_cursor", "nextCursor", "cursor", "nextPageToken", "next_page_token", "continuationToken",
               "skipToken", "@odata.deltaLink")


# Query parameters by which services page their lists, as OpenAPI documents declare them.
PAGE_PARAMETERS = ("page", "pageNumber", "page_number")
OFFSET_PARAMETERS = ("offset", "$skip", "skip", "start")
SIZE_PARAMETERS = ("page_size", "pageSize", "per_page", "perPage", "limit", "$top", "top", "size", "count")
CURSOR_PARAMETERS = ("cursor", "starting_after", "after", "page_token", "pageToken", "continuation", "$skiptoken")


def rule_from_parameters(names: Iterable[str], page_size: int = 100) -> Paging | None:
    """How a list is paged by the query parameters its operation declares (None: it declares none we know)."""
    declared = set(names)
    size = next((n for n in SIZE_PARAMETERS if n in declared), None)
    page = next((n for n in PAGE_PARAMETERS if n in declared), None)
    if page:
        return Paging(page=page, size=size, page_size=page_size)
    offset = next((n for n in OFFSET_PARAMETERS if n in declared), None)
    if offset and size:
        return Paging(offset=offset, size=size, page_size=page_size)
    return None


def paging_parameters(names: Iterable[str]) -> list[str]:
    """The declared query parameters that say a list comes in pages (page, limit, offset, cursor, ...)."""
    known = {*PAGE_PARAMETERS, *OFFSET_PARAMETERS, *SIZE_PARAMETERS, *CURSOR_PARAMETERS}
    return [n for n in names if n in known]


@dataclass
class Page:
    """One answer of the list endpoint: the URL asked (with its query), the status, the parsed body, headers."""

    url: str
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class ParsedPage:
    items: list[Any]
    next_link: str | None = None
    count: int | None = None
    style: str = "list"  # list | link | drf | odata | envelope
    more_hint: str | None = None  # the service says there is more, in a way the tool cannot follow


@dataclass
class ListRead:
    """A whole list: its records (as they came, the service's names), how it was paged, what it declared."""

    items: list[dict[str, Any]]
    pages: int
    style: str
    declared_count: int | None = None
    changed: str | None = None  # a lookup read on while the list changed: what it found is there, the rest unsure


def next_from_link_header(value: str | None) -> str | None:
    """The target of ``rel="next"`` in an RFC 8288 Link header (several links, relation lists, quotes)."""
    if not value:
        return None
    for match in re.finditer(r"<([^>]*)>((?:\s*;\s*[^;,<]+)*)", value):
        for param in match.group(2).split(";"):
            name, _, rel = param.partition("=")
            if name.strip().lower() == "rel" and "next" in rel.strip().strip('"').lower().split():
                return match.group(1).strip()
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number == value else None


def _link(value: Any) -> str | None:
    """A next link as DRF, OData, JSON:API or HAL write it: text, or an object with ``href``."""
    if isinstance(value, Mapping):
        value = value.get("href")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse_page(page: Page) -> ParsedPage:
    """The records of one answer, its next link, its declared count; raises when it holds no list at all."""
    body = page.body
    header_next = next_from_link_header(_header(page.headers, "Link"))
    header_count = next((_whole_number(_header(page.headers, h)) for h in COUNT_HEADERS
                         if _header(page.headers, h) is not None), None)
    if body is None:  # 204: nothing (the FAQ's empty list)
        return ParsedPage([], header_next, header_count, "link" if header_next else "list")
    if isinstance(body, list):
        return ParsedPage(body, header_next, header_count, "link" if header_next else "list")
    if not isinstance(body, Mapping):
        raise errors.UnexpectedResponseError(f"Expected a list from GET {page.url}, got {type(body).__name__}.")
    key = next((k for k in ITEM_KEYS if isinstance(body.get(k), list)), None)
    if key is None:
        raise errors.UnexpectedResponseError(
            f"Expected a list from GET {page.url}; the answer is an object without one of {', '.join(ITEM_KEYS)}.")
    links, hal, meta = (_mapping(body.get(name)) for name in ("links", "_links", "meta"))
    next_link = (_link(body.get("next")) or _link(body.get("@odata.nextLink")) or _link(body.get("nextLink"))
                 or _link(body.get("next_page_url")) or _link(links.get("next")) or _link(hal.get("next"))
                 or header_next)
    count = next((_whole_number(src[k]) for src in (body, meta) for k in COUNT_KEYS
                  if k in src and _whole_number(src[k]) is not None), header_count)
    style = "odata" if "@odata.nextLink" in body or "@odata.count" in body or key == "value" else (
        "drf" if key == "results" and "next" in body else "envelope")
    hint = None
    if next_link is None:
        hint = next((f"{k} = {body[k]!r}" for k in MORE_KEYS if body.get(k) is True), None) or next(
            (f"{k} = {str(src[k])[:40]!r}" for src in (body, meta) for k in CURSOR_KEYS if src.get(k)), None)
        if hint is None and body.get("last") is False:  # Spring Data's Page
            hint = "last = false"
        if hint is None and body.get("next") not in (None, "", False):
            hint = f"next = {str(body.get('next'))[:40]!r}"
    return ParsedPage(body[key], next_link, count, style, hint)


class _Changed(Exception):
    """The list changed while it was read: read it again from the start."""

    def __init__(self, reason: str, pages: int = 0, items: list[dict[str, Any]] | None = None) -> None:
        super().__init__(reason)
        self.pages, self.items = pages, items or []


def same_origin_url(link: str, current_url: str, base_url: str) -> str | None:
    """``link`` (absolute or relative to the page it came on) as a URL on the service's host; None if elsewhere."""
    target = urlsplit(urljoin(current_url, link))
    base = urlsplit(base_url)
    if target.scheme not in ("http", "https") or not target.hostname:
        return None
    default = {"http": 80, "https": 443}
    target_port = target.port or default[target.scheme]
    base_port = base.port or default.get(base.scheme, 443)
    if target.hostname.lower() != (base.hostname or "").lower():
        return None
    if target.scheme == base.scheme and target_port != base_port:
        return None
    if target.scheme != base.scheme and not (target.scheme == "http" and target_port == 80):
        return None  # http:// on our host and the default port: a proxy terminated TLS in front of the app
    return urlunsplit((base.scheme, base.netloc, target.path, target.query, ""))


def read_whole(first: Callable[[dict[str, Any] | None], Page], follow: Callable[[str], Page], *, base_url: str,
               paging: Paging | None = None, id_key: str = "id", max_pages: int = MAX_PAGES,
               max_records: int = MAX_RECORDS, on_incomplete: Callable[..., errors.IncompleteListError],
               lookup: bool = False) -> ListRead:
    """Every record of a list, page after page; ``first(params)`` asks for the first (or a numbered) page,
    ``follow(url)`` for a next link. ``on_incomplete(reason, pages, items, cause)`` builds the error to raise.

    ``lookup``: looking for one record (was a lost create made?) while the push's other creates go on: the list is
    read on to its end whatever changes. Records created meanwhile (the count grows, a record comes twice as others
    are inserted before it) hide nothing that was there before the read began; records removed meanwhile (the count
    shrinks) may: then ``changed`` says so, and the caller must not take "not found" for "not there"."""
    if lookup:
        return _read_once(first, follow, base_url=base_url, paging=paging, id_key=id_key, max_pages=max_pages,
                          max_records=max_records, on_incomplete=on_incomplete, lookup=True)
    last = _Changed("")
    for _attempt in range(RESTARTS + 1):
        try:
            return _read_once(first, follow, base_url=base_url, paging=paging, id_key=id_key, max_pages=max_pages,
                              max_records=max_records, on_incomplete=on_incomplete)
        except _Changed as changed:
            last = changed
    # what the last reading saw is kept: a record found there is on the service (a lookup may use it); what is not
    # there may still be
    raise on_incomplete(f"the list kept changing while it was read ({last}; read {RESTARTS + 1} times)", last.pages,
                        last.items, None)


def _read_once(first: Callable[[dict[str, Any] | None], Page], follow: Callable[[str], Page], *, base_url: str,
               paging: Paging | None, id_key: str, max_pages: int, max_records: int,
               on_incomplete: Callable[..., errors.IncompleteListError], lookup: bool = False) -> ListRead:
    items: list[dict[str, Any]] = []
    changed: str | None = None
    ids: set[Any] = set()
    asked: set[str] = set()
    count: int | None = None
    style = "list"
    pages = 0
    page = first(paging.params(0, 0) if paging else None)
    while True:
        pages += 1
        asked.add(page.url)
        parsed = parse_page(page)
        if pages == 1 or parsed.next_link or parsed.style != "list":
            style = parsed.style if not (paging and parsed.style == "list") else (
                "page parameter" if paging.page else "offset parameter")
        if parsed.count is not None:
            if count is not None and parsed.count != count:
                if not lookup:
                    raise _Changed(f"the count went from {count} to {parsed.count}", pages, items)
                if parsed.count < count:
                    changed = changed or f"the count went down from {count} to {parsed.count}"
            count = parsed.count
        for item in parsed.items:
            if not isinstance(item, Mapping):
                continue
            key = item.get(id_key)
            if key is not None:
                if key in ids:
                    if not lookup:
                        raise _Changed(f"record {key} came twice", pages, items)
                    continue
                ids.add(key)
            items.append(item if type(item) is dict else dict(item))  # json's own dicts: not copied
        if len(items) > max_records:
            raise on_incomplete(f"it holds more than {max_records} records, the most the tool reads", pages, items,
                                None)
        if parsed.more_hint:
            raise on_incomplete(f"the service says there is more ({parsed.more_hint}) but gives no next link the "
                                "tool can follow", pages, items, None)
        target: str | None = None
        if parsed.next_link:
            target = same_origin_url(parsed.next_link, page.url, base_url)
            if target is None:
                where = urlsplit(urljoin(page.url, parsed.next_link))
                raise on_incomplete(f"the next link leads to another address ({where.scheme}://{where.netloc}); "
                                    "the tool does not send your sign-in there", pages, items, None)
            if target in asked:
                raise on_incomplete(f"the next link repeats a page already read ({target})", pages, items, None)
        elif paging is None or not parsed.items:
            break  # no next link; or paging by parameters reached an empty page
        if pages >= max_pages:
            raise on_incomplete(f"it has more than {max_pages} pages, the most the tool reads", pages, items, None)
        try:
            if target is not None:
                page = follow(target)
            else:
                assert paging is not None
                page = first(paging.params(pages, len(items)))
                if page.url in asked:
                    raise on_incomplete("the next page's address repeats a page already read", pages, items, None)
        except errors.NotFoundError:
            if target is not None:
                raise on_incomplete(f"page {pages + 1} was not found (404) at the next link", pages, items,
                                    None) from None
            break  # past the last page of a numbered list (Django REST framework answers 404 "Invalid page.")
        except errors.SignInRequired:
            raise
        except errors.IncompleteListError:
            raise
        except errors.QaasError as exc:
            raise on_incomplete(f"page {pages + 1} could not be read ({exc})", pages, items, exc) from None
    if count is not None and count != len(items) and not lookup:
        raise _Changed(f"the service declared {count} records but {len(items)} were read", pages, items)
    return ListRead(items, pages, style, count, changed)
