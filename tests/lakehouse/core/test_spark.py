"""The local Spark session's shuffles: as many tasks as the data fills, not a fixed four."""

from __future__ import annotations

from pyspark.sql import functions as F

from glue_jobs.curated.writer import session_conf


def shuffle_tasks(frame) -> int:
    """The tasks reading ``frame`` repartitioned by its column ``k`` (run: adaptive execution decides them from
    the shuffle's map output)."""
    return frame.repartition("k").rdd.getNumPartitions()


def test_a_big_shuffle_gets_more_tasks_than_the_fixed_partitions_and_a_small_one_few(spark) -> None:
    """Adaptive execution coalesces a shuffle's partitions to its target size, but never splits past the initial
    count: with only ``spark.sql.shuffle.partitions`` = 4 as that count, a task of the 30M-event batch sorted 7.5M
    rows and ran out of heap (docs/scaling.md). The target size is shrunk here so that a few MB stand for GBs.

    Seen failing without ``initialPartitionNum`` in :func:`lakehouse.core.spark.local_spark`: 4 tasks, not > 4."""
    rows = spark.range(200_000).select((F.col("id") % 10_000).alias("k"), F.sha2(F.col("id").cast("string"), 256)
                                       .alias("payload"))
    small = spark.range(100).select(F.col("id").alias("k"))
    with session_conf(spark, {"spark.sql.adaptive.advisoryPartitionSizeInBytes": "256KB",
                              "spark.sql.adaptive.coalescePartitions.minPartitionSize": "256KB"}):
        big_tasks, small_tasks = shuffle_tasks(rows), shuffle_tasks(small)
    assert big_tasks > 4
    assert small_tasks <= 2
