"""Idempotent partition writes: a touched partition is rewritten as dedup(existing rows + new rows).

Rewriting whole partitions makes a run safe to repeat (after a crash the same raw objects give the same
partitions), compacts partitions that late events touch again, and keeps files large: each rewritten
partition is one Spark task, split only above ``target_file_rows`` rows per file.

Spark cannot overwrite a path it is reading, so partitions that already hold data are first written to
``curated/_staging/<run_id>/<table>`` and then swapped in with a dynamic partition overwrite.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from glue_jobs.common.lakefs import data_files, delete_prefix, partition_values, stats
from glue_jobs.curated.dedup import first_per_key
from glue_jobs.curated.report import TableWrite
from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.storage import LakeStorage

PARTITION = "event_date"


def write_parquet(frame: DataFrame, uri: str, target_file_rows: int, sort_by: Sequence[str] = ()) -> None:
    """Dynamic-overwrite the partitions present in ``frame`` (ZSTD Parquet, one task per partition)."""
    out = frame.repartition(F.col(PARTITION))
    if sort_by:
        out = out.sortWithinPartitions(PARTITION, *sort_by)
    (out.write.mode("overwrite")
     .option("partitionOverwriteMode", "dynamic")
     .option("compression", "zstd")
     .option("maxRecordsPerFile", target_file_rows)
     .partitionBy(PARTITION)
     .parquet(uri))


def read_partitions(spark: SparkSession, layout: LakeLayout, table_rel: str, values: Sequence[str],
                    schema=None) -> DataFrame:
    """The rows of the ``event_date`` partitions ``values`` of ``table_rel`` (with the ``event_date`` column).

    ``schema`` skips Spark's schema inference; a missing partition makes Spark raise ``AnalysisException``.
    """
    paths = [layout.uri(table_rel, f"{PARTITION}={v}") for v in values]
    reader = spark.read.option("basePath", layout.uri(table_rel))
    if schema is not None:
        reader = reader.schema(schema)
    return reader.parquet(*paths)


def _partition_counts(rows: DataFrame) -> dict[str, int]:
    return {str(r[0]): r[1] for r in rows.groupBy(PARTITION).count().collect()}


def partition_counts_of(tables: dict[str, DataFrame],
                        extra: dict[str, tuple[str, Column]] | None = None) -> dict[str, dict[str, int]]:
    """Rows per partition of several frames, in one Spark job.

    ``extra`` adds, for a table, a named sum over its rows (``{"events": ("late", flag)}`` gives the
    per-partition sums under ``"events:late"``).
    """
    extra = extra or {}
    parts = []
    for name, frame in tables.items():
        _, extra_value = extra.get(name, ("", F.lit(0)))
        parts.append(frame.groupBy(PARTITION).agg(F.count("*").alias("count"),
                                                  F.sum(extra_value).cast("long").alias("extra"))
                     .select(F.lit(name).alias("table"), PARTITION, "count", "extra"))
    out: dict[str, dict[str, int]] = {name: {} for name in tables}
    out.update({f"{name}:{label}": {} for name, (label, _) in extra.items()})
    if not parts:
        return out
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
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
                     sort_by: Sequence[str] = (), counts: dict[str, int] | None = None) -> TableWrite:
    """Write ``rows`` into ``curated/<table>``; returns what was written.

    ``replace=False`` keeps existing rows of a touched partition (deduplicated on ``keys``, the first by
    ``order`` winning); ``replace=True`` makes ``rows`` the partition's whole new content, and partitions in
    ``replace_dates`` that ``rows`` leaves empty are removed. ``counts`` (rows per partition value) saves a
    Spark job when the caller already knows them.
    """
    layout = storage.layout
    table_rel = layout.curated_table(table)
    if counts is None:
        counts = _partition_counts(rows)
    dates = sorted(counts)
    if replace:
        emptied = (partition_values(storage, table_rel, PARTITION) & set(replace_dates)) - set(dates)
        for value in sorted(emptied):
            delete_prefix(layout, f"{table_rel}/{PARTITION}={value}")
    if not dates:
        return TableWrite(table)
    existing = sorted(partition_values(storage, table_rel, PARTITION) & set(dates))
    combined = rows
    if existing and not replace:
        old = conform(read_partitions(spark, layout, table_rel, existing), rows)
        combined = first_per_key(old.unionByName(rows, allowMissingColumns=True), keys, order)
    combined = combined.select(*rows.columns)
    if existing and not replace:
        stage_rel = f"curated/_staging/{run_id}/{table}"
        write_parquet(combined, layout.uri(stage_rel), target_file_rows, sort_by)
        staged = read_partitions(spark, layout, stage_rel, dates, schema=combined.schema)
        write_parquet(staged.select(*rows.columns), layout.uri(table_rel), target_file_rows, sort_by)
        delete_prefix(layout, stage_rel)
    else:
        write_parquet(combined, layout.uri(table_rel), target_file_rows, sort_by)
    written = [f for d in dates for f in data_files(storage, f"{table_rel}/{PARTITION}={d}")]
    summary = stats(written)
    return TableWrite(table, rows=sum(counts.values()), partitions=dates, files=summary.files, bytes=summary.bytes)
