"""Sample records for the demo account: what a customer who has used the service for a while would see."""

from __future__ import annotations

from qaas_excel.sandbox import DEFAULT_USER, USERS
from qaas_excel.sandbox.api import now_text
from qaas_excel.sandbox.store import Store


def seed_records(store: Store) -> None:
    """A few operators and charge point records for the default user's account, some already frozen."""
    account = USERS[DEFAULT_USER] or ""
    if store.list("operator", account):
        return
    stamp = now_text()
    ops = [
        ("SW-001", "Stadtwerke Musterstadt GmbH", "Am Kraftwerk 3", "01067", "Dresden"),
        ("LP-002", "Ladepunkt Nord GmbH & Co. KG", "Hafenstraße 12", "20457", "Hamburg"),
    ]
    ids = []
    for ref, name, street, zip_code, town in ops:
        rec = store.insert("operator", account, {
            "customer_reference": ref, "organization_name": name, "street": street, "zip_code": zip_code,
            "town": town, "terms_agreed": "2024-01-15T09:30:00Z", "created": stamp, "last_updated": stamp})
        ids.append(rec["id"])
    points = [
        (ids[0], "DE*SWM*E1000001*1", "Postplatz 1", "01067", "Dresden", "22", "2024", "41234.500", "accepted_by_uba"),
        (ids[0], "DE*SWM*E1000002*1", "Albertplatz 4", "01097", "Dresden", "50", "2024", "98765.125", "sent_to_uba"),
        (ids[1], "DE*LPN*E2000001*1", "Jungfernstieg 7", "20354", "Hamburg", "150", "2025", "210000", "created"),
    ]
    for op_id, evse, street, zip_code, town, kw, year, amount, status in points:
        store.insert("chargepoint", account, {
            "customer_reference": f"SEED-{evse[-9:-2]}", "chargepointoperator_id": op_id, "evse_id": evse,
            "street": street, "zip_code": zip_code, "town": town, "commissioning_date": "2021-06-01",
            "max_power_kw": kw, "period_start": f"{year}-01-01", "period_end": f"{year}-12-31", "amount": amount,
            "status": status, "created": stamp, "last_updated": stamp})
