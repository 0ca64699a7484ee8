"""Partition merges across table versions: a partition written before money became DECIMAL still merges."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from glue_jobs.curated.writer import merge_partitions
from lakehouse.core.config import Settings
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.lake.tables import read_arrow


def test_an_old_partition_with_double_money_merges_with_decimal_rows(spark, tmp_path: Path) -> None:
    """An ``orders`` partition of the float era (``total`` DOUBLE, no ``order_value``) meets a late new order.

    Seen failing without ``conform``: the union widened the new DECIMAL(18,4) column to DOUBLE and the rewritten
    partition no longer matched the others (mixed Parquet types in one table).
    """
    settings = Settings(stage="twrite", home=tmp_path / "home")
    storage = LakeStorage(settings.lake)
    uri = settings.lake.uri("curated/orders")
    old = spark.createDataFrame([("e-old", 12.5, date(2025, 5, 20))], "event_id string, total double, event_date date")
    old.write.partitionBy("event_date").parquet(uri)
    new = spark.createDataFrame([("e-new", Decimal("7.0500"), Decimal("7.0500"), date(2025, 5, 20))],
                                "event_id string, total decimal(18,4), order_value decimal(18,4), event_date date")
    merge_partitions(spark, storage, "orders", new, keys=["event_id"], order=[], run_id="r1", target_file_rows=1000)

    table = read_arrow(storage, "curated/orders")
    assert str(table.schema.field("total").type) == "decimal128(18, 4)"
    assert sorted(table.select(["event_id", "total", "order_value"]).to_pylist(), key=lambda r: r["event_id"]) == [
        {"event_id": "e-new", "total": Decimal("7.0500"), "order_value": Decimal("7.0500")},
        {"event_id": "e-old", "total": Decimal("12.5000"), "order_value": None}]


def test_rows_clustered_by_date_are_written_one_file_per_date(spark, tmp_path: Path) -> None:
    """A table built from the batch clustered by date (through a filter, as the job's tables are) and written
    without a shuffle of its own (``clustered=True``) still gets one file per date, and every row.

    Seen failing with the batch left as it came (six input partitions, each holding every date, written
    ``clustered=True``): several files per date.
    """
    from pyspark.sql import functions as F

    from glue_jobs.curated.writer import cluster_by_partition

    settings = Settings(stage="twrite", home=tmp_path / "home")
    storage = LakeStorage(settings.lake)
    rows = [(f"e{i}", "track" if i % 3 else "page", date(2025, 5, 1 + i % 7)) for i in range(300)]
    batch = spark.createDataFrame(rows, "event_id string, event_type string, event_date date").repartition(6)
    built = cluster_by_partition(batch, 3).where(F.col("event_type") == "track")
    merge_partitions(spark, storage, "events", built, keys=["event_id"], order=[], run_id="r1",
                     target_file_rows=1000, sort_by=["event_id"], clustered=True)

    files = [p for p in Path(settings.lake.key("curated/events")).rglob("*.parquet")]
    per_date: dict[str, int] = {}
    for path in files:
        per_date[path.parent.parent.name] = per_date.get(path.parent.parent.name, 0) + 1
    assert per_date == {f"event_date=2025-05-0{d}": 1 for d in range(1, 8)}
    table = read_arrow(storage, "curated/events")
    assert sorted(table.column("event_id").to_pylist()) == sorted(r[0] for r in rows if r[1] == "track")


def test_the_write_is_split_into_more_tasks_as_the_batch_grows() -> None:
    """Tasks per batch: two per core for a small batch, ``ceil(rows / task_rows)`` for a big one, never more than
    one per date (a date is not split).

    Seen failing with the fixed count the job used before (``2 * parallelism``): 30M events over 90 days got 4
    tasks of 7.5M rows, whose sort ran out of a 4 GiB heap (docs/scaling.md, "30M").
    """
    from glue_jobs.curated.writer import write_tasks

    assert write_tasks(rows=10_000, dates=90, parallelism=2, task_rows=1_000_000) == 4
    assert write_tasks(rows=0, dates=0, parallelism=2, task_rows=1_000_000) == 4
    assert write_tasks(rows=30_000_000, dates=90, parallelism=2, task_rows=1_000_000) == 30
    assert write_tasks(rows=30_000_001, dates=90, parallelism=2, task_rows=1_000_000) == 31
    assert write_tasks(rows=100_000_000, dates=90, parallelism=2, task_rows=1_000_000) == 90
    assert write_tasks(rows=100_000_000, dates=1, parallelism=8, task_rows=1_000_000) == 16


def test_range_clustering_keeps_a_date_whole_and_the_tasks_even(spark) -> None:
    """Clustered into 4 partitions, 12 dates of 100 rows each: every date in exactly one partition, and each
    partition holds 3 dates (300 rows), not the lopsided share hashing 12 keys into 4 buckets gives.

    Seen failing with hash partitioning (``repartition(4, event_date)``): partitions of 100, 200, 400, 500 rows.
    """
    from pyspark.sql import functions as F

    from glue_jobs.curated.writer import cluster_by_partition

    rows = [(f"e{i}", date(2025, 5, 1 + i % 12)) for i in range(1200)]
    batch = spark.createDataFrame(rows, "event_id string, event_date date").repartition(5)
    placed = cluster_by_partition(batch, 4).select("event_date", F.spark_partition_id().alias("part")).collect()
    parts_of_date: dict[date, set[int]] = {}
    for row in placed:
        parts_of_date.setdefault(row["event_date"], set()).add(row["part"])
    assert all(len(parts) == 1 for parts in parts_of_date.values()) and len(parts_of_date) == 12
    sizes = sorted(sum(1 for row in placed if row["part"] == part) for part in {r["part"] for r in placed})
    assert sizes == [300, 300, 300, 300]


def test_partition_counts_of_several_frames_match_a_count_in_python(spark) -> None:
    """Rows per date of each frame and the per-date sum of an extra flag, against counts made in Python."""
    from collections import Counter

    from pyspark.sql import functions as F

    from glue_jobs.curated.writer import partition_counts_of

    a_rows = [(f"a{i}", date(2025, 5, 1 + i % 3), i % 4 == 0) for i in range(40)]
    b_rows = [(f"b{i}", date(2025, 5, 2 + i % 2), False) for i in range(9)]
    schema = "event_id string, event_date date, late boolean"
    frames = {"a": spark.createDataFrame(a_rows, schema), "b": spark.createDataFrame(b_rows, schema),
              "empty": spark.createDataFrame([], schema)}
    counts = partition_counts_of(frames, extra={"a": ("late", F.col("late").cast("int"))})

    assert counts["a"] == {str(d): n for d, n in Counter(r[1] for r in a_rows).items()}
    assert counts["b"] == {str(d): n for d, n in Counter(r[1] for r in b_rows).items()}
    assert counts["empty"] == {}
    assert counts["a:late"] == {str(d): sum(1 for r in a_rows if r[1] == d and r[2]) for d in {r[1] for r in a_rows}}
