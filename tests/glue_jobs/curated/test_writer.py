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
