"""Batch benchmark: raw -> curated and build_star throughput, sizes, and dashboard query latency.

Every figure is printed beside a baseline measured in the same run:

* raw -> curated events/s (and per core) with the two validation modes (Spark SQL rules, parse_event in
  Arrow batches), against DuckDB doing the same JSON -> ZSTD Parquet conversion (no validation);
* compression: plain JSON and raw gzip JSON vs the curated Parquet;
* build_star events/s;
* dashboard-style mart queries on the DuckDB warehouse (p50 latency), and one representative mart query
  run by Spark over the same star Parquet (ratio Spark / DuckDB);
* parse_event alone in a Python loop (µs per event), for scale.

    python bench/bench_batch.py                 # ~60k events, a few minutes on 2 cores
    python bench/bench_batch.py --events 1000000
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
from report import record

from glue_jobs.curated.job import run_raw_to_curated
from glue_jobs.star.job import run_build_star, star_table_uri
from glue_jobs.warehouse.load import load_warehouse
from lakehouse.core.config import BatchSettings, Settings
from lakehouse.core.contract import parse_event
from lakehouse.core.spark import local_spark
from lakehouse.local.generator import GeneratorConfig, customers_for_events
from lakehouse.local.sample_data import generated_calls, land_calls, read_calls

CORES = 2
DASHBOARD_QUERIES = {
    "daily KPIs, last 30 days": "SELECT * FROM mart_daily_kpis ORDER BY full_date DESC LIMIT 30",
    "churn by geography x age": "SELECT * FROM mart_churn_by_geography_age ORDER BY churn_rate DESC",
    "RFM segments": "SELECT * FROM mart_rfm_segments",
    "funnel, by day": "SELECT * FROM mart_funnel_daily ORDER BY full_date",
    "top 20 bestsellers": "SELECT * FROM mart_bestsellers ORDER BY revenue_rank LIMIT 20",
    "product affinity": "SELECT * FROM mart_product_affinity ORDER BY lift DESC LIMIT 20",
    "support impact": "SELECT * FROM mart_support_impact",
}
REVENUE_BY_GEOGRAPHY = """
SELECT c.geography, d.year_month, COUNT(*) AS orders, SUM(o.net_revenue_rc) AS revenue
FROM fact_order o
JOIN dim_customer c ON c.customer_key = o.customer_key
JOIN dim_date d ON d.date_key = o.date_key
GROUP BY c.geography, d.year_month
"""


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def folder_bytes(path: Path, suffix: str = "") -> int:
    return sum(p.stat().st_size for p in path.rglob(f"*{suffix}") if p.is_file() and not p.name.startswith("."))


def plain_json_bytes(raw: Path) -> int:
    return sum(len(gzip.decompress(p.read_bytes())) for p in raw.rglob("*.jsonl.gz"))


def curated_run(spark, settings: Settings, validation: str) -> tuple[float, int]:
    """Curate the whole raw zone from scratch; (seconds, events)."""
    lake = Path(settings.lake.key(""))
    for zone in ("curated", "state", "quarantine"):
        shutil.rmtree(lake / zone, ignore_errors=True)
    run_settings = settings.model_copy(update={"batch": settings.batch.model_copy(update={"validation": validation})})
    report, seconds = timed(lambda: run_raw_to_curated(spark, run_settings))
    return seconds, report.new_events


def duckdb_conversion(raw: Path, out: Path) -> float:
    """DuckDB: the same JSON lines to ZSTD Parquet (no validation, one file)."""
    with duckdb.connect() as con:
        con.execute("SET threads = 2")
        started = time.perf_counter()
        con.execute(f"COPY (SELECT * FROM read_json('{raw}/**/*.jsonl.gz', format = 'newline_delimited', "
                    f"union_by_name = true, maximum_object_size = 1048576)) TO '{out}' "
                    "(FORMAT parquet, COMPRESSION zstd)")
        return time.perf_counter() - started


def p50(con, sql: str, runs: int = 7) -> float:
    con.execute(sql).fetchall()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        con.execute(sql).fetchall()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def spark_query_p50(spark, settings: Settings, runs: int = 5) -> float:
    for table in ("fact_order", "dim_customer", "dim_date"):
        spark.read.parquet(star_table_uri(settings, table)).createOrReplaceTempView(table)
    spark.sql(REVENUE_BY_GEOGRAPHY).collect()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        spark.sql(REVENUE_BY_GEOGRAPHY).collect()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def parse_event_micros(sample: list[dict]) -> float:
    started = time.perf_counter()
    for call in sample:
        parse_event(call)
    return (time.perf_counter() - started) / len(sample) * 1e6


def row(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<46} {value:>16}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000, help="about how many events to generate")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--keep", type=Path, help="keep the lake in this directory (default: a temp dir)")
    args = parser.parse_args()
    os.environ.setdefault("LAKEHOUSE_SPARK_DRIVER_MEMORY", "3g")
    home = args.keep or Path(tempfile.mkdtemp(prefix="bench-batch-"))
    settings = Settings(stage="bench", home=home, batch=BatchSettings(target_file_rows=5_000_000))
    config = GeneratorConfig(start=date(2025, 1, 1), days=args.days)
    customers = customers_for_events(args.events, config)
    print(f"generating ~{args.events:,} events ({customers:,} customers, {args.days} days) ...", flush=True)
    calls, gen_s = timed(lambda: generated_calls(home / "generated", customers=customers, start=config.start,
                                                 days=args.days))
    _, land_s = timed(lambda: land_calls(settings, calls))
    raw = Path(settings.lake.key("raw"))
    sample = list(itertools.islice(read_calls(home / "generated"), 20_000))
    micros = parse_event_micros(sample)
    print(f"generated the calls in {gen_s:.1f}s, landed them as raw records in {land_s:.1f}s", flush=True)

    spark = local_spark("lakehouse-bench")
    warm = Settings(stage="bench", home=home / "warmup")
    land_calls(warm, sample[:2000])
    for validation in ("spark", "python"):
        curated_run(spark, warm, validation)  # JIT, code generation and Python workers warm up
    results = {v: curated_run(spark, settings, v) for v in ("spark", "python")}
    duck_s = duckdb_conversion(raw, home / "duckdb.parquet")
    events = results["python"][1]
    star, star_s = timed(lambda: run_build_star(spark, settings, force=True))
    load, load_s = timed(lambda: load_warehouse(settings, force=True))
    plain, gz = plain_json_bytes(raw), folder_bytes(raw, ".jsonl.gz")
    curated = Path(settings.lake.key("curated"))
    events_pq, all_pq = folder_bytes(curated / "events", ".parquet"), folder_bytes(curated, ".parquet")
    duck_pq = (home / "duckdb.parquet").stat().st_size
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        dashboards = {name: p50(con, sql) for name, sql in DASHBOARD_QUERIES.items()}
        duck_query = p50(con, REVENUE_BY_GEOGRAPHY)
    spark_query = spark_query_p50(spark, settings)

    print(f"\nbatch benchmark: {events:,} events, {CORES} cores, Spark {spark.version}, DuckDB {duckdb.__version__}")
    print("raw -> curated (whole chain: read, validate, dedup, 11 tables + sessions, ZSTD Parquet)")
    for validation, (seconds, _) in results.items():
        rate = events / seconds
        row(f"Spark, validation={validation}", f"{rate:,.0f} ev/s",
            f"{rate / CORES:,.0f} ev/s/core; {seconds:.1f}s")
    spark_best = max(events / s for s, _ in results.values())
    row("DuckDB read_json -> Parquet (no validation)", f"{events / duck_s:,.0f} ev/s",
        f"Spark best / DuckDB = {spark_best / (events / duck_s):.2f}")
    row("parse_event in a Python loop", f"{micros:.1f} µs/event", f"= {1e6 / micros:,.0f} ev/s on one core")
    print("sizes")
    row("plain JSON lines", f"{plain / 1e6:,.1f} MB")
    row("raw zone, gzip JSON lines", f"{gz / 1e6:,.1f} MB", f"{1 - gz / plain:.1%} smaller than plain JSON")
    row("curated events table, ZSTD Parquet", f"{events_pq / 1e6:,.1f} MB",
        f"{1 - events_pq / plain:.1%} smaller than plain JSON; {events_pq / gz:.2f} x the raw gzip")
    row("all curated tables", f"{all_pq / 1e6:,.1f} MB",
        f"{1 - all_pq / plain:.1%} smaller than plain JSON; {all_pq / gz:.2f} x the raw gzip; "
        f"{sum(1 for _ in curated.rglob('*.parquet')):,} files")
    row("DuckDB's Parquet of the same JSON", f"{duck_pq / 1e6:,.1f} MB", f"{1 - duck_pq / plain:.1%} smaller")
    print("star schema and warehouse")
    row("build_star (16 tables + marts parameters)", f"{events / star_s:,.0f} ev/s", f"{star_s:.1f}s")
    row("DuckDB load (COPY-equivalent + MERGE)", f"{load_s:.2f}s",
        f"{sum(load.tables.values()):,} rows in {len(load.tables)} tables")
    print("dashboard queries on the DuckDB warehouse (p50 of 7)")
    for name, seconds in dashboards.items():
        row(name, f"{seconds * 1000:,.1f} ms")
    row("revenue by geography x month: DuckDB", f"{duck_query * 1000:,.1f} ms")
    row("revenue by geography x month: Spark", f"{spark_query * 1000:,.1f} ms",
        f"Spark / DuckDB = {spark_query / duck_query:.1f}x")
    size = f"{events:,} events"
    duck_rate = events / duck_s
    for validation, (seconds, _) in results.items():
        record("batch", f"raw -> curated, validation={validation}", events / seconds, "events/s", size=size,
               baseline="DuckDB read_json -> ZSTD Parquet, no validation", baseline_value=duck_rate)
    record("batch", "build_star", events / star_s, "events/s", size=size,
           baseline="raw -> curated, validation=python", baseline_value=events / results["python"][0])
    record("batch", "curated events table, bytes", events_pq / 2**20, "MiB", size=size,
           baseline="raw zone, gzip JSON lines", baseline_value=gz / 2**20)
    record("batch", "revenue by geography x month, Spark p50", spark_query * 1000, "ms", size=size,
           baseline="the same query in DuckDB", baseline_value=duck_query * 1000)
    print(f"(lake kept in {home})" if args.keep else "")
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps({"events": events, "star_rows": {k: v.rows for k, v in star.tables.items()}}))


if __name__ == "__main__":
    main()
