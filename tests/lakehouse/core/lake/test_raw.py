import json
from datetime import UTC, datetime

from lakehouse.core.lake.raw import decode_lines, encode_lines, quarantine_object_key, raw_object_key


def test_encode_decode_round_trip_keeps_unicode_and_order() -> None:
    records = [{"event_id": "a", "name": "Zoë ☕"}, {"event_id": "b", "n": 1}]
    data = encode_lines(records)
    assert data[:2] == b"\x1f\x8b"
    assert list(decode_lines(data)) == ['{"event_id":"a","name":"Zoë ☕"}', '{"event_id":"b","n":1}']
    assert encode_lines(records) == data  # deterministic bytes


def test_object_keys_are_partitioned_by_arrival_hour() -> None:
    at = datetime(2025, 12, 31, 23, 59, tzinfo=UTC)
    assert raw_object_key("crm", at, "x") == "raw/source=crm/dt=2025-12-31/hour=23/x.jsonl.gz"
    assert quarantine_object_key(at).startswith("quarantine/dt=2025-12-31/hour=23/")
    assert raw_object_key("crm", at) != raw_object_key("crm", at)


def test_lines_split_only_on_newline_never_on_unicode_separators() -> None:
    records = [{"text": "a\u2028b\u0085c\x1cd\u2029e"}, {"text": "f"}]
    lines = list(decode_lines(encode_lines(records)))
    assert len(lines) == 2
    assert json.loads(lines[0]) == records[0]
