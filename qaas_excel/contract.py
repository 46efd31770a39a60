"""Corrections to the assumed API contract, per environment, from ``config.toml``.

``resources.py`` stays the one place the assumptions are written; a ``contract`` block says where
a live service differs, and only the wire boundary (the API client, and the sandbox when it plays
such a service) translates. Templates, validation, write-back, reconcile and the worksheet
functions keep working with our names::

    [environments.production.contract.paths]
    "/chargepoints" = "/api/v1/chargepoints"          # our path = the service's

    [environments.production.contract.fields.chargepoint]
    amount = "amount_kwh"                             # our field name = the service's

    [environments.production.contract.statuses]
    in_review = { patch = false }                     # a status we did not know; may a row in it be changed?

    [environments.production.contract.paging]         # lists paged by query parameters alone (no next links)
    page = "page"                                     # the page number parameter (or: offset = "offset")
    size = "page_size"                                # the page size parameter (with offset: e.g. "limit")
    page_size = 100                                   # records asked for per page

Next links (Django REST framework's ``next``, a ``Link`` header, OData's ``@odata.nextLink``) need no
block: the client follows them wherever they are. Create and list may share a path (``POST`` and ``GET
/v2/operators``); no two operations may have the same method and path.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qaas_excel.config_files import ConfigError, write_private_text
from qaas_excel.resources import RESOURCES, STATUS_HELP, Resource

SECTIONS = ("paths", "fields", "statuses", "paging")
PAGING_KEYS = ("page", "offset", "size", "page_size")
MAX_PAGE_SIZE = 10_000
_STATUS_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")


class ContractError(ValueError):
    """A contract block that cannot be used; the message names the line."""


@dataclass(frozen=True)
class StatusRule:
    patch: bool
    help: str = ""


@dataclass(frozen=True)
class Paging:
    """A service that pages its lists by query parameters alone: a page number (1, 2, ...) or an offset
    (0, 100, ...), and optionally a page size. The client asks page after page until one comes back empty."""

    page: str | None = None  # the page number parameter
    offset: str | None = None  # or the offset parameter
    size: str | None = None  # the page size parameter (limit), if the service takes one
    page_size: int = 100

    def params(self, pages_read: int, records_read: int) -> dict[str, int]:
        """The query parameters of the next page."""
        out = {self.page: pages_read + 1} if self.page else {self.offset or "offset": records_read}
        if self.size:
            out[self.size] = self.page_size
        return out

    def describe(self) -> str:
        moving = f"?{self.page}=1, 2, ..." if self.page else f"?{self.offset}=0, {self.page_size}, ..."
        return moving + (f" with {self.size}={self.page_size}" if self.size else "")


@dataclass(frozen=True)
class Contract:
    """Our names -> the service's: paths, field names per resource, statuses we did not know, and paging by
    query parameters."""

    paths: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    statuses: Mapping[str, StatusRule] = field(default_factory=dict)
    paging: Paging | None = None

    def __bool__(self) -> bool:
        return bool(self.paths or any(self.fields.values()) or self.statuses or self.paging)

    # -- paths -------------------------------------------------------------------------------------
    def path(self, ours: str) -> str:
        return self.paths.get(ours, ours)

    def item_path(self, resource: Resource, record_id: int | str) -> str:
        return self.path(resource.item_path).format(id=record_id)

    # -- fields ------------------------------------------------------------------------------------
    def name(self, resource: Resource, ours: str) -> str:
        return self.fields.get(resource.name, {}).get(ours, ours)

    def to_wire(self, resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]:
        renames = self.fields.get(resource.name, {})
        return {renames.get(k, k): v for k, v in body.items()}

    def from_wire(self, resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]:
        renames = self.fields.get(resource.name)
        if not renames:
            return dict(body)
        back = {theirs: ours for ours, theirs in renames.items()}
        return {back.get(k, k): v for k, v in body.items()}

    # -- statuses ----------------------------------------------------------------------------------
    def editable_statuses(self) -> dict[str, bool]:
        return {name: rule.patch for name, rule in self.statuses.items()}

    # -- as text -----------------------------------------------------------------------------------
    def to_toml(self, prefix: str) -> str:
        """The block as config.toml text, its tables under ``prefix`` (e.g. "environments.production.contract")."""
        out: list[str] = []
        if self.paths:
            out.append(f"[{prefix}.paths]")
            out += [f"{_quote(k)} = {_quote(v)}" for k, v in self.paths.items()]
            out.append("")
        for resource, renames in self.fields.items():
            if renames:
                out.append(f"[{prefix}.fields.{resource}]")
                out += [f"{_key(k)} = {_quote(v)}" for k, v in renames.items()]
                out.append("")
        if self.statuses:
            out.append(f"[{prefix}.statuses]")
            for name, rule in self.statuses.items():
                extra = f", help = {_quote(rule.help)}" if rule.help else ""
                out.append(f"{_key(name)} = {{ patch = {'true' if rule.patch else 'false'}{extra} }}")
            out.append("")
        if self.paging:
            out.append(f"[{prefix}.paging]")
            for key in PAGING_KEYS[:3]:
                value = getattr(self.paging, key)
                if value:
                    out.append(f"{key} = {_quote(value)}")
            out.append(f"page_size = {self.paging.page_size}")
            out.append("")
        return "\n".join(out)


NO_CONTRACT = Contract()


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _key(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else _quote(text)


# --- loading and checking ---------------------------------------------------------------------------

def parse(data: Any, *, where: str = "contract", text: str | None = None, table: tuple[str, ...] = ("contract",)
          ) -> Contract:
    """A checked Contract from the parsed TOML block; ``text`` (the file) lets errors name the line."""
    def fail(message: str, *keys: str) -> ContractError:
        line = line_of(text, (*table, *keys)) if text else None
        return ContractError(f"{where}{f' line {line}' if line else ''}: {message}")

    if not isinstance(data, Mapping):
        raise fail("the contract must be a table with paths, fields and statuses")
    unknown = [k for k in data if k not in SECTIONS]
    if unknown:
        raise fail(f"unknown key {unknown[0]!r} (known: {', '.join(SECTIONS)})", unknown[0])
    paths = _paths(data.get("paths", {}), fail)
    fields = _fields(data.get("fields", {}), fail)
    statuses = _statuses(data.get("statuses", {}), fail)
    paging = _paging(data["paging"], fail) if "paging" in data else None
    return Contract(paths, fields, statuses, paging)


def load_file(path: Path) -> Contract:
    """The ``[contract]`` block of a TOML file (``sandbox serve --contract FILE``); ConfigError names the line."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read contract file {path}: {exc}") from None
    if "contract" not in data:
        raise ConfigError(f"{path}: no [contract] block (with paths, fields and statuses tables)")
    try:
        return parse(data["contract"], where=str(path), text=text)
    except ContractError as exc:
        raise ConfigError(str(exc)) from None


