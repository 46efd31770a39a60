"""Workbooks of many valid rows, for the proofs under faults and kills."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from qaas_excel.templates import DEMO_OPERATORS, build_workbook


def many_rows(path: Path, n: int, *, with_references: bool = True) -> Path:
    """n valid charge point rows of one operator; every other row without a reference when asked."""
    rows = []
    for i in range(n):
        rows.append({
            "customer_reference": f"K-{i:05d}" if with_references or i % 2 == 0 else None,
            "chargepointoperator_id": "SW-DD", "evse_id": f"DE*SWE*E{i:07d}*1", "street": f"Teststraße {i % 90 + 1}",
            "zip_code": "01067", "town": "Dresden", "commissioning_date": datetime(2021, 6, 1), "max_power_kw": 22,
            "period_start": datetime(2024, 1, 1), "period_end": datetime(2024, 12, 31),
            "amount": round(1000 + i * 1.001, 3)})
    build_workbook(DEMO_OPERATORS[:1], rows, size=0).save(path)
    return path


TODAY = date.today()
