"""Raw records for the batch validation tests: valid and invalid variants, written from Segment's documentation.

Payloads follow Segment's HTTP Tracking API (track/identify/page/screen/group/alias; ``previousId``,
``groupId``; numeric ids) and the e-commerce spec v2 (every property optional except our ``order_id`` on order
events; ``revenue`` without ``total``; ``Order Refunded`` with only ``order_id`` = full refund). Each valid call
is turned into the raw record the API lands (``parse_event`` -> ``to_record`` -> ``dumps_record``); invalid
records are valid ones with one field broken, as another writer (or an older API) could have landed them.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from lakehouse.core.contract import parse_event, to_record
from lakehouse.core.contract.examples import example_calls
from lakehouse.core.contract.record import dumps_record

RECEIVED = datetime(2025, 6, 2, 9, 31, tzinfo=UTC)
WHEN = "2025-06-02T09:30:00.000Z"
DELETE = object()


def call(kind: str, **fields: Any) -> dict[str, Any]:
    """A call of ``kind`` (a call type, or a track event name) from customer ``c-1``."""
    base: dict[str, Any] = {"userId": "c-1", "timestamp": WHEN, "messageId": f"m-{kind}"}
    if kind in ("identify", "page", "screen", "group", "alias"):
        return {**base, "type": kind, **fields}
    return {**base, "type": "track", "event": kind, "properties": fields}


def record(payload: dict[str, Any]) -> dict[str, Any]:
    """The raw record the API lands for a valid ``payload`` (schema_version 2)."""
    return to_record(parse_event(payload), payload, source="web", received_at=RECEIVED)


def line(rec: dict[str, Any]) -> str:
    """A record as one raw line (Decimals as exact JSON numbers)."""
    return dumps_record(rec)


def changed(rec: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``rec`` with ``path`` (dotted, list indexes as numbers) set to ``value`` or deleted (:data:`DELETE`)."""
    out = copy.deepcopy(rec)
    *parents, last = path.split(".")
    target: Any = out
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    key: Any = int(last) if last.isdigit() else last
    if value is DELETE:
        del target[key]
    else:
        target[key] = value
    return out


def v1(rec: dict[str, Any]) -> dict[str, Any]:
    """``rec`` as the API wrote it before schema 2: no category/previous_id/group_id/integrations, floats."""
    out = {k: v for k, v in rec.items() if k not in ("category", "previous_id", "group_id", "integrations")}
    out = json.loads(dumps_record(out))  # amounts as floats, as the old API's json.dumps wrote them
    out["schema_version"] = 1
    return out


ORDER = call("Order Completed", order_id="o-1", total=25, currency="usd",
             products=[{"product_id": "p-1", "category": "books", "quantity": 2, "price": 12.5}])
EXAMPLES = {name: record(c) for name, c in example_calls().items()}
ORDER_RECORD = record(ORDER)
PAGE_RECORD = EXAMPLES["page"]
IDENTIFY_RECORD = EXAMPLES["identify"]

#: e-commerce spec v2 events as documented, with the optional properties left out
SPEC_EVENTS = {
    "Products Searched": {"query": "blue hotpants"},
    "Product List Viewed": {"list_id": "hot_deals_1", "category": "Deals",
                            "products": [{"product_id": "507f1f77", "price": 19, "position": 1}]},
    "Product List Filtered": {"filters": [{"type": "department", "value": "beauty"}], "sorts": []},
    "Promotion Viewed": {"promotion_id": "promo_1", "creative": "top_banner_2", "name": "75% store-wide"},
    "Promotion Clicked": {"promotion_id": "promo_1"},
    "Product Clicked": {"product_id": "507f1f77", "price": 18.99, "position": 3},
    "Product Viewed": {"product_id": "507f1f77", "price": 18.99, "currency": "usd"},
    "Product Added": {"cart_id": "skdjsidjsdkdj29j", "product_id": "507f1f77", "quantity": 1},
    "Product Removed": {"product_id": "507f1f77"},
    "Cart Viewed": {"cart_id": "skdjsidjsdkdj29j", "products": [{"product_id": "507f1f77", "quantity": 1}]},
    "Checkout Started": {"order_id": "50314b8e", "revenue": 25.00, "currency": "USD"},
    "Checkout Step Viewed": {"checkout_id": "50314b8e", "step": 2},
    "Checkout Step Completed": {"checkout_id": "50314b8e", "step": 2, "shipping_method": "Fedex"},
    "Payment Info Entered": {"checkout_id": "50314b8e", "payment_method": "Visa"},
    "Order Updated": {"order_id": "50314b8e", "total": 30, "currency": "USD"},
    "Order Cancelled": {"order_id": "50314b8e"},
    "Coupon Entered": {"order_id": "50314b8e", "cart_id": "923923929jd29jd92dj9j93fj3", "coupon_id": "may_deals"},
    "Coupon Applied": {"order_id": "50314b8e", "coupon_id": "may_deals", "discount": 23.32},
    "Coupon Denied": {"coupon_id": "may_deals", "reason": "Coupon expired"},
    "Coupon Removed": {"coupon_id": "may_deals"},
    "Product Added to Wishlist": {"wishlist_id": "skdjsidjsdkdj29j", "product_id": "507f1f77"},
    "Product Removed from Wishlist": {"product_id": "507f1f77"},
    "Wishlist Product Added to Cart": {"product_id": "507f1f77", "cart_id": "343f"},
    "Product Shared": {"share_via": "email", "product_id": "507f1f77"},
    "Cart Shared": {"share_via": "email", "cart_id": "d92jd29jd92jd29j92d92jd"},
    "Product Reviewed": {"product_id": "507f1f77", "review_id": "kdfjrj39fj39jf3", "rating": 5},
}

