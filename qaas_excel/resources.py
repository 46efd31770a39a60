"""The one definition of the service's resources: operators and charge point records.

API field names, types, who sets them, rules, and the column header and help text
each has in the template workbooks. The sandbox, the API client, the validation,
the templates and the OpenAPI document all read this module; adapting to the live
service's real contract is an edit here (and in ``config.py`` for addresses).

What is assumed rather than known is marked ASSUMED (see shared/reference/api-contract.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cached_property
from typing import Any, cast

from qaas_excel import parsing
from qaas_excel.formatting import german_number, german_number_as_typed
from qaas_excel.values import decimal_text, utc_text


class FieldType(StrEnum):
    INT = "int"
    STR = "str"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"


class SetBy(StrEnum):
    SERVER = "server"
    CLIENT = "client"


@dataclass(frozen=True)
class Field:
    """One API field and its template column."""

    name: str
    type: FieldType
    header: str
    help: str
    set_by: SetBy = SetBy.CLIENT
    required: bool = False
    patchable: bool = False
    max_length: int | None = None
    min_length: int | None = None
    pattern: str | None = None
    pattern_help: str | None = None
    decimals: int | None = None
    positive: bool = False
    example: Any = None
    # For comparing values (no duplicates, no needless PATCH): spellings that mean the same.
    ignore_chars: str = ""
    case_insensitive: bool = False
    # One vertical merged range may give this field's value to several rows, when every row it covers is the
    # same thing (the resource's ``share_key``, e.g. one charge point over several periods). Never for amounts,
    # periods, references or IDs: a merged value there would count once per row.
    shareable: bool = False
    # Excel number format of the template column.
    number_format: str = "General"
    width: float = 16
    # How a column of cell values is read; None: the reader of the field's type.
    parser: Callable[[Any], parsing.Parsed] | None = dataclass_field(default=None, compare=False, repr=False)

    def parse(self, cells: Any, *, date1904: bool = False) -> parsing.Parsed:
        """A column of raw cell values as typed values plus an error per cell; a date serial counts from 1904 in
        a workbook that uses Excel's 1904 date system."""
        parse = self.parser or _TYPE_PARSERS[self.type]
        if self.type in (FieldType.DATE, FieldType.DATETIME):
            return parse(cells, date1904=date1904)  # type: ignore[call-arg]
        return parse(cells)

    @property
    def is_server(self) -> bool:
        return self.set_by is SetBy.SERVER

    def comparable(self, text: str) -> str:
        """The form two values are compared in: DE*ABC*E1 and deabce1 are the same EVSE."""
        for ch in self.ignore_chars:
            text = text.replace(ch, "")
        return text.casefold() if self.case_insensitive else text

    @cached_property
    def regex(self) -> re.Pattern[str] | None:
        return re.compile(self.pattern) if self.pattern else None


_TYPE_PARSERS: dict[FieldType, Callable[[Any], parsing.Parsed]] = {
    FieldType.DECIMAL: parsing.parse_decimal,
    FieldType.DATE: parsing.parse_date,
    FieldType.DATETIME: parsing.parse_datetime,
    FieldType.INT: parsing.parse_int,
    FieldType.STR: parsing.parse_text,
}


# --- statuses -------------------------------------------------------------------------------------

class Status(StrEnum):
    """Charge point record statuses, in the order a record passes them (ASSUMED names from the brief)."""

    CREATED = "created"
    SENT_TO_UBA = "sent_to_uba"
    ACCEPTED_BY_UBA = "accepted_by_uba"
    REJECTED_BY_UBA = "rejected_by_uba"


STATUS_HELP: dict[str, str] = {
    Status.CREATED: "Received by QaaS; the amount can still be changed.",
    Status.SENT_TO_UBA: "Submitted to the Umweltbundesamt; the record is frozen.",
    Status.ACCEPTED_BY_UBA: "Accepted by the Umweltbundesamt; frozen.",
    Status.REJECTED_BY_UBA: "Rejected by the Umweltbundesamt; frozen (contact QaaS).",
}

