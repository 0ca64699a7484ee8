"""Glue Data Catalog registration against the moto server."""

from __future__ import annotations

from pyspark.sql import types as T

from glue_jobs.common.catalog import register_table
from lakehouse.core.aws.clients import aws_client

SCHEMA = T.StructType([T.StructField("event_id", T.StringType()), T.StructField("total", T.DoubleType()),
                       T.StructField("event_date", T.DateType())])


def test_tables_and_partitions_are_registered_once(aws_settings) -> None:
    database = aws_settings.names.glue_database
    location = aws_settings.lake.uri("curated", "orders")
    first = register_table(database, "orders", location, SCHEMA, "event_date", ["2025-06-01", "2025-06-02"])
    again = register_table(database, "orders", location, SCHEMA, "event_date", ["2025-06-02", "2025-06-03"])
    assert (first.created, first.partitions_added) == (True, 2)
    assert (again.created, again.partitions_added) == (False, 1)
    glue = aws_client("glue")
    table = glue.get_table(DatabaseName=database, Name="orders")["Table"]
    assert table["StorageDescriptor"]["Columns"] == [{"Name": "event_id", "Type": "string"},
                                                     {"Name": "total", "Type": "double"}]
    assert table["StorageDescriptor"]["Location"] == location
    partitions = glue.get_partitions(DatabaseName=database, TableName="orders")["Partitions"]
    assert sorted(p["Values"][0] for p in partitions) == ["2025-06-01", "2025-06-02", "2025-06-03"]
    assert {p["StorageDescriptor"]["Location"] for p in partitions} == {
        f"{location}/event_date={d}" for d in ("2025-06-01", "2025-06-02", "2025-06-03")}


def test_a_rewritten_partition_moves_to_its_new_version_folder(aws_settings) -> None:
    """A partition rewritten into ``_v-<run>/`` points the catalog at that folder (BatchUpdatePartition), a
    partition the manifest dropped leaves the catalog, and an unchanged one is left alone.

    Seen failing before locations were synced: the second call added nothing and left 2025-06-02 at
    ``event_date=2025-06-02`` (the legacy folder, soon vacuumed) and 2025-06-01 listed."""
    database = aws_settings.names.glue_database
    location = aws_settings.lake.uri("curated", "sessions")
    register_table(database, "sessions", location, SCHEMA, "event_date", ["2025-06-01", "2025-06-02", "2025-06-03"])
    moved = f"{location}/event_date=2025-06-02/_v-20250604T000000Z-ab"
    update = register_table(database, "sessions", location, SCHEMA, "event_date", {"2025-06-02": moved},
                            removed=["2025-06-01"])
    assert (update.partitions_added, update.partitions_moved, update.partitions_removed) == (0, 1, 1)
    partitions = aws_client("glue").get_partitions(DatabaseName=database, TableName="sessions")["Partitions"]
    assert {p["Values"][0]: p["StorageDescriptor"]["Location"] for p in partitions} == {
        "2025-06-02": moved, "2025-06-03": f"{location}/event_date=2025-06-03"}