def _our_paths() -> dict[str, Resource]:
    return {p: r for r in RESOURCES.values() for p in (r.create_path, r.list_path, r.item_path)}


def operations() -> list[tuple[str, str]]:
    """(method, our path) of every request the tool makes."""
    return [op for r in RESOURCES.values()
            for op in (("POST", r.create_path), ("GET", r.list_path), ("GET", r.item_path), ("PATCH", r.item_path))]


def _paths(data: Any, fail: Any) -> dict[str, str]:
    if not isinstance(data, Mapping):
        raise fail("paths must be a table of our path = the service's path", "paths")
    known = _our_paths()
    out: dict[str, str] = {}
    for ours, theirs in data.items():
        if ours not in known:
            raise fail(f"{ours!r} is not a path the tool uses (known: {', '.join(sorted(known))})", "paths", ours)
        if not isinstance(theirs, str) or not theirs.startswith("/") or any(c in theirs for c in " ?#"):
            raise fail(f"the service's path for {ours} must be text starting with / (no spaces, ? or #)",
                       "paths", ours)
        if ("{id}" in ours) != ("{id}" in theirs) or theirs.count("{") != theirs.count("}") or (
                "{" in theirs and re.sub(r"\{id\}", "", theirs).count("{")):
            raise fail(f"the service's path for {ours} must hold {{id}} exactly where ours does"
                       if "{id}" in ours else f"{ours} takes no {{...}} part", "paths", ours)
        out[ours] = theirs
    # paths may be shared (POST and GET /v2/operators, GET and PATCH of an item); a method and path may not
    seen: dict[tuple[str, str], str] = {}
    for method, ours in operations():
        theirs = re.sub(r"\{id\}", "{}", out.get(ours, ours))
        other = seen.setdefault((method, theirs), ours)
        if other != ours:
            raise fail(f"{ours} and {other} cannot both be {method} {out.get(ours, ours)}", "paths", ours)
    return out


