"""The Glue streaming entry script: Glue's parsed Kinesis rows feed the same validation and features, exactly once.

Every test here runs in both test environments; in `make test-glue` on Glue 5.0's Spark 3.5.4.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.core.config import Settings
from lakehouse.core.job_args import JobArgumentsError
from stream import glue_job
from stream.glue_job import ARRIVAL_COLUMN, GLUE_SCHEMA, kinesis_options, parsed_from_rows, process_glue_batch
from stream.job import build_processor
from stream.records import RawStreamRecord, Rejected, StreamEvent, parse_record
from stream.rfm import DEFAULT_BREAKPOINTS
from tests.glue.runtime import glue_argv, glue_stand_in

from .conftest import (
    BAD_FIELDS,
    BAD_RECORDS,
    actual_features,
    assert_features_match,
    oracle_features,
    scenario,
    stored_items,
)


def key(event: StreamEvent) -> tuple:
    return (event.event_id, event.customer_id, event.type, event.name, event.timestamp, event.received_at,
            event.amount, event.ticket_id, event.user_id, event.anonymous_id, event.previous_id, event.order_id,
            event.currency)


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
    assert [r.problems[0].field for r in rejected] == list(BAD_FIELDS[2:])
    assert all(r.record.arrival is not None for r in rejected)


def test_kinesis_options_for_glue() -> None:
    options = kinesis_options("arn:aws:kinesis:eu-west-1:1:stream/s", 5000, "TRIM_HORIZON", None)
    assert options["schema"] == GLUE_SCHEMA and options["addRecordTimestamp"] == "true"
    assert options["startingPosition"] == "TRIM_HORIZON" and options["maxFetchRecordsPerShard"] == "5000"
    pinned = kinesis_options("arn", 10, "AT_TIMESTAMP", "2025-06-01T00:00:00+00:00")
    assert pinned["startingPosition"] == "2025-06-01T00:00:00+00:00"
    # Glue's pattern is yyyy-mm-ddTHH:MM:SS±hh:mm; LATEST pinned with datetime.isoformat() carries microseconds
    latest = kinesis_options("arn", 10, "AT_TIMESTAMP", "2026-11-30T02:45:12.020208+00:00")
    assert latest["startingPosition"] == "2026-11-30T02:45:12+00:00"
    shifted = kinesis_options("arn", 10, "AT_TIMESTAMP", "2025-06-01T02:00:00.5+02:00")
    assert shifted["startingPosition"] == "2025-06-01T00:00:00+00:00"


# --- the micro-batch function and the entry script as Glue runs them (both test environments; Spark 3.5.4 in
# `make test-glue`), writing real features to DynamoDB on the moto server ---------------------------------------

def glue_batches(spark, payloads: list[bytes], size: int) -> list[DataFrame]:
    """Micro-batches shaped like the output of Glue's Kinesis source with the job's options: each record's data
    parsed as JSON with :data:`GLUE_SCHEMA` (nested objects as their JSON text, a record that is not JSON as a row of
    nulls), then ``__src_timestamp``, the record's arrival on the stream (``addRecordTimestamp``)."""
    arrival = datetime.now(UTC) - timedelta(seconds=5)
    batches = []
    for start in range(0, len(payloads), size):
        texts = spark.sparkContext.parallelize([p.decode() for p in payloads[start:start + size]], 1)
        frame = spark.read.schema(GLUE_SCHEMA).json(texts)
        batches.append(frame.withColumn(ARRIVAL_COLUMN, F.lit(arrival)))
    return batches


