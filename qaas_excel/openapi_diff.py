"""Find a service's OpenAPI document and compare it with what the tool assumes (``openapi.document()``).

Both documents go through the same normaliser, so what generators differ in does not count as a
difference: ``$ref``/``allOf`` wrappers, null unions (``nullable``, ``type: [.., "null"]``, ``x-nullable``,
``oneOf`` with NullEnum/BlankEnum), Swagger 2.0 vs OpenAPI 3, read-only fields listed as required,
decimals as ``string``/``format: decimal``/``anyOf[number, string]``.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

from qaas_excel.api.paging import ITEM_KEYS
from qaas_excel.resources import RESOURCES, Resource

# Where frameworks that serve Swagger UI keep it (pages) and their documents, tried after the API page itself.
DOC_PAGES = ("/", "/swagger/", "/docs", "/api/schema/swagger-ui/", "/swagger/index.html")
DOC_PATHS = ("/swagger/?format=openapi", "/swagger.json", "/api/schema/?format=json", "/api/schema/",
             "/openapi.json", "/swagger/v1/swagger.json", "/apispec_1.json")

FAIL, WARN = "fail", "warn"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


# --- discovery ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fetched:
    """One answer, as discovery needs it."""

    status: int
    content_type: str
    text: str


_INITIALIZER_URL = re.compile(r"""\burl\s*:\s*["']([^"']+)["']""")
_URLS_ENTRY = re.compile(r""""url"\s*:\s*"([^"]+)\"""")
_SCRIPT_SRC = re.compile(r"""<script[^>]+src\s*=\s*["']([^"']+\.js)["']""", re.I)
_YASG_SETTINGS = re.compile(r"""<script[^>]*id=["']swagger-settings["'][^>]*>(.*?)</script>""", re.I | re.S)


def document_urls_in_page(page: str, page_url: str) -> list[str]:
    """Document URLs a Swagger UI page names: its initializer (``url:``/``urls:[..]``) or drf-yasg's settings."""
    found: list[str] = []
    for block in _YASG_SETTINGS.findall(page):
        try:
            settings = json.loads(block)
        except ValueError:
            continue
        if isinstance(settings, dict) and isinstance(settings.get("url"), str):
            found.append(settings["url"])
        # drf-yasg serves the spec at the page itself with ?format=openapi
        found.append("?format=openapi")
    found += _INITIALIZER_URL.findall(page) + _URLS_ENTRY.findall(page)
    out: list[str] = []
    for url in found:
        absolute = urljoin(page_url, url)
        if absolute not in out and not absolute.endswith((".css", ".png")):
            out.append(absolute)
    return out


def initializer_scripts(page: str, page_url: str) -> list[str]:
    """Local scripts a page loads that may hold the initializer (Swashbuckle's index.js, swagger-initializer.js)."""
    names = ("index.js", "initializer", "init")
    return [urljoin(page_url, src) for src in _SCRIPT_SRC.findall(page)
            if any(n in src.rsplit("/", 1)[-1] for n in names) and "bundle" not in src]


def parse_document(answer: Fetched) -> dict[str, Any] | None:
    """An OpenAPI/Swagger document from an answer (JSON, or YAML when PyYAML is installed), else None."""
    if answer.status != 200 or not answer.text.strip():
        return None
    data: Any = None
    try:
        data = json.loads(answer.text)
    except ValueError:
        if "yaml" in answer.content_type or answer.text.lstrip().startswith(("openapi:", "swagger:")):
            try:
                import yaml

                data = yaml.safe_load(answer.text)
            except Exception:  # noqa: BLE001 - not YAML either, or PyYAML missing: not a document
                data = None
    if isinstance(data, dict) and ("openapi" in data or "swagger" in data) and isinstance(data.get("paths"), dict):
        return data
    return None


@dataclass
class Discovery:
    """Where the document was found (or why not), with every URL tried."""

    document: dict[str, Any] | None = None
    url: str | None = None
    via: str = ""  # "the API page", "the page's initializer script", "a usual path"
    tried: list[str] = field(default_factory=list)
    needs_sign_in: bool = False


def discover(base_url: str, fetch: Callable[[str], Fetched | None], *, budget: int = 24) -> Discovery:
    """Find the document: the API pages' Swagger UI initializers first, then the usual paths.

    ``fetch(url)`` returns the answer or None (no answer); at most ``budget`` URLs are asked.
    """
    result = Discovery()
    seen: set[str] = set()

    def get(url: str) -> Fetched | None:
        if url in seen or len(seen) >= budget:
            return None
        seen.add(url)
        result.tried.append(url)
        answer = fetch(url)
        if answer is not None and answer.status in (401, 403):
            result.needs_sign_in = True
        return answer

    def try_document(url: str, via: str) -> bool:
        answer = get(url)
        document = parse_document(answer) if answer else None
        if document is not None:
            result.document, result.url, result.via = document, url, via
        return document is not None

    root = base_url.rstrip("/")
    for page_path in DOC_PAGES:
        page_url = root + page_path
        page = get(page_url)
        if page is None or page.status != 200:
            continue
        if parse_document(page) is not None:  # some servers answer the page URL with the document itself
            result.document, result.url, result.via = parse_document(page), page_url, "the API page"
            return result
        for url in document_urls_in_page(page.text, page_url):
            if try_document(url, "the API page's Swagger UI"):
                return result
        for script_url in initializer_scripts(page.text, page_url):
            script = get(script_url)
            if script is None or script.status != 200:
                continue
            for url in document_urls_in_page(script.text, page_url):
                if try_document(url, "the API page's Swagger UI initializer script"):
                    return result
    for path in DOC_PATHS:
        if try_document(root + path, "a usual document path"):
            return result
    return result


# --- normalising --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldSpec:
    """One property of a record, as the comparison sees it."""

    name: str
    kind: str  # int, str, decimal, number, date, datetime, bool, object, array, unknown
    read_only: bool = False
    nullable: bool = False
    max_length: int | None = None
    enum: tuple[str, ...] | None = None


@dataclass
class Operation:
    method: str  # upper case
    path: str  # as written, with the base path
    request: str | None = None  # schema key of the body
    response: str | None = None  # schema key of the answer (list items for a list)
    is_list: bool = False
    envelope: str | None = None  # a list inside an object: the key that holds it ("results", "value", ...)
    query: tuple[str, ...] = ()  # the query parameters it declares


@dataclass
class Schema:
    fields: dict[str, FieldSpec]
    required: frozenset[str]  # read-only fields removed: generators differ in listing them


@dataclass
class ApiModel:
    """A document reduced to what the tool depends on."""

    operations: dict[tuple[str, str], Operation]  # (METHOD, path shape) -> operation
    schemas: dict[str, Schema]

    def operation(self, method: str, path: str) -> Operation | None:
        return self.operations.get((method.upper(), path_shape(path)))


def path_shape(path: str) -> str:
    """``/chargepoint/{pk}/`` and ``/chargepoint/{id}`` are the same operation path."""
    return re.sub(r"\{[^}]*\}", "{}", "/" + path.strip("/"))


class _Resolver:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def deref(self, schema: Any, depth: int = 0) -> dict[str, Any]:
        """A schema with ``$ref`` and ``allOf`` merged in (sibling keys win, as OpenAPI 3.1 has it)."""
        if not isinstance(schema, dict) or depth > 20:
            return {}
        if "$ref" in schema:
            target = self.lookup(schema["$ref"])
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**self.deref(target, depth + 1), **rest}
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                part = self.deref(part, depth + 1)
                props = {**merged.get("properties", {}), **part.get("properties", {})}
                required = list(merged.get("required", [])) + list(part.get("required", []))
                merged = {**merged, **part, "properties": props, "required": required}
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            schema = {**merged, **rest}
            if not schema.get("properties"):
                schema.pop("properties", None)
        return cast(dict[str, Any], schema)  # a dict, checked above and rebuilt as one

    def lookup(self, ref: str) -> Any:
        node: Any = self.document
        if not ref.startswith("#/"):
            return {}
        for part in ref[2:].split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, dict) else {}
        return node

    @staticmethod
    def ref_name(schema: Any) -> str | None:
        if isinstance(schema, dict):
            if "$ref" in schema:
                return str(schema["$ref"]).rsplit("/", 1)[-1]
            for part in schema.get("allOf", []):
                name = _Resolver.ref_name(part)
                if name:
                    return name
        return None


