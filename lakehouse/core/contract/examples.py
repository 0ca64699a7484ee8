"""One valid example call per call type and domain event (used by docs, the OpenAPI spec and tests)."""

from __future__ import annotations

import copy
from typing import Any

_BASE = {"userId": "c0000042", "timestamp": "2025-06-02T09:30:00.000Z"}
_LINE = {"product_id": "p-1001", "category": "books", "quantity": 2, "unit_price": 12.5}

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

_OTHER_CALLS: dict[str, dict[str, Any]] = {
    "identify": {"type": "identify", "traits": {
        "name": "Ada Martin", "email": "ada@example.com", "age": 34, "gender": "female",
        "geography": "France", "city": "Lyon", "signup_date": "2024-11-05"}},
    "page": {"type": "page", "name": "Home", "properties": {"path": "/", "url": "https://shop.example/"}},
}


def example_calls() -> dict[str, dict[str, Any]]:
    """Call name ('Order Completed', 'identify', 'page', …) -> a fresh, valid Segment-style call."""
    calls = {name: {"type": "track", "event": name, **_BASE, "properties": props}
             for name, props in _TRACK_PROPERTIES.items()}
    calls.update({name: {**_BASE, **call} for name, call in _OTHER_CALLS.items()})
    return copy.deepcopy(calls)
