"""Numbers in messages and on screen, as these users write them."""

from __future__ import annotations

from decimal import Decimal

from qaas_excel.parsing import decimal_places


def german_number(value: Decimal | int | float, places: int = 3) -> str:
    """1234567.5 -> '1.234.567,500'."""
    text = f"{Decimal(value):,.{places}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def german_number_as_typed(value: Decimal) -> str:
    """A number with the decimals the user typed: 22 stays 22, 11.5 shows as 11,5."""
    return german_number(value, decimal_places(value))
