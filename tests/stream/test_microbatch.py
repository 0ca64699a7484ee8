"""One micro-batch end to end on moto and a local lake: counts, quarantine, idempotent replays."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lakehouse.core.config import Settings
from lakehouse.core.lake.raw import decode_lines
from lakehouse.core.lake.storage import LakeStorage
from stream.identity import checkpoint_identity, stale_checkpoint
from stream.job import build_processor
from stream.records import RawStreamRecord

from .conftest import BAD_FIELDS, BAD_RECORDS, stored_items


def records_of(payloads: list[bytes]) -> list[RawStreamRecord]:
    arrival = datetime(2025, 6, 1, 10, 30, tzinfo=UTC)
    return [RawStreamRecord(p, "shardId-000000000000", str(i + 1), arrival) for i, p in enumerate(payloads)]


def test_bad_records_are_counted_and_quarantined_once_per_batch(aws_settings: Settings, tmp_path) -> None:
    from .conftest import scenario

    data = scenario(seed=3, customers=5, events=60, bad_every=0)
    payloads = data.payloads + list(BAD_RECORDS) + [data.payloads[0]]
    processor = build_processor(aws_settings, "testrun")
    result = processor.process(records_of(payloads), batch_id=4)
    assert result.records == len(payloads) and result.rejected == len(BAD_RECORDS)
    assert result.events + result.duplicates == len(data.payloads) + 1
    assert result.written == len(data.customers) and result.lag_ms is not None
    assert result.quarantine_key == "quarantine/dt=2025-06-01/hour=10/stream-testrun-0000000004.jsonl.gz"
    storage = LakeStorage(aws_settings.lake)
    lines = [json.loads(line) for line in decode_lines(storage.get_bytes(result.quarantine_key))]
    assert [line["errors"][0]["field"] for line in lines] == list(BAD_FIELDS)
    assert lines[0]["payload"] == "this is not JSON" and lines[2]["payload"]["type"] == "batch"
    assert all(line["request_id"] == "testrun/4" and line["source"].startswith("kinesis:") for line in lines)
    before = stored_items(aws_settings)
    again = processor.process(records_of(payloads), batch_id=4)  # Spark replays the batch after a crash
    assert again.skipped == len(data.customers) and again.written == 0
    assert stored_items(aws_settings) == before
    assert [o.key for o in storage.list("quarantine")] == [result.quarantine_key]
    processor.sink.close()


def test_checkpoint_identity_is_kept_and_latest_is_pinned(tmp_path) -> None:
    first = checkpoint_identity(str(tmp_path / "ck"), "LATEST", stream_created="2025-01-01T00:00:00+00:00")
    assert first.starting_position == "AT_TIMESTAMP" and first.starting_timestamp
    assert checkpoint_identity(str(tmp_path / "ck"), "TRIM_HORIZON") == first
    other = checkpoint_identity(str(tmp_path / "other"))
    assert other.run != first.run and other.starting_position == "TRIM_HORIZON"
    assert stale_checkpoint(tmp_path / "ck", "2025-01-01T00:00:00+00:00") is None
    moved = stale_checkpoint(tmp_path / "ck", "2026-02-02T00:00:00+00:00")  # the stream was created anew
    assert moved is not None and moved.name.startswith("ck.replaced-") and not (tmp_path / "ck").exists()
    assert checkpoint_identity(str(tmp_path / "ck")).run != first.run


def test_events_whose_effect_is_a_max_need_no_claim_and_repeat_harmlessly(aws_settings: Settings) -> None:
    import random

    from lakehouse.core.aws.clients import aws_client

    from .conftest import make_call, raw_record, record_bytes

    rng = random.Random(2)
    page = record_bytes(raw_record(make_call("page", "c9", datetime(2025, 6, 1, tzinfo=UTC), "pg-1", rng)))
    view = record_bytes(raw_record(make_call("Product Viewed", "c9", datetime(2025, 6, 1, tzinfo=UTC), "pv-1",
                                             rng)))
    processor = build_processor(aws_settings, "idem")
    first = processor.process(records_of([page, view]), batch_id=0)
    again = processor.process(records_of([page, view]), batch_id=1)  # re-sent later: a new micro-batch
    assert (first.written, again.written, again.unchanged) == (1, 0, 1)
    assert again.duplicates == 1 and again.events == 1  # the view was claimed; the page needs no claim
    item = stored_items(aws_settings)["c9"]
    assert item["features"]["views_7d"] == 1 and item["last_batch"] == "idem/0"
    claims = aws_client("dynamodb").scan(TableName=aws_settings.names.stream_dedup_table)["Items"]
    assert {c["dedup_key"]["S"] for c in claims} == {"event#pv-1"}
    processor.sink.close()