def _is_null(schema: dict[str, Any]) -> bool:
    enum = schema.get("enum")
    return (schema.get("type") == "null" or (isinstance(enum, list) and enum in ([None], [""], [None, ""]))
            or schema == {})


def _field(name: str, raw: Any, resolver: _Resolver) -> FieldSpec:
    schema = resolver.deref(raw)
    nullable = bool(schema.get("nullable") or schema.get("x-nullable"))
    for key in ("anyOf", "oneOf"):
        if key in schema:
            members = [resolver.deref(m) for m in schema[key]]
            real = [m for m in members if not _is_null(m)]
            nullable = nullable or len(real) < len(members)
            if len(real) == 1:
                schema = {**{k: v for k, v in schema.items() if k != key}, **real[0]}
            elif {m.get("type") for m in real} == {"number", "string"}:
                schema = {**real[0], "type": "decimal"}
    kind_type = schema.get("type")
    if isinstance(kind_type, list):  # OpenAPI 3.1: type: [string, "null"]
        nullable = nullable or "null" in kind_type
        kind_type = next((t for t in kind_type if t != "null"), None)
    fmt = schema.get("format")
    if kind_type == "decimal" or (kind_type == "string" and fmt in ("decimal", "number")):
        kind = "decimal"
    elif kind_type == "string":
        kind = {"date": "date", "date-time": "datetime"}.get(fmt or "", "str")
    elif kind_type in ("integer", "number", "boolean", "object", "array"):
        kind = {"integer": "int", "boolean": "bool"}.get(kind_type, kind_type)
    elif "enum" in schema:
        kind = "str"
    else:
        kind = "unknown"
    enum = schema.get("enum")
    values = tuple(str(v) for v in enum if v not in (None, "")) if isinstance(enum, list) else None
    max_length = schema.get("maxLength")
    return FieldSpec(name=name, kind=kind, read_only=bool(schema.get("readOnly")), nullable=nullable,
                     max_length=int(max_length) if isinstance(max_length, int) else None, enum=values)


