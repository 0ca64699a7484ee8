"""raw_to_curated on the shared lake: rejects and quarantine, ZSTD partitions, late events, the catalog."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from glue_jobs.curated.tables import ALL_TABLES
from lakehouse.core.aws.clients import aws_client
from lakehouse.core.contract import ContractError, parse_event
from lakehouse.core.lake import tables as lake_tables
from lakehouse.core.lake.raw import decode_lines
from lakehouse.core.lake.storage import LakeStorage


def read_curated(settings, table: str, columns: list[str] | None = None):
    """A curated table's current rows (through its manifest), as a pyarrow table."""
    return lake_tables.read_arrow(LakeStorage(settings.lake), settings.lake.curated_table(table), columns)


def contract_blames(line: str) -> str | None:
    """The field ``parse_event`` (the oracle) blames first for a raw line, ``(line)`` when it is not a JSON
    object, None when the contract accepts it."""
    try:
        record = json.loads(line)
    except ValueError:
        return "(line)"
    if not isinstance(record, dict):
        return "(line)"
    try:
        parse_event(record)
    except ContractError as exc:
        return exc.errors[0].field
    return None


def test_malformed_lines_are_rejected_with_reasons_and_quarantined(built_lake) -> None:
    """Exactly the lines the contract refuses are rejected, each blamed on the contract's field (an Order Completed
    with ``products: []`` is valid since the e-commerce spec v2 made products optional)."""
    report = built_lake.report.curated
    expected = {line: contract_blames(line) for line in built_lake.malformed_lines}
    refused = [line for line, field in expected.items() if field]
    assert report.rejected == len(refused)
    blamed = sorted(reason.split(":", 1)[0] for reason, n in report.rejected_by_rule.items() for _ in range(n))
    assert blamed == sorted(expected[line] for line in refused)
    storage = LakeStorage(built_lake.settings.lake)
    (key,) = report.quarantine_objects
    assert key.startswith("quarantine/dt=2025-05-10/hour=11/")
    quarantined = [json.loads(line) for line in decode_lines(storage.get_bytes(key))]
    assert sorted(q["line"] for q in quarantined) == sorted(refused)
    assert all(q["reason"] and q["raw_object"] == built_lake.malformed_object for q in quarantined)


def test_curated_tables_are_zstd_parquet_partitioned_by_event_date(built_lake) -> None:
    storage = LakeStorage(built_lake.settings.lake)
    for table in ALL_TABLES:
        state = lake_tables.current(storage, built_lake.settings.lake.curated_table(table))
        partitions = sorted(state.partitions)
        assert partitions and all(p.startswith("2025-") for p in partitions), table
        for partition in partitions:
            files = lake_tables.files(storage, state, [partition])
            assert len(files) == 1, f"{table}/{partition} has {len(files)} files"  # one file per partition
            assert f"/event_date={partition}/" in files[0].key
            meta = pq.ParquetFile(built_lake.settings.lake.key(files[0].key)).metadata
            assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} == {"ZSTD"}


def test_late_events_land_in_their_true_partition(built_lake) -> None:
    report = built_lake.report.curated
    assert report.late_events > 50  # 2% of the calls arrive three days late
    events = read_curated(built_lake.settings, "events", ["event_ts", "received_at", "event_date"]).to_pandas()
    late = events[events["received_at"].dt.normalize() > events["event_ts"].dt.normalize()]
    assert len(late) >= report.late_events
    assert (late["event_date"].astype(str) == late["event_ts"].dt.strftime("%Y-%m-%d")).all()


def test_every_event_is_curated_once(built_lake) -> None:
    ids = read_curated(built_lake.settings, "events", ["event_id"]).column(0).to_pylist()
    assert len(ids) == len(set(ids)) == built_lake.report.curated.new_events


def test_glue_catalog_lists_tables_and_partitions(built_lake) -> None:
    glue = aws_client("glue")
    database = built_lake.settings.names.glue_database
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName=database)["TableList"]}
    assert set(tables) == set(ALL_TABLES)
    orders = tables["orders"]
    assert orders["PartitionKeys"] == [{"Name": "event_date", "Type": "date"}]
    assert orders["Parameters"]["parquet.compression"] == "ZSTD"
    assert {"Name": "order_value", "Type": "decimal(18,4)"} in orders["StorageDescriptor"]["Columns"]
    assert {"Name": "traits_cleared", "Type": "array<string>"} in tables["customers"]["StorageDescriptor"]["Columns"]
    listed = {p["Values"][0] for page in glue.get_paginator("get_partitions").paginate(
        DatabaseName=database, TableName="events") for p in page["Partitions"]}
    storage = LakeStorage(built_lake.settings.lake)
    state = lake_tables.current(storage, built_lake.settings.lake.curated_table("events"))
    assert listed == set(state.partitions) and len(listed) >= 61
    located = {p["Values"][0]: p["StorageDescriptor"]["Location"] for page in glue.get_paginator(
        "get_partitions").paginate(DatabaseName=database, TableName="events") for p in page["Partitions"]}
    assert located == {d: built_lake.settings.lake.uri(state.dir_rel(d)) for d in state.partitions}