def test_glue_micro_batches_write_the_oracle_features_exactly_once(spark, aws_settings: Settings) -> None:
    """Glue-shaped micro-batches through ``process_glue_batch``, replayed as Glue replays them (same batch id): one
    crashed after its claims, one between two rounds of customer updates, one replayed after it fully applied. The
    DynamoDB features equal the independent DuckDB computation (duplicates across batches, late and bad records
    included).

    Seen failing: with a batch's own claims read as another batch's (``claim`` under a new token per attempt), the
    replays dropped the crashed batches' orders; with the mid-update replay under another batch id (an adapter
    numbering batches itself instead of passing Glue's), the customers not yet written lost that batch's orders;
    with every claimed event applied again (claims ignored), orders were counted twice.
    """
    settings = aws_settings.model_copy(update={"stream": aws_settings.stream.model_copy(update={"update_chunk": 5})})
    data = scenario(seed=31, customers=25, events=320)
    batches = glue_batches(spark, data.payloads, 120)
    failures = {("after-claims", 1), ("mid-updates", 2)}

    def fault(step: str, batch_id: int) -> None:
        if (step, batch_id) in failures:
            failures.discard((step, batch_id))
            raise RuntimeError(f"injected failure {step}@{batch_id}")

    processor = build_processor(settings, "glue-" + uuid.uuid4().hex[:8], fault=fault)
    results = []
    try:
        for batch_id, batch in enumerate(batches):
            if any(failed == batch_id for _, failed in failures):
                with pytest.raises(RuntimeError, match="injected failure"):
                    process_glue_batch(processor, batch, batch_id)
            results.append(process_glue_batch(processor, batch, batch_id))  # Glue replays it under the same id
        last = len(batches) - 1
        replayed = process_glue_batch(processor, batches[last], last)  # once more, after it fully applied
    finally:
        processor.sink.close()
    assert not failures and len(results) == len(batches) == 3
    assert replayed.customers and replayed.written == 0  # each customer already has it, or needed no change
    assert replayed.skipped + replayed.unchanged == replayed.customers
    assert sum(r.rejected for r in results) == data.bad and sum(r.records for r in results) == len(data.payloads)
    assert all(r.lag_ms is not None and r.lag_ms >= 5_000 for r in results)  # from __src_timestamp
    expected = oracle_features(data.records, DEFAULT_BREAKPOINTS)
    assert_features_match(expected, actual_features(stored_items(settings)))


