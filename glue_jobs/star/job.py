"""curated -> star schema (``warehouse/<table>/_b-<build_id>/``), the RFM breakpoints, and the load manifests.

Before any table is built the curated frames are made true (docs/batch.md, "Star schema"): events dated after
the batch's as-of date (never later than the run's own day) or before the earliest believable date are left
out; every ``customer_id`` is stitched with the identity map (docs/identity.md); duplicate Order Completed
events of an ``order_id`` are dropped and orders, changes and refunds are resolved by ``order_id`` with money
in the reporting currency (docs/money.md); sessions are recomputed on the stitched ids.

The star is built whenever a raw_to_curated run committed since the last build, or the settings it reads or
the rate file changed (and skipped otherwise, writing nothing): incrementally from the previous build when there
is one of this format with the same settings and rate file (:mod:`glue_jobs.star.incremental`: the customers the
new curated rows can change are recomputed, the rest kept), else, or with ``full``, from the whole curated zone.
Both give the same rows (``tests/glue_jobs/star/test_incremental.py``).

Each table is written as ZSTD Parquet in the DDL's column order into ``warehouse/<table>/_b-<build_id>/``, with a
Redshift COPY manifest ``warehouse/_manifests/_star/<build_id>/<table>.json`` naming exactly the files of this
build; the state, written last, names them (:func:`manifest_key`).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from glue_jobs.common.cache import BATCH_CACHE
from glue_jobs.common.lakefs import data_files, delete_keys, parquet_rows, read_table
from glue_jobs.common.progress import Progress, Steps
from glue_jobs.curated.job import configure
from glue_jobs.curated.parse import accepted_events, parse_lines
from glue_jobs.curated.sessions import sessionize
from glue_jobs.curated.tables import EVENT_TABLES, EVENTS_READ_SCHEMA, PARTITION, SESSIONS, events_table, upgrade_events
from glue_jobs.star import dimensions as D
from glue_jobs.star import facts as FX
from glue_jobs.star.identity import IdentityStats, identity_map, stitch
from glue_jobs.star.incremental import (
    CUSTOMER_TABLES,
    DELTA_KEYS,
    changed_partitions,
    delta,
    dirty_customers,
    is_month_end,
    of_customers,
    order_scope,
    snapshot_days_between,
    ticket_scope,
)
from glue_jobs.star.metrics import (
    BASE_COLUMNS,
    breakpoints_document,
    breakpoints_history_document,
    customer_metrics,
    metric_rows,
    rfm_breakpoints,
    roll_forward,
    scored,
    snapshot_profile,
)
from glue_jobs.star.money import daily_rates, dim_currency_rate, load_rates
from glue_jobs.star.orders import NETTED, UNCONVERTED, UNKNOWN_ORDER, order_facts, unconverted_summary, winning_orders
from glue_jobs.star.schema import STAR_TABLES, conform
from lakehouse.core.config import Settings
from lakehouse.core.job_state import MANIFESTS, STAR_STATE, curated_version, new_run_id, read_json, write_json
from lakehouse.core.lake import tables as tables_
from lakehouse.core.lake.storage import LakeStorage, StoredObject
from lakehouse.core.rfm_breakpoints import BREAKPOINTS_KEY, HISTORY_KEY

#: the star state's format: 2 records curated partition versions, table folders and the identity map
STATE_FORMAT = 2
#: the identity map of the last build (Parquet, ``<build_id>/``), which the next build diffs against
IDENTITY_STATE = "state/build_star/identity_map"
#: every build's COPY manifests, ``<build_id>/<table>.json`` (:func:`manifest_key`)
STAR_MANIFESTS = f"{MANIFESTS}/_star"
#: the deltas of the last build for the warehouse load: ``<build_id>/<table>/{upsert,gone}/``
DELTAS = "warehouse/_delta"
DIMENSIONS = ("dim_date", "dim_geography", "dim_customer", "dim_product", "dim_offer", "dim_support_issue",
              "dim_channel", "dim_currency_rate", "mart_parameters")
#: the order tables are built in: every table after the tables it reads back (dim_geography reads dim_customer)
BUILD_ORDER = ("dim_customer", *[t for t in STAR_TABLES if t != "dim_customer"])
#: curated tables the star reads (sessions are recomputed on stitched ids, not read)
CURATED_INPUTS = ("events", "orders", "order_lines", "order_changes", "refunds", "product_events", "support_tickets",
                  "offers", "content_watched", "account_snapshots", "account_closures", "customers", "identity_links")
#: schemas of curated tables for a lake whose curated zone predates them (empty frames)
FALLBACK_SCHEMAS = {
    "identity_links": "event_id string, source_id string, target_id string, link_type string, "
                      "event_ts timestamp, received_at timestamp, event_date date",
    "order_changes": "event_id string, order_id string, customer_id string, change string, event_ts timestamp, "
                     "received_at timestamp, order_value decimal(18,4), currency string, event_date date",
}


@dataclass
class StarTable:
    """What one build wrote for one star table: rows, Parquet files and their total size in bytes."""

    rows: int = 0
    files: int = 0
    bytes: int = 0
    folder: str = ""


@dataclass
class OrderSummary:
    """Orders by ``order_id`` (docs/money.md): ``orders`` (one per order_id), ``duplicate_events`` (Order
    Completed events that lost to an earlier one: counted nowhere), ``updated``, ``cancelled``; refunds by
    outcome: ``refunds_netted``, ``refunds_capped`` (netted, capped at what remained), ``refunds_unknown_order``
    and ``refunds_unconverted`` (reported, never netted)."""

    orders: int = 0
    duplicate_events: int = 0
    updated: int = 0
    cancelled: int = 0
    refunds_netted: int = 0
    refunds_capped: int = 0
    refunds_unknown_order: int = 0
    refunds_unconverted: int = 0


@dataclass
class MoneySummary:
    """The reporting currency and what could not be converted into it.

    ``rates_file`` says whether the rate CSV (``settings.money.rates_key``) exists, ``rate_rows`` its rows;
    ``converted_orders``/``unconverted_orders`` count orders; ``unconverted`` maps each currency without a
    rate to ``{"orders": n, "amount": "<decimal text in that currency>"}`` — amounts never summed.
    """

    reporting_currency: str = "USD"
    rates_file: bool = False
    rate_rows: int = 0
    converted_orders: int = 0
    unconverted_orders: int = 0
    unconverted: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class StarReport:
    """The outcome of :func:`run_build_star`.

    ``skipped`` says why nothing was built (then ``tables`` is empty); ``as_of`` is the batch's as-of date
    (ISO): the last curated event date, but never after ``run_date`` (the day the run started, UTC);
    ``excluded_events`` counts events outside [earliest event date, as_of] (``after_as_of``,
    ``before_earliest``), which no star table holds; ``identity`` is the identity map's
    :class:`~glue_jobs.star.identity.IdentityStats`; ``orders`` an :class:`OrderSummary`; ``money`` a
    :class:`MoneySummary`; ``tables`` maps each star table to what was written; ``seconds`` is wall-clock time.
    ``mode`` is 'incremental' or 'full' (``full_reason`` says why a build could not be incremental);
    ``dirty_customers`` how many customers an incremental build recomputed; ``deltas`` the rows of each
    table's delta for the load (``upsert_rows``, ``gone_rows``).
    """

    build_id: str | None = None
    curated_version: str | None = None
    as_of: str | None = None
    run_date: str | None = None
    excluded_events: dict[str, int] = field(default_factory=dict)
    identity: IdentityStats = field(default_factory=IdentityStats)
    orders: OrderSummary = field(default_factory=OrderSummary)
    money: MoneySummary = field(default_factory=MoneySummary)
    tables: dict[str, StarTable] = field(default_factory=dict)
    breakpoints_key: str | None = None
    skipped: str | None = None
    seconds: float = 0.0
    mode: str | None = None
    full_reason: str = ""
    dirty_customers: int | None = None
    deltas: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values (nested dataclasses become dicts)."""
        return asdict(self)