# Only these statuses allow a PATCH; any other, including one we do not know, is locked.
EDITABLE_STATUSES: frozenset[str] = frozenset({Status.CREATED})


# Statuses the environment in use adds through its config.toml contract: name -> whether a PATCH is allowed.
_CONTRACT_STATUSES: dict[str, bool] = {}


def use_contract_statuses(statuses: dict[str, bool]) -> None:
    """Set when an environment is loaded (config.get_environment), replacing an earlier environment's."""
    _CONTRACT_STATUSES.clear()
    _CONTRACT_STATUSES.update(statuses)


def is_editable_status(status: str | None) -> bool:
    """A record without a status (operators) or in an editable status may be changed."""
    return status is None or status == "" or status in EDITABLE_STATUSES or _CONTRACT_STATUSES.get(status, False)


# --- common fields --------------------------------------------------------------------------------

GERMAN_ZIP = r"^[0-9]{5}$"
# eMI3 / ISO 15118 EVSE ID: country, operator id, "E", power outlet id; "*" separators optional.
EVSE_ID = r"^[A-Z]{2}(\*?)[A-Z0-9]{3}\1E[A-Z0-9*]{1,30}$"

_ID = Field(
    "id", FieldType.INT, "QaaS ID", "Assigned by QaaS when the row is first pushed. Do not type here.",
    set_by=SetBy.SERVER, number_format="0", width=10,
)
_CREATED = Field(
    "created", FieldType.DATETIME, "Created (UTC)", "When QaaS created the record.",
    set_by=SetBy.SERVER, number_format="yyyy-mm-dd hh:mm:ss", width=20,
)
_LAST_UPDATED = Field(
    "last_updated", FieldType.DATETIME, "Last updated (UTC)", "When QaaS last changed the record.",
    set_by=SetBy.SERVER, number_format="yyyy-mm-dd hh:mm:ss", width=20,
)
_CUSTOMER_REFERENCE = Field(
    "customer_reference", FieldType.STR, "Your reference",
    "Your own unique key for this row, e.g. AB-123. Strongly recommended: it lets qaas-excel "
    "recognise a record it already created and never create it twice.",
    max_length=100, example="AB-123", number_format="@", width=16,
)


def _street(help_: str, *, shareable: bool = False) -> Field:
    return Field("street", FieldType.STR, "Street", help_, required=True, patchable=True,
                 max_length=200, example="Baumstraße 1", number_format="@", width=26, shareable=shareable)


def _zip(help_: str, *, shareable: bool = False) -> Field:
    return Field("zip_code", FieldType.STR, "Zip code", help_, required=True, patchable=True,
                 pattern=GERMAN_ZIP, pattern_help="five digits, e.g. 01067", example="85123",
                 number_format="@", width=10, parser=parsing.parse_zip, shareable=shareable)


def _town(help_: str, *, shareable: bool = False) -> Field:
    return Field("town", FieldType.STR, "Town", help_, required=True, patchable=True,
                 max_length=100, example="Ingolstadt", number_format="@", width=18, shareable=shareable)


# --- rules across fields --------------------------------------------------------------------------

def period_hours(start: date, end: date) -> int:
    """Hours in an inclusive period of whole days."""
    return ((end - start).days + 1) * 24


def max_amount_kwh(max_power_kw: Decimal, start: date, end: date) -> Decimal:
    """The most a charge point can deliver in the period: rated power × hours."""
    return max_power_kw * period_hours(start, end)


Numbers = Mapping[str, Any]  # a record's values as numbers, for one record or for whole columns
Values = Mapping[str, Any]  # a record's typed values (Decimal, date, ...)