def test_the_glue_streaming_job_reads_glues_kinesis_source_and_resumes_its_checkpoint(
        spark, aws_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """``stream/glue_job.py`` under the ``awsglue`` stand-in with Glue's argv: the Kinesis source gets the options
    Glue needs, ``forEachBatch`` feeds the processor; a batch that keeps failing after Glue's retries stops the job,
    and the restarted job replays it under the same id and checkpoint run: the features equal the oracle's.

    Seen failing: with a checkpoint that forgets its run id across restarts (a new ``lakehouse-sink.json``), the
    pinned start moved and the replayed batch's orders were dropped as claimed by the old run (10 customers short);
    with the ``LATEST`` start passed to Glue as ``datetime.isoformat()`` (microseconds), the stand-in refused the
    ``startingPosition`` Glue documents as ``yyyy-mm-ddTHH:MM:SS+hh:mm``.
    """
    import stream.glue_job as glue_job

    monkeypatch.setenv("LAKEHOUSE_HOME", str(aws_settings.home))
    data = scenario(seed=33, customers=20, events=200)
    batches = glue_batches(spark, data.payloads, 80)
    checkpoint = tmp_path / "checkpoint"
    arn = f"arn:aws:kinesis:{aws_settings.region}:123456789012:stream/{aws_settings.names.stream}"
    argv = glue_argv("glue_job.py", "customer-lakehouse-test-stream", "--project", aws_settings.project,
                     "--stage", aws_settings.stage, "--region", aws_settings.region,
                     "--lake_root", aws_settings.lake.key(""), "--stream_arn", arn,
                     "--checkpoint_location", str(checkpoint), "--kinesis_shards", "2",
                     "--stream_trigger_seconds", "2.0", "--stream_max_records_per_trigger", "1000",
                     "--stream_starting_position", "LATEST", "--stream_update_chunk", "5")
    failing = {"attempts": 0}
    processors = []

    def fault(step: str, batch_id: int) -> None:  # batch 1 fails midway, more often than Glue retries it
        if step == "mid-updates" and batch_id == 1 and failing["attempts"] < 4:
            failing["attempts"] += 1
            raise RuntimeError("injected failure mid-updates@1")

    def with_fault(settings: Settings, run: str):
        processors.append(build_processor(settings, run, fault=fault))
        return processors[-1]

    monkeypatch.setattr(glue_job, "build_processor", with_fault)
    try:
        with glue_stand_in(tmp_path / "glue-service", kinesis_batches=batches) as glue:
            with pytest.raises(RuntimeError, match="injected failure"):
                glue_job.main(argv)
            assert [c["batch_id"] for c in glue.called("batch")] == [0, 1, 1, 1, 1]  # Glue's 3 retries, same id
            (source,) = glue.called("create_data_frame.from_options")
            options = source["connection_options"]
            assert source["connection_type"] == "kinesis" and options["streamARN"] == arn
            assert options["schema"] == GLUE_SCHEMA and options["addRecordTimestamp"] == "true"
            assert options["maxFetchRecordsPerShard"] == "500" and options["classification"] == "json"
            (each,) = glue.called("forEachBatch")
            assert each["options"] == {"windowSize": "2 seconds", "checkpointLocation": str(checkpoint)}
        with glue_stand_in(tmp_path / "glue-service", kinesis_batches=batches) as glue:
            glue_job.main(argv)  # the job restarted by Glue: same checkpoint, same run id
            assert [c["batch_id"] for c in glue.called("batch")] == [1, 2]
            (source,) = glue.called("create_data_frame.from_options")
            assert source["connection_options"]["startingPosition"] == options["startingPosition"]  # pinned
    finally:
        for processor in processors:
            processor.sink.close()
    assert "ignored job arguments" not in capsys.readouterr().err
    assert len({p.run for p in processors}) == 1
    expected = oracle_features(data.records, DEFAULT_BREAKPOINTS)
    assert_features_match(expected, actual_features(stored_items(aws_settings)))


@pytest.mark.parametrize("seconds, window", [(0, "1 seconds"), (0.4, "1 seconds"), (1, "1 seconds"),
                                             (2.5, "3 seconds"), (60, "60 seconds")])
def test_glue_window_is_never_shorter_than_the_trigger(seconds: float, window: str) -> None:
    """Seen failing: with ``round()``, 2.5 s gave a 2-second window (micro-batches more often than configured)."""
    assert glue_job.window_size(seconds) == window


def test_bad_arguments_are_refused_before_glue_is_touched() -> None:
    """Off Glue (no awsglue here) a missing argument must still be a clear error, not an ImportError.

    Seen failing: with the awsglue imports first in main(), this raised ModuleNotFoundError: No module named 'awsglue'.
    """
    with pytest.raises(JobArgumentsError, match="needs --stream_arn and --checkpoint_location"):
        glue_job.main(["glue_job.py", "--stage", "dev"])


def test_the_raw_archive_micro_batch_on_a_frame_shaped_like_glues_kinesis_source(spark, settings: Settings) -> None:
    """``archive_batch`` (what ``start_raw_archive`` runs per micro-batch) on Spark 3.5 in `make test-glue`: rows of
    ``data`` (binary) and ``approximateArrivalTimestamp`` -> one object per (source, arrival hour), the lines as
    they came; a line without ``received_at`` lands by its arrival on the stream."""
    import gzip

    from lakehouse.core.lake.raw import landing_logs
    from lakehouse.core.lake.storage import LakeStorage
    from stream.archive import archive_batch

    lines = [json.dumps({"event_id": f"e{i}", "source": "web", "received_at": f"2025-06-01T0{i % 2}:10:00.000Z",
                         "text": "Zoë \u2028"}, ensure_ascii=False).encode() for i in range(6)]
    arrival = datetime(2025, 6, 1, 5, 0, tzinfo=UTC)
    rows = [(line, arrival) for line in [*lines, b"not json"]]
    frame = spark.createDataFrame(rows, "data binary, approximateArrivalTimestamp timestamp")
    storage = LakeStorage(settings.lake)
    batch = archive_batch(frame, 3, storage=storage, region=None, run="00000000000000aa", max_object_bytes=1 << 20,
                          partitions=2, arrival_column="approximateArrivalTimestamp")
    keys = sorted(o.key for o in batch.objects)
    assert keys == ["raw/source=unknown/dt=2025-06-01/hour=05/00000000000000aa-b0000000003-p0000.jsonl.gz",
                    "raw/source=web/dt=2025-06-01/hour=00/00000000000000aa-b0000000003-p0000.jsonl.gz",
                    "raw/source=web/dt=2025-06-01/hour=01/00000000000000aa-b0000000003-p0000.jsonl.gz"]
    stored = sorted(line for key in keys for line in gzip.decompress(storage.get_bytes(key)).split(b"\n") if line)
    assert stored == sorted([*lines, b"not json"])
    assert [log.key for log in landing_logs(storage)] == [batch.landing_log]


def test_raw_archive_options_for_glues_kinesis_reader() -> None:
    options = glue_job.archive_source_options("arn:aws:kinesis:eu-west-1:1:stream/s", "AT_TIMESTAMP",
                                              "2025-06-01T00:00:00.123456+00:00", 500)
    assert options == {"streamARN": "arn:aws:kinesis:eu-west-1:1:stream/s",
                       "startingPosition": "2025-06-01T00:00:00+00:00", "maxFetchRecordsPerShard": "500"}
