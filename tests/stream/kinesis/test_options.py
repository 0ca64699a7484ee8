"""The Kinesis source's options: parsed once, every mistake named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stream.kinesis.offsets import KinesisOffset, parse_start, start_spec
from stream.kinesis.options import KinesisOptionError, KinesisOptions


def test_defaults_and_case_insensitive_keys(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    options = KinesisOptions.parse({"STREAMNAME": "events", "maxRecordsPerTrigger": "500", "region": "eu-west-1"})
    assert options.stream_name == "events" and options.region == "eu-west-1"
    assert options.endpoint_url == "http://127.0.0.1:5999"
    assert options.starting_position == "TRIM_HORIZON" and options.max_records_per_trigger == 500
    assert options.max_records_per_call == 10_000 and options.idle_poll_interval == pytest.approx(0.2)
    again = KinesisOptions.parse(options.as_spark_options())
    assert again == options


def test_at_timestamp_accepts_iso_and_epoch_seconds() -> None:
    iso = KinesisOptions.parse({"streamname": "s", "startingposition": "at_timestamp",
                                "startingtimestamp": "2025-06-01T10:00:00Z"})
    epoch = KinesisOptions.parse({"streamname": "s", "startingposition": "AT_TIMESTAMP",
                                  "startingtimestamp": str(datetime(2025, 6, 1, 10, tzinfo=UTC).timestamp())})
    assert iso.starting_timestamp == epoch.starting_timestamp == datetime(2025, 6, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(("options", "message"), [
    ({}, "streamName is required"),
    ({"streamname": "s", "startingposition": "EARLIEST"}, "startingPosition must be one of"),
    ({"streamname": "s", "startingposition": "AT_TIMESTAMP"}, "startingTimestamp is required"),
    ({"streamname": "s", "startingposition": "AT_TIMESTAMP", "startingtimestamp": "soon"}, "ISO 8601"),
    ({"streamname": "s", "maxrecordspertrigger": "0"}, "maxRecordsPerTrigger must be at least 1"),
    ({"streamname": "s", "maxrecordspercall": "20000"}, "maxRecordsPerCall must be between 1 and 10000"),
    ({"streamname": "s", "maxretries": "many"}, "maxRetries must be an integer"),
    ({"streamname": "s", "idlepollintervalms": "-1"}, "idlePollIntervalMs must be between"),
    ({"streamname": "s", "shardcount": "2"}, "unknown option(s) shardcount"),
])
def test_mistakes_name_the_option(options: dict, message: str) -> None:
    with pytest.raises(KinesisOptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        KinesisOptions.parse(options)


def test_offsets_round_trip_and_serialise_in_a_stable_order() -> None:
    spec = start_spec("AT_TIMESTAMP", datetime(2025, 6, 1, 10, 0, 0, 123000, tzinfo=UTC))
    assert parse_start(spec) == ("AT_TIMESTAMP", datetime(2025, 6, 1, 10, 0, 0, 123000, tzinfo=UTC))
    offset = KinesisOffset(spec, {"shardId-2": "90", "shardId-1": "12"}, frozenset({"shardId-0"}))
    data = offset.to_dict()
    assert list(data["shards"]) == ["shardId-1", "shardId-2"] and data["done"] == ["shardId-0"]
    assert KinesisOffset.from_dict(data) == offset
    assert offset.advanced({"shardId-1": "13"}, ["shardId-1"]).without(["shardId-0"]).to_dict() == {
        "done": ["shardId-1"], "shards": {"shardId-1": "13", "shardId-2": "90"}, "start": spec}
    with pytest.raises(ValueError, match="not a Kinesis source offset"):
        KinesisOffset.from_dict({"start": "LATEST"})