def empty_curated(spark: SparkSession, table: str) -> DataFrame:
    """An empty frame with a curated table's schema (for tables no event has filled yet).

    The schema is taken from the curated builder applied to no lines, then the frame is a plain empty one: the
    builder's plan holds the whole contract validation, which Spark would otherwise re-optimise in every query
    of the build that reads the table (minutes on a small lake).
    """
    if table in FALLBACK_SCHEMAS and table not in {t.name for t in EVENT_TABLES}:
        return spark.createDataFrame([], FALLBACK_SCHEMAS[table])
    lines = spark.createDataFrame([], "raw_object string, value string")
    events = accepted_events(parse_lines(lines))
    if table == SESSIONS:
        return spark.createDataFrame([], sessionize(events_table(events), 30).schema)
    builder = next(t.build for t in EVENT_TABLES if t.name == table)
    return spark.createDataFrame([], builder(events).schema)


def read_curated(spark: SparkSession, storage: LakeStorage, table: str, values: list[str] | None = None,
                 state: tables_.TableState | None = None) -> DataFrame:
    """A curated table (its partitions ``values``, default all) as a DataFrame, or an empty frame with its schema
    when it has no data files yet. ``state`` is the table's manifest state when already read."""
    schema = EVENTS_READ_SCHEMA if table == "events" else None  # old and new events files alike (issue 15)
    rel = storage.layout.curated_table(table)
    state = state or tables_.current(storage, rel)
    if values is not None:
        values = [v for v in values if v in state.partitions]
    frame = read_table(spark, storage, rel, values=values, schema=schema, state=state) \
        if values is None or values else None  # current versions
    if frame is None:
        return empty_curated(spark, table)
    return upgrade_events(frame) if table == "events" else frame