def _schema(raw: Any, resolver: _Resolver) -> Schema:
    schema = resolver.deref(raw)
    fields = {name: _field(name, prop, resolver) for name, prop in (schema.get("properties") or {}).items()}
    required = frozenset(n for n in schema.get("required") or [] if n in fields and not fields[n].read_only)
    return Schema(fields, required)


def _body_schema(operation: dict[str, Any]) -> Any:
    content = (operation.get("requestBody") or {}).get("content") or {}
    for media, body in content.items():
        if "json" in media:
            return body.get("schema")
    for param in operation.get("parameters") or []:  # Swagger 2.0
        if isinstance(param, dict) and param.get("in") == "body":
            return param.get("schema")
    return None


def _answer_schema(operation: dict[str, Any]) -> Any:
    responses = operation.get("responses") or {}
    for status in ("200", "201", 200, 201):
        answer = responses.get(status)
        if not isinstance(answer, dict):
            continue
        if "schema" in answer:  # Swagger 2.0
            return answer["schema"]
        for media, body in (answer.get("content") or {}).items():
            if "json" in media:
                return body.get("schema")
    return None


def _base_path(document: dict[str, Any]) -> str:
    if "swagger" in document:
        return (document.get("basePath") or "").rstrip("/")
    servers = document.get("servers") or []
    url = servers[0].get("url", "") if servers and isinstance(servers[0], dict) else ""
    return urlsplit(url).path.rstrip("/")


