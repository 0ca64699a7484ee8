"""Exactly once across runs, whatever the date: an index of every curated ``event_id``.

The curated tables are partitioned by event date, so finding whether an id was curated before by reading them
means guessing the dates to read; an event replayed with another timestamp (a request resent days later, a
client that re-stamps a retry) escapes any window. The index does not depend on the date:

``state/raw_to_curated/event_ids/bucket=<b>/*.parquet`` — one row per (event id, raw object that brought it):
``event_id``, ``event_date`` (its curated partition), ``raw_object``, ``run_id``; ``b`` is
``pmod(xxhash64(event_id), BUCKETS)``. A run reads only the buckets of its own ids. ``_index.json`` marks the
index complete: without it (a lake curated before the index existed) the index is first built from
``curated/events`` (:func:`ensure_index`).

Order of writes in a run (glue_jobs/curated/job.py): curated partitions, then this run's new ids appended to the
index (:func:`append_ids`, new files only — never a rewrite), then the run record. The index may therefore hold
ids of a run that crashed before its record; such rows name raw objects that are pending again, and
:func:`curated_ids` ignores rows whose raw object is in the current batch, exactly as the run that re-curates them
must. A crash can leave duplicate rows (the same id appended twice), never a missing one for a committed run:
duplicates are harmless (the lookup is a set) and :func:`compact` folds them away.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from glue_jobs.common.cache import BATCH_CACHE
from glue_jobs.common.lakefs import data_files, delete_prefix, partition_values, read_table
from lakehouse.core.aws.clients import aws_client
from lakehouse.core.job_state import write_json
from lakehouse.core.lake.storage import LakeStorage

INDEX = "state/raw_to_curated/event_ids"
MARKER = f"{INDEX}/_index.json"
STAGING = "state/raw_to_curated/_event_ids_staging"
BUCKET = "bucket"
#: buckets of the index: a small batch reads few of them; fixed for an index's life (recorded in its marker)
BUCKETS = 16
#: a bucket with more files than this is rewritten as one file (one file per bucket per run is appended)
MAX_FILES_PER_BUCKET = 16
COLUMNS = ("event_id", "event_date", "raw_object", "run_id")


def bucket_of(event_id: Column | str) -> Column:
    """The index bucket of an event id: ``pmod(xxhash64(event_id), BUCKETS)`` (Spark's xxhash64, seed 42)."""
    return F.pmod(F.xxhash64(event_id), F.lit(BUCKETS)).cast("int")


def _write(rows: DataFrame, uri: str) -> None:
    (rows.withColumn(BUCKET, bucket_of("event_id")).repartition(BUCKET)
     .write.mode("append").option("compression", "zstd").partitionBy(BUCKET).parquet(uri))


def ensure_index(spark: SparkSession, storage: LakeStorage, events_rel: str) -> int | None:
    """Build the index from ``curated/events`` when it has no completion marker; returns the rows indexed by
    that backfill (None when the index was complete already).

    A backfill first removes what an interrupted one left, and writes the marker last.
    """
    if storage.exists(MARKER):
        return None
    layout = storage.layout
    delete_prefix(layout, INDEX)
    indexed = 0
    current = read_table(spark, storage, events_rel)  # the current partition versions (lakehouse.core.lake.tables)
    if current is not None:
        events = current.select(
            "event_id", "event_date", "raw_object", F.lit(None).cast("string").alias("run_id")) \
            .persist(BATCH_CACHE)
        indexed = events.count()
        _write(events, layout.uri(INDEX))
        events.unpersist()
    write_json(storage, MARKER, {"buckets": BUCKETS, "built_at": datetime.now(UTC).isoformat(),
                                 "backfilled_rows": indexed})
    return indexed


def curated_ids(spark: SparkSession, storage: LakeStorage, batch: DataFrame, pending: DataFrame) -> DataFrame | None:
    """``event_id`` of the ids in ``batch`` that earlier runs curated from raw objects outside ``pending``
    (column ``raw_object``: this batch's raw objects); None when no bucket of the batch has an index file.

    Reads only the index buckets of ``batch``'s ids (one small Spark job finds them).
    """
    layout = storage.layout
    present = partition_values(storage, INDEX, BUCKET)
    if not present:  # an empty index (a first run): no Spark job to find the batch's buckets
        return None
    wanted = sorted(b for (b,) in batch.select(bucket_of("event_id")).distinct().collect() if str(b) in present)
    if not wanted:
        return None
    index = spark.read.option("basePath", layout.uri(INDEX)).parquet(
        *[layout.uri(INDEX, f"{BUCKET}={b}") for b in wanted])
    return index.join(F.broadcast(pending), "raw_object", "left_anti").select("event_id")


def append_ids(storage: LakeStorage, events: DataFrame, run_id: str) -> None:
    """Append the ids of ``events`` (the run's new curated events: ``event_id``, ``event_date``, ``raw_object``)
    to the index as new files; nothing existing is rewritten."""
    rows = events.select("event_id", "event_date", "raw_object", F.lit(run_id).alias("run_id"))
    _write(rows, storage.layout.uri(INDEX))


def compact(spark: SparkSession, storage: LakeStorage, run_id: str, *, region: str | None = None,
            max_files: int = MAX_FILES_PER_BUCKET) -> list[int]:
    """Rewrite each bucket holding more than ``max_files`` files as one file without duplicate rows; returns
    the buckets rewritten.

    The new file is added before the old ones are removed (staged first: Spark cannot write what it reads), so a
    crash in between leaves duplicates, never a gap.
    """
    layout = storage.layout
    files: dict[str, list[str]] = {}
    for obj in data_files(storage, INDEX):
        bucket = obj.key[len(INDEX) + 1:].split("/", 1)[0].removeprefix(f"{BUCKET}=")
        files.setdefault(bucket, []).append(obj.key)
    crowded = sorted(int(b) for b, keys in files.items() if len(keys) > max_files)
    if not crowded:
        return []
    stage = f"{STAGING}/{run_id}"
    delete_prefix(layout, STAGING)
    rows = (spark.read.option("basePath", layout.uri(INDEX))
            .parquet(*[layout.uri(INDEX, f"{BUCKET}={b}") for b in crowded])
            .select(*COLUMNS).dropDuplicates(["event_id", "raw_object"]))
    _write(rows, layout.uri(stage))
    staged = spark.read.parquet(layout.uri(stage)).select(*COLUMNS)
    _write(staged, layout.uri(INDEX))
    _delete(storage, [key for b in crowded for key in files[str(b)]], region)
    delete_prefix(layout, STAGING)
    return crowded


def _delete(storage: LakeStorage, keys: list[str], region: str | None = None) -> None:
    """Remove the given objects of the lake (local files or S3 objects)."""
    layout = storage.layout
    if not layout.is_s3:
        from pathlib import Path

        for key in keys:
            Path(layout.key(key)).unlink(missing_ok=True)
        return
    s3 = aws_client("s3", region=region)
    for start in range(0, len(keys), 1000):
        chunk = [{"Key": layout.key(k)} for k in keys[start:start + 1000]]
        s3.delete_objects(Bucket=layout.bucket, Delete={"Objects": chunk, "Quiet": True})