def build_folder(storage: LakeStorage, table: str, build_id: str) -> str:
    """``warehouse/<table>/_b-<build_id>``: the folder of one build's files of a star table. A build never writes
    where the previous build's files are (an incremental build reads them), and removes them after its commit."""
    return f"{storage.layout.warehouse_table(table)}/_b-{build_id}"


def write_table(spark: SparkSession, storage: LakeStorage, table: str, frame: DataFrame, files: int,
                rel: str) -> tuple[StarTable, list[StoredObject]]:
    """Write ``frame`` (conformed to ``table``'s columns) as ZSTD Parquet into the folder ``rel``; returns rows,
    files, bytes and folder written, and the files (for the COPY manifest)."""
    out = conform(frame, table)
    order = [c for c in ("date_key", "snapshot_date", "customer_id") if c in out.columns]
    out = out.repartitionByRange(files, *order).sortWithinPartitions(*order) if order and files > 1 \
        else out.coalesce(1)
    out.write.mode("overwrite").option("compression", "zstd").parquet(storage.layout.uri(rel))
    written = data_files(storage, rel)
    rows = parquet_rows(storage, written)
    if rows is None:
        rows = spark.read.parquet(storage.layout.uri(rel)).count()
    return StarTable(rows, len(written), sum(f.size for f in written), rel), written


def copy_manifest(storage: LakeStorage, files: list[StoredObject]) -> dict[str, Any]:
    """A Redshift COPY manifest naming exactly ``files`` (URIs on S3, local paths otherwise)."""
    return {"entries": [{"url": storage.layout.uri(f.key) if storage.layout.is_s3 else storage.layout.key(f.key),
                         "mandatory": True, "meta": {"content_length": f.size}} for f in files]}


def mart_parameters(spark: SparkSession, settings: Settings) -> DataFrame:
    """``mart_parameters``: one row per mart threshold (key ``name``) from ``settings.batch``, as doubles."""
    batch = settings.batch
    values = [("affinity_min_support", float(batch.affinity_min_support)),
              ("affinity_min_confidence", float(batch.affinity_min_confidence)),
              ("affinity_min_pair_orders", float(batch.affinity_min_pair_orders))]
    return spark.createDataFrame(values, "name string, value double")


def as_of_date(last_event_day: date, run_day: date) -> date:
    """The batch's as-of date: the last event day, never later than the day the run started (issue 11: an
    event stamped in the future must not move ``dim_date`` or any recency)."""
    return min(last_event_day, run_day)


def in_window(frame: DataFrame, first: date, as_of: date) -> DataFrame:
    """Rows of a curated table whose ``event_date`` lies in [``first``, ``as_of``]."""
    return frame.where(F.col(PARTITION).between(F.lit(first), F.lit(as_of)))


