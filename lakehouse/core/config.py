"""One configuration for both worlds: every resource name, for the CDK stacks and the local runtime.

Values come from environment variables prefixed ``LAKEHOUSE_`` (nested fields use ``__``, e.g.
``LAKEHOUSE_REDSHIFT__HOST``). Resource names are derived from ``project`` and ``stage`` so the CDK app
and the code that talks to those resources can never disagree.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lakehouse.core.lake.layout import LakeLayout


class RedshiftSettings(BaseModel):
    """Connection settings for the production warehouse (Redshift Serverless)."""

    host: str | None = None
    port: int = 5439
    database: str = "dev"
    user: str | None = None
    password: SecretStr | None = None
    secret_arn: str | None = Field(default=None, description="Secrets Manager secret holding user/password")
    workgroup: str | None = None
    copy_role_arn: str | None = Field(default=None, description="IAM role Redshift assumes for COPY")
    schema_name: str = "lakehouse"


class PiiSettings(BaseModel):
    """How the ingestion API treats personal data before anything is stored (see docs/ingestion.md).

    ``email`` applies to ``traits.email``, ``context.traits.email`` and ``properties.email``;
    ``ip`` applies to ``context.ip``.
    """

    email: Literal["hash", "keep", "drop"] = Field(
        default="hash", description="hash: keyed SHA-256 in an address shape; keep: as sent; drop: removed")
    ip: Literal["truncate", "drop", "keep"] = Field(
        default="truncate", description="truncate: IPv4 to /24, IPv6 to /48; drop: removed; keep: as sent")
    hash_key: SecretStr | None = Field(
        default=None, description="HMAC key for hashed e-mails (recommended); plain SHA-256 when unset")


class IngestSettings(BaseModel):
    """Tuning of the ingestion API (the Lambda and the local gateway)."""

    write_key_cache_seconds: float = Field(
        default=60.0, ge=0, le=3600, description="how long a looked-up write key is trusted (revocation delay)")
    kinesis_attempts: int = Field(default=5, ge=1, le=20, description="PutRecords rounds before answering 503")
    kinesis_backoff_seconds: float = Field(default=0.05, ge=0, le=5, description="first retry delay (doubles)")
    retry_after_seconds: int = Field(default=5, ge=1, le=3600, description="Retry-After sent with a 503")
    function_timeout_seconds: int = Field(
        default=10, ge=1, le=900, description="the ingest function's timeout (Lambda allows 1-900 s): the CDK "
        "profiles' default (``-c ingest_timeout_seconds=N`` overrides it there) and, locally, the remaining time the "
        "gateway gives each request (at most API Gateway's 29 s)")


class EventTimeSettings(BaseModel):
    """Which event times are believable (see docs/ingestion.md, "Event times").

    After clock-skew correction an event stamped more than ``future_tolerance_seconds`` after the API
    received it, or before ``earliest_event_date``, is quarantined with a reason (never clamped: a clamped
    time would be a time nobody sent). The ingestion API, the batch validation and the stream apply the same
    rule; the batch's as-of date is never later than the day the run starts.

    Segment's clock-skew correction ``timestamp + (receivedAt - sentAt)`` is applied only when
    ``|receivedAt - sentAt|`` is at most ``max_skew_correction_seconds`` (default 1 day: wider than any time-zone
    mistake, narrower than a request replayed days later with its original ``sentAt``, which the correction would
    otherwise move by days); a larger one is not applied and the event keeps its client time, unless that time
    breaks the rule above (a device clock in 2099: then only the correction can save it) — docs/ingestion.md.
    """

    future_tolerance_seconds: int = Field(
        default=86_400, ge=0, le=366 * 86_400, description="how far after receivedAt an event time may lie")
    earliest_event_date: date = Field(
        default=date(1990, 1, 1), description="events dated before this day (UTC) are quarantined")
    max_skew_correction_seconds: int = Field(
        default=86_400, ge=0, le=366 * 86_400,
        description="largest clock-skew correction (receivedAt - sentAt) applied; a larger one is not applied")


class MoneySettings(BaseModel):
    """Money: the reporting currency and the daily exchange-rate table (see docs/money.md).

    ``rates_key`` is the rate CSV's key in the lake (``reference/currency_rates.csv``): columns
    ``rate_date,currency,rate`` where ``rate`` is how many units of the reporting currency one unit of
    ``currency`` buys on ``rate_date``. An amount is converted with the latest rate dated on or before its
    day and at most ``max_rate_age_days`` older; without one it is reported as unconverted, never summed.
    """

    reporting_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    rates_key: str = Field(default="reference/currency_rates.csv", description="rate CSV, relative to the lake")
    max_rate_age_days: int = Field(default=7, ge=0, le=366, description="how stale a rate may be (weekends)")


class BatchSettings(BaseModel):
    """Tuning of the batch chain (raw -> curated -> star -> warehouse); see docs/batch.md."""

    session_gap_minutes: int = Field(default=30, ge=1, le=1440, description="inactivity that ends a session")
    rfm_window_days: int = Field(default=365, ge=1, le=3660, description="frequency/monetary look-back")
    target_file_rows: int = Field(default=2_000_000, ge=1000, description="rows per Parquet file, at most")
    write_task_rows: int = Field(
        default=1_000_000, ge=1000,
        description="rows one Spark task of raw -> curated sorts and writes, about (more tasks for a bigger batch, "
                    "at most one per event date; docs/scaling.md, '30M')")
    zstd_level: int = Field(
        default=9, ge=1, le=22,
        description="ZSTD level of curated Parquet files (docs/batch.md, 'ZSTD level': 16 is ~3 % smaller, far slower)")
    validation: Literal["spark", "python"] = Field(
        default="spark", description="contract checks as Spark SQL rules, or parse_event in Arrow batches")
    affinity_min_support: float = Field(default=0.0, ge=0, le=1, description="pair orders / all orders")
    affinity_min_confidence: float = Field(default=0.0, ge=0, le=1, description="P(B in order | A in order)")
    affinity_min_pair_orders: int = Field(default=2, ge=1, description="orders holding both products")
    partition_version_retention_days: float = Field(
        default=7.0, ge=0, le=3660,
        description="days a replaced curated partition version is kept for running readers before vacuum")


class StreamSettings(BaseModel):
    """Tuning of the real-time feature job (Kinesis -> Spark -> DynamoDB); see docs/streaming.md."""

    trigger_seconds: float = Field(default=1.0, ge=0, le=3600, description="micro-batch interval (0: back to back)")
    max_records_per_trigger: int = Field(default=20_000, ge=1, le=10_000_000,
                                         description="records one micro-batch reads, at most (all shards)")
    starting_position: Literal["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"] = Field(
        default="TRIM_HORIZON", description="where a new checkpoint starts reading the stream")
    starting_timestamp: str | None = Field(default=None, description="ISO 8601 time, for AT_TIMESTAMP")
    writer_threads: int = Field(default=16, ge=1, le=256,
                                description="parallel DynamoDB requests per partition of a micro-batch")
    state_partitions: int = Field(default=4, ge=1, le=1_000,
                                  description="partitions of the keyed state on Glue (fixed when a checkpoint "
                                              "starts; each writes a state-store file per micro-batch); locally "
                                              "the Spark session's shuffle partitions")
    dedup_ttl_hours: int = Field(default=192, ge=1, le=24 * 365,
                                 description="how long an applied event id is remembered (> stream retention)")
    retention_days: int = Field(default=365, ge=7, le=3660,
                                description="daily order buckets kept per customer (bounds the RFM window)")
    breakpoints_refresh_seconds: float = Field(default=300.0, ge=0, le=86_400,
                                               description="how often published RFM breakpoints are re-read")


class ArchiveSettings(BaseModel):
    """The raw archive (Kinesis -> raw zone in large objects; see docs/ingestion.md, "The raw archive")."""

    buffer_seconds: float = Field(
        default=300.0, ge=0, le=3600,
        description="micro-batch interval on a running archive: one object per arrival partition per buffer period")
    max_object_bytes: int = Field(default=128 * 1024 * 1024, ge=1024, le=5 * 1024**3,
                                  description="uncompressed bytes of one raw object, at most (then a new part)")
    max_records_per_trigger: int = Field(default=1_000_000, ge=1, le=100_000_000,
                                         description="records one micro-batch reads, at most (all shards)")
    starting_position: Literal["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"] = Field(
        default="TRIM_HORIZON", description="where a new checkpoint starts reading the stream")
    starting_timestamp: str | None = Field(default=None, description="ISO 8601 time, for AT_TIMESTAMP")


class MLSettings(BaseModel):
    """The ML stage: label windows and training (docs/ml.md)."""

    horizon_days: int = Field(default=90, ge=1, le=730, description="propensity and CLV window after the cutoff")
    churn_days: int = Field(default=90, ge=1, le=730, description="no order in this many days after the cutoff = churn")
    seed: int = Field(default=7, ge=0, description="LightGBM seed (same data + seed + threads = same model)")
    threads: int = Field(default=1, ge=1, le=64, description="LightGBM threads (part of what makes runs repeatable)")
    origins: int = Field(default=6, ge=2, le=52, description="rolling training origins before the cutoff, at most")


class ResourceNames(BaseModel):
    """Names of every AWS resource, derived from project and stage."""

    prefix: str
    lake_bucket: str
    access_log_bucket: str
    stream: str
    features_table: str
    scores_table: str
    write_keys_table: str
    glue_database: str
    api: str
    ingest_function: str
    batch_state_machine: str
    redshift_namespace: str
    redshift_workgroup: str
    alarm_topic: str
    kms_alias: str
    raw_to_curated_job: str
    build_star_job: str
    load_warehouse_job: str
    train_and_score_job: str
    forget_job: str
    forget_state_machine: str
    streaming_job: str
    batch_glue_security: str
    streaming_glue_security: str
    warehouse_connection: str
    dashboard: str

    @property
    def raw_archive_job(self) -> str:
        """``<project>-<stage>-raw-archive``: the raw archive's name (its checkpoint folder, its query). Not a
        resource of its own: on AWS it runs as a query of the streaming job."""
        return f"{self.prefix}-raw-archive"

    @classmethod
    def derive(cls, project: str, stage: str) -> ResourceNames:
        """Every name for ``project`` and ``stage``, mostly ``<project>-<stage>-<resource>`` (``…-dev-events``);
        the Glue database uses underscores, the KMS alias is ``alias/<project>-<stage>-lake``."""
        prefix = f"{project}-{stage}"
        return cls(
            prefix=prefix,
            lake_bucket=f"{prefix}-lake",
            access_log_bucket=f"{prefix}-access-logs",
            stream=f"{prefix}-events",
            features_table=f"{prefix}-customer-features",
            scores_table=f"{prefix}-customer-scores",
            write_keys_table=f"{prefix}-write-keys",
            glue_database=f"{prefix}".replace("-", "_"),
            api=f"{prefix}-ingest-api",
            ingest_function=f"{prefix}-ingest",
            batch_state_machine=f"{prefix}-batch",
            redshift_namespace=f"{prefix}-ns",
            redshift_workgroup=f"{prefix}-wg",
            alarm_topic=f"{prefix}-alarms",
            kms_alias=f"alias/{prefix}-lake",
            raw_to_curated_job=f"{prefix}-raw-to-curated",
            build_star_job=f"{prefix}-build-star",
            load_warehouse_job=f"{prefix}-load-warehouse",
            train_and_score_job=f"{prefix}-train-and-score",
            forget_job=f"{prefix}-forget",
            forget_state_machine=f"{prefix}-forget-customer",
            streaming_job=f"{prefix}-stream-features",
            batch_glue_security=f"{prefix}-batch-glue",
            streaming_glue_security=f"{prefix}-streaming-glue",
            warehouse_connection=f"{prefix}-warehouse-vpc",
            dashboard=f"{prefix}-operations",
        )


class Settings(BaseSettings):
    """The lakehouse configuration. Construct with overrides, or read from ``LAKEHOUSE_*`` env vars."""

    model_config = SettingsConfigDict(
        env_prefix="LAKEHOUSE_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    project: str = "customer-lakehouse"
    stage: str = "local"
    region: str = Field(default_factory=lambda: os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    home: Path = Field(default=Path(".lakehouse"), description="local state: lake, warehouse, run files")
    lake_root: str | None = Field(
        default=None, description="lake URI: a local directory (default <home>/lake) or s3://bucket[/prefix]"
    )
    kinesis_shards: int = Field(default=2, ge=1, le=500)
    moto_port: int = Field(default=0, ge=0, le=65535, description="embedded AWS port; 0 picks a free one")
    moto_persist: bool = Field(default=False, description="the embedded AWS journals every change into "
                               "<home>/run/aws-journal.jsonl and replays it when it starts again (a restart, even "
                               "after a crash, keeps every acknowledged change); `lakehouse forget` refuses while "
                               "a journal exists (it holds personal data the erasure cannot rewrite)")
    warehouse_target: Literal["duckdb", "redshift"] = "duckdb"
    duckdb_path: Path | None = Field(default=None, description="local warehouse file (default <home>/...)")
    redshift: RedshiftSettings = RedshiftSettings()
    batch: BatchSettings = BatchSettings()
    pii: PiiSettings = PiiSettings()
    ingest: IngestSettings = IngestSettings()
    stream: StreamSettings = StreamSettings()
    archive: ArchiveSettings = ArchiveSettings()
    event_time: EventTimeSettings = EventTimeSettings()
    money: MoneySettings = MoneySettings()
    ml: MLSettings = MLSettings()

    @field_validator("stage")
    @classmethod
    def _stage_is_dns_safe(cls, value: str) -> str:
        if not value or not value[0].isalpha() or not all(c.islower() or c.isdigit() or c == "-" for c in value):
            raise ValueError("stage must start with a letter and hold only lower-case letters, digits and '-'")
        if len(value) > 16:
            raise ValueError("stage must be at most 16 characters")
        return value

    @field_validator("lake_root")
    @classmethod
    def _lake_root_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "://" in value and not value.startswith(("s3://", "file://")):
            raise ValueError("lake_root must be a local path, file:// URI or s3:// URI")
        return value.rstrip("/") or "/"

    @property
    def names(self) -> ResourceNames:
        """The names of every AWS resource of this project and stage."""
        return ResourceNames.derive(self.project, self.stage)

    @property
    def lake(self) -> LakeLayout:
        """The lake root: ``lake_root`` when set, else ``<home>/lake``."""
        root = self.lake_root or str((self.home / "lake").resolve())
        return LakeLayout.from_uri(root)

    @property
    def warehouse_path(self) -> Path:
        """The local DuckDB warehouse file: ``duckdb_path`` when set, else ``<home>/warehouse.duckdb``."""
        return self.duckdb_path or self.home / "warehouse.duckdb"

    @property
    def run_dir(self) -> Path:
        """``<home>/run``: the embedded emulator's run files (``aws.json``: its PID and port)."""
        return self.home / "run"


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides taking precedence."""
    return Settings(**overrides)  # type: ignore[arg-type]


#: ``LAKEHOUSE_*`` variables read by the local tooling, not :class:`Settings` fields (Spark's launch, the browser of
#: the dashboard tests, the client's write key, the benchmarks' record file)
TOOLING_ENV = frozenset({"LAKEHOUSE_SPARK_DRIVER_MEMORY", "LAKEHOUSE_SPARK_LOG_LEVEL", "LAKEHOUSE_CHROMIUM",
                         "LAKEHOUSE_WRITE_KEY", "LAKEHOUSE_BENCH_RECORD"})


def setting_env_names(model: type[BaseModel] = Settings, prefix: str = "LAKEHOUSE_") -> frozenset[str]:
    """Every environment variable a :class:`Settings` field reads (upper case: pydantic-settings matches them
    case-insensitively): ``LAKEHOUSE_<FIELD>``, and ``LAKEHOUSE_<GROUP>__<FIELD>`` for the nested groups (a
    group's own name too: it takes a JSON object)."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        env = prefix + name.upper()
        names.add(env)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names |= setting_env_names(field.annotation, env + "__")
    return frozenset(names)


def unknown_env(environ: Mapping[str, str]) -> dict[str, str | None]:
    """The ``LAKEHOUSE_*`` variables of ``environ`` that no setting and no tool reads -> the closest known name
    (``difflib``), or None. Settings ignore unknown variables, so a misspelt one (``..._WRITE_TASK_ROW``) or a
    retired one would otherwise change nothing, silently."""
    prefix = "LAKEHOUSE_"
    known = setting_env_names() | TOOLING_ENV
    suffixes = {name.removeprefix(prefix) for name in known}  # the shared prefix would make every name look close

    def closest(name: str) -> str | None:
        match = difflib.get_close_matches(name.upper().removeprefix(prefix), suffixes, n=1, cutoff=0.75)
        return prefix + match[0] if match else None

    return {name: closest(name) for name in sorted(environ)
            if name.upper().startswith(prefix) and name.upper() not in known}