@dataclass(frozen=True)
class RecordRule:
    """A rule across the fields of one record; the workbook's validation and the sandbox both check it.

    ``breached`` sees numbers only (see ``as_number``; "today" is a day number too) and uses operators
    only, so the same definition runs on one record's ints (sandbox) and on whole columns (validation).
    """

    code: str
    field: str  # the field the problem is shown on
    needs: tuple[str, ...]  # the rule applies when all of these have a valid value
    breached: Callable[[Numbers], Any]
    note: Callable[[Values], str]  # what is wrong, in the user's words and number format
    api_message: Callable[[Values], str]  # what the service says (DRF style)


def as_number(f: Field, value: Any) -> int:
    """A value as the rules compare it: dates as day numbers, decimals as exact thousandths."""
    return as_numbers(f, [value])[0]


def as_numbers(f: Field, values: Iterable[Any]) -> list[int]:
    """``as_number`` of each value, the field's type asked once."""
    if f.type is FieldType.DATE:
        return [int(v.toordinal()) for v in values]
    if f.type is FieldType.DECIMAL:
        # each value in thousandths, rounded half to even (``to_integral_value``); most are whole already (at most
        # three places: every value the rules see), and a whole one's int is exact without the rounding step
        return [n if (n := int(m := v * 1000)) == m else int(m.to_integral_value()) for v in values]
    return [cast(int, v) for v in values]  # an INT field's values: the rules compare no other type


def year_key(name: str) -> str:
    """Where the rules find the year of a date field."""
    return f"{name}.year"


def _capacity_note(v: Values) -> str:
    hours = period_hours(v["period_start"], v["period_end"])
    limit = max_amount_kwh(v["max_power_kw"], v["period_start"], v["period_end"])
    power = german_number_as_typed(v["max_power_kw"])
    return (f"{german_number(v['amount'])} kWh is more than the charge point can deliver in the period "
            f"({power} kW × {german_number(hours, 0)} h = {german_number(limit)} kWh)")


CHARGEPOINT_RULES = (
    RecordRule(
        "period-order", "period_end", ("period_start", "period_end"),
        breached=lambda n: n["period_end"] < n["period_start"],
        note=lambda v: f"{v['period_end']:%d.%m.%Y} is before the period start {v['period_start']:%d.%m.%Y}",
        api_message=lambda v: "The period must not end before it starts.",
    ),
    RecordRule(
        "period-years", "period_end", ("period_start", "period_end"),
        breached=lambda n: (n[year_key("period_start")] != n[year_key("period_end")])
        & (n["period_end"] >= n["period_start"]),
        note=lambda v: f"the period {v['period_start']:%d.%m.%Y}–{v['period_end']:%d.%m.%Y} spans two calendar "
                       "years; split it into one row per year",
        api_message=lambda v: "The period must lie within one calendar year.",
    ),
    RecordRule(
        # amount <= max power x hours, exactly: thousandths of a kWh against thousandths of a kW x hours
        "amount-above-capacity", "amount", ("amount", "max_power_kw", "period_start", "period_end"),
        breached=lambda n: (n["period_end"] >= n["period_start"])
        & (n["amount"] > n["max_power_kw"] * ((n["period_end"] - n["period_start"] + 1) * 24)),
        note=_capacity_note,
        api_message=lambda v: "Ensure the amount does not exceed max_power_kw × hours of the period "
                              f"({max_amount_kwh(v['max_power_kw'], v['period_start'], v['period_end'])} kWh).",
    ),
    RecordRule(
        "commissioning-in-future", "commissioning_date", ("commissioning_date",),
        breached=lambda n: n["commissioning_date"] > n["today"],
        note=lambda v: f"{v['commissioning_date']:%d.%m.%Y} lies in the future",
        api_message=lambda v: "The commissioning date must not lie in the future.",
    ),
)


