"""Idempotent, crash-safe partition writes: a touched partition is rewritten as dedup(existing rows + new rows)
into a new version folder, and the table's manifest switched to it in one write.

Rewriting whole partitions makes a run safe to repeat (after a crash the same raw objects give the same
partitions), compacts partitions that late events touch again, and keeps files large: each rewritten
partition is one Spark task, split only above ``target_file_rows`` rows per file.

Commit protocol (:mod:`lakehouse.core.lake.tables`): the rows are written by one Spark job to
``curated/<table>/_w-<run_id>/event_date=D/`` and each partition folder moved to its version folder
``curated/<table>/event_date=D/_v-<run_id>/`` (a rename locally, server-side copies on S3) — folders no reader
resolves yet, so Spark never overwrites what it reads and nothing readers use is touched; then
the manifest ``curated/<table>/_manifest.json`` is rewritten in one PUT, naming the new version of each touched
partition and listing the replaced ones as retired. A crash before the switch leaves the table as it was (and an
orphan version folder, vacuumed later); after it, the table as the run left it. Nothing is deleted here:
:mod:`glue_jobs.curated.vacuum` removes retired versions after ``batch.partition_version_retention_days``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from glue_jobs.common.lakefs import delete_prefix, move_prefix, read_table, stats
from glue_jobs.curated.dedup import first_per_key
from glue_jobs.curated.report import TableWrite
from glue_jobs.curated.tables import EVENTS_READ_SCHEMA, upgrade_events
from lakehouse.core.lake import tables
from lakehouse.core.lake.storage import LakeStorage

PARTITION = "event_date"


#: the Parquet option that sets the ZSTD level (``Settings.batch.zstd_level`` is what the job passes)
ZSTD_LEVEL = "parquet.compression.codec.zstd.level"
#: Parquet write options of every curated table (docs/batch.md, "Curated footprint" and "ZSTD level": measured with
#: ``bench/bench_footprint.py`` and ``bench/bench_batch.py``). ZSTD level 9 by default: level 16 (zstd's first
#: optimal parser) was ~3 % smaller on ``events`` but allocates ~48 MB of match tables for every compressed page,
#: which on daily partitions (one or two pages per column and file) made the writes several times slower;
#: ``Settings.batch.zstd_level`` picks another level. Parquet v2 data pages and encodings: timestamps and integers
#: DELTA_BINARY_PACKED, strings that a dictionary does not shrink (``event_id``) DELTA_BYTE_ARRAY. Any zstd decoder
#: reads any level; Spark >= 3.3, pyarrow, DuckDB and Trino (Athena engine 3) read v2 pages.
PARQUET_OPTIONS: dict[str, str] = {
    "compression": "zstd",
    ZSTD_LEVEL: "9",
    "parquet.writer.version": "v2",
}
#: the session setting that picks the physical type of timestamps in Parquet files Spark writes
TIMESTAMP_TYPE_CONF = "spark.sql.parquet.outputTimestampType"
#: timestamps in curated files: INT64 microseconds since the epoch, UTC (Parquet's TIMESTAMP(isAdjustedToUTC=true,
#: MICROS), 3.5 B/row delta-encoded for ``events.event_ts``) rather than Spark's default INT96 (12 bytes,
#: deprecated by Parquet, 7.2 B/row); Spark reads both as the same TIMESTAMP, so partitions of either kind merge
TIMESTAMP_TYPE = "TIMESTAMP_MICROS"


@contextmanager
def session_conf(spark: SparkSession, values: Mapping[str, str]) -> Iterator[None]:
    """The session's settings ``values`` (key: value) for the duration of the block, then put back as they were."""
    before = {key: spark.conf.get(key, None) for key in values}
    for key, value in values.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def write_parquet(frame: DataFrame, uri: str, target_file_rows: int, sort_by: Sequence[str] = (),
                  options: Mapping[str, str] | None = None, timestamp_type: str = TIMESTAMP_TYPE,
                  clustered: bool = False) -> None:
    """Dynamic-overwrite the partitions present in ``frame`` (ZSTD Parquet, one task per partition, rows sorted
    by ``sort_by`` inside it).

    ``options`` add to (or override) :data:`PARQUET_OPTIONS`, ``timestamp_type`` is Spark's
    ``outputTimestampType`` for this write only (``bench/bench_footprint.py`` compares settings; the session's
    own value is left as it was: the star build's files keep theirs). ``clustered`` says that every partition
    value of ``frame`` already sits in one Spark partition (:func:`cluster_by_partition`): the write then needs
    no shuffle, one task still writes each partition's file.
    """
    out = frame if clustered else frame.repartition(F.col(PARTITION))
    if sort_by or clustered:
        out = out.sortWithinPartitions(PARTITION, *sort_by)
    writer = (out.write.mode("overwrite")
              .option("partitionOverwriteMode", "dynamic")
              .option("maxRecordsPerFile", target_file_rows))
    for key, value in {**PARQUET_OPTIONS, **(options or {})}.items():
        writer = writer.option(key, value)
    with session_conf(frame.sparkSession, {TIMESTAMP_TYPE_CONF: timestamp_type}):
        writer.partitionBy(PARTITION).parquet(uri)


