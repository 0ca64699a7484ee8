"""Glue 5 streaming job (Spark 3.5): Glue's Kinesis source -> the same keyed-state query as locally.

Arguments (:class:`lakehouse.core.job_args.StreamingJobArguments`, built by the CDK streaming stack from the
same model): ``--project``, ``--stage``, ``--region``, ``--lake_root``, ``--stream_arn``,
``--checkpoint_location``, ``--kinesis_shards`` and the tuning as ``--stream_<StreamSettings field>``
(``--stream_trigger_seconds 1.0`` …): a Glue job has no ``LAKEHOUSE_*`` environment.

The feature query reads Glue's Kinesis source unparsed (``spark.readStream.format("kinesis")`` on Glue: each row
carries the record's ``data`` bytes, as the API put them, and ``approximateArrivalTimestamp``), projects it to the
local source's columns (:data:`GLUE_RECORD_COLUMNS`) and hands it to :func:`stream.stateful.feature_rows` —
routing, the keyed state, the feedback source of forwarded records (``checkpoints/<job>/_forward/<run>/`` in the
lake) — and :class:`stream.stateful.MicroBatchWriter` (items written from the executors, forwards and quarantine
named by the micro-batch): the code the local job runs and the tests check, so the exactly-once argument of
docs/decisions-stream.md holds unchanged. Spark's own checkpoint (``--checkpoint_location``, in the lake) keeps
the offsets and the state store; a failed micro-batch fails the query and the job run (the job-failure
notification fires), and Glue's restart replays it from the checkpoint with the same id.

With ``--raw_archive_checkpoint`` the job also runs the raw archive (:mod:`stream.archive`) as a second streaming
query over the same stream, with its own checkpoint and a processing-time trigger of ``--archive_buffer_seconds``
(:func:`start_raw_archive`), with the same unparsed reader. One job, two queries: no second set of Glue workers is
billed; a failure of either query fails the job run and Glue's restart resumes both from their checkpoints.

Differences from the local Python source: Glue's unparsed rows are not known to carry shard ids and sequence
numbers, so rejects are ordered by arrival alone in their quarantine object; the source's option names are AWS
Glue's documented ones and cannot be exercised here (no Glue runtime): the tests run the same query with a file
source standing in for Glue's reader (tests/stream/test_glue_job.py).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from datetime import UTC, datetime

from pyspark.sql import DataFrame

from lakehouse.core.job_args import JobArgumentsError, StreamingJobArguments
from stream.identity import checkpoint_identity
from stream.microbatch import BatchResult

#: Glue's unparsed Kinesis rows -> the feature query's record columns (stream/stateful.py ``RECORD_COLUMNS``)
GLUE_RECORD_COLUMNS = ("data", "'' AS shard_id", "'0' AS sequence_number",
                       "unix_micros(approximateArrivalTimestamp) AS arrival_us")
FEATURE_QUERY = "features"  # the feature query's name in the Glue job
ARCHIVE_QUERY = "raw_archive"  # the raw archive query's name in the Glue job (its heartbeat listener matches it)


def glue_starting_timestamp(value: str) -> str:
    """An ISO 8601 time as Glue's Kinesis ``startingPosition`` takes it: ``yyyy-mm-ddTHH:MM:SS`` and a ``±hh:mm``
    offset (AWS Glue, Kinesis connection options), here always UTC (``2025-06-01T00:00:00+00:00``).

    A fraction of a second (``datetime.isoformat()`` writes microseconds) is dropped: the read starts at most one
    second earlier, and every restart of the checkpoint passes the same value.
    """
    moment = datetime.fromisoformat(value)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def window_size(trigger_seconds: float) -> str:
    """Glue's ``windowSize`` for a trigger interval: whole seconds, at least 1, never shorter than asked.

    Glue takes the window as a Spark interval of whole seconds (``"2 seconds"``); a fractional interval is
    rounded up, so micro-batches never come more often than ``LAKEHOUSE_STREAM__TRIGGER_SECONDS`` says.
    """
    return f"{max(1, math.ceil(trigger_seconds))} seconds"


def source_options(stream_arn: str, starting_position: str, starting_timestamp: str | None,
                   max_records_per_shard: int) -> dict[str, str]:
    """Options of Glue's Kinesis source used unparsed (``spark.readStream.format("kinesis")`` on Glue: rows carry
    ``data``, the record's bytes, and ``approximateArrivalTimestamp``), for both queries: the stream, the
    checkpoint's pinned start (an AT_TIMESTAMP start as the timestamp itself, Glue's convention), at most
    ``max_records_per_shard`` records per shard per fetch, the consumer's lag published to CloudWatch."""
    options = {"streamARN": stream_arn, "startingPosition": starting_position,
               "maxFetchRecordsPerShard": str(max_records_per_shard), "emitConsumerLagMetrics": "true"}
    if starting_position == "AT_TIMESTAMP" and starting_timestamp:
        options["startingPosition"] = glue_starting_timestamp(starting_timestamp)
    return options