def duplicate_order_events(orders: DataFrame) -> DataFrame:
    """``event_id`` of every Order Completed event that is not its order (a later copy of an ``order_id``)."""
    winners = winning_orders(orders.select("event_id", "order_id", "order_ts", "received_at"))
    return orders.select("event_id").join(winners.select("event_id"), "event_id", "left_anti")


def summarize_orders(orders: DataFrame, ledger: DataFrame) -> OrderSummary:
    """The :class:`OrderSummary` of :func:`glue_jobs.star.orders.order_facts`'s two frames (two Spark jobs)."""
    o = orders.agg(F.count("*").alias("n"), F.sum("duplicate_events").alias("dup"),
                   F.sum(F.col("is_updated").cast("int")).alias("upd"),
                   F.sum(F.col("is_cancelled").cast("int")).alias("can")).first()
    by_status = {r["status"]: (r["n"], r["capped"]) for r in ledger.groupBy("status").agg(
        F.count("*").alias("n"), F.sum(F.col("is_capped").cast("int")).alias("capped")).collect()}
    return OrderSummary(orders=o["n"], duplicate_events=int(o["dup"] or 0), updated=int(o["upd"] or 0),
                        cancelled=int(o["can"] or 0), refunds_netted=by_status.get(NETTED, (0, 0))[0],
                        refunds_capped=int(by_status.get(NETTED, (0, 0))[1] or 0),
                        refunds_unknown_order=by_status.get(UNKNOWN_ORDER, (0, 0))[0],
                        refunds_unconverted=by_status.get(UNCONVERTED, (0, 0))[0])


def summarize_money(orders: DataFrame, money: MoneySummary) -> MoneySummary:
    """``money`` with the converted/unconverted order counts and the unconverted amounts per currency."""
    rows = unconverted_summary(orders).collect()
    money.unconverted = {r["currency"] or "(none)": {"orders": r["orders"], "amount": str(r["amount"] or 0)}
                         for r in sorted(rows, key=lambda r: r["currency"] or "")}
    money.unconverted_orders = sum(r["orders"] for r in rows)
    money.converted_orders = orders.where("is_converted").count()
    return money


def fingerprint(settings: Settings, storage: LakeStorage) -> dict[str, Any]:
    """What a build's rows depend on besides the curated rows: the settings the star reads and the rate file's
    SHA-256. An incremental build needs the previous build's fingerprint to be the same (else it rebuilds all)."""
    rates_key = settings.money.rates_key
    rates = hashlib.sha256(storage.get_bytes(rates_key)).hexdigest() if storage.exists(rates_key) else None
    return {"format": STATE_FORMAT, "session_gap_minutes": settings.batch.session_gap_minutes,
            "rfm_window_days": settings.batch.rfm_window_days,
            "reporting_currency": settings.money.reporting_currency,
            "max_rate_age_days": settings.money.max_rate_age_days,
            "earliest_event_date": settings.event_time.earliest_event_date.isoformat(), "rates_sha256": rates}


def incremental_base(storage: LakeStorage, last: dict[str, Any] | None, print_: dict[str, Any],
                     as_of: date) -> tuple[dict[str, Any] | None, str]:
    """The previous build an incremental build can start from, or None and why not (then the build is full)."""
    if not last or last.get("format") != STATE_FORMAT:
        return None, "no previous build of this format"
    if last.get("fingerprint") != print_:
        before = last.get("fingerprint") or {}
        changed = ", ".join(sorted(k for k in print_ if before.get(k) != print_[k]))
        return None, f"changed since the previous build: {changed}"
    if date.fromisoformat(last["as_of"]) > as_of:
        return None, "the previous build's as-of day is later"
    folders = [t.get("folder") for t in last.get("tables", {}).values()]
    if len(folders) != len(STAR_TABLES) or not all(folders) or not last.get("identity_map"):
        return None, "the previous build's tables are not all recorded"
    if not storage.list(last["identity_map"]):
        return None, "the previous build's identity map is missing"
    return last, ""


