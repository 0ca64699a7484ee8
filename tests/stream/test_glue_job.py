"""The Glue entry script's adapter: Glue's parsed Kinesis rows feed the same validation and features."""

from __future__ import annotations

from pyspark.sql import functions as F

from stream.glue_job import GLUE_SCHEMA, kinesis_options, parsed_from_rows
from stream.records import RawStreamRecord, Rejected, StreamEvent, parse_record

from .conftest import BAD_RECORDS, scenario


def key(event: StreamEvent) -> tuple:
    return (event.event_id, event.customer_id, event.type, event.name, event.timestamp, event.received_at,
            event.amount, event.ticket_id)


def test_rows_parsed_like_glue_give_the_same_events(spark) -> None:
    data = scenario(seed=4, customers=10, events=150, bad_every=0)
    payloads = data.payloads + list(BAD_RECORDS[2:])  # JSON rejects: Glue keeps their fields
    texts = spark.sparkContext.parallelize([p.decode() for p in payloads])
    frame = spark.read.schema(GLUE_SCHEMA).json(texts).withColumn("__src_timestamp", F.current_timestamp())
    from_glue = parsed_from_rows(frame.collect())
    direct = [parse_record(RawStreamRecord(p)) for p in payloads]
    assert [key(e) for e in from_glue if isinstance(e, StreamEvent)] == [
        key(e) for e in direct if isinstance(e, StreamEvent)]
    rejected = [r for r in from_glue if isinstance(r, Rejected)]
    assert [r.problems[0].field for r in rejected] == ["type", "customer_id", "properties.total"]
    assert all(r.record.arrival is not None for r in rejected)


def test_kinesis_options_for_glue() -> None:
    options = kinesis_options("arn:aws:kinesis:eu-west-1:1:stream/s", 5000, "TRIM_HORIZON", None)
    assert options["schema"] == GLUE_SCHEMA and options["addRecordTimestamp"] == "true"
    assert options["startingPosition"] == "TRIM_HORIZON" and options["maxFetchRecordsPerShard"] == "5000"
    pinned = kinesis_options("arn", 10, "AT_TIMESTAMP", "2025-06-01T00:00:00+00:00")
    assert pinned["startingPosition"] == "2025-06-01T00:00:00+00:00"