# --- resources ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Resource:
    """One kind of record the service keeps, and the template sheet that holds it."""

    name: str  # "operator" | "chargepoint"
    title: str  # user's words, singular
    sheet: str  # template sheet name
    table: str  # Excel table name
    create_path: str  # POST
    list_path: str  # GET (200 list / 204 empty)
    item_path: str  # GET / PATCH, with {id}
    fields: tuple[Field, ...]
    # Query parameters the list endpoint filters by (ASSUMED for charge points).
    list_filters: tuple[str, ...] = ()
    has_status: bool = False
    reference: str | None = "customer_reference"  # the user's own unique key of a record
    natural_key: tuple[str, ...] = ()  # fields that together name one record, reference or not
    # For a row without a reference: fields that, when equal, make a service record almost surely the same one
    # (two operators of one account with the same legal name are not to be created from rows without references).
    weak_key: tuple[str, ...] = ()
    # Which record a row is, besides its reference: groups of fields. ``identity_any``: the row is another record
    # when ANY group differs from its linked record (a charge point record: EVSE ID, period); otherwise only when
    # ALL differ (an operator that changes its name OR moves is the same operator; one that changes both is not).
    identity: tuple[tuple[str, ...], ...] = ()
    identity_any: bool = True
    operator_field: str | None = None  # the field that names the record's operator
    # Rows with the same value here describe one thing (one charge point): its ``shareable`` fields may be one
    # vertical merged range over exactly such rows. None: no merged range in a data row is ever read.
    share_key: str | None = None
    period: tuple[str, str] | None = None  # first and last day of the period a record covers
    quantity: str | None = None  # the field totals add up
    listing: tuple[str, ...] = ()  # the fields a table of records shows (worksheet functions)
    rules: tuple[RecordRule, ...] = ()

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    @cached_property  # asked for every row: worked out once (the dataclass is frozen)
    def client_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if not f.is_server)

    @cached_property
    def server_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.is_server)

    @cached_property
    def required_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.client_fields if f.required)

    @cached_property
    def patchable_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.patchable)

    def item_url_path(self, record_id: int | str) -> str:
        return self.item_path.format(id=record_id)

    def broken_rules(self, values: Values, today: date) -> list[RecordRule]:
        """The record rules one record breaks; a rule whose fields are not all given is not judged."""
        out = []
        for rule in self.rules:
            if any(values.get(name) is None for name in rule.needs):
                continue
            numbers: dict[str, Any] = {"today": today.toordinal()}
            for name in rule.needs:
                numbers[name] = as_number(self.field(name), values[name])
                if self.field(name).type is FieldType.DATE:
                    numbers[year_key(name)] = values[name].year
            if rule.breached(numbers):
                out.append(rule)
        return out


OPERATOR = Resource(
    name="operator",
    title="operator",
    sheet="Operators",
    table="QaasOperators",
    create_path="/chargepointoperator",
    list_path="/chargepointoperators",
    item_path="/chargepointoperator/{id}",
    listing=("id", "customer_reference", "organization_name", "street", "zip_code", "town", "last_updated"),
    weak_key=("organization_name",),
    identity=(("organization_name",), ("street", "zip_code", "town")),
    identity_any=False,
    fields=(
        _ID,
        _CUSTOMER_REFERENCE,
        Field("organization_name", FieldType.STR, "Organization name",
              "Legal name of the charge point operator, e.g. Stadtwerke Musterstadt GmbH.",
              required=True, patchable=True, max_length=200, example="Beispiel GmbH",
              number_format="@", width=30),
        _street("Street and house number of the operator's registered address."),
        _zip("German postal code (PLZ) of the operator, five digits; keep leading zeros (01067)."),
        _town("Town of the operator's registered address."),
        Field("terms_agreed", FieldType.DATETIME, "Terms agreed (UTC)",
              "When the operator agreed to the QaaS terms (date, or date and time in UTC).",
              required=True, patchable=True, example="2022-09-28T15:38:21Z",
              number_format="yyyy-mm-dd hh:mm", width=18),
        _CREATED,
        _LAST_UPDATED,
    ),
)