def run_build_star(spark: SparkSession, settings: Settings, *, force: bool = False, full: bool = False,
                   on_progress: Progress | None = None, now: datetime | None = None) -> StarReport:
    """Build the star schema if the curated zone changed since the last build (or ``force``): incrementally from
    the previous build when there is one of this format with the same settings and rate file, else (or ``full``)
    from the whole curated zone.

    Before anything is built: events outside [``settings.event_time.earliest_event_date``, as-of] are left
    out (:func:`as_of_date`), every curated frame's ``customer_id`` is stitched
    (:mod:`glue_jobs.star.identity`), duplicate Order Completed events are dropped (:mod:`glue_jobs.star.orders`)
    and sessions are recomputed on the stitched ids. An incremental build recomputes the customer-grain tables for
    the dirty customers only (:mod:`glue_jobs.star.incremental`), rolls the monthly snapshot forward for the
    others, rebuilds the small dimensions and the daily KPIs whole, and writes each big table's delta for the
    warehouse load. Both give the same tables. Raises :class:`lakehouse.core.money.RateFileError` for an
    unreadable rate file (the message names the line).
    """
    started = time.monotonic()
    storage = LakeStorage(settings.lake, region=settings.region)
    configure(spark, storage)
    run_day = (now or datetime.now(UTC)).astimezone(UTC).date()
    report = StarReport(curated_version=curated_version(storage), run_date=run_day.isoformat())
    if report.curated_version is None:
        report.skipped = "no curated data yet"
        return report
    last = read_json(storage, STAR_STATE)
    print_ = fingerprint(settings, storage)
    if (last and last.get("curated_version") == report.curated_version and last.get("fingerprint") == print_
            and not (force or full)):
        report.skipped = "curated zone, settings and rate file unchanged since the last build"
        report.build_id = last.get("build_id")
        return report
    steps = ["identity", "scope", *BUILD_ORDER, "deltas", "rfm breakpoints", "commit"]
    progress = Steps(steps, on_progress)
    step = progress.start

    states = {name: tables_.current(storage, storage.layout.curated_table(name)) for name in CURATED_INPUTS}
    raw = {name: read_curated(spark, storage, name, state=states[name]) for name in CURATED_INPUTS}
    earliest = settings.event_time.earliest_event_date
    bounds = raw["events"].agg(
        F.min(F.when(F.col(PARTITION) >= F.lit(earliest), F.col(PARTITION))).alias("first"),
        F.max(F.when(F.col(PARTITION) <= F.lit(run_day), F.col(PARTITION))).alias("last"),
        F.sum(F.when(F.col(PARTITION) < F.lit(earliest), 1).otherwise(0)).alias("before"),
        F.count("*").alias("n")).first()
    if bounds["n"] == 0 or bounds["first"] is None or bounds["last"] is None or bounds["first"] > bounds["last"]:
        report.skipped = "no curated events yet" if bounds["n"] == 0 else "no curated event dated in the window"
        return report
    first, as_of, gap = bounds["first"], as_of_date(bounds["last"], run_day), settings.batch.session_gap_minutes
    window_days = settings.batch.rfm_window_days
    report.build_id, report.as_of = new_run_id(now), as_of.isoformat()
    previous, report.full_reason = (None, "--full") if full else incremental_base(storage, last, print_, as_of)
    report.mode = "incremental" if previous else "full"

    step("identity")
    windowed = {name: in_window(frame, first, as_of) for name, frame in raw.items()}
    id_map, report.identity = identity_map(spark, windowed["identity_links"])
    id_map = id_map.persist(BATCH_CACHE)
    curated = {name: stitch(frame, id_map) if "customer_id" in frame.columns else frame
               for name, frame in windowed.items()}
    all_duplicates = duplicate_order_events(curated["orders"]).persist(BATCH_CACHE)
    all_events = curated["events"].join(all_duplicates, "event_id", "left_anti")
    kept = all_events.count()
    report.excluded_events = {"before_earliest": int(bounds["before"] or 0),
                              "after_as_of": int(bounds["n"]) - int(bounds["before"] or 0) - kept
                              - all_duplicates.count()}
    fact_files = max(1, math.ceil(kept / settings.batch.target_file_rows))

    rates, report.money.rates_file = load_rates(storage, settings.money)
    report.money.reporting_currency, report.money.rate_rows = settings.money.reporting_currency, len(rates.rows)
    currency_rates = dim_currency_rate(spark, rates)
    daily = daily_rates(currency_rates, settings.money.max_rate_age_days).persist(BATCH_CACHE)
    products = conform(D.dim_product(curated["product_events"], curated["order_lines"]), "dim_product") \
        .persist(BATCH_CACHE)

    def before(table: str) -> DataFrame:
        """The previous build's rows of ``table``."""
        assert previous is not None
        return spark.read.parquet(storage.layout.uri(previous["tables"][table]["folder"]))

    step("scope")
    customers: DataFrame | None = None
    if previous is not None:
        prev_as_of = date.fromisoformat(previous["as_of"])
        changed = {}
        for name in CURATED_INPUTS:
            values = changed_partitions(states[name].partitions, previous["partitions"].get(name, {}), prev_as_of,
                                        as_of)
            frame = read_curated(spark, storage, name, values=values, state=states[name]) if values else None
            changed[name] = in_window(frame, first, as_of) if frame is not None else raw[name].where(F.lit(False))
        old_map = spark.read.schema("id string, resolved_id string").parquet(
            storage.layout.uri(previous["identity_map"]))
        old_products = before("dim_product")
        changed_products = (products.subtract(old_products).select("product_id")
                            .unionByName(old_products.subtract(products).select("product_id")))
        # checkpoints cut the lineage: every scoped frame below joins C, and C's plan reads every curated table
        customers = dirty_customers(changed, curated, id_map, old_map, changed_products).localCheckpoint()
        report.dirty_customers = customers.count()

    scoped = {name: of_customers(frame, customers) for name, frame in curated.items() if "customer_id" in frame.columns}
    in_orders = order_scope(curated, customers)
    tickets = ticket_scope(curated["support_tickets"], customers)
    if customers is None:
        events = all_events.persist(BATCH_CACHE)
    else:
        in_orders = {name: frame.localCheckpoint() for name, frame in in_orders.items()}
        tickets = tickets.localCheckpoint()
        events = scoped["events"].join(duplicate_order_events(in_orders["orders"]), "event_id", "left_anti") \
            .localCheckpoint()
    orders, ledger = order_facts(in_orders["orders"], in_orders["order_changes"], in_orders["refunds"],
                                 in_orders["order_lines"], daily, settings.money.reporting_currency)
    orders, ledger = orders.persist(BATCH_CACHE), ledger.persist(BATCH_CACHE)
    sessions = sessionize(events, gap)
    dim_customer = conform(D.customer_versions(scoped["customers"], events), "dim_customer") \
        .persist(BATCH_CACHE)
    channels = FX.event_channels(events)

    def combined(table: str, rows: DataFrame) -> DataFrame:
        """A customer-grain table: this build's ``rows`` (all, or the dirty customers'), plus the previous build's
        rows of every other customer."""
        rows = conform(rows, table)
        if customers is None:
            return rows
        return conform(before(table), table).join(customers, "customer_id", "left_anti").unionByName(
            of_customers(rows, customers))

    def metrics() -> DataFrame:
        dim_all = written("dim_customer")
        facts = {t: written(t) for t in ("fact_order", "fact_refund", "fact_support_ticket")}
        if customers is None:
            return customer_metrics(dim_all, facts["fact_order"], facts["fact_refund"], facts["fact_support_ticket"],
                                    curated["account_snapshots"], curated["account_closures"], as_of, window_days)
        base = lambda frame: frame.select(*[F.col(c).cast(dict(STAR_TABLES["fact_customer_metrics"])[c])  # noqa: E731
                                            for c in BASE_COLUMNS])
        dirty = metric_rows(of_customers(dim_all, customers), *[of_customers(f, customers) for f in facts.values()],
                            scoped["account_snapshots"], scoped["account_closures"], as_of, window_days)
        prev_as_of = date.fromisoformat(previous["as_of"])
        others = base(before("fact_customer_metrics").join(customers, "customer_id", "left_anti"))
        rows = others if is_month_end(prev_as_of) or prev_as_of == as_of else \
            others.where(F.col("snapshot_date") != F.lit(prev_as_of))
        rows = rows.unionByName(base(dirty))
        days = snapshot_days_between(prev_as_of, as_of)
        if days:
            latest = others.where(F.col("snapshot_date") == F.lit(prev_as_of))
            rows = rows.unionByName(base(roll_forward(latest, snapshot_profile(dim_all), facts["fact_order"], days,
                                                      window_days)))
        return scored(rows)

    built: dict[str, Callable[[], DataFrame]] = {
        "dim_date": lambda: D.dim_date(spark, first, as_of),
        "dim_geography": lambda: D.dim_geography(written("dim_customer")),
        "dim_customer": lambda: combined("dim_customer", dim_customer),
        "dim_product": lambda: products,
        "dim_offer": lambda: D.dim_offer(curated["offers"]),
        "dim_support_issue": lambda: D.dim_support_issue(spark),
        "dim_channel": lambda: D.dim_channel(
            FX.event_channels(all_events).select("channel"), curated["support_tickets"].select("channel"),
            curated["offers"].select("channel")),
        "dim_currency_rate": lambda: currency_rates,
        "fact_order": lambda: combined("fact_order", FX.fact_order(orders, channels, dim_customer)),
        "fact_refund": lambda: combined("fact_refund", FX.fact_refund(ledger, dim_customer)),
        "fact_order_line": lambda: combined("fact_order_line", FX.fact_order_line(
            in_orders["order_lines"], orders, channels, dim_customer, written("dim_product"))),
        "fact_customer_activity": lambda: combined("fact_customer_activity",
                                                   FX.fact_customer_activity(events, dim_customer, gap)),
        "fact_session": lambda: combined("fact_session", FX.fact_session(sessions, dim_customer)),
        "fact_support_ticket": lambda: combined("fact_support_ticket", FX.fact_support_ticket(tickets, dim_customer)),
        "fact_offer_response": lambda: combined("fact_offer_response",
                                                FX.fact_offer_response(scoped["offers"], dim_customer)),
        "fact_content_watch": lambda: combined("fact_content_watch", FX.fact_content_watch(
            scoped["content_watched"], channels, dim_customer)),
        "fact_customer_metrics": metrics,
        "fact_daily_kpis": lambda: FX.fact_daily_kpis(
            written("dim_date"), written("fact_customer_activity"), written("fact_order"),
            written("fact_session"), written("fact_refund"), written("dim_customer")),
        "mart_parameters": lambda: mart_parameters(spark, settings),
    }

    def written(table: str) -> DataFrame:
        return spark.read.parquet(storage.layout.uri(report.tables[table].folder))

    manifests: dict[str, list[StoredObject]] = {}
    for table in BUILD_ORDER:
        step(table)
        files = 1 if table in DIMENSIONS else fact_files
        report.tables[table], manifests[table] = write_table(
            spark, storage, table, built[table](), files, build_folder(storage, table, report.build_id))
    report.orders = summarize_orders(written("fact_order"), written("fact_refund"))
    report.money = summarize_money(written("fact_order"), report.money)

    step("deltas")
    delta_record: dict[str, dict[str, Any]] | None = None
    if previous is not None:
        delta_record = {}
        for table, key in DELTA_KEYS.items():
            upsert, gone = delta(before(table), written(table), key,
                                 customers if table in CUSTOMER_TABLES else None)
            record: dict[str, Any] = {}
            for part, frame in (("upsert", upsert), ("gone", gone)):
                folder = f"{DELTAS}/{report.build_id}/{table}/{part}"
                written_part, manifests[f"_delta/{table}-{part}"] = write_table(
                    spark, storage, table, frame, 1, folder)
                record[part] = manifest_key(report.build_id, f"_delta/{table}-{part}")
                record[f"{part}_rows"] = written_part.rows
            delta_record[table] = record
    report.deltas = {t: {"upsert_rows": r["upsert_rows"], "gone_rows": r["gone_rows"]}
                     for t, r in (delta_record or {}).items()}
    # the COPY manifests, under this build's id: until the state names them, the load reads the previous build's
    for name, entries in manifests.items():
        write_json(storage, manifest_key(report.build_id, name), copy_manifest(storage, entries))
    identity_folder = f"{IDENTITY_STATE}/{report.build_id}"
    id_map.coalesce(1).write.mode("overwrite").parquet(storage.layout.uri(identity_folder))

    step("rfm breakpoints")
    # every snapshot day's cuts (month ends and the as-of day), computed once: the as-of day's for the stream, all
    # of them for past days (a day between two snapshots reads the month end before it: rfm_breakpoints.py)
    cuts = rfm_breakpoints(written("fact_customer_metrics").where(F.col("snapshot_date") <= F.lit(as_of))) \
        .persist(BATCH_CACHE)
    computed_at = (now or datetime.now(UTC)).isoformat()
    document = breakpoints_document(cuts, as_of, window_days, computed_at)
    report.breakpoints_key = BREAKPOINTS_KEY
    write_json(storage, BREAKPOINTS_KEY, document)
    history = breakpoints_history_document(cuts, as_of, window_days, computed_at)
    write_json(storage, HISTORY_KEY, history)
    cuts.unpersist()

    step("commit")
    report.seconds = time.monotonic() - started
    write_json(storage, STAR_STATE, {
        "format": STATE_FORMAT, "build_id": report.build_id, "curated_version": report.curated_version,
        "as_of": report.as_of, "first": first.isoformat(), "run_date": report.run_date, "built_at": computed_at,
        "mode": report.mode, "base_build_id": previous["build_id"] if previous else None,
        "fingerprint": print_, "partitions": {name: dict(states[name].partitions) for name in CURATED_INPUTS},
        "identity_map": identity_folder, "dirty_customers": report.dirty_customers, "delta": delta_record,
        "manifests": {t: manifest_key(report.build_id, t) for t in STAR_TABLES},
        "identity": asdict(report.identity), "orders": asdict(report.orders), "money": asdict(report.money),
        "excluded_events": report.excluded_events, "tables": {k: asdict(v) for k, v in report.tables.items()}})
    for frame in (events, dim_customer, orders, ledger, daily, id_map, all_duplicates, products):
        frame.unpersist()
    if customers is not None:
        customers.unpersist()
    remove_superseded(storage, report.build_id, identity_folder, settings.region)
    progress.finish()
    return report


