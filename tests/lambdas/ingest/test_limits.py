"""Per-event limits: the stored record's size as UTF-8 JSON, and strict encodability."""

import json

import pytest

from lambdas.ingest.limits import MAX_EVENT_BYTES, EventTooLarge, EventUnencodable, encode_record


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def test_records_encode_as_compact_utf8_json() -> None:
    record = {"a": "é", "b": [1, 2.5, None], "c": {"d": True}}
    assert encode_record(record) == '{"a":"é","b":[1,2.5,null],"c":{"d":true}}'.encode()
    assert json.loads(encode_record(record)) == record


def test_size_limit_counts_utf8_bytes() -> None:
    assert len(encode_record({"blob": "x" * (MAX_EVENT_BYTES - 20)})) <= MAX_EVENT_BYTES
    with pytest.raises(EventTooLarge, match=r"32 KB") as caught:
        encode_record({"blob": "é" * (MAX_EVENT_BYTES // 2)})  # 16k characters, 32k + bytes
    assert caught.value.size > MAX_EVENT_BYTES


@pytest.mark.parametrize(("record", "fragment"), [
    ({"a": float("nan")}, "NaN"),
    ({"a": [float("inf")]}, "NaN, Infinity"),
    ({"a": "\ud800"}, "lone surrogate"),
    (nested(100_000), "nested too deeply"),
])
def test_records_without_a_strict_encoding_are_refused(record: dict, fragment: str) -> None:
    with pytest.raises(EventUnencodable, match=fragment):
        encode_record(record)
