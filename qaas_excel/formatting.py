"""Numbers in messages and on screen, as these users write them."""

from __future__ import annotations

from decimal import Decimal


def german_number(value: Decimal | int | float, places: int = 3) -> str:
    """1234567.5 -> '1.234.567,500'."""
    text = f"{Decimal(value):,.{places}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
