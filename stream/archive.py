"""The raw archive: the Kinesis event stream -> the raw zone, in large objects, exactly once.

The ingestion API acknowledges a request once Kinesis holds its events (docs/ingestion.md); this Spark Structured
Streaming query is what lands them in the raw zone, the system of record the batch jobs read. Each micro-batch:

1. adds each record's partition, from the line itself: ``source`` and the arrival hour (the API's ``received_at``,
   UTC) — the same partitioning the API used when it wrote one object per request
   (``raw/source=<source>/dt=YYYY-MM-DD/hour=HH/``);
2. repartitions by that key (every record of a partition in one Spark task) and sorts each task's rows by key and
   line bytes, so the content of every object is a function of the micro-batch's records alone;
3. on the executors, writes each partition's lines as gzip JSON lines — each line the exact bytes the API put on
   the stream (:func:`lakehouse.core.lake.raw.encode_json_lines`, as the API wrote them) — in parts of at most
   ``max_object_bytes`` uncompressed, named ``<run>-b<batch id>-p<part>.jsonl.gz``
   (:func:`lakehouse.core.lake.raw.archive_object_name`; ``run`` is the checkpoint's run id, :mod:`stream.identity`);
4. on the driver, once every object is stored, writes the micro-batch's landing-log record
   ``raw/_landed/dt=<today>/<run>-b<batch id>.json`` naming them (:mod:`lakehouse.core.lake.raw`).

Why a crash loses nothing and duplicates nothing: Spark logs a micro-batch's offsets before running it and commits
after it returns; a restarted query replays an uncommitted batch with the same id and the same records. Steps 1-3
then rewrite the same keys with the same bytes (an overwrite, not a new object) and step 4 writes the record the
crashed attempt may have missed. Random names would leave the crashed attempt's objects next to the replay's (every
event twice in the raw zone); a landing record written before the objects could name objects a crash never wrote.
What is not protected: records older than the stream's retention (24 h dev, 72 h prod) are gone from Kinesis, so an
archive stopped longer than that loses them. Each trigger of the query publishes a heartbeat metric
(:mod:`stream.heartbeat`); the monitoring stack alarms when it stops (docs/streaming.md, "Monitoring").

Records of an erased person (an id on the lake's suppression list, :class:`lakehouse.core.erasure.Suppression`,
read at every micro-batch) are not archived: ``lakehouse forget`` cannot delete them from Kinesis, so the archive
keeps them out of the raw zone while the stream still holds them; each micro-batch counts them (``suppressed``).

Lines that carry no usable ``source`` or ``received_at`` (nothing the API writes; another producer's record) land
under ``source=unknown`` by their arrival on the stream, where the batch job rejects them line by line with a reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse.core.config import Settings
from lakehouse.core.erasure import SUPPRESSED_JSON_PATHS, Suppression, load_suppression
from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.raw import (
    LandedObject,
    archive_object_name,
    encode_json_lines,
    raw_object_key,
    write_landing_log,
)
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.monitoring import ARCHIVE_SERVICE, ARCHIVED_RECORDS
from lakehouse.core.run_lock import checkpoint_lock
from stream.identity import checkpoint_identity, stale_checkpoint
from stream.query import await_query, query_error

WRITER = "raw-archive"
#: the points of a micro-batch where a ``fault(step, batch_id)`` callback is called (crash tests only)
ARCHIVE_FAULT_STEPS = ("after-objects", "after-landing-log")
Fault = Callable[[str, int], None]
UNKNOWN_SOURCE = "unknown"
#: the source :func:`mark_suppressed` gives an erased person's records: never a source (:data:`SOURCE_PATTERN`)
SUPPRESSED = ""
KEY_COLUMNS = ("archive_source", "archive_dt", "archive_hour")
# what a source may be in a key: the write keys' source names (letters, digits, '_', '.', '-')
SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
RECEIVED_PATTERN = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}):"


class ArchiveJobError(RuntimeError):
    """The archive query stopped with an error (its message says which); a restart resumes safely."""


@dataclass(frozen=True)
class ArchivedBatch:
    """One micro-batch archived: its id, records read, objects written (with their sizes), landing-log key,
    seconds, and the records of erased people it read and dropped (among ``records``, as the feature job counts
    them: ``archived`` = ``records`` - ``suppressed``)."""

    batch_id: int
    records: int
    objects: tuple[LandedObject, ...]
    landing_log: str | None
    seconds: float
    suppressed: int = 0  # records of erased people read and dropped (docs/erasure.md), among ``records``

    @property
    def archived(self) -> int:
        """Records written to the raw zone."""
        return sum(o.records for o in self.objects)

    @property
    def bytes(self) -> int:
        """Compressed bytes written by this micro-batch."""
        return sum(o.bytes for o in self.objects)


@dataclass
class ArchiveReport:
    """What a run of the archive did: its micro-batches, the checkpoint and run id, wall time in seconds."""

    batches: list[ArchivedBatch] = field(default_factory=list)
    checkpoint: str = ""
    run: str = ""
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def records(self) -> int:
        """Records read from the stream, over all micro-batches (``archived`` + ``suppressed``)."""
        return sum(b.records for b in self.batches)

    @property
    def archived(self) -> int:
        """Records written to the raw zone, over all micro-batches."""
        return sum(b.archived for b in self.batches)

    @property
    def suppressed(self) -> int:
        """Records of erased people read from the stream and dropped, over all micro-batches."""
        return sum(b.suppressed for b in self.batches)

    @property
    def objects(self) -> int:
        """Raw objects written (a replayed batch's rewrites count again)."""
        return sum(len(b.objects) for b in self.batches)

    def summary(self) -> dict[str, object]:
        """``batches``, ``records`` (read), ``archived``, ``suppressed`` (read and dropped: erased people's),
        ``objects``, ``bytes`` (compressed), ``seconds``."""
        return {"batches": len(self.batches), "records": self.records, "archived": self.archived,
                "suppressed": self.suppressed,
                "objects": self.objects, "bytes": sum(b.bytes for b in self.batches),
                "seconds": round(self.seconds, 2)}


def with_partition_key(frame, arrival_column: str | None = None):
    """``frame`` (a ``data`` column: the record's bytes, binary or string) with :data:`KEY_COLUMNS` added:
    the line's ``source`` and the date and hour of its ``received_at`` (strings ``YYYY-MM-DD`` and ``HH``).

    A line without a usable source gets ``unknown``; without a readable ``received_at``, the date and hour of
    ``arrival_column`` (the record's arrival on the stream, a timestamp), else ``1970-01-01``/``00``. Spark 3.5 API.
    """
    from pyspark.sql import functions as F

    text = F.col("data").cast("string")
    source = F.get_json_object(text, "$.source")
    received = F.coalesce(F.get_json_object(text, "$.received_at"), F.lit(""))
    day = F.regexp_extract(received, RECEIVED_PATTERN, 1)
    hour = F.regexp_extract(received, RECEIVED_PATTERN, 2)
    if arrival_column is not None:
        fallback_day = F.coalesce(F.date_format(arrival_column, "yyyy-MM-dd"), F.lit("1970-01-01"))
        fallback_hour = F.coalesce(F.date_format(arrival_column, "HH"), F.lit("00"))
    else:
        fallback_day, fallback_hour = F.lit("1970-01-01"), F.lit("00")
    usable = day != ""
    return frame.select(
        F.col("data").cast("binary").alias("data"),
        F.when(F.coalesce(source, F.lit("")).rlike(SOURCE_PATTERN), source).otherwise(F.lit(UNKNOWN_SOURCE))
        .alias("archive_source"),
        F.when(usable, day).otherwise(fallback_day).alias("archive_dt"),
        F.when(usable, hour).otherwise(fallback_hour).alias("archive_hour"))


def partition_writer(lake_root: str, region: str | None, run: str, batch_id: int,
                     max_object_bytes: int) -> Callable[[Iterator[Any]], Iterator[tuple[str, int, int]]]:
    """The executor side: rows ``(data, archive_source, archive_dt, archive_hour)`` sorted by key and data ->
    objects written, as ``(key, compressed bytes, lines)``. Rows whose source is :data:`SUPPRESSED` (an erased
    person's, :func:`mark_suppressed`) are not written: they are counted, as one last ``(SUPPRESSED, 0, count)``.

    Holds at most one part (``max_object_bytes`` of lines) in memory; part numbers count per key from 0.
    """

    def write(rows: Iterator[Any]) -> Iterator[tuple[str, int, int]]:
        from datetime import UTC, datetime

        storage = LakeStorage(LakeLayout.from_uri(lake_root), region=region)
        current: tuple[str, str, str] | None = None
        lines: list[bytes] = []
        size = part = 0

        def flush() -> tuple[str, int, int]:
            source, day, hour = current  # type: ignore[misc]
            at = datetime.strptime(f"{day} {hour}", "%Y-%m-%d %H").replace(tzinfo=UTC)
            key = raw_object_key(source, at, archive_object_name(run, batch_id, part))
            body = encode_json_lines(lines)
            storage.put_bytes(key, body, content_type="application/gzip")
            return key, len(body), len(lines)

        dropped = 0
        for row in rows:
            if row[1] == SUPPRESSED:
                dropped += 1
                continue
            key = (row[1], row[2], row[3])
            line = bytes(row[0]).rstrip(b"\n")
            if key != current:
                if lines:
                    yield flush()
                current, lines, size, part = key, [], 0, 0
            elif lines and size + len(line) + 1 > max_object_bytes:
                yield flush()
                lines, size, part = [], 0, part + 1
            lines.append(line)
            size += len(line) + 1
        if lines:
            yield flush()
        if dropped:
            yield SUPPRESSED, 0, dropped

    return write


def is_suppressed(suppression: Suppression):
    """A Spark boolean column: whether the record in ``data`` (canonical raw record bytes) has an id or e-mail field
    (:data:`lakehouse.core.erasure.SUPPRESSED_JSON_PATHS`) on ``suppression`` — the list's salted SHA-256, in Spark
    SQL."""
    from pyspark.sql import functions as F

    text = F.col("data").cast("string")
    digests = sorted(suppression.digests)
    hit = F.lit(False)
    for path in SUPPRESSED_JSON_PATHS:
        value = F.get_json_object(text, path)
        hit = hit | F.coalesce(F.sha2(F.concat(F.lit(f"{suppression.salt}:"), value), 256).isin(*digests),
                               F.lit(False))
    return hit


def mark_suppressed(keyed, suppression: Suppression):
    """``keyed`` (:func:`with_partition_key`'s columns) with the source of every record of a person on
    ``suppression`` set to :data:`SUPPRESSED`, so that :func:`partition_writer` counts them instead of writing them;
    unchanged for an empty list."""
    from pyspark.sql import functions as F

    if not suppression.digests:
        return keyed
    return keyed.withColumn("archive_source", F.when(is_suppressed(suppression), F.lit(SUPPRESSED))
                            .otherwise(F.col("archive_source")))


def archive_batch(frame, batch_id: int, *, storage: LakeStorage, region: str | None, run: str,
                  max_object_bytes: int, partitions: int, arrival_column: str | None = None,
                  fault: Fault | None = None) -> ArchivedBatch:
    """Archive one micro-batch (steps 1-4 of the module docstring); returns what it wrote.

    ``frame`` has a ``data`` column (each record's bytes); ``partitions`` Spark tasks write the objects. Only
    the list of objects written comes back to the driver, never the records. Raises what the storage raises.
    """
    started = time.perf_counter()
    keyed = mark_suppressed(with_partition_key(frame, arrival_column), load_suppression(storage))
    ordered = keyed.repartition(max(1, partitions), *KEY_COLUMNS).sortWithinPartitions(*KEY_COLUMNS, "data")
    writer = partition_writer(storage.layout.root_uri, region, run, batch_id, max_object_bytes)
    written = sorted(ordered.rdd.mapPartitions(writer).collect())
    objects = tuple(LandedObject(key, size, lines) for key, size, lines in written if key != SUPPRESSED)
    suppressed = sum(lines for key, _, lines in written if key == SUPPRESSED)
    if fault is not None:
        fault("after-objects", batch_id)
    log = None
    if objects:
        log = write_landing_log(storage, WRITER, f"{run}-b{batch_id:010d}", objects)
    if fault is not None:
        fault("after-landing-log", batch_id)
    return ArchivedBatch(batch_id, sum(o.records for o in objects) + suppressed, objects, log,
                         time.perf_counter() - started, suppressed)


def archive_checkpoint(settings: Settings) -> str:
    """``checkpoints/<raw archive job>/`` in the lake (a local directory: Spark cannot reach S3 locally).

    Raises :class:`ArchiveJobError` when the lake is on S3.
    """
    if settings.lake.is_s3:
        raise ArchiveJobError("the local raw archive keeps its checkpoint in the lake, which must be a local "
                              "directory (Spark cannot reach S3 here); unset LAKEHOUSE_LAKE_ROOT or run on Glue")
    return settings.lake.path("checkpoints", settings.names.raw_archive_job)


def run_archive(settings: Settings, spark, *, once: bool = True, buffer_seconds: float | None = None,
                max_records: int | None = None, on_progress: Callable[[ArchivedBatch], None] | None = None,
                stop: threading.Event | None = None, fault: Fault | None = None,
                metrics: bool = True) -> ArchiveReport:
    """Run the raw archive over the stream named by ``settings``; returns what it did.

    ``once``: archive what is on the stream now (``Trigger.AvailableNow``, micro-batches of at most
    ``max_records`` records, default ``settings.archive.max_records_per_trigger``), then stop. Otherwise one
    micro-batch every ``buffer_seconds`` (default ``settings.archive.buffer_seconds``) until ``stop`` is set.
    ``metrics``: publish the archive's heartbeat, one ``ArchivedRecords`` datapoint per trigger, idle ones
    included, to CloudWatch at the configured endpoint (:mod:`stream.heartbeat`).
    Raises :class:`ArchiveJobError` when the query fails; a new run resumes from the checkpoint.
    """
    from stream.heartbeat import QueryHeartbeat, cloudwatch_publisher, listening
    from stream.job import source_options, stream_created_at
    from stream.kinesis.source import register

    tuning = settings.archive
    checkpoint = archive_checkpoint(settings)
    created = stream_created_at(settings)
    stale_checkpoint(Path(checkpoint), created)
    identity = checkpoint_identity(checkpoint, tuning.starting_position, tuning.starting_timestamp,
                                   region=settings.region, stream_created=created)
    storage = LakeStorage(settings.lake, region=settings.region)
    report = ArchiveReport(checkpoint=checkpoint, run=identity.run)
    partitions = max(1, spark.sparkContext.defaultParallelism)
    failures: list[tuple[int, BaseException]] = []

    def handle(frame, batch_id: int) -> None:
        try:
            result = archive_batch(frame, batch_id, storage=storage, region=settings.region, run=identity.run,
                                   max_object_bytes=tuning.max_object_bytes, partitions=partitions,
                                   arrival_column="approximate_arrival_timestamp", fault=fault)
        except BaseException as exc:  # remembered: Spark only passes a stringified traceback on
            failures.append((batch_id, exc))
            raise
        report.batches.append(result)
        if on_progress is not None:
            on_progress(result)

    register(spark)
    options = source_options(settings, identity, max_records or tuning.max_records_per_trigger)
    reader = spark.readStream.format("kinesis").options(**options)
    writer = reader.load().writeStream.foreachBatch(handle).option("checkpointLocation", checkpoint)
    interval = tuning.buffer_seconds if buffer_seconds is None else buffer_seconds
    writer = writer.trigger(availableNow=True) if once else writer.trigger(processingTime=f"{interval} seconds")
    name = f"raw_archive_{settings.stage}_{identity.run}"
    heartbeat = QueryHeartbeat(name, cloudwatch_publisher(settings.region, settings.stage, ARCHIVE_SERVICE,
                                                          ARCHIVED_RECORDS)) if metrics else None
    with checkpoint_lock(checkpoint, "the raw archive"), listening(spark, heartbeat):
        started = time.perf_counter()
        query = writer.queryName(name).start()
        try:
            report.interrupted = await_query(
                query, once, stop, lambda failure: query_error(ArchiveJobError, "the raw archive", failure, failures))
        finally:
            report.seconds = time.perf_counter() - started
    return report


__all__ = ["ARCHIVE_FAULT_STEPS", "SUPPRESSED", "ArchiveJobError", "ArchiveReport", "ArchivedBatch", "archive_batch",
           "archive_checkpoint", "is_suppressed", "mark_suppressed", "partition_writer", "run_archive",
           "with_partition_key"]