def normalise(document: dict[str, Any]) -> ApiModel:
    """The operations and record schemas of an OpenAPI 3.x or Swagger 2.0 document."""
    resolver = _Resolver(document)
    base = _base_path(document)
    operations: dict[tuple[str, str], Operation] = {}
    schemas: dict[str, Schema] = {}

    def keep(raw: Any, fallback: str) -> str | None:
        if raw is None:
            return None
        key = _Resolver.ref_name(raw) or fallback
        if key not in schemas:
            schemas[key] = _schema(raw, resolver)
        return key

    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            full = base + path
            answer = resolver.deref(_answer_schema(op)) if _answer_schema(op) is not None else None
            is_list = bool(answer and answer.get("type") == "array")
            envelope = None
            for key in ITEM_KEYS:  # a paged list: DRF's results, OData's value, ...
                if answer and not is_list and isinstance((answer.get("properties") or {}).get(key), dict):
                    results = resolver.deref(answer["properties"][key])
                    if results.get("type") == "array":
                        answer, is_list, envelope = results, True, key
            raw_answer = answer.get("items") if is_list and answer else _answer_schema(op)
            parameters = [resolver.deref(p) for p in [*(item.get("parameters") or []), *(op.get("parameters") or [])]]
            operations[(method.upper(), path_shape(full))] = Operation(
                method=method.upper(), path=full,
                request=keep(_body_schema(op), f"{method} {full} body"),
                response=keep(raw_answer, f"{method} {full} answer"), is_list=is_list, envelope=envelope,
                query=tuple(str(p["name"]) for p in parameters if p.get("in") == "query" and p.get("name")))
    return ApiModel(operations, schemas)


# --- comparing ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """One way the service differs from the tool's assumptions, in plain words and as data."""

    kind: str
    severity: str  # "fail": pushes break; "warn": may matter
    message: str
    resource: str | None = None
    field: str | None = None
    ours: Any = None
    theirs: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class ResourceMatch:
    """Which of the service's schemas and operations stand for one of our resources."""

    resource: Resource
    read: Schema | None = None
    create: Schema | None = None
    operations: dict[str, Operation | None] = field(default_factory=dict)  # role -> the service's operation
    names: dict[str, str] = field(default_factory=dict)  # our field name -> the service's