def _fields(data: Any, fail: Any) -> dict[str, dict[str, str]]:
    if not isinstance(data, Mapping):
        raise fail("fields must hold a table per record kind (operator, chargepoint)", "fields")
    out: dict[str, dict[str, str]] = {}
    for resource_name, renames in data.items():
        resource = RESOURCES.get(resource_name)
        if resource is None:
            raise fail(f"{resource_name!r} is not a record kind (known: {', '.join(RESOURCES)})",
                       "fields", resource_name)
        if not isinstance(renames, Mapping):
            raise fail(f"fields.{resource_name} must be a table of our name = the service's name",
                       "fields", resource_name)
        ours_names = {f.name for f in resource.fields}
        mapped: dict[str, str] = {}
        for ours, theirs in renames.items():
            if ours not in ours_names:
                raise fail(f"{resource_name} has no field {ours!r} (fields: {', '.join(sorted(ours_names))})",
                           "fields", resource_name, ours)
            if not isinstance(theirs, str) or not _FIELD_NAME.match(theirs):
                raise fail(f"the service's name for {resource_name}.{ours} must be a field name",
                           "fields", resource_name, ours)
            mapped[ours] = theirs
        final = [mapped.get(n, n) for n in ours_names]
        clash = next((n for n in final if final.count(n) > 1), None)
        if clash:
            raise fail(f"two {resource_name} fields would both be called {clash!r}", "fields", resource_name)
        out[resource_name] = mapped
    return out


def _statuses(data: Any, fail: Any) -> dict[str, StatusRule]:
    if not isinstance(data, Mapping):
        raise fail("statuses must be a table of name = { patch = true|false }", "statuses")
    out: dict[str, StatusRule] = {}
    for name, rule in data.items():
        if not _STATUS_NAME.match(name):
            raise fail(f"{name!r} is not a status name", "statuses", name)
        if name in STATUS_HELP:
            raise fail(f"status {name!r} is already known to the tool; list only statuses it does not know",
                       "statuses", name)
        if not isinstance(rule, Mapping) or not isinstance(rule.get("patch"), bool):
            raise fail(f"status {name!r} needs {{ patch = true }} or {{ patch = false }} (may a row in it be "
                       "changed?)", "statuses", name)
        extra = set(rule) - {"patch", "help"}
        if extra or not isinstance(rule.get("help", ""), str):
            raise fail(f"status {name!r}: only patch and help may be given", "statuses", name)
        out[name] = StatusRule(rule["patch"], rule.get("help", ""))
    return out


def _paging(data: Any, fail: Any) -> Paging:
    if not isinstance(data, Mapping):
        raise fail("paging must be a table: page (or offset), size, page_size", "paging")
    unknown = [k for k in data if k not in PAGING_KEYS]
    if unknown:
        raise fail(f"unknown key {unknown[0]!r} in paging (known: {', '.join(PAGING_KEYS)})", "paging", unknown[0])
    for key in PAGING_KEYS[:3]:
        if key in data and (not isinstance(data[key], str) or not _FIELD_NAME.match(data[key].lstrip("$"))):
            raise fail(f"paging.{key} must be the name of a query parameter", "paging", key)
    if ("page" in data) == ("offset" in data):
        raise fail("paging needs either page (a page number parameter) or offset (an offset parameter)", "paging")
    if "offset" in data and "size" not in data:
        raise fail("paging by offset needs size: the parameter that says how many records a page holds (e.g. "
                   "limit)", "paging")
    page_size = data.get("page_size", 100)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise fail(f"paging.page_size must be a whole number from 1 to {MAX_PAGE_SIZE}", "paging", "page_size")
    return Paging(data.get("page"), data.get("offset"), data.get("size"), page_size)


