"""Exactly-once: one row per event id within a batch, and none that an earlier run already curated."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

#: which copy of an event wins: the first received, then by raw object and line (deterministic)
WINNER_ORDER = ("received_at", "raw_object", "line_hash")


def first_per_key(frame: DataFrame, keys: Sequence[str], order: Sequence[str]) -> DataFrame:
    """Keep one row per ``keys``: the first by ``order`` (NULLs last).

    Columns of ``order`` that ``frame`` lacks are ignored; with none left, the survivor is arbitrary.
    """
    ordering = [F.col(c).asc_nulls_last() for c in order if c in frame.columns]
    window = Window.partitionBy(*keys).orderBy(*ordering) if ordering else Window.partitionBy(*keys).orderBy(
        *keys)
    return frame.withColumn("_rank", F.row_number().over(window)).where("_rank = 1").drop("_rank")


def dedup_batch(events: DataFrame) -> DataFrame:
    """One row per event id in this batch (client retries and duplicate batches collapse).

    The copy received first wins, then the lower ``raw_object``, then the lower line hash (``WINNER_ORDER``).
    """
    return first_per_key(events, ["event_id"], WINNER_ORDER)


def drop_already_curated(events: DataFrame, curated_ids: DataFrame) -> DataFrame:
    """Events whose id is not in ``curated_ids`` (``event_id`` of events curated by earlier runs)."""
    return events.join(curated_ids.select("event_id").distinct(), "event_id", "left_anti")
