"""The order-value rule of the e-commerce spec v2's amounts, by hand-written cases."""

from decimal import Decimal

import pytest

from lakehouse.core.commerce import decimal_of, lines_amount, order_value, refund_amount

PRODUCTS = [{"product_id": "a", "price": 19.99, "quantity": 2}, {"product_id": "b", "price": "5.01"}]


@pytest.mark.parametrize(("properties", "expected"), [
    ({"total": 30, "revenue": 25, "subtotal": 22, "value": 1}, "30"),
    ({"revenue": 25.5, "subtotal": 22}, "25.5"),            # the spec's revenue-only order
    ({"subtotal": 22, "value": 1}, "22"),
    ({"value": "7.25"}, "7.25"),
    ({"products": PRODUCTS}, "44.99"),                     # 19.99 x 2 + 5.01 x 1
    ({"total": None, "revenue": 12}, "12"),                # null is absent
    ({"total": -5, "revenue": 12}, "12"),                  # a negative total is not an amount
    ({"total": "abc", "products": PRODUCTS}, "44.99"),
    ({"total": 0}, "0"),                                   # a free order has value 0, not unknown
    ({"products": [{"product_id": "a"}]}, None),           # no price anywhere: unknown
    ({}, None),
])
def test_order_value(properties, expected):
    assert order_value(properties) == (None if expected is None else Decimal(expected))


def test_float_goes_through_its_text():
    """0.1 + 0.2 must not carry binary noise: Decimal(0.1) would be 0.1000000000000000055511151231257827."""
    assert decimal_of(0.1) == Decimal("0.1")
    assert lines_amount([{"price": 0.1, "quantity": 3}]) == Decimal("0.3")


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), [], {}, None, "1e", -0.01])
def test_not_amounts(value):
    assert decimal_of(value) is None


def test_full_refund_has_no_amount():
    assert refund_amount({"order_id": "o1"}) is None
    assert refund_amount({"order_id": "o1", "products": [{"product_id": "a", "price": 5, "quantity": 1}]}) == 5
