"""The local streaming job: the Python Kinesis source -> the keyed-state query (stream/stateful.py) -> DynamoDB.

>>> report = run_stream(settings, spark, once=True)   # what is on the stream now, then stop
>>> report.events, report.freshness_p95_ms

``once=True`` uses ``Trigger.AvailableNow`` (every record that had arrived when the query started, in
micro-batches of at most ``max_records_per_trigger``); otherwise a processing-time trigger runs until
``stop`` is set. The checkpoint lives in the lake at ``checkpoints/<streaming job>/``; a restart resumes
after the last committed micro-batch and replays an unfinished one with the same id and records.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.core.config import Settings
from lakehouse.core.identity import MAX_HOPS
from lakehouse.core.monitoring import FEATURE_RECORDS, FEATURES_HEARTBEAT_SECONDS, FEATURES_SERVICE
from lakehouse.core.run_lock import checkpoint_lock
from stream.identity import CheckpointIdentity, checkpoint_identity, stale_checkpoint
from stream.microbatch import BatchResult, Fault
from stream.query import await_query, query_error
from stream.stateful import MicroBatchWriter, feature_rows, forward_prefix

MAX_BATCHES_KEPT = 10_000
MAX_FRESHNESS_SAMPLES = 500_000
TOTALS = ("records", "events", "rejected", "suppressed", "duplicates", "written", "seconds", "links",
          "identity_conflicts", "merged")


class StreamJobError(RuntimeError):
    """The streaming query stopped with an error (its message says which); a restart resumes safely."""


@dataclass
class StreamReport:
    """What a run of the job did, with its metrics (the latest samples, bounded for long runs)."""

    batches: deque[BatchResult] = field(default_factory=lambda: deque(maxlen=MAX_BATCHES_KEPT))
    seconds: float = 0.0
    checkpoint: str = ""
    run: str = ""
    replaced_checkpoint: str | None = None  # an earlier stream's checkpoint, moved aside
    interrupted: bool = False  # Ctrl-C
    totals: dict[str, float] = field(default_factory=dict)
    _freshness: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_FRESHNESS_SAMPLES), repr=False)

    def add(self, result: BatchResult) -> None:
        """Count one finished micro-batch into the totals and the bounded samples."""
        self.batches.append(result)
        self._freshness.extend(result.freshness_ms)
        self.totals["batches"] = self.totals.get("batches", 0) + 1
        for name in TOTALS:
            self.totals[name] = self.totals.get(name, 0) + getattr(result, name)

    def _sum(self, name: str) -> int:
        return int(self.totals.get(name, 0))

    @property
    def records(self) -> int:
        """Records read from the stream, over all micro-batches."""
        return self._sum("records")

    @property
    def events(self) -> int:
        """Valid events applied (after both dedups)."""
        return self._sum("events")

    @property
    def rejected(self) -> int:
        """Records quarantined."""
        return self._sum("rejected")

    @property
    def suppressed(self) -> int:
        """Records of erased people read and dropped (on the lake's suppression list: docs/erasure.md)."""
        return self._sum("suppressed")

    @property
    def duplicates(self) -> int:
        """Events dropped as duplicates: within a micro-batch, or applied by an earlier one."""
        return self._sum("duplicates")

    @property
    def customers_written(self) -> int:
        """Customer item writes (a customer counts once per micro-batch that changed it)."""
        return self._sum("written")

    @property
    def links(self) -> int:
        """Identity links added (identify with both ids, alias)."""
        return self._sum("links")

    @property
    def merged(self) -> int:
        """Items of stitched ids merged into their customer's item."""
        return self._sum("merged")

    @property
    def busy_seconds(self) -> float:
        """Seconds spent inside micro-batches (excludes Spark's planning and idle triggers)."""
        return self.totals.get("seconds", 0.0)

    @property
    def records_per_second(self) -> float:
        """Records over the time spent inside micro-batches (the sink's throughput)."""
        return self.records / self.busy_seconds if self.busy_seconds > 0 else 0.0

    @property
    def batch_seconds_p50(self) -> float | None:
        """Median duration in seconds of the kept micro-batches that had records (None: none)."""
        return _quantile([b.seconds for b in self.batches if b.records], 0.5)

    @property
    def batch_seconds_p95(self) -> float | None:
        """95th percentile duration in seconds of the kept micro-batches that had records (None: none)."""
        return _quantile([b.seconds for b in self.batches if b.records], 0.95)

    @property
    def freshness_p50_ms(self) -> float | None:
        """Median ms from the API accepting an event to its customer's item being written (None: no sample)."""
        return _quantile(self._freshness, 0.5)

    @property
    def freshness_p95_ms(self) -> float | None:
        """95th percentile of the same freshness, in ms (None: no sample)."""
        return _quantile(self._freshness, 0.95)

    @property
    def max_lag_ms(self) -> float | None:
        """Largest ms from a batch's newest record reaching the stream to the end of its batch (None: none)."""
        lags = [b.lag_ms for b in self.batches if b.lag_ms is not None]
        return max(lags) if lags else None

    def summary(self) -> dict[str, object]:
        """The headline figures, rounded, for display and JSON (units in the names: ``_ms``, ``_seconds``)."""
        return {"batches": self._sum("batches"), "records": self.records, "events": self.events,
                "rejected": self.rejected, "suppressed": self.suppressed, "duplicates": self.duplicates,
                "customers_written": self.customers_written, "links": self.links,
                "identity_conflicts": self._sum("identity_conflicts"), "merged": self.merged,
                "records_per_second": round(self.records_per_second, 1),
                "batch_seconds_p50": _round(self.batch_seconds_p50, 3),
                "batch_seconds_p95": _round(self.batch_seconds_p95, 3),
                "freshness_p50_ms": _round(self.freshness_p50_ms, 0),
                "freshness_p95_ms": _round(self.freshness_p95_ms, 0),
                "max_lag_ms": _round(self.max_lag_ms, 0), "seconds": round(self.seconds, 2)}


def checkpoint_location(settings: Settings) -> str:
    """``checkpoints/<streaming job>/`` in the lake (a local directory: Spark cannot reach S3 locally).

    Raises :class:`StreamJobError` when the lake is on S3.
    """
    if settings.lake.is_s3:
        raise StreamJobError("the local streaming job keeps its checkpoint in the lake, which must be a local "
                             "directory (Spark cannot reach S3 here); unset LAKEHOUSE_LAKE_ROOT or run on Glue")
    return settings.lake.path("checkpoints", settings.names.streaming_job)


def stream_created_at(settings: Settings) -> str:
    """The stream's creation time (ISO 8601); raises :class:`StreamJobError` when it does not exist or Kinesis
    cannot be reached (the message names the stream and the endpoint's error)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from lakehouse.core.aws.clients import aws_client

    try:
        summary = aws_client("kinesis", region=settings.region).describe_stream_summary(
            StreamName=settings.names.stream)["StreamDescriptionSummary"]
    except ClientError as exc:
        raise StreamJobError(f"stream {settings.names.stream}: {exc.response.get('Error', {}).get('Message', exc)}") \
            from None
    except BotoCoreError as exc:  # unreachable: the emulator or the network down
        raise StreamJobError(f"stream {settings.names.stream}: {exc}; nothing was read, a new run resumes from the "
                             "checkpoint") from None
    return summary["StreamCreationTimestamp"].isoformat()


def source_options(settings: Settings, identity: CheckpointIdentity, max_records: int | None) -> dict[str, str]:
    """Options of the ``kinesis`` source: the stream, the checkpoint's pinned start, the per-trigger cap and the
    endpoint (``AWS_ENDPOINT_URL_KINESIS`` or ``AWS_ENDPOINT_URL``, when set)."""
    options = {"streamName": settings.names.stream, "region": settings.region,
               "startingPosition": identity.starting_position,
               "maxRecordsPerTrigger": str(max_records or settings.stream.max_records_per_trigger)}
    if identity.starting_timestamp:
        options["startingTimestamp"] = identity.starting_timestamp
    endpoint = os.environ.get("AWS_ENDPOINT_URL_KINESIS") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["endpointUrl"] = endpoint
    return options


def run_stream(settings: Settings, spark, *, once: bool = True, trigger_seconds: float | None = None,
               max_records: int | None = None, on_progress: Callable[[BatchResult], None] | None = None,
               stop: threading.Event | None = None, fault: Fault | None = None,
               metrics: bool = True) -> StreamReport:
    """Run the feature job over the stream named by ``settings``; returns what it did.

    ``once``: process what is on the stream now, then stop. Otherwise micro-batches every
    ``trigger_seconds`` (default ``settings.stream.trigger_seconds``) until ``stop`` is set.
    ``on_progress(result)`` is called after every micro-batch. ``metrics``: publish the feature query's heartbeat
    (``FeatureRecords``: every trigger, idle ones included, summed at most once a minute) to CloudWatch at the
    configured endpoint (:mod:`stream.heartbeat`). Raises :class:`StreamJobError` when the query fails (e.g.
    DynamoDB unreachable); nothing is lost, a new run resumes from the checkpoint.
    """
    from stream.heartbeat import QueryHeartbeat, cloudwatch_publisher, listening
    from stream.kinesis.source import register

    checkpoint = checkpoint_location(settings)
    tuning = settings.stream
    created = stream_created_at(settings)
    replaced = stale_checkpoint(Path(checkpoint), created)
    identity = checkpoint_identity(checkpoint, tuning.starting_position, tuning.starting_timestamp,
                                   region=settings.region, stream_created=created)
    report = StreamReport(checkpoint=checkpoint, run=identity.run, replaced_checkpoint=str(replaced or "") or None)
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    writer = MicroBatchWriter(settings, identity.run, endpoint, fault)
    forward_uri = settings.lake.path(forward_prefix(settings.names.streaming_job, identity.run))
    Path(forward_uri).mkdir(parents=True, exist_ok=True)
    failures: list[tuple[int, BaseException]] = []
    forwarded: list[bool] = []  # per micro-batch of the current query: did it write forwards? (not the bounded
    # report.batches, whose length stops growing after MAX_BATCHES_KEPT)

    def handle(frame, batch_id: int) -> None:
        try:
            result = writer(frame, batch_id)
        except BaseException as exc:  # remembered: Spark only passes a stringified traceback on
            failures.append((batch_id, exc))
            raise
        forwarded.append(result.forwards_pending)
        report.add(result)
        if on_progress is not None:
            on_progress(result)

    register(spark)
    interval = tuning.trigger_seconds if trigger_seconds is None else trigger_seconds
    name = f"features_{settings.stage}_{identity.run}"
    heartbeat = QueryHeartbeat(name, cloudwatch_publisher(settings.region, settings.stage, FEATURES_SERVICE,
                                                          FEATURE_RECORDS),
                               every_seconds=FEATURES_HEARTBEAT_SECONDS) if metrics else None
    with checkpoint_lock(checkpoint, "the streaming job"), listening(spark, heartbeat):
        started = time.perf_counter()
        try:
            for _ in range(MAX_HOPS + 2 if once else 1):  # once: again while the last batch forwarded records
                options = source_options(settings, identity, max_records)
                records = spark.readStream.format("kinesis").options(**options).load()
                rows = feature_rows(spark, records, forward_uri, settings)
                query_writer = rows.writeStream.foreachBatch(handle).option("checkpointLocation", checkpoint)
                query_writer = (query_writer.trigger(availableNow=True) if once
                                else query_writer.trigger(processingTime=f"{interval} seconds"))
                forwarded.clear()
                query = query_writer.queryName(name).start()
                report.interrupted = await_query(query, once, stop, lambda failure: query_error(
                    StreamJobError, "the streaming", failure, failures))
                if not once or report.interrupted:
                    break
                if not any(forwarded):
                    break  # an AvailableNow run reads only the forward objects that existed when it started
        finally:
            report.seconds = time.perf_counter() - started
    return report


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q * 100) - 1))]


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