def manifest_key(build_id: str, name: str) -> str:
    """The key of one build's COPY manifest ``name`` (a star table, or ``_delta/<table>-<upsert|gone>``):
    ``warehouse/_manifests/_star/<build_id>/<name>.json``. Keyed by build, so a build that dies before its commit
    never changes the manifests of the build the state names (the load reads those)."""
    return f"{STAR_MANIFESTS}/{build_id}/{name}.json"


def remove_superseded(storage: LakeStorage, build_id: str, identity_folder: str, region: str | None) -> None:
    """After the commit: delete every star table file, delta, COPY manifest and identity map of other builds (and a
    pre-format-2 build's files directly in ``warehouse/<table>/`` and manifests in ``warehouse/_manifests/``). The
    committed state names only this build's."""
    keep = f"_b-{build_id}"
    doomed = []
    for table in STAR_TABLES:
        rel = storage.layout.warehouse_table(table)
        doomed += [o.key for o in storage.list(rel) if f"/{keep}/" not in o.key]
    doomed += [o.key for o in storage.list(DELTAS) if f"/{build_id}/" not in o.key]
    doomed += [o.key for o in storage.list(IDENTITY_STATE) if not o.key.startswith(identity_folder + "/")]
    doomed += [o.key for o in storage.list(STAR_MANIFESTS) if not o.key.startswith(f"{STAR_MANIFESTS}/{build_id}/")]
    doomed += [k for k in (f"{MANIFESTS}/{t}.json" for t in STAR_TABLES) if storage.exists(k)]  # before format 2
    delete_keys(storage, doomed, region)


def star_state(settings: Settings) -> dict[str, Any] | None:
    """The last committed star build (``build_id``, ``as_of``, row counts), if any."""
    return read_json(LakeStorage(settings.lake, region=settings.region), STAR_STATE)



def star_table_uri(settings: Settings, table: str) -> str:
    """The URI of the folder holding ``table``'s rows of the last committed build (``warehouse/<table>/_b-<id>``),
    for readers of the lake's star tables (Spark, DuckDB). Raises ``LookupError`` before the first build."""
    state = star_state(settings)
    folder = ((state or {}).get("tables", {}).get(table) or {}).get("folder")
    if not folder:
        raise LookupError(f"no star build holds {table} yet: run the star build first")
    return settings.lake.uri(folder)