def _roles(resource: Resource, paths: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Role -> (method, path) of our document (``paths``: a contract's corrections already in it)."""
    def path(ours: str) -> str:
        return paths.get(ours, ours)

    return {"create": ("POST", path(resource.create_path)), "list": ("GET", path(resource.list_path)),
            "get": ("GET", path(resource.item_path)), "patch": ("PATCH", path(resource.item_path))}


def _kinds_compatible(ours: str, theirs: str) -> bool:
    if ours == theirs or theirs == "unknown":
        return True
    # DRF decimals as plain strings (drf-yasg) or numbers (other generators) still read and write fine
    return ours == "decimal" and theirs in ("str", "number")


def _rename_candidate(name: str, kind: str, pool: Iterable[FieldSpec]) -> str | None:
    best, best_score = None, 0.0
    for spec in pool:
        if not _kinds_compatible(kind, spec.kind):
            continue
        score = difflib.SequenceMatcher(None, name, spec.name).ratio()
        if name in spec.name or spec.name in name:
            score += 0.3
        if score > best_score:
            best, best_score = spec.name, score
    return best if best_score >= 0.6 else None


def _shape(spec: FieldSpec) -> tuple[Any, ...]:
    return spec.kind, spec.max_length, spec.read_only, spec.enum


def _renames(ours: Schema, theirs: Schema) -> dict[str, str]:
    """Our missing fields -> the service's unknown ones: by similar names, else by the one field of the same shape."""
    missing = [spec for name, spec in ours.fields.items() if name not in theirs.fields]
    pool = [spec for name, spec in theirs.fields.items() if name not in ours.fields]
    found: dict[str, str] = {}
    for spec in missing:
        candidate = _rename_candidate(spec.name, spec.kind, pool)
        if candidate:
            found[spec.name] = candidate
            pool = [p for p in pool if p.name != candidate]
    left = [spec for spec in missing if spec.name not in found]
    for spec in left:
        same = [p for p in pool if _shape(p) == _shape(spec)]
        if len(same) == 1 and sum(_shape(o) == _shape(spec) for o in left) == 1:
            found[spec.name] = same[0].name
            pool.remove(same[0])
    return found


def _best_schema(ours: Schema, model: ApiModel, preferred: list[str | None]) -> Schema | None:
    """The service's schema for a resource: the one its operations name, else the most similar by fields."""
    def overlap(schema: Schema) -> int:
        return len(set(schema.fields) & set(ours.fields))

    named = [model.schemas[k] for k in preferred if k and k in model.schemas]
    pool = named or list(model.schemas.values())
    best = max(pool, key=overlap, default=None)
    return best if best is not None and overlap(best) * 2 >= len(ours.fields) else None


def _match_operation(model: ApiModel, method: str, path: str, schema_keys: set[str], with_id: bool,
                     is_list: bool) -> Operation | None:
    found = model.operation(method, path)
    if found is not None:
        return found
    for op in model.operations.values():
        if op.method != method or ("{}" in path_shape(op.path)) != with_id or op.is_list != is_list:
            continue
        if (op.request in schema_keys) or (op.response in schema_keys):
            return op
    return None


def compare(ours_doc: dict[str, Any], theirs_doc: dict[str, Any], *, paths: Mapping[str, str] | None = None
            ) -> tuple[list[Difference], list[ResourceMatch]]:
    """Every difference between our document and the service's that the tool's requests depend on.

    ``paths``: our path -> the path in ``ours_doc``, when a contract has already moved them.
    """
    paths = paths or {}
    ours, theirs = normalise(ours_doc), normalise(theirs_doc)
    differences: list[Difference] = []
    matches: list[ResourceMatch] = []
    for resource in RESOURCES.values():
        roles = _roles(resource, paths)
        mine = _resource_schemas(ours, roles)
        match = ResourceMatch(resource)
        matches.append(match)
        preferred = [op.response if (op := theirs.operation(m, p)) else None for m, p in roles.values()]
        match.read = _best_schema(mine[0], theirs, preferred)
        create_op = theirs.operation(*roles["create"])
        if match.read is None:
            differences.append(Difference(
                "missing_resource", FAIL, f"The service's document describes no record like our {resource.title}s: "
                f"its fields could not be matched.", resource=resource.name))
            continue
        keys = {k for k, s in theirs.schemas.items() if s is match.read}
        for role, (method, path) in roles.items():
            op = _match_operation(theirs, method, path, keys, with_id="{" in path, is_list=role == "list")
            match.operations[role] = op
            if op is None:
                differences.append(Difference(
                    "missing_operation", FAIL, f"The service has no {method} {path} (the tool uses it to "
                    f"{_ROLE_WORDS[role]} {resource.title}s).", resource=resource.name, ours=f"{method} {path}"))
            elif path_shape(op.path) != path_shape(path):
                differences.append(Difference(
                    "moved_operation", FAIL, f"The service {_ROLE_WORDS[role]}s {resource.title}s at "
                    f"{method} {op.path}; the tool uses {method} {path}.", resource=resource.name,
                    ours=path, theirs=op.path))
                if role == "create":
                    create_op = op
        if create_op is not None and create_op.request in theirs.schemas:
            match.create = theirs.schemas[create_op.request]
        differences += _compare_fields(resource, mine[0], mine[1], match)
    return differences, matches


_ROLE_WORDS = {"create": "create", "list": "list", "get": "read", "patch": "change"}


def _resource_schemas(model: ApiModel, roles: dict[str, tuple[str, str]]) -> tuple[Schema, Schema]:
    # model: our own document, which has every role's operation and its schemas
    read = model.schemas[model.operation(*roles["get"]).response]  # type: ignore[union-attr,index]  # see above
    create = model.schemas[model.operation(*roles["create"]).request]  # type: ignore[union-attr,index]  # see above
    return read, create


def _compare_fields(resource: Resource, read: Schema, create: Schema, match: ResourceMatch) -> list[Difference]:
    out: list[Difference] = []
    theirs = match.read
    assert theirs is not None
    their_create = match.create or Schema({n: f for n, f in theirs.fields.items() if not f.read_only}, theirs.required)
    unknown = [f for n, f in theirs.fields.items() if n not in read.fields]
    title = resource.title
    renames = _renames(read, theirs)
    for name, spec in read.fields.items():
        their_name = name
        if name not in theirs.fields:
            renamed = renames.get(name)
            if renamed is None:
                severity = FAIL if name in create.required or name == "id" else WARN
                out.append(Difference("missing_field", severity,
                                      f"The service's {title} has no field `{name}`"
                                      + (" (the tool needs it)." if severity == FAIL else "."),
                                      resource=resource.name, field=name))
                continue
            their_name = renamed
            unknown = [f for f in unknown if f.name != renamed]
            out.append(Difference("renamed_field", FAIL, f"The service calls `{name}` `{renamed}` ({title}).",
                                  resource=resource.name, field=name, ours=name, theirs=renamed))
        match.names[name] = their_name
        other = theirs.fields[their_name]
        out += _compare_one(resource, name, spec, other, name in create.required,
                            their_name in their_create.required, name in create.fields)
    for spec in unknown:
        if spec.name in their_create.required:
            out.append(Difference("new_required_field", FAIL,
                                  f"The service requires a field `{spec.name}` ({spec.kind}) for every new {title} "
                                  "that the tool does not know: creating rows fails until the tool sends it.",
                                  resource=resource.name, field=spec.name, theirs=spec.kind))
        else:
            out.append(Difference("extra_field", WARN, f"The service's {title} has a field `{spec.name}` the tool "
                                  "does not know (kept as it comes, not shown in the workbook).",
                                  resource=resource.name, field=spec.name))
    return out


def _compare_one(resource: Resource, name: str, ours: FieldSpec, theirs: FieldSpec, we_require: bool,
                 they_require: bool, we_send: bool) -> list[Difference]:
    out: list[Difference] = []
    where = f"`{name}` ({resource.title})"

    def diff(kind: str, severity: str, message: str, mine: Any, other: Any) -> None:
        out.append(Difference(kind, severity, message, resource=resource.name, field=name, ours=mine, theirs=other))

    if not _kinds_compatible(ours.kind, theirs.kind):
        diff("type", FAIL if we_send or name == "id" else WARN,  # rows are linked to records by whole-number ids
             f"The service has {where} as {_KIND_WORDS.get(theirs.kind, theirs.kind)}; "
             f"the tool has it as {_KIND_WORDS.get(ours.kind, ours.kind)}.", ours.kind, theirs.kind)
    elif ours.kind == "decimal" and theirs.kind == "number":
        diff("type", WARN, f"The service takes {where} as a JSON number; the tool sends exact decimal strings "
             "(most services accept both).", ours.kind, theirs.kind)
    if we_send:
        if they_require and not we_require:
            diff("required", FAIL, f"The service requires {where}; the tool lets it be empty: rows without it "
                 "will be refused.", False, True)
        elif we_require and not they_require:
            diff("required", WARN, f"The service does not require {where}; the tool does.", True, False)
        if theirs.read_only and not ours.read_only:
            diff("read_only", FAIL, f"The service sets {where} itself; the tool sends it.", False, True)
        if ours.nullable != theirs.nullable:
            diff("nullable", WARN, f"The service {'accepts' if theirs.nullable else 'refuses'} an empty {where}; "
                 f"the tool {'sends' if ours.nullable else 'never sends'} empty values.", ours.nullable,
                 theirs.nullable)
        if theirs.max_length is not None and (ours.max_length is None or theirs.max_length < ours.max_length):
            diff("max_length", FAIL if ours.max_length is None or theirs.max_length < ours.max_length else WARN,
                 f"The service allows at most {theirs.max_length} characters in {where}; the tool allows "
                 f"{ours.max_length or 'any number'}: longer values are refused on push.", ours.max_length,
                 theirs.max_length)
    if ours.enum is not None or theirs.enum is not None:
        mine, other = list(ours.enum or ()), list(theirs.enum or ())
        for value in other:
            if value not in mine:
                diff("unknown_status" if name == "status" else "enum", WARN,
                     f"{name.capitalize()} `{value}` is unknown to this tool: rows in it are treated as locked."
                     if name == "status" else f"The service allows `{value}` in {where}; the tool does not know it.",
                     None, value)
        for value in mine:
            if other and value not in other:
                diff("missing_status" if name == "status" else "enum", WARN,
                     f"{name.capitalize()} `{value}` is not among the service's values for {where}.", value, None)
    return out


_KIND_WORDS = {"int": "a whole number", "str": "text", "decimal": "a decimal number", "number": "a JSON number",
               "date": "a date", "datetime": "a date and time", "bool": "true/false", "object": "an object",
               "array": "a list", "unknown": "an unknown type"}
