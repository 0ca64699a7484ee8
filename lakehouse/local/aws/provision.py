"""Idempotent provisioning of the lakehouse's resources on an emulator (moto or LocalStack).

On AWS the CDK stacks own these resources; this module exists so a laptop gets the same ones.
Every step reports ``created`` or ``exists``; running it twice changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.aws.resources import TableSpec, buckets, dynamodb_tables
from lakehouse.core.config import Settings
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.money import parse_rates


@dataclass(frozen=True)
class Provisioned:
    """One resource :func:`provision` checked: what and which it is, whether it was created, a detail."""

    kind: str
    name: str
    status: str  # "created" | "exists"
    detail: str = ""


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def ensure_bucket(name: str, region: str) -> Provisioned:
    """Create the S3 bucket ``name`` unless it exists."""
    s3 = aws_client("s3", region=region)
    try:
        s3.head_bucket(Bucket=name)
        return Provisioned("s3 bucket", name, "exists")
    except ClientError as exc:
        if _error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **kwargs)
    return Provisioned("s3 bucket", name, "created")


def ensure_stream(name: str, shards: int, region: str) -> Provisioned:
    """Create the Kinesis stream ``name`` with ``shards`` shards unless it exists, and wait until it is ACTIVE.

    Raises ``TimeoutError`` when it is not ACTIVE within 60 s.
    """
    kinesis = aws_client("kinesis", region=region)
    try:
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return Provisioned("kinesis stream", name, "exists", f"{summary['OpenShardCount']} open shards")
    except ClientError as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    _wait(lambda: kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
          ["StreamStatus"] == "ACTIVE", f"stream {name} to become ACTIVE")
    return Provisioned("kinesis stream", name, "created", f"{shards} shards")


def ensure_table(spec: TableSpec, region: str) -> Provisioned:
    """Create the DynamoDB table of ``spec`` (on-demand, string key, TTL when it has one) unless it exists."""
    dynamodb = aws_client("dynamodb", region=region)
    try:
        dynamodb.describe_table(TableName=spec.name)
        return Provisioned("dynamodb table", spec.name, "exists", f"key {spec.partition_key}")
    except ClientError as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
    dynamodb.create_table(
        TableName=spec.name,
        AttributeDefinitions=[{"AttributeName": spec.partition_key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": spec.partition_key, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=spec.name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    if spec.ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=spec.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
        )
    return Provisioned("dynamodb table", spec.name, "created", f"key {spec.partition_key}")


def ensure_glue_database(name: str, region: str) -> Provisioned:
    """Create the Glue Data Catalog database ``name`` unless it exists."""
    glue = aws_client("glue", region=region)
    try:
        glue.get_database(Name=name)
        return Provisioned("glue database", name, "exists")
    except ClientError as exc:
        if _error_code(exc) != "EntityNotFoundException":
            raise
    glue.create_database(DatabaseInput={"Name": name, "Description": "Customer Lakehouse catalog"})
    return Provisioned("glue database", name, "created")


def shipped_rates_path() -> Path:
    """The exchange-rate CSV shipped with the package (synthetic, for the demo and tests; see docs/money.md)."""
    return Path(__file__).resolve().parents[1] / "data" / "currency_rates.csv"


def upload_rates(settings: Settings, text: str) -> int:
    """Validate a rate CSV (``lakehouse.core.money.parse_rates``) and store it at ``settings.money.rates_key``.

    Returns the number of rates. Raises :class:`lakehouse.core.money.RateFileError` naming the bad line; nothing
    is stored then.
    """
    rows = parse_rates(text)
    LakeStorage(settings.lake, region=settings.region).put_bytes(
        settings.money.rates_key, text.encode("utf-8"), content_type="text/csv")
    return len(rows)


def ensure_rates(settings: Settings) -> Provisioned:
    """Put the shipped rate file at ``settings.money.rates_key`` in the lake unless a rate file is there."""
    key = settings.money.rates_key
    if LakeStorage(settings.lake, region=settings.region).exists(key):
        return Provisioned("rate file", key, "exists")
    count = upload_rates(settings, shipped_rates_path().read_text(encoding="utf-8"))
    return Provisioned("rate file", key, "created", f"{count:,} shipped synthetic rates (EUR, GBP)")


def provision(settings: Settings) -> list[Provisioned]:
    """Create every resource the local pipeline needs, on whatever ``AWS_ENDPOINT_URL`` points to, and the
    exchange-rate file in the lake when there is none (``ensure_rates``)."""
    region = settings.region
    report = [ensure_bucket(name, region) for name in buckets(settings)]
    report.append(ensure_stream(settings.names.stream, settings.kinesis_shards, region))
    report.extend(ensure_table(spec, region) for spec in dynamodb_tables(settings))
    report.append(ensure_glue_database(settings.names.glue_database, region))
    report.append(ensure_rates(settings))
    return report


def _wait(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)
