"""curated -> star schema (``warehouse/<table>/``), the RFM breakpoints, and the load manifests.

The star is rebuilt from the curated zone as a whole whenever a raw_to_curated run committed since the
last build (and skipped otherwise, writing nothing). A full rebuild keeps SCD2 validity, surrogate keys
and point-in-time joins exact when late events arrive; the incremental, expensive work (parsing and
validating raw JSON) happens once, in raw_to_curated.

Each table is written as ZSTD Parquet in the DDL's column order, followed by a Redshift COPY manifest
``warehouse/_manifests/<table>.json`` naming exactly the files of this build.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from glue_jobs.common.lakefs import data_files, parquet_rows
from glue_jobs.common.progress import Progress, Steps
from glue_jobs.curated.job import configure
from glue_jobs.curated.parse import accepted_events, parse_lines
from glue_jobs.curated.sessions import sessionize
from glue_jobs.curated.tables import EVENT_TABLES, SESSIONS, events_table
from glue_jobs.star import dimensions as D
from glue_jobs.star import facts as FX
from glue_jobs.star.metrics import breakpoints_document, customer_metrics, rfm_breakpoints
from glue_jobs.star.schema import STAR_TABLES, conform
from lakehouse.core.config import Settings
from lakehouse.core.job_state import MANIFESTS, STAR_STATE, curated_version, new_run_id, read_json, write_json
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.rfm_breakpoints import BREAKPOINTS_KEY

DIMENSIONS = ("dim_date", "dim_geography", "dim_customer", "dim_product", "dim_offer", "dim_support_issue",
              "dim_channel", "mart_parameters")


@dataclass
class StarTable:
    """What one build wrote for one star table: rows, Parquet files and their total size in bytes."""

    rows: int = 0
    files: int = 0
    bytes: int = 0


@dataclass
class StarReport:
    """The outcome of :func:`run_build_star`.

    ``skipped`` says why nothing was built (then ``tables`` is empty); ``as_of`` is the last curated event
    date (ISO); ``tables`` maps each star table to what was written; ``seconds`` is wall-clock time.
    """

    build_id: str | None = None
    curated_version: str | None = None
    as_of: str | None = None
    tables: dict[str, StarTable] = field(default_factory=dict)
    breakpoints_key: str | None = None
    skipped: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values (nested ``StarTable`` objects become dicts)."""
        return asdict(self)


def empty_curated(spark: SparkSession, table: str) -> DataFrame:
    """An empty frame with a curated table's schema (for tables no event has filled yet)."""
    lines = spark.createDataFrame([], "raw_object string, value string")
    events = accepted_events(parse_lines(lines))
    if table == SESSIONS:
        return sessionize(events_table(events), 30)
    builder = next(t.build for t in EVENT_TABLES if t.name == table)
    return builder(events)


def read_curated(spark: SparkSession, storage: LakeStorage, table: str) -> DataFrame:
    """A curated table as a DataFrame, or an empty frame with its schema when it has no data files yet."""
    rel = storage.layout.curated_table(table)
    if not data_files(storage, rel):
        return empty_curated(spark, table)
    return spark.read.parquet(storage.layout.uri(rel))


def write_table(spark: SparkSession, storage: LakeStorage, table: str, frame: DataFrame, files: int) -> StarTable:
    """Overwrite ``warehouse/<table>/`` and its COPY manifest; returns rows, files and bytes written."""
    rel = storage.layout.warehouse_table(table)
    out = conform(frame, table)
    order = [c for c in ("date_key", "snapshot_date", "customer_id") if c in out.columns]
    out = out.repartitionByRange(files, *order).sortWithinPartitions(*order) if order and files > 1 \
        else out.coalesce(1)
    out.write.mode("overwrite").option("compression", "zstd").parquet(storage.layout.uri(rel))
    written = data_files(storage, rel)
    manifest = {"entries": [{"url": storage.layout.uri(f.key) if storage.layout.is_s3 else storage.layout.key(f.key),
                             "mandatory": True, "meta": {"content_length": f.size}} for f in written]}
    write_json(storage, f"{MANIFESTS}/{table}.json", manifest)
    rows = parquet_rows(storage, written)
    if rows is None:
        rows = spark.read.parquet(storage.layout.uri(rel)).count()
    return StarTable(rows, len(written), sum(f.size for f in written))


def mart_parameters(spark: SparkSession, settings: Settings) -> DataFrame:
    """``mart_parameters``: one row per mart threshold (key ``name``) from ``settings.batch``, as doubles."""
    batch = settings.batch
    values = [("affinity_min_support", float(batch.affinity_min_support)),
              ("affinity_min_confidence", float(batch.affinity_min_confidence)),
              ("affinity_min_pair_orders", float(batch.affinity_min_pair_orders))]
    return spark.createDataFrame(values, "name string, value double")