VALID: dict[str, dict[str, Any]] = {
    **{f"example {name}": rec for name, rec in EXAMPLES.items()},
    **{f"spec {name}": record(call(name, **props)) for name, props in SPEC_EVENTS.items()},
    "order with only revenue": record(call("Order Completed", order_id="o-2", revenue=19.99)),
    "order with only products, no category": record(call(
        "Order Completed", order_id="o-3", products=[{"product_id": "p-1", "price": 5, "quantity": 2}])),
    "order with only order_id": record(call("Order Completed", order_id="o-4")),
    "full refund: only order_id": record(call("Order Refunded", order_id="o-1")),
    "partial refund of one line": record(call("Order Refunded", order_id="o-1",
                                              products=[{"product_id": "p-1", "price": 12.5, "quantity": 1}])),
    "total as a numeric string": changed(ORDER_RECORD, "properties.total", "25.0"),
    "quantity as a numeric string": changed(EXAMPLES["Product Added"], "properties.quantity", "2"),
    "quantity as 2.0": changed(EXAMPLES["Product Added"], "properties.quantity", 2.0),
    "currency in lower case": changed(ORDER_RECORD, "properties.currency", "eur"),
    # a property sent as null counts as absent (its default, or missing): seen refused by the API before
    "typed properties sent as null": record(call("Order Completed", order_id="o-5", currency=None, products=None,
                                                 total=None)),
    "null quantity of a line item": record(call("Order Completed", order_id="o-6",
                                                products=[{"product_id": "p-1", "quantity": None, "price": 5}])),
    "null products of a cart": record(call("Cart Viewed", cart_id="c-1", products=None)),
    "null quantity of a product added": record(call("Product Added", product_id="p-1", quantity=None)),
    "null currency in the raw line": changed(ORDER_RECORD, "properties.currency", None),
    "null products in the raw line": changed(ORDER_RECORD, "properties.products", None),
    "null line quantity in the raw line": changed(ORDER_RECORD, "properties.products.0.quantity", None),
    "null quantity in the raw line": changed(EXAMPLES["Product Added"], "properties.quantity", None),
    "accepted as yes": changed(EXAMPLES["Offer Responded"], "properties.accepted", "yes"),
    "accepted as 0": changed(EXAMPLES["Offer Responded"], "properties.accepted", 0),
    "padded category": changed(EXAMPLES["Product Viewed"], "properties.category", "  books "),
    "extra property kept": changed(EXAMPLES["Product Viewed"], "properties.colour", "red"),
    "free-form custom event": {**PAGE_RECORD, "type": "track", "event": "Wishlist Shared", "name": None,
                               "category": None, "properties": {"anything": [1, {"x": None}]}},
    "anonymous page view": {**changed(PAGE_RECORD, "user_id", None), "anonymous_id": "anon-1",
                            "customer_id": "anon-1"},
    "partial profile update": changed(IDENTIFY_RECORD, "traits", {"geography": "Spain"}),
    "trait set to null": record(call("identify", traits={"city": None, "plan": None, "name": "Ada"})),
    "traits null": record(call("identify", traits=None)),
    "identify with both ids": record({**call("identify", traits={}), "anonymousId": "anon-7"}),
    "screen call": record(call("screen", name="Checkout", category="Shop", properties={"step": 1})),
    "group call with traits": record(call("group", groupId="g-1", traits={"name": "Initech", "employees": None})),
    "alias call": record(call("alias", previousId="anon-7")),
    "numeric user id": record({**call("page", name="Home"), "userId": 4243.0}),
    "numeric user id in the raw line": changed(PAGE_RECORD, "user_id", 4243.0),
    "schema v1 order": v1(ORDER_RECORD),
    "schema v1 identify": v1(IDENTIFY_RECORD),
    "schema v1 page": v1(PAGE_RECORD),
}