def line_of(text: str | None, keys: Iterable[str]) -> int | None:
    """The 1-based line in TOML ``text`` where the dotted key path ``keys`` is set, or its closest table."""
    wanted = tuple(keys)
    if not text:
        return None
    best: tuple[int, int] | None = None  # (matched depth, line)
    table: tuple[str, ...] = ()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            table = _split_key(line.strip("[]").strip())
            path = table
        elif "=" in line:
            path = table + _split_key(line.split("=", 1)[0].strip())
        else:
            continue
        depth = _common(path, wanted)
        if depth == len(wanted) and len(path) == len(wanted):
            return number
        if depth == len(path) and (best is None or depth > best[0]):
            best = (depth, number)
        elif len(path) > len(wanted) and path[:len(wanted)] == wanted and best is None:
            best = (len(wanted), number)
    return best[1] if best else None


def _split_key(key: str) -> tuple[str, ...]:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^.\s]+)', key)
    return tuple(next(p for p in groups if p) if any(groups) else "" for groups in parts)


def _common(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


# --- the OpenAPI document a service with this contract serves -----------------------------------------

def apply_to_document(document: dict[str, Any], contract: Contract) -> dict[str, Any]:
    """Our OpenAPI document as a service that differs by ``contract`` would write it."""
    doc = copy.deepcopy(document)
    moved: dict[str, dict[str, Any]] = {}
    for p, item in doc["paths"].items():  # create and list may share a path: their methods join one item
        moved.setdefault(contract.path(p), {}).update(item)
    doc["paths"] = moved
    names = {"operator": "ChargePointOperator", "chargepoint": "ChargePoint"}
    for resource_name, renames in contract.fields.items():
        base = names[resource_name]
        for schema_name in (base, f"{base}Create", f"{base}Patch"):
            schema = doc["components"]["schemas"].get(schema_name)
            if not schema:
                continue
            schema["properties"] = {renames.get(k, k): v for k, v in schema["properties"].items()}
            if "required" in schema:
                schema["required"] = [renames.get(k, k) for k in schema["required"]]
        for item in doc["paths"].values():
            for operation in item.values():
                for param in operation.get("parameters", []):
                    if param.get("in") == "query" and param["name"] in renames and _is_list_of(item, base):
                        param["name"] = renames[param["name"]]
    if contract.statuses:
        for schema in doc["components"]["schemas"].values():
            status = schema.get("properties", {}).get(contract.name(RESOURCES["chargepoint"], "status"))
            if status and "enum" in status:
                status["enum"] = [*status["enum"], *(s for s in contract.statuses if s not in status["enum"])]
    return doc


def _is_list_of(item: dict[str, Any], schema_name: str) -> bool:
    answer = (item.get("get") or {}).get("responses", {}).get("200", {})
    items = answer.get("content", {}).get("application/json", {}).get("schema", {}).get("items", {})
    return bool(items.get("$ref", "").endswith("/" + schema_name))


# --- writing the block into config.toml ------------------------------------------------------------------

def write_to_config(path: Path, env_name: str, contract: Contract) -> Path | None:
    """Replace the environment's contract tables in config.toml with ``contract``; returns the backup's path.

    Other settings and comments stay as they are; the previous file is kept as ``config.toml.bak``.
    """
    prefix = ("environments", env_name, "contract")
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    kept: list[str] = []
    inside = False
    for raw in old.splitlines():
        line = raw.strip()
        if line.startswith("["):
            inside = _split_key(line.strip("[]").strip())[:3] == prefix
        if not inside:
            kept.append(raw)
    while kept and not kept[-1].strip():
        kept.pop()
    block = contract.to_toml(".".join(_key(k) for k in prefix))
    new = "\n".join(kept) + ("\n\n" if kept else "") + block
    try:
        parsed = tomllib.loads(new)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} defines the contract of {env_name!r} in a form this tool cannot rewrite "
                          f"({exc}); move it into [environments.{env_name}.contract.*] tables or edit by "
                          "hand.") from None
    written = parsed.get("environments", {}).get(env_name, {}).get("contract", {})
    if parse(written or {}) != contract:
        raise ConfigError(f"{path} also sets the contract of {env_name!r} outside its own tables; edit it by hand.")
    backup = None
    if path.exists():
        backup = path.with_name(path.name + ".bak")
        write_private_text(backup, old)
    write_private_text(path, new if new.endswith("\n") else new + "\n")
    return backup