def run_build_star(spark: SparkSession, settings: Settings, *, force: bool = False,
                   on_progress: Progress | None = None, now: datetime | None = None) -> StarReport:
    """Rebuild the star schema if the curated zone changed since the last build (or ``force``)."""
    started = time.monotonic()
    storage = LakeStorage(settings.lake, region=settings.region)
    configure(spark, storage)
    report = StarReport(curated_version=curated_version(storage))
    if report.curated_version is None:
        report.skipped = "no curated data yet"
        return report
    last = read_json(storage, STAR_STATE)
    if last and last.get("curated_version") == report.curated_version and not force:
        report.skipped = "curated zone unchanged since the last build"
        report.build_id = last.get("build_id")
        return report
    steps = [*STAR_TABLES, "rfm breakpoints", "commit"]
    progress = Steps(steps, on_progress)
    step = progress.start

    curated = {name: read_curated(spark, storage, name) for name in [t.name for t in EVENT_TABLES] + [SESSIONS]}
    events = curated["events"].persist()
    bounds = events.agg(F.min("event_date").alias("first"), F.max("event_date").alias("last"),
                        F.count("*").alias("n")).first()
    if bounds["n"] == 0:
        report.skipped = "no curated events yet"
        events.unpersist()
        return report
    as_of, gap = bounds["last"], settings.batch.session_gap_minutes
    fact_files = max(1, math.ceil(bounds["n"] / settings.batch.target_file_rows))
    report.build_id, report.as_of = new_run_id(now), as_of.isoformat()

    dim_customer = conform(D.customer_versions(curated["customers"], events), "dim_customer").persist()
    channels = FX.event_channels(events)
    built: dict[str, Callable[[], DataFrame]] = {
        "dim_date": lambda: D.dim_date(spark, bounds["first"], as_of),
        "dim_geography": lambda: D.dim_geography(dim_customer),
        "dim_customer": lambda: dim_customer,
        "dim_product": lambda: D.dim_product(curated["product_events"], curated["order_lines"]),
        "dim_offer": lambda: D.dim_offer(curated["offers"]),
        "dim_support_issue": lambda: D.dim_support_issue(spark),
        "dim_channel": lambda: D.dim_channel(
            channels.select("channel"), curated["support_tickets"].select("channel"),
            curated["offers"].select("channel")),
        "fact_order": lambda: FX.fact_order(curated["orders"], curated["order_lines"], curated["refunds"], channels,
                                            dim_customer),
        "fact_order_line": lambda: FX.fact_order_line(curated["order_lines"], channels, dim_customer),
        "fact_customer_activity": lambda: FX.fact_customer_activity(events, dim_customer, gap),
        "fact_session": lambda: FX.fact_session(curated[SESSIONS], dim_customer),
        "fact_support_ticket": lambda: FX.fact_support_ticket(curated["support_tickets"], dim_customer),
        "fact_offer_response": lambda: FX.fact_offer_response(curated["offers"], dim_customer),
        "fact_content_watch": lambda: FX.fact_content_watch(curated["content_watched"], channels, dim_customer),
        "fact_customer_metrics": lambda: customer_metrics(
            dim_customer, written("fact_order"), curated["refunds"], written("fact_support_ticket"),
            curated["account_snapshots"], curated["account_closures"], as_of, settings.batch.rfm_window_days),
        "fact_daily_kpis": lambda: FX.fact_daily_kpis(
            written("dim_date"), written("fact_customer_activity"), written("fact_order"),
            written("fact_session"), curated["refunds"], dim_customer),
        "mart_parameters": lambda: mart_parameters(spark, settings),
    }

    def written(table: str) -> DataFrame:
        return spark.read.parquet(storage.layout.uri(storage.layout.warehouse_table(table)))

    for table in STAR_TABLES:
        step(table)
        files = 1 if table in DIMENSIONS else fact_files
        report.tables[table] = write_table(spark, storage, table, built[table](), files)

    step("rfm breakpoints")
    metrics = written("fact_customer_metrics").where(F.col("snapshot_date") == F.lit(as_of))
    computed_at = (now or datetime.now(UTC)).isoformat()
    document = breakpoints_document(rfm_breakpoints(metrics), as_of, settings.batch.rfm_window_days, computed_at)
    report.breakpoints_key = BREAKPOINTS_KEY
    write_json(storage, BREAKPOINTS_KEY, document)

    step("commit")
    report.seconds = time.monotonic() - started
    write_json(storage, STAR_STATE, {"build_id": report.build_id, "curated_version": report.curated_version,
                                     "as_of": report.as_of, "built_at": computed_at,
                                     "tables": {k: asdict(v) for k, v in report.tables.items()}})
    events.unpersist()
    dim_customer.unpersist()
    progress.finish()
    return report


def star_state(settings: Settings) -> dict[str, Any] | None:
    """The last committed star build (``build_id``, ``as_of``, row counts), if any."""
    return read_json(LakeStorage(settings.lake, region=settings.region), STAR_STATE)

