"""The one definition of the service's resources: operators and charge point records.

API field names, types, who sets them, rules, and the column header and help text
each has in the template workbooks. The sandbox, the API client, the validation,
the templates and the OpenAPI document all read this module; adapting to the live
service's real contract is an edit here (and in ``config.py`` for addresses).

What is assumed rather than known is marked ASSUMED (see shared/reference/api-contract.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any


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
    # Excel number format of the template column.
    number_format: str = "General"
    width: float = 16

    @property
    def is_server(self) -> bool:
        return self.set_by is SetBy.SERVER

    def comparable(self, text: str) -> str:
        """The form two values are compared in: DE*ABC*E1 and deabce1 are the same EVSE."""
        for ch in self.ignore_chars:
            text = text.replace(ch, "")
        return text.casefold() if self.case_insensitive else text

    @property
    def regex(self) -> re.Pattern[str] | None:
        return re.compile(self.pattern) if self.pattern else None


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


def _street(help_: str) -> Field:
    return Field("street", FieldType.STR, "Street", help_, required=True, patchable=True,
                 max_length=200, example="Baumstraße 1", number_format="@", width=26)


def _zip(help_: str) -> Field:
    return Field("zip_code", FieldType.STR, "Zip code", help_, required=True, patchable=True,
                 pattern=GERMAN_ZIP, pattern_help="five digits, e.g. 01067", example="85123",
                 number_format="@", width=10)


def _town(help_: str) -> Field:
    return Field("town", FieldType.STR, "Town", help_, required=True, patchable=True,
                 max_length=100, example="Ingolstadt", number_format="@", width=18)


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

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    @property
    def client_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if not f.is_server)

    @property
    def server_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.is_server)

    @property
    def required_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.client_fields if f.required)

    @property
    def patchable_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.patchable)

    def item_url_path(self, record_id: int | str) -> str:
        return self.item_path.format(id=record_id)


OPERATOR = Resource(
    name="operator",
    title="operator",
    sheet="Operators",
    table="QaasOperators",
    create_path="/chargepointoperator",
    list_path="/chargepointoperators",
    item_path="/chargepointoperator/{id}",
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
    fields=(
        _ID,
        _CUSTOMER_REFERENCE,
        Field("chargepointoperator_id", FieldType.INT, "Operator",
              "The operator of this charge point: its QaaS ID, or its 'Your reference' from the "
              "Operators sheet (resolved when pushing; operators are pushed first).",
              required=True, example=335, number_format="@", width=14),
        Field("evse_id", FieldType.STR, "EVSE ID",
              "EVSE ID in eMI3 form, e.g. DE*ABC*E1234567*1 (the * separators are optional).",
              required=True, max_length=41, pattern=EVSE_ID,
              pattern_help="eMI3 form such as DE*ABC*E1234567*1", example="DE*ABC*E1234567*1",
              ignore_chars="*", case_insensitive=True, number_format="@", width=22),
        _street("Street and house number where the charge point stands."),
        _zip("German postal code (PLZ) where the charge point stands; keep leading zeros."),
        _town("Town where the charge point stands."),
        Field("commissioning_date", FieldType.DATE, "Commissioning date",
              "Date the charge point went into public service; not in the future.",
              required=True, example="2021-05-17", number_format="dd.mm.yyyy", width=14),
        Field("max_power_kw", FieldType.DECIMAL, "Max power (kW)",
              "Rated charging power in kW, greater than 0.", required=True, decimals=3, positive=True,
              example=Decimal("22"), number_format="#,##0.0##", width=12),
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


# --- rules across fields (charge points) ------------------------------------------------------------

def period_hours(start: date, end: date) -> int:
    """Hours in an inclusive period of whole days."""
    return ((end - start).days + 1) * 24


def max_amount_kwh(max_power_kw: Decimal, start: date, end: date) -> Decimal:
    """The most a charge point can deliver in the period: rated power × hours."""
    return max_power_kw * period_hours(start, end)


# --- wire format (ASSUMED): how values travel as JSON -------------------------------------------------
# Decimals go out as JSON strings ("1234.500", as Django REST framework does) so no float ever
# touches an amount; they are read back from strings or numbers (json parse_float=Decimal).

def encode_value(f: Field, value: Any) -> Any:
    """A Python value as the service expects it in a JSON body."""
    if value is None:
        return None
    if f.type is FieldType.DECIMAL:
        # A float goes through its shortest repr: 0.1 stays 0.1, not 0.1000000000000000055511151231257827.
        return format(Decimal(repr(value)) if isinstance(value, float) else Decimal(value), "f")
    if f.type is FieldType.DATE:
        if isinstance(value, datetime):
            value = value.date()
        return value.isoformat() if isinstance(value, date) else str(value)
    if f.type is FieldType.DATETIME:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return str(value)
    if f.type is FieldType.INT:
        return int(value)
    return str(value)


def decode_value(f: Field, value: Any) -> Any:
    """A JSON value from the service as a Python value; what cannot be read is kept as it came."""
    if value is None:
        return None
    try:
        if f.type is FieldType.DECIMAL:
            return Decimal(str(value))
        if f.type is FieldType.DATE:
            return date.fromisoformat(str(value)[:10])
        if f.type is FieldType.DATETIME:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
        if f.type is FieldType.INT:
            return int(value)
    except (InvalidOperation, ValueError, TypeError):
        return value
    return value


def encode_record(resource: Resource, values: dict[str, Any]) -> dict[str, Any]:
    """A JSON body for POST/PATCH from client-field values (unknown keys are dropped)."""
    out: dict[str, Any] = {}
    for f in resource.client_fields:
        if f.name in values:
            out[f.name] = encode_value(f, values[f.name])
    return out


def decode_record(resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
    """A record from the service; fields we do not know are kept verbatim."""
    known = {f.name: f for f in resource.fields}
    return {k: decode_value(known[k], v) if k in known else v for k, v in body.items()}
