"""Register curated tables and their partitions in the Glue Data Catalog (boto3; moto locally).

A curated partition lives in its current version folder (``curated/<t>/event_date=D/_v-<run>/``,
:mod:`lakehouse.core.lake.tables`): a rewrite switches the catalog partition's location to the new folder with
``BatchUpdatePartition``, so Athena and Glue readers move from one whole version to the next as the manifest does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from botocore.exceptions import ClientError
from pyspark.sql.types import StructType

from lakehouse.core.aws.clients import aws_client

_PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                  "Parameters": {"serialization.format": "1"}},
    "Compressed": True,
}


@dataclass(frozen=True)
class CatalogUpdate:
    """What :func:`register_table` did: whether it created the table, and how many partitions it added, moved to
    another location, and removed."""

    table: str
    created: bool
    partitions_added: int
    partitions_moved: int = 0
    partitions_removed: int = 0


def hive_columns(schema: StructType, exclude: Iterable[str] = ()) -> list[dict[str, str]]:
    """Glue column definitions for a Spark schema (Spark's simple type names are Hive's)."""
    skip = set(exclude)
    return [{"Name": f.name, "Type": f.dataType.simpleString()} for f in schema.fields if f.name not in skip]


def _storage(location: str, columns: list[dict[str, str]]) -> dict:
    return {"Columns": columns, "Location": location, **_PARQUET}


def register_table(database: str, table: str, location: str, schema: StructType, partition_column: str,
                   partitions: Iterable[str] | Mapping[str, str], region: str | None = None,
                   removed: Iterable[str] = ()) -> CatalogUpdate:
    """Create or update ``database.table`` (ZSTD Parquet at ``location``), add missing partitions, point existing
    ones at their new location, and delete the ``removed`` ones.

    ``partitions`` maps each partition value to its location (a plain list of values means the legacy
    ``<location>/<column>=<value>``). Raises ``RuntimeError`` when Glue refuses to create, update or delete
    partitions (other than creating ones that already exist or deleting ones that do not), and lets any other
    ``ClientError`` of the Glue API through.
    """
    glue = aws_client("glue", region=region)
    columns = hive_columns(schema, exclude=[partition_column])
    partition_type = schema[partition_column].dataType.simpleString()
    table_input = {
        "Name": table,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "parquet.compression": "ZSTD", "EXTERNAL": "TRUE"},
        "StorageDescriptor": _storage(location, columns),
        "PartitionKeys": [{"Name": partition_column, "Type": partition_type}],
    }
    created = False
    try:
        glue.get_table(DatabaseName=database, Name=table)
        glue.update_table(DatabaseName=database, TableInput=table_input)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityNotFoundException":
            raise
        glue.create_table(DatabaseName=database, TableInput=table_input)
        created = True
    locations = dict(partitions) if isinstance(partitions, Mapping) else {
        v: f"{location}/{partition_column}={v}" for v in partitions}
    wanted = sorted(locations)
    existing: dict[str, str] = {}
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start:start + 1000]
        response = glue.batch_get_partition(DatabaseName=database, TableName=table,
                                             PartitionsToGet=[{"Values": [v]} for v in chunk])
        existing.update((p["Values"][0], p["StorageDescriptor"]["Location"]) for p in response.get("Partitions", []))
    missing = [v for v in wanted if v not in existing]
    moved = [v for v in wanted if v in existing and existing[v].rstrip("/") != locations[v].rstrip("/")]
    for start in range(0, len(moved), 100):
        entries = [{"PartitionValueList": [v],
                    "PartitionInput": {"Values": [v], "StorageDescriptor": _storage(locations[v], columns)}}
                   for v in moved[start:start + 100]]
        response = glue.batch_update_partition(DatabaseName=database, TableName=table, Entries=entries)
        if response.get("Errors"):
            raise RuntimeError(f"could not move partitions of {database}.{table}: {response['Errors']}")
    gone = sorted(set(removed) - set(locations))
    for start in range(0, len(gone), 25):
        response = glue.batch_delete_partition(DatabaseName=database, TableName=table,
                                               PartitionsToDelete=[{"Values": [v]} for v in gone[start:start + 25]])
        failures = [e for e in response.get("Errors", [])
                    if e.get("ErrorDetail", {}).get("ErrorCode") != "EntityNotFoundException"]
        if failures:
            raise RuntimeError(f"could not remove partitions of {database}.{table}: {failures}")
    for start in range(0, len(missing), 100):
        inputs = [{"Values": [v], "StorageDescriptor": _storage(locations[v], columns)}
                  for v in missing[start:start + 100]]
        response = glue.batch_create_partition(DatabaseName=database, TableName=table,
                                               PartitionInputList=inputs)
        failures = [e for e in response.get("Errors", [])
                    if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"]
        if failures:
            raise RuntimeError(f"could not register partitions of {database}.{table}: {failures}")
    return CatalogUpdate(table, created, len(missing), len(moved), len(gone))