def write_tasks(rows: int, dates: int, parallelism: int, task_rows: int) -> int:
    """How many Spark partitions a batch of ``rows`` events over ``dates`` event dates is clustered into before its
    tables are written (:func:`cluster_by_partition`): ``ceil(rows / task_rows)``, at least two per core (a small
    batch keeps every core busy) and at most one per date (a date is never split: one task writes its file).

    Why it grows with the batch: a task sorts its rows before writing them and spills a sorted run to disk each
    time its share of memory fills; Spark then merges all of a task's runs at once, with a read buffer of 1 MB or
    more per run on the heap. At 30M events in 4 tasks (7.5M rows each) on a 4 GiB driver, that merge ran out of
    heap (docs/scaling.md, "30M"); ``task_rows`` (``Settings.batch.write_task_rows``) bounds the rows, hence the
    runs, of one task.
    """
    return max(2 * parallelism, min(dates, -(-rows // task_rows)), 1)


def cluster_by_partition(frame: DataFrame, partitions: int) -> DataFrame:
    """``frame`` range-partitioned by ``event_date`` into at most ``partitions`` Spark partitions (:func:`write_tasks`):
    the rows of one date sit in one partition, neighbouring dates share one in about equal numbers of rows (Spark
    samples the batch for the bounds), and they stay there through the narrow transforms that build the tables
    (filters, selects, explodes). A table built from it and written with ``clustered=True`` (:func:`write_parquet`)
    then gets one file per date with no shuffle of its own."""
    return frame.repartitionByRange(max(1, partitions), F.col(PARTITION))


def read_partitions(spark: SparkSession, storage: LakeStorage, table_rel: str, values: Sequence[str],
                    schema=None, state: tables.TableState | None = None) -> DataFrame:
    """The current rows of the ``event_date`` partitions ``values`` of ``table_rel`` (with the ``event_date``
    column), whichever version holds them (:func:`glue_jobs.common.lakefs.read_table`).

    ``schema`` skips Spark's schema inference. Raises ``KeyError`` for a partition the table does not have and
    ``ValueError`` for no partition at all.
    """
    frame = read_table(spark, storage, table_rel, values, schema=schema, state=state)
    if frame is None:
        raise ValueError(f"no partition of {table_rel} to read")
    return frame


def _partition_counts(rows: DataFrame) -> dict[str, int]:
    return {str(r[0]): r[1] for r in rows.groupBy(PARTITION).count().collect()}


def partition_counts_of(tables: dict[str, DataFrame],
                        extra: dict[str, tuple[str, Column]] | None = None) -> dict[str, dict[str, int]]:
    """Rows per partition of several frames, in one aggregation (one shuffle, however many frames: the frames'
    ``(table, event_date)`` pairs are unioned first, so adaptive execution does not run one job per frame).

    ``extra`` adds, for a table, a named sum over its rows (``{"events": ("late", flag)}`` gives the
    per-partition sums under ``"events:late"``).
    """
    extra = extra or {}
    parts = []
    for name, frame in tables.items():
        _, extra_value = extra.get(name, ("", F.lit(0)))
        parts.append(frame.select(F.lit(name).alias("table"), PARTITION, extra_value.cast("long").alias("extra")))
    out: dict[str, dict[str, int]] = {name: {} for name in tables}
    out.update({f"{name}:{label}": {} for name, (label, _) in extra.items()})
    if not parts:
        return out
    rows = parts[0]
    for part in parts[1:]:
        rows = rows.unionByName(part)
    union = rows.groupBy("table", PARTITION).agg(F.count("*").alias("count"), F.sum("extra").alias("extra"))
    for row in union.collect():
        value = str(row[PARTITION])
        out[row["table"]][value] = row["count"]
        if row["table"] in extra:
            out[f"{row['table']}:{extra[row['table']][0]}"][value] = row["extra"] or 0
    return out


def conform(old: DataFrame, new: DataFrame) -> DataFrame:
    """``old`` rows shaped like ``new``: columns ``new`` lacks dropped, columns ``old`` lacks NULL, types cast.

    Partitions written by an earlier version of a table (``total`` DOUBLE before money became DECIMAL(18,4),
    no ``received_at``) then merge with new rows instead of failing or widening the new types. Values an older
    version never computed stay NULL: rebuild the curated zone to fill them (docs/batch.md).
    """
    old = upgrade_events(old)  # helper C (issue 15): events partitions written with the old JSON columns
    kinds = dict(old.dtypes)
    columns = []
    for field in new.schema.fields:
        if field.name not in kinds:
            columns.append(F.lit(None).cast(field.dataType).alias(field.name))
        elif kinds[field.name] != field.dataType.simpleString():
            columns.append(F.col(field.name).cast(field.dataType).alias(field.name))
        else:
            columns.append(F.col(field.name))
    return old.select(*columns)


def merge_partitions(spark: SparkSession, storage: LakeStorage, table: str, rows: DataFrame, *,
                     keys: Sequence[str], order: Sequence[str], run_id: str, target_file_rows: int,
                     replace: bool = False, replace_dates: Sequence[str] = (),
                     sort_by: Sequence[str] = (), counts: dict[str, int] | None = None,
                     clustered: bool = False, options: Mapping[str, str] | None = None) -> TableWrite:
    """Write ``rows`` into ``curated/<table>`` as new partition versions and switch the manifest; returns what
    was written.

    ``replace=False`` keeps existing rows of a touched partition (deduplicated on ``keys``, the first by
    ``order`` winning); ``replace=True`` makes ``rows`` the partition's whole new content, and partitions in
    ``replace_dates`` that ``rows`` leaves empty are removed from the manifest (retired, not deleted).
    ``counts`` (rows per partition value) saves a Spark job when the caller already knows them. ``clustered``:
    ``rows`` come from :func:`cluster_by_partition` (through narrow transforms only), so partitions no earlier
    run wrote are written without a shuffle; merged with existing rows they are shuffled as always. ``options``
    add to :data:`PARQUET_OPTIONS` (the job's ZSTD level).
    """
    layout = storage.layout
    table_rel = layout.curated_table(table)
    state = tables.current(storage, table_rel)
    if counts is None:
        counts = _partition_counts(rows)
    dates = sorted(counts)
    emptied = sorted((set(state.partitions) & set(replace_dates)) - set(dates)) if replace else []
    if not dates and not emptied:
        return TableWrite(table)
    existing = sorted(set(state.partitions) & set(dates))
    combined, merged = rows, False
    if existing and not replace:
        merged = True
        schema = EVENTS_READ_SCHEMA if table == "events" else None  # helper C: old and new events files alike
        old = conform(read_partitions(spark, storage, table_rel, existing, schema=schema, state=state), rows)
        combined = first_per_key(old.unionByName(rows, allowMissingColumns=True), keys, order)
    combined = combined.select(*rows.columns)
    version = tables.version_name(run_id)
    in_use = set(state.partitions.values()) | {r.version for r in state.retired}
    suffix = 1
    while version in in_use:  # the same run rewriting a table twice must not overwrite what it reads
        suffix += 1
        version = f"{tables.version_name(run_id)}-{suffix}"
    if dates:
        work = f"{table_rel}/_w-{version.removeprefix(tables.VERSION_PREFIX)}"
        write_parquet(combined, layout.uri(work), target_file_rows, sort_by, clustered=clustered and not merged,
                      options=options)
        for value in dates:
            move_prefix(storage, f"{work}/{PARTITION}={value}", f"{table_rel}/{PARTITION}={value}/{version}")
        delete_prefix(layout, work)
    retired_at = datetime.now(UTC).isoformat()
    for value in [*existing, *emptied]:
        state.retired.append(tables.Retired(value, state.partitions[value], retired_at))
    for value in emptied:
        del state.partitions[value]
    state.partitions.update({d: version for d in dates})
    tables.commit(storage, state, run_id)
    written = tables.files(storage, state, dates)
    summary = stats(written)
    return TableWrite(table, rows=sum(counts.values()), partitions=dates, files=summary.files, bytes=summary.bytes)