INVALID: dict[str, dict[str, Any]] = {
    "order total not a number": changed(ORDER_RECORD, "properties.total", "abc"),
    "order total negative": changed(ORDER_RECORD, "properties.total", -1),
    "order total above 1e9": changed(ORDER_RECORD, "properties.total", 1e10),
    "order total true": changed(ORDER_RECORD, "properties.total", True),
    "order without order_id": changed(ORDER_RECORD, "properties.order_id", DELETE),
    "refund without order_id": record(call("Order Refunded", order_id="o-1")) | {"properties": {}},
    "cancellation without order_id": changed(record(call("Order Cancelled", order_id="o")), "properties", {}),
    "products not a list": changed(ORDER_RECORD, "properties.products", "p-1"),
    "line quantity zero": changed(ORDER_RECORD, "properties.products.0.quantity", 0),
    "line quantity fractional": changed(ORDER_RECORD, "properties.products.0.quantity", 1.5),
    "line price negative": changed(ORDER_RECORD, "properties.products.0.unit_price", -2),
    "bad currency": changed(ORDER_RECORD, "properties.currency", "dollars"),
    "product id too long": changed(EXAMPLES["Product Viewed"], "properties.product_id", "p" * 129),
    "empty category": changed(EXAMPLES["Product Viewed"], "properties.category", "   "),
    "quantity above limit": changed(EXAMPLES["Product Added"], "properties.quantity", 10_001),
    "product price not a number": changed(EXAMPLES["Product Viewed"], "properties.price", "cheap"),
    "checkout step negative": record(call("Checkout Step Viewed", step=1)) | {"properties": {"step": -1}},
    "unknown issue type": changed(EXAMPLES["Ticket Opened"], "properties.issue_type", "weather"),
    "severity in capitals": changed(EXAMPLES["Ticket Opened"], "properties.severity", "HIGH"),
    "satisfaction 6": changed(EXAMPLES["Ticket Resolved"], "properties.satisfaction", 6),
    "resolution hours NaN": changed(EXAMPLES["Ticket Resolved"], "properties.resolution_hours", "nan"),
    "accepted maybe": changed(EXAMPLES["Offer Responded"], "properties.accepted", "maybe"),
    "watch longer than a day": changed(EXAMPLES["Content Watched"], "properties.duration_seconds", 86_401),
    "balance missing": changed(EXAMPLES["Account Snapshot"], "properties.balance", DELETE),
    "age 12": changed(IDENTIFY_RECORD, "traits.age", 12),
    "bad e-mail": changed(IDENTIFY_RECORD, "traits.email", "ada-at-example.com"),
    "unknown gender": changed(IDENTIFY_RECORD, "traits.gender", "robot"),
    "bad signup date": changed(IDENTIFY_RECORD, "traits.signup_date", "05/11/2024"),
    "geography empty": changed(IDENTIFY_RECORD, "traits.geography", ""),
    "no user id and no anonymous id": changed(PAGE_RECORD, "user_id", None),
    "empty user id": changed(PAGE_RECORD, "user_id", "  "),
    "unknown call type": changed(PAGE_RECORD, "type", "merge"),
    "alias without previousId": changed(record(call("alias", previousId="a")), "previous_id", None),
    "alias without userId": {**changed(record(call("alias", previousId="a")), "user_id", None),
                             "anonymous_id": "anon-1"},
    "group without groupId": changed(record(call("group", groupId="g")), "group_id", None),
    "group traits not an object": changed(record(call("group", groupId="g")), "traits", "vip"),
    "previous id too long": changed(record(call("alias", previousId="a")), "previous_id", "a" * 257),
    "screen name too long": changed(record(call("screen", name="s")), "name", "n" * 201),
    "page category too long": changed(PAGE_RECORD, "category", "c" * 201),
    "track without event name": changed(ORDER_RECORD, "event", None),
    "event name too long": changed(ORDER_RECORD, "event", "x" * 201),
    "page name too long": changed(PAGE_RECORD, "name", "n" * 201),
    "timestamp in 2100": changed(PAGE_RECORD, "timestamp", "2100-01-01T00:00:00.000Z"),
    "timestamp not a time": changed(PAGE_RECORD, "timestamp", "yesterday"),
    "properties not an object": changed(PAGE_RECORD, "properties", [1, 2]),
    "traits not an object": changed(IDENTIFY_RECORD, "traits", "vip"),
    "integrations not an object": changed(PAGE_RECORD, "integrations", ["All"]),
    "context not an object": changed(PAGE_RECORD, "context", "web"),
}
