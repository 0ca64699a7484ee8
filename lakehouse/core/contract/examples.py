"""Valid example calls: one per call type and modelled event (used by docs, the OpenAPI spec and tests).

The e-commerce examples are written from Segment's e-commerce spec v2 property tables: each carries the
properties the spec documents for that event (amounts as JSON numbers).
"""

from __future__ import annotations

import copy
from typing import Any

_BASE = {"userId": "c0000042", "timestamp": "2025-06-02T09:30:00.000Z"}
_LINE = {"product_id": "p-1001", "category": "books", "quantity": 2, "unit_price": 12.5}
_SPEC_LINE = {"product_id": "p-1001", "sku": "BK-101", "category": "books", "name": "Data Lakes 101",
              "quantity": 2, "price": 12.5}
_PRODUCT = {"product_id": "p-1001", "sku": "BK-101", "category": "books", "name": "Data Lakes 101",
            "brand": "Lakeside", "variant": "paperback", "price": 12.5, "quantity": 1, "position": 3,
            "url": "https://shop.example/p/1001", "image_url": "https://shop.example/p/1001.jpg"}
_ORDER = {"order_id": "o-5001", "affiliation": "web shop", "total": 27.0, "subtotal": 22.5, "revenue": 25.0,
          "shipping": 3.0, "tax": 1.5, "discount": 2.5, "coupon": "SPRING", "currency": "USD",
          "products": [_SPEC_LINE]}
_STEP = {"checkout_id": "ch-77", "step": 2, "shipping_method": "courier", "payment_method": "card"}
_COUPON = {"order_id": "o-5001", "cart_id": "cart-9", "coupon_id": "SPRING", "coupon_name": "Spring sale"}
_PROMOTION = {"promotion_id": "promo-1", "creative": "top_banner", "name": "Spring sale",
              "position": "home_top"}
_WISHLIST = {"wishlist_id": "wl-1", "wishlist_name": "Later", **_PRODUCT}

_TRACK_PROPERTIES: dict[str, dict[str, Any]] = {
    "Product Viewed": {"product_id": "p-1001", "category": "books", "price": 12.5, "name": "Data Lakes 101"},
    "Product Added": {"product_id": "p-1001", "category": "books", "price": 12.5, "quantity": 2,
                      "cart_id": "cart-9"},
    "Product Removed": {"product_id": "p-1001", "category": "books", "price": 12.5, "quantity": 1,
                        "cart_id": "cart-9"},
    "Checkout Started": {"order_id": "o-5001", "total": 25.0, "currency": "USD", "products": [_LINE]},
    "Order Completed": {"order_id": "o-5001", "total": 25.0, "currency": "USD", "products": [_LINE]},
    "Order Refunded": {"order_id": "o-5001", "total": 12.5, "currency": "USD"},
    "Ticket Opened": {"ticket_id": "t-77", "issue_type": "delivery", "severity": "high", "channel": "chat"},
    "Ticket Resolved": {"ticket_id": "t-77", "issue_type": "delivery", "severity": "high",
                        "resolution_hours": 30.5, "satisfaction": 2},
    "Offer Sent": {"offer_id": "of-3", "offer_type": "discount", "channel": "email"},
    "Offer Responded": {"offer_id": "of-3", "offer_type": "discount", "accepted": True},
    "Content Watched": {"content_id": "v-88", "app": "tv", "category": "documentary",
                        "duration_seconds": 1800},
    "Account Snapshot": {"product_type": "premium", "balance": 1520.75, "num_products": 3},
    "Account Closed": {"reason": "moved to a competitor"},
}

#: the spec's other e-commerce events (each with the properties its table documents)
_SPEC_TRACK_PROPERTIES: dict[str, dict[str, Any]] = {
    "Products Searched": {"query": "data lakes"},
    "Product List Viewed": {"list_id": "new-books", "category": "books", "products": [_PRODUCT]},
    "Product List Filtered": {"list_id": "new-books", "filters": [{"type": "format", "value": "paperback"}],
                              "sorts": [{"type": "price", "value": "asc"}], "products": [_PRODUCT]},
    "Promotion Viewed": _PROMOTION,
    "Promotion Clicked": _PROMOTION,
    "Product Clicked": _PRODUCT,
    "Cart Viewed": {"cart_id": "cart-9", "products": [_SPEC_LINE]},
    "Checkout Step Viewed": _STEP,
    "Checkout Step Completed": _STEP,
    "Payment Info Entered": {**_STEP, "order_id": "o-6001"},
    "Order Updated": {**_ORDER, "order_id": "o-6001", "total": 39.5, "products": [{**_SPEC_LINE, "quantity": 3}]},
    "Order Cancelled": {**_ORDER, "order_id": "o-6002"},
    "Coupon Entered": _COUPON,
    "Coupon Applied": {**_COUPON, "discount": 2.5},
    "Coupon Denied": {**_COUPON, "reason": "expired"},
    "Coupon Removed": {**_COUPON, "discount": 2.5},
    "Product Added to Wishlist": _WISHLIST,
    "Product Removed from Wishlist": _WISHLIST,
    "Wishlist Product Added to Cart": {**_WISHLIST, "cart_id": "cart-9"},
    "Product Shared": {"share_via": "email", "share_message": "have a look", **_PRODUCT},
    "Cart Shared": {"share_via": "sms", "cart_id": "cart-9", "products": [_SPEC_LINE]},
    "Product Reviewed": {"product_id": "p-1001", "review_id": "rv-1", "review_body": "Clear and short.",
                         "rating": 5},
}

_OTHER_CALLS: dict[str, dict[str, Any]] = {
    "identify": {"type": "identify", "traits": {
        "name": "Ada Martin", "email": "ada@example.com", "age": 34, "gender": "female",
        "geography": "France", "city": "Lyon", "signup_date": "2024-11-05"}},
    "page": {"type": "page", "name": "Home", "properties": {"path": "/", "url": "https://shop.example/"}},
}


#: the calls of the other types (screen, group, alias)
_NEW_CALLS: dict[str, dict[str, Any]] = {
    "screen": {"type": "screen", "name": "Basket", "category": "checkout", "properties": {"variation": "dark"}},
    "group": {"type": "group", "groupId": "acme-1", "traits": {"name": "Acme SARL", "industry": "retail",
                                                                "employees": 42, "plan": "pro"}},
    "alias": {"type": "alias", "previousId": "a-7f3c"},
}


def example_calls() -> dict[str, dict[str, Any]]:
    """The original examples: call name ('Order Completed', 'identify', 'page', …) -> a fresh, valid call.

    One per project domain event and the first six e-commerce events, plus identify and page; their values
    do not change (other tests compute their expectations from them). :func:`all_example_calls` has more.
    """
    calls = {name: {"type": "track", "event": name, **_BASE, "properties": props}
             for name, props in _TRACK_PROPERTIES.items()}
    calls.update({name: {**_BASE, **call} for name, call in _OTHER_CALLS.items()})
    return copy.deepcopy(calls)


def all_example_calls() -> dict[str, dict[str, Any]]:
    """Every call type and every modelled track event -> a fresh, valid call (:func:`example_calls` and more).

    The extra order events name orders of their own (``o-6001``, ``o-6002``), so that adding them to a data
    set does not change the example order ``o-5001``.
    """
    calls = example_calls()
    calls.update({name: {"type": "track", "event": name, **_BASE, "properties": props}
                  for name, props in _SPEC_TRACK_PROPERTIES.items()})
    calls.update({name: {**_BASE, **call} for name, call in _NEW_CALLS.items()})
    return copy.deepcopy(calls)
