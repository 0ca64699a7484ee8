"""Glue 5 streaming job (Spark 3.5): Glue's native Kinesis source -> the same micro-batch processor.

Arguments (:class:`lakehouse.core.job_args.StreamingJobArguments`, built by the CDK streaming stack from the
same model): ``--project``, ``--stage``, ``--region``, ``--lake_root``, ``--stream_arn``,
``--checkpoint_location``, ``--kinesis_shards`` and the tuning as ``--stream_<StreamSettings field>``
(``--stream_trigger_seconds 1.0`` …): a Glue job has no ``LAKEHOUSE_*`` environment.

Glue's Kinesis source parses each record as JSON with :data:`GLUE_SCHEMA` (nested objects arrive as
their JSON text), ``addRecordTimestamp`` adds each record's arrival time, and ``glueContext.forEachBatch``
calls :func:`process_glue_batch` with Spark's batch id — replayed with the same id after a failure,
exactly as locally, so the exactly-once argument of docs/streaming.md holds unchanged.

With ``--raw_archive_checkpoint`` the job also runs the raw archive (:mod:`stream.archive`) as a second streaming
query over the same stream, with its own checkpoint and a processing-time trigger of ``--archive_buffer_seconds``
(:func:`start_raw_archive`): it reads Glue's Kinesis source unparsed (each record's ``data`` bytes, as the API put
them) and lands them in the raw zone with the same code as locally. One job, two queries: no second set of Glue
workers is billed; a failure of either query fails the job run (the job-failure notification fires) and Glue's
restart resumes both from their checkpoints.

Differences from the local Python source: Glue does not expose shard ids and sequence numbers after
parsing (duplicates within a batch keep their first row), and a record that is not JSON reaches the job
as a row of nulls, so its quarantine line holds what Glue kept, not the original bytes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame

from lakehouse.core.config import EventTimeSettings
from lakehouse.core.job_args import JobArgumentsError, StreamingJobArguments
from stream.identity import checkpoint_identity
from stream.job import build_processor
from stream.microbatch import BatchResult, MicroBatchProcessor
from stream.records import RawStreamRecord, Rejected, StreamEvent, event_from_payload

GLUE_SCHEMA = ("event_id STRING, message_id STRING, type STRING, event STRING, name STRING, category STRING, "
               "user_id STRING, anonymous_id STRING, customer_id STRING, previous_id STRING, group_id STRING, "
               "timestamp STRING, original_timestamp STRING, sent_at STRING, received_at STRING, source STRING, "
               "properties STRING, traits STRING, context STRING, integrations STRING, schema_version INT")
ARRIVAL_COLUMN = "__src_timestamp"
JSON_FIELDS = ("properties", "traits", "context", "integrations")
ARCHIVE_QUERY = "raw_archive"  # the raw archive query's name in the Glue job (its heartbeat listener matches it)


def _arrival(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def parsed_from_rows(rows: Iterable[Any], event_time: EventTimeSettings | None = None) -> list[StreamEvent | Rejected]:
    """Rows of Glue's parsed Kinesis frame -> validated events or rejects (same rules as the raw bytes).

    The nested objects arrive as JSON text and are read with exact decimals (amounts never become floats).
    """
    parsed: list[StreamEvent | Rejected] = []
    for index, row in enumerate(rows):
        values = row.asDict() if hasattr(row, "asDict") else dict(row)
        arrival = _arrival(values.pop(ARRIVAL_COLUMN, None))
        payload = {k: v for k, v in values.items() if v is not None}
        for name in JSON_FIELDS:
            if isinstance(payload.get(name), str):
                with contextlib.suppress(ValueError):  # left as text: the validation says what is wrong
                    payload[name] = json.loads(payload[name], parse_float=Decimal)
        record = RawStreamRecord(json.dumps(payload, default=str), "", str(index + 1), arrival)
        parsed.append(event_from_payload(payload, record, event_time or EventTimeSettings()))
    return parsed


def glue_starting_timestamp(value: str) -> str:
    """An ISO 8601 time as Glue's Kinesis ``startingPosition`` takes it: ``yyyy-mm-ddTHH:MM:SS`` and a ``±hh:mm``
    offset (AWS Glue, Kinesis connection options), here always UTC (``2025-06-01T00:00:00+00:00``).

    A fraction of a second (``datetime.isoformat()`` writes microseconds) is dropped: the read starts at most one
    second earlier, and every restart of the checkpoint passes the same value.
    """
    moment = datetime.fromisoformat(value)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def kinesis_options(stream_arn: str, max_records_per_shard: int, starting_position: str,
                    starting_timestamp: str | None) -> dict[str, str]:
    """Options of Glue's Kinesis source: records parsed as JSON with :data:`GLUE_SCHEMA`, arrival times added,
    at most ``max_records_per_shard`` records per shard per fetch; an AT_TIMESTAMP start is passed as the
    timestamp itself (Glue's convention)."""
    options = {"typeOfData": "kinesis", "streamARN": stream_arn, "classification": "json", "inferSchema": "false",
               "schema": GLUE_SCHEMA, "startingPosition": starting_position, "addRecordTimestamp": "true",
               "emitConsumerLagMetrics": "true", "maxFetchRecordsPerShard": str(max_records_per_shard)}
    if starting_position == "AT_TIMESTAMP" and starting_timestamp:
        # Glue takes the timestamp itself as the position, in its own pattern
        options["startingPosition"] = glue_starting_timestamp(starting_timestamp)
    return options


def process_glue_batch(processor: MicroBatchProcessor, batch: DataFrame, batch_id: int) -> BatchResult:
    """Glue's ``forEachBatch`` body: one micro-batch of Glue's parsed Kinesis frame through the processor.

    ``batch`` has the columns of :data:`GLUE_SCHEMA` and :data:`ARRIVAL_COLUMN`; the result's counts are
    printed as one JSON line (the job's log) and returned.
    """
    result = processor.process_parsed(parsed_from_rows(batch.collect(), processor.event_time), batch_id)
    print(json.dumps({"batch_id": batch_id, "records": result.records, "events": result.events,
                      "rejected": result.rejected, "duplicates": result.duplicates, "customers": result.written,
                      "links": result.links, "merged": result.merged,
                      "seconds": round(result.seconds, 3), "lag_ms": result.lag_ms}), flush=True)
    return result


def window_size(trigger_seconds: float) -> str:
    """Glue's ``windowSize`` for a trigger interval: whole seconds, at least 1, never shorter than asked.

    Glue takes the window as a Spark interval of whole seconds (``"2 seconds"``); a fractional interval is
    rounded up, so micro-batches never come more often than ``LAKEHOUSE_STREAM__TRIGGER_SECONDS`` says.
    """
    return f"{max(1, math.ceil(trigger_seconds))} seconds"


def archive_source_options(stream_arn: str, starting_position: str, starting_timestamp: str | None,
                           max_records_per_shard: int) -> dict[str, str]:
    """Options of the raw archive's reader, Glue's Kinesis source used unparsed (``spark.readStream.format("kinesis")``
    on Glue: rows carry ``data``, the record's bytes, and ``approximateArrivalTimestamp``)."""
    options = {"streamARN": stream_arn, "startingPosition": starting_position,
               "maxFetchRecordsPerShard": str(max_records_per_shard)}
    if starting_position == "AT_TIMESTAMP" and starting_timestamp:
        options["startingPosition"] = glue_starting_timestamp(starting_timestamp)
    return options


def start_raw_archive(spark, settings, stream_arn: str, checkpoint: str):
    """Start the raw archive query (Glue's Kinesis source -> :func:`stream.archive.archive_batch` every
    ``settings.archive.buffer_seconds``) and return it, running; its run id is kept in ``checkpoint``.

    Each trigger of the query, idle ones included, publishes the archive's heartbeat metric to CloudWatch
    (:class:`stream.archive_metrics.ArchiveHeartbeat`, registered on the session before the query starts).
    """
    from lakehouse.core.lake.storage import LakeStorage
    from stream.archive import archive_batch
    from stream.archive_metrics import ArchiveHeartbeat, cloudwatch_publisher

    tuning = settings.archive
    identity = checkpoint_identity(checkpoint, tuning.starting_position, tuning.starting_timestamp,
                                   region=settings.region)
    storage = LakeStorage(settings.lake, region=settings.region)
    partitions = max(1, spark.sparkContext.defaultParallelism)
    shards = max(1, settings.kinesis_shards)

    def handle(frame: DataFrame, batch_id: int) -> None:
        batch = archive_batch(frame, batch_id, storage=storage, region=settings.region, run=identity.run,
                              max_object_bytes=tuning.max_object_bytes, partitions=partitions,
                              arrival_column="approximateArrivalTimestamp")
        print(json.dumps({"raw_archive_batch": batch_id, "records": batch.records, "objects": len(batch.objects),
                          "bytes": batch.bytes, "seconds": round(batch.seconds, 3)}), flush=True)

    reader = spark.readStream.format("kinesis").options(**archive_source_options(
        stream_arn, identity.starting_position, identity.starting_timestamp,
        max(1, tuning.max_records_per_trigger // shards)))
    spark.streams.addListener(ArchiveHeartbeat(ARCHIVE_QUERY, cloudwatch_publisher(settings.region, settings.stage)))
    return (reader.load().writeStream.foreachBatch(handle).option("checkpointLocation", checkpoint)
            .trigger(processingTime=window_size(tuning.buffer_seconds)).queryName(ARCHIVE_QUERY).start())


def main(argv: list[str] | None = None) -> None:
    """Start the streaming job on ``argv`` (``sys.argv`` when None); runs until Glue stops it.

    Raises :class:`~lakehouse.core.job_args.JobArgumentsError` when ``--stream_arn`` or
    ``--checkpoint_location`` is missing or an argument is unusable.
    """
    parsed = StreamingJobArguments.parse(sys.argv if argv is None else argv)
    args = parsed.arguments
    missing = [f"--{n}" for n in ("stream_arn", "checkpoint_location") if not getattr(args, n)]
    if missing:
        raise JobArgumentsError(f"the streaming job needs {' and '.join(missing)}")
    if parsed.ignored:  # on Glue: a parameter Glue added that we do not know; reported, not fatal
        print(f"ignored job arguments (no job reads them): {' '.join(parsed.ignored)}", file=sys.stderr)
    settings = args.settings()
    tuning = settings.stream

    from awsglue.context import GlueContext  # only once the arguments are known good: Glue's own library
    from pyspark.context import SparkContext

    glue = GlueContext(SparkContext.getOrCreate())
    if args.raw_archive_checkpoint:  # started first: forEachBatch below blocks until the job stops
        start_raw_archive(glue.spark_session, settings, str(args.stream_arn), str(args.raw_archive_checkpoint))
    checkpoint = str(args.checkpoint_location)
    identity = checkpoint_identity(checkpoint, tuning.starting_position, tuning.starting_timestamp,
                                   region=settings.region)
    processor = build_processor(settings, identity.run)
    shards = max(1, settings.kinesis_shards)
    frame = glue.create_data_frame.from_options(
        connection_type="kinesis",
        connection_options=kinesis_options(str(args.stream_arn), max(1, tuning.max_records_per_trigger // shards),
                                           identity.starting_position, identity.starting_timestamp))
    glue.forEachBatch(frame=frame, batch_function=functools.partial(process_glue_batch, processor),
                      options={"windowSize": window_size(tuning.trigger_seconds),
                               "checkpointLocation": checkpoint})


if __name__ == "__main__":
    try:
        main()
    except JobArgumentsError as error:
        print(f"glue_job.py: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