CHARGEPOINT = Resource(
    name="chargepoint",
    title="charge point record",
    sheet="ChargePoints",
    table="QaasChargePoints",
    create_path="/chargepoint",
    list_path="/chargepoints",
    item_path="/chargepoint/{id}",
    list_filters=("chargepointoperator_id", "status"),
    has_status=True,
    natural_key=("evse_id", "period_start", "period_end"),  # one EVSE in one period
    identity=(("evse_id",), ("period_start", "period_end")),
    operator_field="chargepointoperator_id",
    share_key="evse_id",
    period=("period_start", "period_end"),
    quantity="amount",
    listing=("id", "customer_reference", "chargepointoperator_id", "evse_id", "period_start", "period_end", "amount",
             "status", "last_updated"),
    rules=CHARGEPOINT_RULES,
    fields=(
        _ID,
        _CUSTOMER_REFERENCE,
        Field("chargepointoperator_id", FieldType.INT, "Operator",
              "The operator of this charge point: its QaaS ID, or its 'Your reference' from the "
              "Operators sheet (resolved when pushing; operators are pushed first).",
              required=True, example=335, number_format="@", width=14, parser=parsing.parse_id_or_reference,
              shareable=True),
        Field("evse_id", FieldType.STR, "EVSE ID",
              "EVSE ID in eMI3 form, e.g. DE*ABC*E1234567*1 (the * separators are optional).",
              required=True, max_length=41, pattern=EVSE_ID,
              pattern_help="eMI3 form such as DE*ABC*E1234567*1", example="DE*ABC*E1234567*1",
              ignore_chars="*", case_insensitive=True, number_format="@", width=22, parser=parsing.parse_evse),
        _street("Street and house number where the charge point stands.", shareable=True),
        _zip("German postal code (PLZ) where the charge point stands; keep leading zeros.", shareable=True),
        _town("Town where the charge point stands.", shareable=True),
        Field("commissioning_date", FieldType.DATE, "Commissioning date",
              "Date the charge point went into public service; not in the future.",
              required=True, example="2021-05-17", number_format="dd.mm.yyyy", width=14, shareable=True),
        Field("max_power_kw", FieldType.DECIMAL, "Max power (kW)",
              "Rated charging power in kW, greater than 0.", required=True, decimals=3, positive=True,
              example=Decimal("22"), number_format="#,##0.0##", width=12, shareable=True),
        Field("period_start", FieldType.DATE, "Period start",
              "First day of the period the energy was delivered in.", required=True,
              example="2024-01-01", number_format="dd.mm.yyyy", width=12),
        Field("period_end", FieldType.DATE, "Period end",
              "Last day of the period (inclusive); same calendar year as the start.", required=True,
              example="2024-12-31", number_format="dd.mm.yyyy", width=12),
        Field("amount", FieldType.DECIMAL, "Amount (kWh)",
              "Electricity delivered in the period, in kWh, at most 3 decimals, greater than 0. "
              "Can be changed until the record is sent to the UBA.",
              required=True, patchable=True, decimals=3, positive=True, example=Decimal("12345.678"),
              number_format="#,##0.000", width=14),
        Field("status", FieldType.STR, "Status",
              "Set by QaaS: " + "; ".join(f"{k}: {v}" for k, v in STATUS_HELP.items()),
              set_by=SetBy.SERVER, number_format="@", width=16),
        _CREATED,
        _LAST_UPDATED,
    ),
)

RESOURCES: dict[str, Resource] = {r.name: r for r in (OPERATOR, CHARGEPOINT)}


def get_resource(name: str) -> Resource:
    try:
        return RESOURCES[name]
    except KeyError:
        raise KeyError(f"unknown resource {name!r}; known: {', '.join(RESOURCES)}") from None


# --- wire format (ASSUMED): how values travel as JSON -------------------------------------------------
# Decimals go out as JSON strings ("1234.500", as Django REST framework does) so no float ever
# touches an amount; they are read back from strings or numbers (json parse_float=Decimal).

