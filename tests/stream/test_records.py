"""Records on the stream -> events or rejects naming the field at fault."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from stream.records import RawStreamRecord, Rejected, StreamEvent, money, parse_record

from .conftest import BAD_RECORDS, make_call, raw_record


def record(payload: dict | bytes, seq: str = "7") -> RawStreamRecord:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return RawStreamRecord(data, "shardId-000000000001", seq, datetime(2025, 6, 1, tzinfo=UTC))


def test_a_raw_record_from_the_api_becomes_an_event() -> None:
    import random

    call = make_call("Order Completed", "c042", datetime(2025, 6, 2, 9, 30, tzinfo=UTC), "m-1", random.Random(3))
    call["properties"]["total"] = 19.995
    event = parse_record(record(raw_record(call), seq="12"))
    assert isinstance(event, StreamEvent)
    assert (event.event_id, event.customer_id, event.name) == ("m-1", "c042", "Order Completed")
    assert event.timestamp == datetime(2025, 6, 2, 9, 30, tzinfo=UTC) and event.day == "2025-06-02"
    assert event.amount == Decimal("20.00")  # exact decimal of the JSON text, rounded half up to cents
    assert event.position == ("shardId-000000000001", 12) and event.arrival == datetime(2025, 6, 1, tzinfo=UTC)
    assert event.received_at is not None


@pytest.mark.parametrize(("payload", "field", "words"), [
    (BAD_RECORDS[0], "data", "not UTF-8 JSON"),
    (b"\xff\xfe garbage", "data", "not UTF-8 JSON"),
    (BAD_RECORDS[1], "data", "not an object"),
    (BAD_RECORDS[2], "type", "unknown event type 'alias'"),
    (BAD_RECORDS[3], "customer_id", "missing"),
    (BAD_RECORDS[4], "properties.total", "non-negative number"),
    ({"event_id": "x", "type": "track", "customer_id": "c", "timestamp": "yesterday"}, "timestamp", "ISO 8601"),
    ({"event_id": "x", "type": "track", "customer_id": "c", "timestamp": "2025-01-01T00:00:00Z"}, "event",
     "event name"),
    ({"type": "page", "customer_id": "c", "timestamp": "2025-01-01T00:00:00Z"}, "event_id", "missing"),
    ({"event_id": "x", "type": "track", "event": "Order Refunded", "customer_id": "c",
      "timestamp": "2025-01-01T00:00:00Z", "properties": {"total": -5}}, "properties.total", "non-negative"),
    ({"event_id": "x", "type": "track", "event": "Ticket Opened", "customer_id": "c",
      "timestamp": "2025-01-01T00:00:00Z", "properties": {}}, "properties.ticket_id", "ticket id"),
])
def test_bad_records_are_rejected_with_the_field_named(payload, field: str, words: str) -> None:
    outcome = parse_record(record(payload))
    assert isinstance(outcome, Rejected)
    assert any(p.field == field and words in p.reason for p in outcome.problems), outcome.problems
    assert outcome.text  # the payload is kept for quarantine


def test_every_problem_of_a_record_is_listed() -> None:
    outcome = parse_record(record({"type": "screen", "timestamp": "nope"}))
    assert isinstance(outcome, Rejected)
    assert {p.field for p in outcome.problems} == {"event_id", "customer_id", "type", "timestamp"}


def test_unknown_track_event_names_are_valid_events_without_feature_effects() -> None:
    event = parse_record(record({"event_id": "x", "type": "track", "event": "Wishlist Shared", "customer_id": "c",
                                 "timestamp": "2025-01-01T00:00:00Z"}))
    assert isinstance(event, StreamEvent) and event.amount is None


@pytest.mark.parametrize(("value", "expected"), [
    (10, Decimal("10.00")), ("12.345", Decimal("12.35")), (Decimal("0.005"), Decimal("0.01")), (True, None),
    (-1, None), ("abc", None), (float("nan"), None), (None, None)])
def test_money_is_exact_cents(value, expected) -> None:
    assert money(value) == expected
