"""Amounts of money in the handshake: exact decimals with an ISO 4217 currency.

Budgets (negotiation) and prices (guarantees) travel as ``{"amount": "0.05",
"currency": "USD"}``: the amount is a decimal string, so no float rounding changes
what was agreed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["amount_of", "check_money"]


def check_money(amount: Decimal, currency: str, what: str) -> None:
    """Refuse an amount that is not a finite decimal >= 0, or a currency that is not
    three letters.

    Raises:
        ValueError: naming ``what``.
    """
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"a {what} is a finite decimal >= 0")
    if not (len(currency) == 3 and currency.isalpha()):
        raise ValueError(f"{what} currency {currency!r} is not an ISO 4217 code")


def amount_of(data: Any, what: str) -> tuple[Decimal, str]:
    """The amount and currency of ``{"amount": ..., "currency": ...}``.

    Raises:
        ValueError: naming ``what``, when it is not of that shape.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f'a {what} is {{"amount": "5.00", "currency": "USD"}}')
    try:
        amount = Decimal(str(data.get("amount")))
    except InvalidOperation:
        raise ValueError(
            f"{what} amount {data.get('amount')!r} is not a number"
        ) from None
    return amount, str(data.get("currency", "")).upper()