def encode_value(f: Field, value: Any) -> Any:
    """A Python value as the service expects it in a JSON body."""
    if value is None:
        return None
    if f.type is FieldType.DECIMAL:
        # A float goes through its shortest repr: 0.1 stays 0.1, not 0.1000000000000000055511151231257827.
        return decimal_text(Decimal(repr(value)) if isinstance(value, float) else Decimal(value))
    if f.type is FieldType.DATE:
        if isinstance(value, datetime):
            value = value.date()
        return value.isoformat() if isinstance(value, date) else str(value)
    if f.type is FieldType.DATETIME:
        return utc_text(value) if isinstance(value, datetime) else str(value)
    if f.type is FieldType.INT:
        return int(value)
    return str(value)


def _decimal(value: Any) -> Decimal:
    return value if type(value) is Decimal else Decimal(str(value))  # JSON numbers already come as Decimals


def _int(value: Any) -> int:
    return value if type(value) is int else int(value)


def _date(value: Any) -> date:
    return date.fromisoformat(str(value)[:10])


def _datetime(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


_DECODERS: dict[FieldType, Callable[[Any], Any]] = {
    FieldType.DECIMAL: _decimal, FieldType.DATE: _date, FieldType.DATETIME: _datetime, FieldType.INT: _int,
}


def decode_value(f: Field, value: Any) -> Any:
    """A JSON value from the service as a Python value; what cannot be read is kept as it came."""
    decode = _DECODERS.get(f.type)
    if value is None or decode is None:
        return value
    try:
        return decode(value)
    except (InvalidOperation, ValueError, TypeError):
        return value


def encode_record(resource: Resource, values: dict[str, Any]) -> dict[str, Any]:
    """A JSON body for POST/PATCH from client-field values (unknown keys are dropped)."""
    out: dict[str, Any] = {}
    for f in resource.client_fields:
        if f.name in values:
            out[f.name] = encode_value(f, values[f.name])
    return out


_TYPED_FIELDS: dict[int, tuple[tuple[Field, ...], tuple[Field, ...], tuple[str, ...]]] = {}


_SEEN_TEXTS = 1000  # distinct texts of one field remembered while a list is decoded (amounts: each its own)
_MISSING = object()


def decode_record(resource: Resource, body: dict[str, Any],
                  seen: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A record from the service; fields we do not know are kept verbatim (text fields are kept as they came).

    ``seen``: kept by the caller over the records of one list: a field's text met again (a date, a power, a time
    stamp) is decoded once, and its value shared by the records, which are never changed in place. A text field's
    text met again (a town, a postcode, a status) is shared too: 12 MiB of 50,000 records' texts."""
    cached = _TYPED_FIELDS.get(id(resource.fields))
    if cached is None or cached[0] is not resource.fields:  # (the tuple is kept, so its id stays its own)
        cached = _TYPED_FIELDS[id(resource.fields)] = (
            resource.fields, tuple(f for f in resource.fields if f.type in _DECODERS),
            tuple(f.name for f in resource.fields if f.type not in _DECODERS))
    record = dict(body)
    if seen is not None:
        for name in cached[2]:
            raw = record.get(name)
            if type(raw) is str:
                texts = seen.setdefault(name, {})
                known = texts.get(raw)
                if known is not None:
                    record[name] = known
                elif len(texts) < _SEEN_TEXTS:
                    texts[raw] = raw
    for f in cached[1]:
        if f.name in record:
            raw = record[f.name]
            if seen is None or type(raw) is not str:
                record[f.name] = decode_value(f, raw)
                continue
            known = seen.setdefault(f.name, {})
            value = known.get(raw, _MISSING)
            if value is _MISSING:
                value = decode_value(f, raw)
                if len(known) < _SEEN_TEXTS:
                    known[raw] = value
            record[f.name] = value
    return record
