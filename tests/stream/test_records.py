"""Records on the stream -> events or rejects naming the field at fault (raw record schema 1 and 2)."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from lakehouse.core.config import EventTimeSettings
from stream.records import RawStreamRecord, Rejected, StreamEvent, identifier, money, parse_record

from .conftest import BAD_FIELDS, BAD_RECORDS, make_call, raw_record, record_bytes

RECEIVED = "2025-06-02T10:00:00.000Z"


def record(payload: dict | bytes, seq: str = "7") -> RawStreamRecord:
    data = payload if isinstance(payload, bytes) else record_bytes(payload)
    return RawStreamRecord(data, "shardId-000000000001", seq, datetime(2025, 6, 1, tzinfo=UTC))


def v2(kind: str, **fields) -> dict:
    """A schema-2 raw record written from the Segment spec (not through the API's code)."""
    base = {"event_id": f"m-{kind}", "message_id": f"m-{kind}", "type": kind, "event": None, "name": None,
            "category": None, "user_id": "u1", "anonymous_id": None, "customer_id": "u1", "previous_id": None,
            "group_id": None, "timestamp": "2025-06-02T09:30:00.000Z", "original_timestamp": None, "sent_at": None,
            "received_at": RECEIVED, "source": "test", "properties": {}, "traits": {}, "context": {},
            "integrations": {}, "schema_version": 2}
    return {**base, **fields}


def test_a_raw_record_from_the_api_becomes_an_event() -> None:
    call = make_call("Order Completed", "c042", datetime(2025, 6, 2, 9, 30, tzinfo=UTC), "m-1", random.Random(3),
                     total=Decimal("19.995"))
    event = parse_record(record(raw_record(call), seq="12"))
    assert isinstance(event, StreamEvent)
    assert (event.event_id, event.customer_id, event.name, event.order_id) == ("m-1", "c042", "Order Completed",
                                                                              "o-m-1")
    assert event.timestamp == datetime(2025, 6, 2, 9, 30, tzinfo=UTC) and event.day == "2025-06-02"
    # issue 11: the exact decimal as sent (rounding to cents happens once, when converted), not 20.00
    assert event.amount == Decimal("19.995") and event.currency == "USD"
    assert event.position == ("shardId-000000000001", 12) and event.arrival == datetime(2025, 6, 1, tzinfo=UTC)
    assert event.received_at is not None


@pytest.mark.parametrize(("payload", "field", "words"), [
    *[(bad, field, "") for bad, field in zip(BAD_RECORDS, BAD_FIELDS, strict=True)],
    (b"\xff\xfe garbage", "data", "not UTF-8 JSON"),
    (BAD_RECORDS[2], "type", "unknown event type 'batch'"),
    ({"event_id": "x", "type": "track", "customer_id": "c", "timestamp": "yesterday"}, "timestamp", "ISO 8601"),
    ({"event_id": "x", "type": "track", "customer_id": "c", "timestamp": "2025-01-01T00:00:00Z"}, "event",
     "event name"),
    ({"type": "page", "customer_id": "c", "timestamp": "2025-01-01T00:00:00Z"}, "event_id", "missing"),
    ({"event_id": "x", "type": "track", "event": "Order Refunded", "customer_id": "c",
      "timestamp": "2025-01-01T00:00:00Z", "properties": {"order_id": "o1", "total": -5}}, "properties.total",
     "non-negative"),
    ({"event_id": "x", "type": "track", "event": "Order Updated", "customer_id": "c",
      "timestamp": "2025-01-01T00:00:00Z", "properties": {"total": 5}}, "properties.order_id", "order's id"),
    ({"event_id": "x", "type": "track", "event": "Ticket Opened", "customer_id": "c",
      "timestamp": "2025-01-01T00:00:00Z", "properties": {}}, "properties.ticket_id", "ticket id"),
    (v2("alias"), "previous_id", "previous id"),
    (v2("page", schema_version=3), "schema_version", "not one of"),
])
def test_bad_records_are_rejected_with_the_field_named(payload, field: str, words: str) -> None:
    outcome = parse_record(record(payload))
    assert isinstance(outcome, Rejected)
    assert any(p.field == field and words in p.reason for p in outcome.problems), outcome.problems
    assert outcome.text  # the payload is kept for quarantine


def test_every_problem_of_a_record_is_listed() -> None:
    outcome = parse_record(record({"type": "batch", "timestamp": "nope"}))
    assert isinstance(outcome, Rejected)
    assert {p.field for p in outcome.problems} == {"event_id", "customer_id", "type", "timestamp"}


def test_unknown_track_event_names_are_valid_events_without_feature_effects() -> None:
    event = parse_record(record({"event_id": "x", "type": "track", "event": "Wishlist Shared", "customer_id": "c",
                                 "timestamp": "2025-01-01T00:00:00Z"}))
    assert isinstance(event, StreamEvent) and event.amount is None and event.is_activity


def test_every_segment_call_type_of_schema_2_is_read() -> None:
    """screen is activity like page; group and alias are not; identify with both ids and alias state links."""
    screen = parse_record(record(v2("screen", name="Home", properties={"name": "Home"})))
    group = parse_record(record(v2("group", group_id="g-1", traits={"plan": "team", "seats": None})))
    alias = parse_record(record(v2("alias", previous_id="anon-9", anonymous_id="anon-9", user_id="u1")))
    identify = parse_record(record(v2("identify", anonymous_id="anon-7", traits={"email": None})))
    anonymous_page = parse_record(record(v2("page", user_id=None, anonymous_id="anon-7", customer_id="anon-7")))
    for event in (screen, group, alias, identify, anonymous_page):
        assert isinstance(event, StreamEvent), event
    assert screen.is_activity and identify.is_activity and anonymous_page.is_activity  # type: ignore[union-attr]
    assert not group.is_activity and not alias.is_activity  # type: ignore[union-attr]
    assert alias.link == ("anon-9", "u1") and identify.link == ("anon-7", "u1")  # type: ignore[union-attr]
    assert screen.link is None and anonymous_page.link is None  # type: ignore[union-attr]
    only_anonymous = parse_record(record(v2("alias", previous_id="old-id", user_id=None, anonymous_id="anon-3",
                                            customer_id="anon-3")))
    assert only_anonymous.link == ("old-id", "anon-3")  # type: ignore[union-attr]  # spec: userId or anonymousId


@pytest.mark.parametrize(("properties", "amount"), [
    ({"order_id": "o1", "revenue": 40, "subtotal": 35}, Decimal("40")),  # revenue-only order: its revenue
    ({"order_id": "o1", "total": Decimal("25.10"), "revenue": 40}, Decimal("25.10")),
    ({"order_id": "o1", "products": [{"price": Decimal("2.5"), "quantity": 3}, {"price": 1}]}, Decimal("8.5")),
    ({"order_id": "o1"}, None),
])
def test_order_value_follows_the_commerce_rule(properties: dict, amount: Decimal | None) -> None:
    event = parse_record(record(v2("track", event="Order Completed", properties=properties)))
    assert isinstance(event, StreamEvent) and event.amount == amount


def test_a_refund_with_only_the_order_id_is_a_full_refund_and_currency_is_upper_case() -> None:
    full = parse_record(record(v2("track", event="Order Refunded", properties={"order_id": "o1"})))
    part = parse_record(record(v2("track", event="Order Refunded",
                                  properties={"order_id": "o1", "currency": "eur", "products": [{"price": 4}]})))
    assert isinstance(full, StreamEvent) and full.amount is None and full.currency is None
    assert isinstance(part, StreamEvent) and part.amount == Decimal("4") and part.currency == "EUR"


def test_schema_1_records_are_still_read() -> None:
    v1 = {"event_id": "old", "message_id": "old", "type": "track", "event": "Order Completed", "name": None,
          "user_id": "c1", "anonymous_id": None, "customer_id": "c1", "timestamp": "2025-06-02T09:30:00.000Z",
          "received_at": RECEIVED, "properties": {"order_id": "o-1", "total": 12.5}, "traits": {}, "context": {},
          "schema_version": 1}
    event = parse_record(record(json.dumps(v1).encode()))
    assert isinstance(event, StreamEvent) and event.amount == Decimal("12.5") and event.order_id == "o-1"


@pytest.mark.parametrize(("timestamp", "words"), [
    ("2099-01-01T00:00:00.000Z", "after it was received"),
    ("2025-06-03T10:00:01.000Z", "after it was received"),  # 24 h + 1 s after received_at
    ("1971-01-01T00:00:00.000Z", "before the earliest event date 1990-01-01"),
])
def test_unbelievable_event_times_are_quarantined_never_clamped(timestamp: str, words: str) -> None:
    """Seen failing: without the rule the 2099 order was a valid event (its time would become the customer's
    as-of day and push every real order out of the windows)."""
    outcome = parse_record(record(v2("track", event="Order Completed", timestamp=timestamp,
                                     properties={"order_id": "o", "total": 5})))
    assert isinstance(outcome, Rejected)
    assert [p.field for p in outcome.problems] == ["timestamp"] and words in outcome.problems[0].reason


def test_the_time_rule_is_configurable_and_its_edge_is_accepted() -> None:
    edge = v2("page", timestamp="2025-06-03T10:00:00.000Z")  # exactly 24 h after received_at: accepted
    assert isinstance(parse_record(record(edge)), StreamEvent)
    strict = EventTimeSettings(future_tolerance_seconds=60, earliest_event_date=date(2025, 6, 2))
    assert isinstance(parse_record(record(edge), strict), Rejected)
    assert isinstance(parse_record(record(v2("page", timestamp="2025-06-01T23:59:59.000Z")), strict), Rejected)
    no_received = v2("page", timestamp="2025-06-02T12:00:00.000Z", received_at=None)  # arrival 2025-06-01 is used
    assert isinstance(parse_record(record(no_received)), Rejected)


@pytest.mark.parametrize(("value", "expected"), [
    (4243, "4243"), (4243.0, "4243"), (Decimal("4243.0"), "4243"), (Decimal("12.50"), "12.5"), (" u1 ", "u1"),
    ("", None), (None, None), (True, None), ({"a": 1}, None)])
def test_ids_sent_as_numbers_read_as_javascript_prints_them(value, expected) -> None:
    assert identifier(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (10, Decimal("10.00")), ("12.345", Decimal("12.35")), (Decimal("0.005"), Decimal("0.01")), (True, None),
    (-1, None), ("abc", None), (float("nan"), None), (None, None)])
def test_money_is_exact_cents(value, expected) -> None:
    assert money(value) == expected
