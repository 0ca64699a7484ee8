"""The Glue database and the ``raw_events`` table over the raw zone (gzip JSON lines, partition projection).

The curated tables are registered by the raw→curated job itself, from the Spark schemas it writes (one
source of truth: the code). The raw zone is written by the ingest function and read by Spark straight from
S3, so nothing else registers it; this table makes it queryable from Athena without crawlers: partition
projection computes ``source``/``dt``/``hour`` partitions from the query instead of storing them.
Its columns are derived from the canonical record the ingest function writes (``lakehouse.core.contract``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_glue as glue
from constructs import Construct

from infra.config import Deployment
from lakehouse.core.contract import parse_event, to_record
from lakehouse.core.contract.examples import example_calls

RAW_TABLE = "raw_events"
PARTITION_KEYS = (("source", "string"), ("dt", "string"), ("hour", "string"))
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"


def raw_record_columns() -> list[tuple[str, str]]:
    """(name, Hive type) of every field of the canonical raw record, minus the partition keys.

    Nested objects (properties, traits, context) are read as JSON text; the batch jobs type them.
    """
    received = datetime(2025, 1, 1, tzinfo=UTC)
    columns: dict[str, str] = {}
    for call in example_calls().values():
        record: dict[str, Any] = to_record(parse_event(call), call, source="example", received_at=received)
        for name, value in record.items():
            hive = "int" if isinstance(value, int) and not isinstance(value, bool) else "string"
            columns.setdefault(name, hive)
    partition_names = {name for name, _ in PARTITION_KEYS}
    return [(name, hive) for name, hive in columns.items() if name not in partition_names]


class LakeCatalog(Construct):
    """The stage's Glue database and its ``raw_events`` table (see the module docstring)."""

    def __init__(self, scope: Construct, construct_id: str, *, deployment: Deployment) -> None:
        super().__init__(scope, construct_id)
        account = Stack.of(self).account
        self.database_name = deployment.names.glue_database
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="Customer Lakehouse: raw events (projection) and curated tables (registered by jobs)",
            ),
        )
        raw = deployment.lake.uri("raw")
        self.raw_table = glue.CfnTable(
            self,
            "RawEvents",
            catalog_id=account,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=RAW_TABLE,
                description="Canonical raw records as landed by the ingest function (gzip JSON lines)",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "json",
                    "compressionType": "gzip",
                    "EXTERNAL": "TRUE",
                    "projection.enabled": "true",
                    "projection.source.type": "injected",
                    "projection.dt.type": "date",
                    "projection.dt.format": "yyyy-MM-dd",
                    "projection.dt.range": "2020-01-01,NOW",
                    "projection.hour.type": "enum",
                    "projection.hour.values": ",".join(f"{hour:02d}" for hour in range(24)),
                    "storage.location.template": raw + "/source=${source}/dt=${dt}/hour=${hour}",
                },
                partition_keys=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in PARTITION_KEYS],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=raw,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    compressed=True,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=JSON_SERDE, parameters={"ignore.malformed.json": "true"}
                    ),
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in raw_record_columns()],
                ),
            ),
        )
        self.raw_table.node.add_dependency(self.database)
