"""The canonical raw record: ids, clock-skew correction, normalised properties."""

from datetime import UTC, datetime, timedelta

from lakehouse.core.contract import iso, parse_event, parse_iso, payload_event_id, to_record
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
