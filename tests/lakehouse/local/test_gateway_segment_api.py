"""Segment's whole HTTP tracking API through the real local gateway and the real function: every route, every
e-commerce spec v2 event, Segment's field semantics, the event-time rule, and privacy in quarantine and logs.

The payloads are written from Segment's documentation (HTTP Tracking API; Spec: identify, page, screen,
group, alias; e-commerce spec v2 event tables), not from the contract's own examples.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from lakehouse.core.config import Settings
from lakehouse.core.contract import iso
from lakehouse.core.write_keys import WriteKeyStore
from lakehouse.local.aws.provision import provision
from lakehouse.local.gateway import LocalGateway
from tests.lambdas.ingest.conftest import raw_records, stream_lines, stream_records

PRODUCT = {"product_id": "507f1f77bcf86cd799439011", "sku": "G-32", "category": "Games",
           "name": "Monopoly: 3rd Edition", "brand": "Hasbro", "variant": "200 pieces", "price": 18.99,
           "quantity": 1, "coupon": "MAYDEALS", "position": 3, "url": "https://www.example.com/product/path",
           "image_url": "https://www.example.com/product/path.jpg"}
LINES = [{"product_id": "507f1f77bcf86cd799439011", "sku": "45790-32", "name": "Monopoly: 3rd Edition",
          "price": 19, "quantity": 1, "category": "Games"},
         {"product_id": "505bd76785ebb509fc183733", "sku": "46493-32", "name": "Uno Card Game", "price": 3,
          "quantity": 2, "category": "Games"}]
ORDER = {"order_id": "50314b8e9bcf000000000000", "affiliation": "Google Store", "total": 27.50, "subtotal": 22.50,
         "revenue": 25.00, "shipping": 3, "tax": 2, "discount": 2.5, "coupon": "hasbros", "currency": "USD",
         "products": LINES}
STEP = {"checkout_id": "50314b8e9bcf000000000000", "step": 2, "shipping_method": "Fedex", "payment_method": "Visa"}
WISHLIST = {"wishlist_id": "skdjsidjsdkdj29j", "wishlist_name": "Loved Games", **PRODUCT}

#: every event of the e-commerce spec v2, with the properties of the spec's own tables
SPEC_EVENTS: dict[str, dict[str, Any]] = {
    "Products Searched": {"query": "blue roses"},
    "Product List Viewed": {"list_id": "hot_deals_1", "category": "Deals", "products": [PRODUCT]},
    "Product List Filtered": {"list_id": "todays_deals_may_11_2019", "filters": [
        {"type": "department", "value": "beauty"}, {"type": "price", "value": "under-$25"}],
        "sorts": [{"type": "price", "value": "desc"}], "products": [PRODUCT]},
    "Promotion Viewed": {"promotion_id": "promo_1", "creative": "top_banner_2", "name": "75% store-wide shoe sale",
                         "position": "home_banner_top"},
    "Promotion Clicked": {"promotion_id": "promo_1", "creative": "top_banner_2",
                          "name": "75% store-wide shoe sale", "position": "home_banner_top"},
    "Product Clicked": PRODUCT,
    "Product Viewed": {**PRODUCT, "currency": "usd", "value": 18.99},
    "Product Added": {"cart_id": "skdjsidjsdkdj29j", **PRODUCT},
    "Product Removed": {"cart_id": "ksjdj92dj29dj92d2j", **PRODUCT},
    "Cart Viewed": {"cart_id": "d92jd29jd92jd29j92d92jd", "products": LINES},
    "Checkout Started": {**{k: v for k, v in ORDER.items() if k != "subtotal"}, "value": 30},
    "Checkout Step Viewed": STEP,
    "Checkout Step Completed": STEP,
    "Payment Info Entered": {"checkout_id": "39f39fj39f3jf93fj9fj39fj3f",
                             "order_id": "dkfsjidfjsdifsdfksdjfkdsfjsdfkdsf"},
    "Order Updated": {**ORDER, "total": 30.0},
    "Order Completed": {"checkout_id": "fksdjfsdjfisjf9sdfjsd9f", **ORDER},
    "Order Refunded": {"order_id": "50314b8e9bcf000000000000", "total": 30, "currency": "USD", "products": LINES},
    "Order Cancelled": ORDER,
    "Coupon Entered": {"order_id": "50314b8e9bcf000000000000", "cart_id": "923923929jd29jd92dj9j93fj3",
                       "coupon_id": "may_deals_2016"},
    "Coupon Applied": {"order_id": "50314b8e9bcf000000000000", "cart_id": "923923929jd29jd92dj9j93fj3",
                       "coupon_id": "may_deals_2016", "coupon_name": "May Deals 2016", "discount": 23.32},
    "Coupon Denied": {"order_id": "50314b8e9bcf000000000000", "cart_id": "923923929jd29jd92dj9j93fj3",
                      "coupon": "may_deals_2016", "reason": "Coupon expired"},
    "Coupon Removed": {"order_id": "50314b8e9bcf000000000000", "cart_id": "923923929jd29jd92dj9j93fj3",
                       "coupon_id": "may_deals_2016", "coupon_name": "May Deals 2016", "discount": 23.32},
    "Product Added to Wishlist": WISHLIST,
    "Product Removed from Wishlist": WISHLIST,
    "Wishlist Product Added to Cart": {**WISHLIST, "cart_id": "99j2d92j9dj29dj29d2d"},
    "Product Shared": {"share_via": "email", "share_message": "Hey, check out this item",
                       "recipient": "friend@example.com", **{k: v for k, v in PRODUCT.items() if k != "quantity"}},
    "Cart Shared": {"share_via": "email", "share_message": "Hey, check out this item",
                    "recipient": "friend@example.com", "cart_id": "d92jd29jd92jd29j92d92jd",
                    "products": [{"product_id": "507f1f77bcf86cd799439011"},
                                 {"product_id": "505bd76785ebb509fc183733"}]},
    "Product Reviewed": {"product_id": "507f1f77bcf86cd799439011", "review_id": "kdfjrj39fj39jf3",
                         "review_body": "I love this product", "rating": "5"},
}

#: one call per route, as Segment's HTTP API documents them (the route gives the type)
ROUTE_CALLS: dict[str, dict[str, Any]] = {
    "track": {"userId": "019mr8mf4r", "event": "Item Purchased", "properties": {"name": "Leap to Conclusions Mat",
                                                                                "revenue": 14.99}},
    "identify": {"userId": "019mr8mf4r", "anonymousId": "507f191e810c19729de860ea",
                 "traits": {"email": "pgibbons@example.com", "name": "Peter Gibbons", "industry": "Technology"}},
    "page": {"userId": "019mr8mf4r", "name": "Tracking HTTP API", "category": "Docs",
             "properties": {"url": "https://segment.com/docs/connections/sources/catalog/libraries/server/http/"}},
    "screen": {"userId": "019mr8mf4r", "name": "Tracking HTTP API", "properties": {"variation": "blue"}},
    "group": {"userId": "019mr8mf4r", "groupId": "8e9df332ac", "traits": {"name": "Initech", "industry": "Technology",
                                                                          "employees": 329, "plan": "enterprise"}},
    "alias": {"previousId": "507f191e810c19729de860ea", "userId": "019mr8mf4r"},
}


@pytest.fixture(scope="module")
def stage(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory):
    """A provisioned stage with a local lake, a write key and the local gateway in front of the real function."""
    settings = Settings(stage="g" + uuid.uuid4().hex[:10], home=tmp_path_factory.mktemp("segment") / "home")
    provision(settings)
    key = WriteKeyStore(settings.names.write_keys_table, settings.region).create("segment").key
    with LocalGateway(settings, concurrency=2) as gateway:
        yield settings, key, gateway


def post(stage, route: str, document: Any) -> tuple[int, dict[str, Any]]:
    _, key, gateway = stage
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    request = urllib.request.Request(gateway.url + route, data=data, method="POST",
                                     headers={"Content-Type": "application/json", "Authorization":
                                              "Basic " + base64.b64encode(f"{key}:".encode()).decode()})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def records_by_id(settings: Settings, zone: str = "raw") -> dict[str, dict[str, Any]]:
    """event_id -> record: what the API acknowledged (on the stream, for ``raw``) or stored in ``zone``."""
    found = stream_records(settings) if zone == "raw" else raw_records(settings, zone)
    return {r.get("event_id") or r["payload"].get("messageId"): r for _, r in found}


def raw_lines(settings: Settings) -> dict[str, str]:
    """event_id -> the line as the API put it on the stream, which the raw archive stores byte for byte (text: to
    see how numbers are written)."""
    return {json.loads(data)["event_id"]: data.decode() for _, data in stream_lines(settings)}


def mid() -> str:
    return f"m-{uuid.uuid4().hex}"


NOW = iso(datetime.now(UTC))


@pytest.mark.parametrize("event", sorted(SPEC_EVENTS))
def test_every_spec_v2_event_is_accepted_on_the_track_route(stage, event: str) -> None:
    message_id = mid()
    call = {"userId": "u-spec", "event": event, "properties": SPEC_EVENTS[event], "messageId": message_id,
            "timestamp": NOW}
    status, body = post(stage, "/v1/track", call)
    assert (status, body["accepted"], body["rejected"]) == (200, 1, 0), body
    record = records_by_id(stage[0])[message_id]
    assert record["event"] == event and record["type"] == "track" and record["schema_version"] == 2


def test_every_route_accepts_its_call_and_the_record_has_segment_fields(stage) -> None:
    settings = stage[0]
    ids = {}
    for kind, call in ROUTE_CALLS.items():
        ids[kind] = mid()
        status, body = post(stage, f"/v1/{kind}", {**call, "messageId": ids[kind], "timestamp": NOW,
                                                   "integrations": {"All": True, "Mixpanel": False}})
        assert (status, body["accepted"]) == (200, 1), (kind, body)
    by_id = records_by_id(settings)
    records = {kind: by_id[message_id] for kind, message_id in ids.items()}
    assert {kind: r["type"] for kind, r in records.items()} == {kind: kind for kind in ROUTE_CALLS}
    assert all(r["integrations"] == {"All": True, "Mixpanel": False} for r in records.values())
    assert (records["page"]["name"], records["page"]["category"]) == ("Tracking HTTP API", "Docs")
    assert records["screen"]["name"] == "Tracking HTTP API" and records["screen"]["category"] is None
    assert records["group"]["group_id"] == "8e9df332ac" and records["group"]["traits"]["employees"] == 329
    assert (records["alias"]["previous_id"], records["alias"]["customer_id"]) == ("507f191e810c19729de860ea",
                                                                                 "019mr8mf4r")
    assert records["identify"]["traits"]["email"].endswith("@hashed.invalid")  # the PII rule
    assert all(r["previous_id"] is None for k, r in records.items() if k != "alias")
    streamed = {r["event_id"] for _, r in stream_records(settings)}
    assert set(ids.values()) <= streamed


def test_a_batch_mixes_every_call_type_as_the_libraries_send_them(stage) -> None:
    """Segment's and RudderStack's libraries batch every call type in one /v1/batch; screen, group and alias
    used to be answered 200 and put in quarantine, so the client never learnt they were lost."""
    batch = [{**call, "type": kind, "messageId": mid(), "timestamp": NOW} for kind, call in ROUTE_CALLS.items()]
    batch += [{"type": "track", "event": name, "userId": "u-mixed", "properties": props, "messageId": mid()}
              for name, props in SPEC_EVENTS.items()]
    status, body = post(stage, "/v1/batch", {"batch": batch, "sentAt": NOW, "context": {"library": {
        "name": "analytics-python", "version": "2.3.3"}}})
    assert (status, body["accepted"], body["rejected"]) == (200, len(batch), 0), body["errors"]
    by_id = records_by_id(stage[0])
    assert {by_id[c["messageId"]]["type"] for c in batch} == set(ROUTE_CALLS)
    assert all(by_id[c["messageId"]]["context"]["library"]["name"] == "analytics-python" for c in batch)


def test_spec_shaped_orders_keep_their_meaning_in_the_raw_record(stage) -> None:
    """What the old contract refused with 400: an order with only revenue, a refund with only order_id,
    products without category; and unknown properties dropped nowhere."""
    settings = stage[0]
    only_revenue, full_refund, no_category = mid(), mid(), mid()
    calls = [
        {"type": "track", "event": "Order Completed", "userId": "u-order", "messageId": only_revenue,
         "properties": {"order_id": "o-rev", "revenue": "<25.10>", "gift_wrap": True, "channel_code": "B2C-7"}},
        {"type": "track", "event": "Order Refunded", "userId": "u-order", "messageId": full_refund,
         "properties": {"order_id": "o-rev"}},
        {"type": "track", "event": "Order Completed", "userId": "u-order", "messageId": no_category,
         "properties": {"order_id": "o-nocat", "total": 22, "products": [
             {"product_id": "p-1", "price": "<19.999999999999999999>", "quantity": 1, "colour": "red"},
             {"sku": "46493-32", "price": 3}]}},
        {"type": "track", "event": "Product Viewed", "userId": "u-order", "messageId": mid(),
         "properties": {"product_id": "p-1"}},
    ]
    # amounts written as the client wrote them (json.dumps would print 25.1 and 20.0)
    text = json.dumps({"batch": calls}).replace('"<', "").replace('>"', "").encode()
    assert b'"revenue": 25.10' in text and b'"price": 19.999999999999999999' in text
    status, body = post(stage, "/v1/batch", text)
    assert (status, body["accepted"], body["rejected"]) == (200, 4, 0), body
    by_id = records_by_id(settings)
    order = by_id[only_revenue]["properties"]
    assert order["revenue"] == 25.1 and "total" not in order
    assert (order["gift_wrap"], order["channel_code"]) == (True, "B2C-7")
    assert by_id[full_refund]["properties"] == {"order_id": "o-rev", "currency": "USD", "products": []}
    lines = by_id[no_category]["properties"]["products"]
    assert [line.get("category") for line in lines] == [None, None] and lines[0]["colour"] == "red"
    assert lines[1] == {"sku": "46493-32", "quantity": 1, "unit_price": 3}
    text = raw_lines(settings)
    assert '"revenue":25.10' in text[only_revenue]  # the amount exactly as sent, a JSON number
    assert '"unit_price":19.999999999999999999' in text[no_category]  # not re-rounded through a float
    line = json.loads(text[no_category], parse_float=Decimal)
    assert line["properties"]["products"][0]["unit_price"] == Decimal("19.999999999999999999")


def test_segment_field_semantics_numeric_ids_null_traits_and_null_trait_objects(stage) -> None:
    settings = stage[0]
    numeric, cleared, no_traits = mid(), mid(), mid()
    calls = [
        {"type": "track", "event": "Signed In", "userId": 4243.0, "anonymousId": 1e21, "messageId": numeric},
        {"type": "identify", "userId": "4243", "messageId": cleared,
         "traits": {"email": None, "city": None, "name": "Ada", "plan": None}},
        {"type": "identify", "userId": "4243", "messageId": no_traits, "traits": None},
        {"type": "group", "userId": 4243, "groupId": 77.0, "messageId": mid(), "traits": {"plan": None}},
        {"type": "alias", "userId": 4243.0, "previousId": 0.5, "messageId": mid()},
    ]
    status, body = post(stage, "/v1/batch", {"batch": calls})
    assert (status, body["accepted"]) == (200, 5), body
    by_id = records_by_id(settings)
    assert (by_id[numeric]["user_id"], by_id[numeric]["anonymous_id"], by_id[numeric]["customer_id"]) == (
        "4243", "1e+21", "4243")
    assert by_id[cleared]["traits"] == {"email": None, "city": None, "name": "Ada", "plan": None}
    assert by_id[no_traits]["traits"] == {}
    group = by_id[calls[3]["messageId"]]
    assert (group["group_id"], group["user_id"], group["traits"]) == ("77", "4243", {"plan": None})
    alias = by_id[calls[4]["messageId"]]
    assert (alias["user_id"], alias["previous_id"]) == ("4243", "0.5")


def test_a_call_of_another_type_on_a_single_route_is_refused_naming_type(stage) -> None:
    status, body = post(stage, "/v1/alias", {"type": "track", "event": "X", "userId": "u", "previousId": "a"})
    assert status == 400 and body["code"] == "invalid_event" and body["field"] == "type"
    status, body = post(stage, "/v1/group", {"userId": "u"})
    assert status == 400 and body["field"] == "groupId" and "groupId" in body["message"]


@pytest.mark.parametrize(("timestamp", "sent_at", "rule"), [
    ("2099-01-01T00:00:00Z", "now", "future_tolerance_seconds"),
    ("2099-01-01T00:00:00Z", None, "future_tolerance_seconds"),
    ("1971-01-01T00:00:00Z", "now", "earliest_event_date"),
    ("1971-01-01T00:00:00Z", None, "earliest_event_date"),
])
def test_2099_and_1971_are_quarantined_with_the_rule_and_a_redacted_copy(stage, timestamp, sent_at, rule) -> None:
    """Before the rule both were accepted (the skew correction cannot see a wrong timestamp whose sentAt is
    current or absent); and quarantine stored the call as sent, e-mail address and full IP included."""
    settings = stage[0]
    message_id = mid()
    call = {"type": "identify", "userId": "u-time", "messageId": message_id, "timestamp": timestamp,
            "traits": {"email": "ada@example.com"}, "context": {"ip": "203.0.113.77"}}
    document = {"batch": [call], **({"sentAt": iso(datetime.now(UTC))} if sent_at else {})}
    status, body = post(stage, "/v1/batch", document)
    assert status == 400 and body["errors"][0]["errors"][0]["field"] == "timestamp"
    assert rule in body["errors"][0]["errors"][0]["reason"]
    quarantined = records_by_id(settings, "quarantine")[message_id]
    assert quarantined["errors"][0]["field"] == "timestamp" and rule in quarantined["errors"][0]["reason"]
    stored = json.dumps(quarantined)
    assert "ada@example.com" not in stored and "203.0.113.77" not in stored
    assert quarantined["payload"]["context"]["ip"] == "203.0.113.0"
    assert quarantined["payload"]["traits"]["email"].endswith("@hashed.invalid")
    assert message_id not in records_by_id(settings)


def test_a_device_clock_in_2099_is_corrected_by_its_sent_at(stage) -> None:
    """The skewed case: the whole device clock is decades ahead, sentAt shows it, the correction fixes it."""
    settings = stage[0]
    message_id = mid()
    skew = datetime(2099, 1, 1, tzinfo=UTC) - datetime.now(UTC)
    event_time = datetime.now(UTC) - timedelta(minutes=5)
    call = {"type": "track", "event": "Order Completed", "userId": "u-skew", "messageId": message_id,
            "timestamp": iso(event_time + skew), "properties": {"order_id": "o-skew", "total": 10}}
    status, body = post(stage, "/v1/batch", {"batch": [call], "sentAt": iso(datetime.now(UTC) + skew)})
    assert (status, body["accepted"]) == (200, 1), body
    corrected = datetime.fromisoformat(records_by_id(settings)[message_id]["timestamp"].replace("Z", "+00:00"))
    assert abs(corrected - event_time) < timedelta(seconds=10)


def test_access_logs_keep_truncated_ips_only(moto_endpoint: str, tmp_path, capfd, request) -> None:
    """The gateway's access line and the function's own log line carry 127.0.0.0, never 127.0.0.1 (the
    http.server line used the full client address)."""
    settings = Settings(stage="g" + uuid.uuid4().hex[:10], home=tmp_path / "home")
    provision(settings)
    key = WriteKeyStore(settings.names.write_keys_table, settings.region).create("logs").key
    function_log = logging.getLogger("ingest")
    level, seen = function_log.level, Recorded()
    function_log.setLevel(logging.INFO)  # a quiet gateway earlier in the session turned it down
    function_log.addHandler(seen)
    request.addfinalizer(lambda: (function_log.setLevel(level), function_log.removeHandler(seen)))
    with LocalGateway(settings, quiet=False) as gateway:
        status, _ = post((settings, key, gateway), "/v1/screen", {"userId": "u", "name": "Home"})
    assert status == 200
    _, err = capfd.readouterr()
    access = [line for line in err.splitlines() if '"POST /v1/screen HTTP/1.1" 200' in line]
    assert access and all(line.startswith("127.0.0.0 - - [") for line in access), err[-2000:]
    assert "127.0.0.1 -" not in err
    ingested = [r for r in seen.records if r.getMessage() == "ingested"]
    assert [r.source_ip for r in ingested] == ["127.0.0.0"]  # the function's own line, under the ip rule


class Recorded(logging.Handler):
    """The log records of a logger, as the function's JSON formatter receives them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
