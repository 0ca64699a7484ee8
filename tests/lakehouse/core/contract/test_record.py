"""The canonical raw record: ids, clock-skew correction, normalised properties."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from lakehouse.core.contract import (
    RECORD_FIELDS,
    ContractError,
    EventTimeRule,
    dumps_record,
    iso,
    parse_event,
    parse_iso,
    payload_event_id,
    to_record,
)
from lakehouse.core.contract.examples import example_calls

RECEIVED = datetime(2025, 6, 2, 9, 31, 0, tzinfo=UTC)


def _record(call: dict, **kwargs) -> dict:
    return to_record(parse_event(call), call, source="web", received_at=RECEIVED, **kwargs)


def test_message_id_becomes_event_id() -> None:
    call = example_calls()["Order Completed"] | {"messageId": "msg-1"}
    assert _record(call)["event_id"] == "msg-1"


def test_hash_id_ignores_transport_fields_but_not_content() -> None:
    call = example_calls()["Order Completed"]
    retried = call | {"sentAt": "2025-06-02T09:35:00Z", "writeKey": "k"}
    assert _record(call)["event_id"] == _record(retried)["event_id"] == payload_event_id(call)
    changed = example_calls()["Order Completed"]
    changed["properties"]["total"] = 26.0
    assert _record(changed)["event_id"] != _record(call)["event_id"]


def test_clock_skew_is_corrected_from_sent_at() -> None:
    # client clock 10 minutes behind: it stamps 09:20 and sends at 09:20:30; we receive at 09:31
    call = example_calls()["page"] | {"timestamp": "2025-06-02T09:20:00Z", "sentAt": "2025-06-02T09:20:30Z"}
    record = _record(call)
    assert record["timestamp"] == "2025-06-02T09:30:30.000Z"
    assert record["original_timestamp"] == "2025-06-02T09:20:00.000Z"
    assert record["received_at"] == "2025-06-02T09:31:00.000Z"


def test_a_correction_out_of_the_contract_range_is_not_applied() -> None:
    # the sender's clock is decades ahead: correcting would move the event before 1970
    call = example_calls()["page"] | {"timestamp": "1971-01-01T00:00:00Z", "sentAt": "2099-01-01T00:00:00Z"}
    assert _record(call)["timestamp"] == "1971-01-01T00:00:00.000Z"


def test_batch_sent_at_applies_when_the_event_has_none() -> None:
    call = example_calls()["page"] | {"timestamp": "2025-06-02T09:00:00Z"}
    record = _record(call, batch_sent_at=RECEIVED - timedelta(seconds=5))
    assert record["timestamp"] == "2025-06-02T09:00:05.000Z"


def test_without_sent_at_timestamp_is_kept_and_without_timestamp_received_at_is_used() -> None:
    assert _record(example_calls()["page"])["timestamp"] == "2025-06-02T09:30:00.000Z"
    call = example_calls()["page"]
    del call["timestamp"]
    assert _record(call)["timestamp"] == iso(RECEIVED)


def test_record_normalises_properties_and_names_the_customer() -> None:
    call = example_calls()["Order Completed"]
    call["properties"]["products"] = [{"product_id": "p", "category": "c", "quantity": 1, "price": 3.0,
                                       "colour": "red"}]
    record = _record(call)
    assert record["properties"]["products"] == [
        {"product_id": "p", "category": "c", "quantity": 1, "unit_price": 3.0, "colour": "red"}]
    assert record["customer_id"] == "c0000042" and record["source"] == "web"
    assert record["type"] == "track" and record["event"] == "Order Completed" and record["name"] is None


def test_identify_record_keeps_typed_traits() -> None:
    record = _record(example_calls()["identify"])
    assert record["traits"]["signup_date"] == "2024-11-05"
    assert record["traits"]["geography"] == "France"
    assert record["properties"] == {}


def test_iso_round_trip() -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert iso(moment) == "2025-01-02T03:04:05.678Z"
    assert parse_iso(iso(moment)) == moment


def test_record_has_the_schema_version_2_fields_in_order() -> None:
    record = _record(example_calls()["page"])
    assert tuple(record) == RECORD_FIELDS
    assert record["schema_version"] == 2
    assert (record["name"], record["category"], record["previous_id"], record["group_id"]) == (
        "Home", None, None, None)


def test_screen_group_and_alias_records() -> None:
    screen = _record({"type": "screen", "anonymousId": "a-1", "name": "Basket", "category": "checkout",
                      "properties": {"variation": "dark"}, "integrations": {"All": False}})
    assert (screen["type"], screen["name"], screen["category"], screen["customer_id"]) == (
        "screen", "Basket", "checkout", "a-1")
    assert screen["properties"] == {"variation": "dark"} and screen["integrations"] == {"All": False}
    group = _record({"type": "group", "userId": 7.0, "groupId": 12, "traits": {"plan": "pro", "seats": None}})
    assert (group["group_id"], group["user_id"], group["customer_id"]) == ("12", "7", "7")
    assert group["traits"] == {"plan": "pro", "seats": None}
    alias = _record({"type": "alias", "userId": "u-9", "previousId": "a-1", "anonymousId": "a-1"})
    assert (alias["previous_id"], alias["customer_id"], alias["event"]) == ("a-1", "u-9", None)


def test_a_trait_sent_as_null_stays_null_and_traits_null_is_empty() -> None:
    """Segment's way to clear a trait is to send it as null; the old record dumped traits with exclude_none and
    lost the clearing, so the previous value stayed."""
    record = _record({"type": "identify", "userId": "u", "traits": {"city": None, "name": "Ada", "vip": None}})
    assert record["traits"] == {"city": None, "name": "Ada", "vip": None}
    assert _record({"type": "identify", "userId": "u", "traits": None})["traits"] == {}


def test_spec_v2_order_with_only_revenue_keeps_it_exactly() -> None:
    call = {"type": "track", "event": "Order Completed", "userId": "u", "properties": {
        "order_id": "o-1", "revenue": Decimal("25.10"), "gift": "yes",
        "products": [{"product_id": "p", "price": 0.1, "quantity": 3}]}}
    record = _record(call)
    props = record["properties"]
    assert props["revenue"] == Decimal("25.10") and "total" not in props and props["gift"] == "yes"
    assert props["products"] == [{"product_id": "p", "quantity": 3, "unit_price": Decimal("0.1")}]
    line = dumps_record(record)
    assert '"revenue":25.10' in line and '"unit_price":0.1' in line
    assert json.loads(line, parse_float=Decimal)["properties"]["revenue"] == Decimal("25.10")


def test_dumps_record_writes_decimals_as_exact_json_numbers() -> None:
    """A float round trip would write 19.999999999999999999 as 20.0, and a default=str hook as a string."""
    text = dumps_record({"a": Decimal("19.999999999999999999"), "b": [Decimal("1E-7"), Decimal("0")], "c": "x"})
    assert text == '{"a":19.999999999999999999,"b":[1E-7,0],"c":"x"}'
    assert json.loads(text, parse_float=Decimal)["a"] == Decimal("19.999999999999999999")


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("1E+400"), Decimal("1" * 101)])
def test_dumps_record_refuses_numbers_readers_cannot_hold(value: Decimal) -> None:
    with pytest.raises(ValueError, match="readers cannot read it back"):
        dumps_record({"x": value})


def test_a_string_cannot_forge_a_decimal() -> None:
    text = dumps_record({"a": '"@decimal-00:1"', "b": Decimal("2")})
    assert json.loads(text) == {"a": '"@decimal-00:1"', "b": 2}


RULE = EventTimeRule(future_tolerance_seconds=86_400, earliest_event_date=date(1990, 1, 1))
NOW = "2025-06-02T09:31:00Z"  # RECEIVED


@pytest.mark.parametrize(("timestamp", "sent_at", "rule"), [
    ("2099-01-01T00:00:00Z", NOW, "future_tolerance_seconds"),            # sentAt current: no correction
    ("2099-01-01T00:00:00Z", None, "future_tolerance_seconds"),           # no sentAt: nothing to correct with
    ("2099-01-01T00:00:00Z", "2025-06-02T09:31:00+01:00", "future_tolerance_seconds"),  # skewed the other way
    ("1971-01-01T00:00:00Z", NOW, "earliest_event_date"),
    ("1971-01-01T00:00:00Z", None, "earliest_event_date"),
    ("1971-01-01T00:00:00Z", "2099-01-01T00:00:00Z", "earliest_event_date"),  # correction out of range: not applied
    ("2025-06-03T09:31:00.001Z", NOW, "future_tolerance_seconds"),        # one ms over a day ahead
])
def test_unbelievable_event_times_are_refused_on_timestamp_naming_the_rule(timestamp, sent_at, rule) -> None:
    """Without the rule these were accepted: the skew correction cannot catch a wrong timestamp whose sentAt is
    current or absent, and one 2099 event moved the as-of date and every customer's recency."""
    call = example_calls()["page"] | {"timestamp": timestamp} | ({"sentAt": sent_at} if sent_at else {})
    with pytest.raises(ContractError) as info:
        _record(call, time_rule=RULE)
    (error,) = info.value.errors
    assert error.field == "timestamp" and rule in error.reason


@pytest.mark.parametrize(("timestamp", "sent_at", "expected"), [
    # the whole device clock is in 2099 (or 1971): the skew correction brings the event back to its real time
    ("2099-01-01T00:00:00Z", "2099-01-01T00:00:30Z", "2025-06-02T09:30:30.000Z"),
    ("1971-01-01T00:00:00Z", "1971-01-01T00:00:30Z", "2025-06-02T09:30:30.000Z"),
    ("2025-06-03T09:31:00Z", NOW, "2025-06-03T09:31:00.000Z"),  # exactly the tolerance ahead
    ("1990-01-01T00:00:00Z", None, "1990-01-01T00:00:00.000Z"),  # exactly the earliest day
])
def test_believable_event_times_are_accepted(timestamp, sent_at, expected) -> None:
    call = example_calls()["page"] | {"timestamp": timestamp} | ({"sentAt": sent_at} if sent_at else {})
    assert _record(call, time_rule=RULE)["timestamp"] == expected