def start_raw_archive(spark, settings, stream_arn: str, checkpoint: str):
    """Start the raw archive query (Glue's Kinesis source -> :func:`stream.archive.archive_batch` every
    ``settings.archive.buffer_seconds``) and return it, running; its run id is kept in ``checkpoint``.

    Each trigger of the query, idle ones included, publishes the archive's heartbeat metric to CloudWatch
    (:class:`stream.heartbeat.QueryHeartbeat`, registered on the session before the query starts).
    """
    from lakehouse.core.lake.storage import LakeStorage
    from lakehouse.core.monitoring import ARCHIVE_SERVICE, ARCHIVED_RECORDS
    from stream.archive import archive_batch
    from stream.heartbeat import QueryHeartbeat, cloudwatch_publisher

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
        print(json.dumps({"raw_archive_batch": batch_id, "records": batch.records,
                          "archived": batch.archived, "suppressed": batch.suppressed, "objects": len(batch.objects),
                          "bytes": batch.bytes, "seconds": round(batch.seconds, 3)}), flush=True)

    records = kinesis_records(spark, source_options(stream_arn, identity.starting_position,
                                                    identity.starting_timestamp,
                                                    max(1, tuning.max_records_per_trigger // shards)))
    spark.streams.addListener(QueryHeartbeat(ARCHIVE_QUERY, cloudwatch_publisher(settings.region, settings.stage,
                                                                                 ARCHIVE_SERVICE, ARCHIVED_RECORDS)))
    return (records.writeStream.foreachBatch(handle).option("checkpointLocation", checkpoint)
            .trigger(processingTime=window_size(tuning.buffer_seconds)).queryName(ARCHIVE_QUERY).start())


def kinesis_records(spark, options: dict[str, str]) -> DataFrame:
    """Glue's Kinesis source, unparsed, as a streaming DataFrame (``data``, ``approximateArrivalTimestamp``, …)."""
    return spark.readStream.format("kinesis").options(**options).load()


def batch_log(result: BatchResult) -> str:
    """One micro-batch's counts as the JSON line the job prints to its log."""
    return json.dumps({"batch_id": result.batch_id, "records": result.records, "events": result.events,
                       "rejected": result.rejected, "suppressed": result.suppressed, "duplicates": result.duplicates,
                       "customers": result.written, "links": result.links, "merged": result.merged,
                       "forwarded": result.forwarded,
                       "seconds": round(result.seconds, 3), "lag_ms": result.lag_ms})


def start_features(spark, settings, stream_arn: str, checkpoint: str, *, fault=None):
    """Start the feature query (Glue's Kinesis source -> :func:`stream.stateful.feature_rows` ->
    :class:`stream.stateful.MicroBatchWriter` every ``settings.stream.trigger_seconds``, rounded up to whole
    seconds) and return it, running; the checkpoint's run id is kept in ``checkpoint``. ``fault``: the writer's
    fault hook (tests only).

    Every trigger of the query, idle ones included, counts into the feature query's heartbeat metric, published to
    CloudWatch at most once a minute (:class:`stream.heartbeat.QueryHeartbeat`, registered before the query starts).
    """
    from lakehouse.core.lake.storage import LakeStorage
    from lakehouse.core.monitoring import FEATURE_RECORDS, FEATURES_HEARTBEAT_SECONDS, FEATURES_SERVICE
    from stream.heartbeat import QueryHeartbeat, cloudwatch_publisher
    from stream.stateful import MicroBatchWriter, feature_rows, forward_prefix

    tuning = settings.stream
    identity = checkpoint_identity(checkpoint, tuning.starting_position, tuning.starting_timestamp,
                                   region=settings.region)
    prefix = forward_prefix(settings.names.streaming_job, identity.run)
    # the file source refuses a path that does not exist: a hidden marker makes the (S3) prefix exist
    LakeStorage(settings.lake, region=settings.region).put_bytes(f"{prefix}_started", b"")
    shards = max(1, settings.kinesis_shards)
    # the keyed state's partitions: recorded in a new checkpoint, each one a state-store file per micro-batch on S3
    # (Spark's default of 200 would be 200 PUTs a second at a 1 s trigger); the session is this job's own
    spark.conf.set("spark.sql.shuffle.partitions", str(tuning.state_partitions))
    records = kinesis_records(spark, source_options(stream_arn, identity.starting_position,
                                                    identity.starting_timestamp,
                                                    max(1, tuning.max_records_per_trigger // shards)))
    rows = feature_rows(spark, records, settings.lake.path(prefix), settings, columns=GLUE_RECORD_COLUMNS)
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")  # None on Glue
    writer = MicroBatchWriter(settings, identity.run, endpoint, fault)

    def handle(frame: DataFrame, batch_id: int) -> None:
        print(batch_log(writer(frame, batch_id)), flush=True)

    spark.streams.addListener(QueryHeartbeat(FEATURE_QUERY, cloudwatch_publisher(
        settings.region, settings.stage, FEATURES_SERVICE, FEATURE_RECORDS), every_seconds=FEATURES_HEARTBEAT_SECONDS))
    return (rows.writeStream.foreachBatch(handle).option("checkpointLocation", checkpoint)
            .trigger(processingTime=window_size(tuning.trigger_seconds)).queryName(FEATURE_QUERY).start())


def main(argv: list[str] | None = None) -> None:
    """Start the streaming job on ``argv`` (``sys.argv`` when None); runs until Glue stops it or a query fails
    (its error propagates: the job run fails and Glue restarts it from the checkpoints).

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

    from awsglue.context import GlueContext  # only once the arguments are known good: Glue's own library
    from pyspark.context import SparkContext

    spark = GlueContext(SparkContext.getOrCreate()).spark_session
    queries = []
    try:
        if args.raw_archive_checkpoint:
            queries.append(start_raw_archive(spark, settings, str(args.stream_arn), str(args.raw_archive_checkpoint)))
        queries.append(start_features(spark, settings, str(args.stream_arn), str(args.checkpoint_location)))
        spark.streams.resetTerminated()  # only this run's queries end the wait
        spark.streams.awaitAnyTermination()  # returns, or raises the failed query's error
    finally:  # one query ended (stopped, or failed: its error propagates): the job ends with both stopped
        for query in queries:
            with contextlib.suppress(Exception):
                query.stop()


if __name__ == "__main__":
    try:
        main()
    except JobArgumentsError as error:
        print(f"glue_job.py: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
