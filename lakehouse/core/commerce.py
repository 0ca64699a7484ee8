"""The e-commerce rules every stage applies the same way: an order's value, a refund's amount (pure).

Segment's e-commerce spec v2 makes every amount optional and names several (``total``, ``revenue``,
``subtotal``, ``value``); sources send different subsets. One rule, in this order of precedence
(docs/ingestion.md, "Order value"):

1. ``total`` (the spec: revenue with discounts and coupons added in, shipping and tax included),
2. ``revenue`` (the spec: revenue of the order, shipping and tax excluded),
3. ``subtotal`` (the spec: after discounts, before shipping and tax),
4. ``value`` (the spec's generic value of the event),
5. the sum of ``price x quantity`` over ``products`` (``quantity`` 1 when absent; lines without a price skip),
6. none of these: the value is unknown (``None``).

A refund's amount follows the same precedence; an ``Order Refunded`` that names no amount and no products is
the spec's *full refund*: the whole remaining value of its order (:data:`FULL_REFUND`). Callers cap the
refunds of an order at its value and flag the excess (``refund_capped``).

Orders are identified by ``order_id``: of several ``Order Completed`` events for one ``order_id`` the first
(earliest event time, then earliest ``received_at``, then smallest ``event_id``) is the order; the others are
duplicates (a client retry, a back-office resend) and count nowhere. ``Order Updated`` replaces the order's
value and currency with the latest update's (same ordering); ``Order Cancelled`` reverses the order: its
value counts 0 from then on.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

#: the amount properties of an order or refund, in order of precedence
AMOUNT_PRECEDENCE = ("total", "revenue", "subtotal", "value")
#: what :func:`refund_amount` returns for the spec's full refund (no amount, no products)
FULL_REFUND = None

ORDER_COMPLETED = "Order Completed"
ORDER_UPDATED = "Order Updated"
ORDER_CANCELLED = "Order Cancelled"
ORDER_REFUNDED = "Order Refunded"
ORDER_EVENTS = (ORDER_COMPLETED, ORDER_UPDATED, ORDER_CANCELLED, ORDER_REFUNDED)


def decimal_of(value: Any) -> Decimal | None:
    """A finite, non-negative number (int, float, Decimal or numeric text) as a Decimal; else None.

    Floats go through their shortest text (``12.3`` -> ``Decimal('12.3')``), never their binary value.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() and number >= 0 else None


def lines_amount(products: Any) -> Decimal | None:
    """Sum of ``price x quantity`` over product lines (``unit_price`` accepted for ``price``); None if none priced."""
    if not isinstance(products, list):
        return None
    total: Decimal | None = None
    for line in products:
        if not isinstance(line, Mapping):
            continue
        price = decimal_of(line.get("price", line.get("unit_price")))
        if price is None:
            continue
        quantity = decimal_of(line.get("quantity", 1))
        total = (total or Decimal(0)) + price * (quantity if quantity is not None else Decimal(1))
    return total


def order_value(properties: Mapping[str, Any]) -> Decimal | None:
    """The value of an order (module docstring's rule), in the order's own currency; None when unknown."""
    for name in AMOUNT_PRECEDENCE:
        amount = decimal_of(properties.get(name))
        if amount is not None:
            return amount
    return lines_amount(properties.get("products"))


def refund_amount(properties: Mapping[str, Any]) -> Decimal | None:
    """The amount of a refund by the same rule; :data:`FULL_REFUND` (None) for the spec's full refund."""
    return order_value(properties)
