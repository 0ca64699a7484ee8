"""The AWS resources the lakehouse needs, described once for the local provisioner and the CDK stacks."""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.core.config import Settings


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table: name, partition key (string) and optional TTL attribute."""

    name: str
    partition_key: str
    ttl_attribute: str | None = None
    purpose: str = ""


def dynamodb_tables(settings: Settings) -> list[TableSpec]:
    """The DynamoDB tables: customer features (the stream job's), customer scores (the ML stage's) and write
    keys."""
    names = settings.names
    return [
        TableSpec(names.features_table, "customer_id",
                  purpose="per-customer real-time RFM features and segment (written by the streaming job only)"),
        TableSpec(names.scores_table, "customer_id",
                  purpose="per-customer churn, purchase-propensity and CLV scores of the latest scoring run"),
        TableSpec(names.write_keys_table, "key_hash",
                  purpose="ingestion write keys (SHA-256 hashes) and the source each belongs to"),
    ]


def buckets(settings: Settings) -> list[str]:
    """Buckets to create on an emulator: the lake bucket, and the lake root's bucket if S3."""
    wanted = [settings.names.lake_bucket]
    if settings.lake.is_s3 and settings.lake.bucket not in wanted:
        wanted.append(settings.lake.bucket)
    return wanted
