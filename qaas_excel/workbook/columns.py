"""The columns of a template sheet: the resource's client fields, then the system block.

System columns are written by qaas-excel only (grey, protected); the user's own extra
columns anywhere in the table are kept untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from qaas_excel.resources import Resource


@dataclass(frozen=True)
class Column:
    key: str  # API field name, or a system key below
    header: str
    help: str
    system: bool = False
    hidden: bool = False
    number_format: str = "General"
    width: float = 16


# Keys of the system block, in sheet order (status only where the resource has one).
ID, STATUS, LAST_UPDATED, RESULT, MESSAGE, SYNCED_AT, FINGERPRINT = (
    "id", "status", "last_updated", "result", "message", "synced_at", "fingerprint",
)
SYSTEM_KEYS = (ID, STATUS, LAST_UPDATED, RESULT, MESSAGE, SYNCED_AT, FINGERPRINT)

_EXTRA_SYSTEM = {
    RESULT: Column(RESULT, "Result", "What the last validate/push/pull did with this row.",
                   system=True, width=12),
    MESSAGE: Column(MESSAGE, "Message", "Why, in plain words: problems found, the service's answer.",
                    system=True, width=50),
    SYNCED_AT: Column(SYNCED_AT, "Synced at (UTC)",
                      "When this row's values were last sent to or taken from the service (push or pull).",
                      system=True, number_format="yyyy-mm-dd hh:mm:ss", width=20),
    FINGERPRINT: Column(FINGERPRINT, "_qaas_fingerprint",
                        "Fingerprint of the values last pushed; lets qaas-excel skip unchanged rows.",
                        system=True, hidden=True, width=10),
}


def columns_for(resource: Resource) -> list[Column]:
    """Template columns of a resource: input columns first, then the system block."""
    cols = [
        Column(f.name, f.header + (" *" if f.required else ""), f.help,
               number_format=f.number_format, width=f.width)
        for f in resource.client_fields
    ]
    for key in SYSTEM_KEYS:
        if key in _EXTRA_SYSTEM:
            cols.append(_EXTRA_SYSTEM[key])
            continue
        if key == STATUS and not resource.has_status:
            continue
        f = resource.field(key)
        cols.append(Column(f.name, f.header, f.help, system=True, number_format=f.number_format, width=f.width))
    return cols


# The header a run gives a system column it adds where the sheet already has a column of the user's under the
# plain header ("Status", "Result", "Message"): unmistakably ours, and recognised as ours on the next run.
OWN_HEADERS = {STATUS: "QaaS status", RESULT: "QaaS result", MESSAGE: "QaaS message"}


def header_aliases(resource: Resource) -> dict[str, str]:
    """Normalised header text -> key, for workbooks made by hand (no _qaas sheet)."""
    out: dict[str, str] = {}
    for col in columns_for(resource):
        for text in (col.header, col.header.rstrip(" *"), col.key, col.key.replace("_", " ")):
            out[normalise_header(text)] = col.key
        if col.key in OWN_HEADERS:
            out[normalise_header(OWN_HEADERS[col.key])] = col.key
    return out


def added_header(col: Column, theirs: Iterable[str]) -> str:
    """The header of a system column a run adds to a sheet: its own, or where a column of the user's already has
    that header ("Status"), the unmistakable one ("QaaS status")."""
    taken = {normalise_header(text) for text in theirs}
    if col.key in OWN_HEADERS and normalise_header(col.header) in taken:
        return OWN_HEADERS[col.key]
    return col.header


def distinct_headers(resource: Resource) -> set[str]:
    """Normalised headers only a system column of ours has ("QaaS ID", "_qaas_fingerprint", "QaaS status", ...).

    The others ("ID", "Status", "Result", "Message", the bare key names) are common words: a column under one
    of them is ours only beside these, in one block (see ``mapping.locate``); otherwise it is the user's.
    """
    common = {normalise_header(key) for key in SYSTEM_KEYS}
    out = {normalise_header(header) for key, header in OWN_HEADERS.items()
           if key != STATUS or resource.has_status}
    for col in columns_for(resource):
        if col.system and normalise_header(col.header) not in common:
            out.add(normalise_header(col.header))
    return out


def normalise_header(text: object) -> str:
    return " ".join(str(text or "").replace("*", " ").replace("_", " ").split()).casefold()
