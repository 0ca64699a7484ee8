"""Curated footprint benchmark: where the bytes of the curated ``events`` table go, column by column, against the
raw gzip it came from, and what each Parquet write setting changes.

The benchmark generates ``--events-per-day`` events a day for ``--days`` days, lands them as the API does (gzip
JSON lines), curates them with the real job (``glue_jobs.curated.job``, the settings it writes with), then:

* prints, per column of ``events``, the compressed bytes per row (the Parquet footers' column-chunk sizes,
  read with pyarrow) and the footers' own bytes per row;
* with ``--variants``, rewrites the same ``events`` rows into a scratch folder once per candidate setting
  (INT96 vs TIMESTAMP_MICROS, Parquet v1 vs v2 pages, zstd level, sort order) and prints each one's bytes / raw
  gzip bytes: the baseline is the first variant, measured in the same run.

    python bench/bench_footprint.py                                  # 10,000 events/day, 14 days
    python bench/bench_footprint.py --events-per-day 1500 --days 30  # the demo's partition size
    python bench/bench_footprint.py --variants

Figures go to docs/batch.md ("Curated footprint").
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
from report import record

from glue_jobs.curated.job import _sort_order, configure, run_raw_to_curated
from glue_jobs.curated.writer import PARQUET_OPTIONS, TIMESTAMP_TYPE, TIMESTAMP_TYPE_CONF, write_parquet
from lakehouse.core.config import Settings
from lakehouse.core.lake import tables as lake_tables
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.spark import local_spark
from lakehouse.local.batch import curated_footprint
from lakehouse.local.generator import GeneratorConfig, customers_for_events
from lakehouse.local.sample_data import generated_calls, land_calls

START = date(2025, 1, 1)
#: footer and page-header bytes are what a file holds beyond its column chunks' compressed data
FOOTER = "(footer, magic)"


def parquet_files(folder: Path) -> list[Path]:
    """Every data file under ``folder`` (hidden and ``_`` files skipped, as readers skip them)."""
    return sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith((".", "_")))


def column_bytes(files: Iterable[Path]) -> tuple[int, dict[str, int]]:
    """(rows, compressed bytes per top-level column) over ``files``; :data:`FOOTER` holds the rest of each file
    (footer, magic numbers)."""
    rows = 0
    out: dict[str, int] = defaultdict(int)
    for path in files:
        meta = pq.ParquetFile(path).metadata
        rows += meta.num_rows
        chunks = 0
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                column = group.column(c)
                out[column.path_in_schema.split(".")[0]] += column.total_compressed_size
                chunks += column.total_compressed_size
        out[FOOTER] += path.stat().st_size - chunks
    return rows, dict(out)


def raw_gzip_bytes(storage: LakeStorage) -> int:
    return sum(o.size for o in storage.list("raw") if o.key.endswith(".jsonl.gz"))


def events_files(storage: LakeStorage) -> list[Path]:
    """The current files of curated ``events`` (the manifest's versions)."""
    rel = storage.layout.curated_table("events")
    return [Path(storage.layout.key(f.key)) for f in lake_tables.files(storage, lake_tables.current(storage, rel))]


def build_lake(home: Path, events_per_day: int, days: int, spark) -> Settings:
    settings = Settings(stage="bench", home=home)
    if (home / "lake" / "curated" / "events").exists():
        return settings
    config = GeneratorConfig(start=START, days=days)
    customers = customers_for_events(events_per_day * days, config)
    print(f"generating ~{events_per_day * days:,} events ({customers:,} customers, {days} days) ...", flush=True)
    calls = generated_calls(home / "generated", customers=customers, start=START, days=days)
    land_calls(settings, calls)
    started = time.perf_counter()
    report = run_raw_to_curated(spark, settings)
    print(f"curated {report.new_events:,} events in {time.perf_counter() - started:.1f}s", flush=True)
    return settings


def print_columns(label: str, rows: int, sizes: dict[str, int], raw: int) -> None:
    total = sum(sizes.values())
    print(f"\n{label}: {rows:,} rows, {total:,} B = {total / rows:.1f} B/row = {total / raw:.3f} x the raw gzip "
          f"({raw / rows:.1f} B/row)")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<24} {size / rows:8.2f} B/row  {size / total:6.1%}")


BY_CUSTOMER = ("customer_id", "event_ts")
BY_TIME = ("event_ts",)
BY_EVENT = ("event_type", "event_name", "event_ts")


def variant(timestamps: str, version: str, level: int, sort: tuple[str, ...], **options: str):
    """(label, session confs, writer options, sort columns after ``event_date``) of one candidate setting;
    ``options`` are more Parquet writer options, ``.`` written ``__`` (``parquet__enable__dictionary``)."""
    extra = {k.replace("__", "."): v for k, v in options.items()}
    label = f"{timestamps}, {version}, zstd {level}, sort {'/'.join(sort)}" + "".join(f", {k}={v}"
                                                                                     for k, v in extra.items())
    return (label, {TIMESTAMP_TYPE_CONF: timestamps},
            {"parquet.writer.version": version, "parquet.compression.codec.zstd.level": str(level), **extra}, sort)


#: candidate write settings; the first is the writer's before issue 15 item 4 (Spark's defaults)
VARIANTS: list[tuple[str, dict[str, str], dict[str, str], tuple[str, ...] | None]] = [
    variant("INT96", "v1", 3, BY_CUSTOMER),
    variant("TIMESTAMP_MICROS", "v1", 3, BY_CUSTOMER),
    variant("TIMESTAMP_MICROS", "v2", 3, BY_CUSTOMER),
    variant("TIMESTAMP_MICROS", "v2", 9, BY_CUSTOMER),
    variant("TIMESTAMP_MICROS", "v2", 3, BY_TIME),
    variant("TIMESTAMP_MICROS", "v2", 9, BY_TIME),
    variant("TIMESTAMP_MICROS", "v2", 12, BY_TIME),
    variant("TIMESTAMP_MICROS", "v2", 15, BY_TIME),
    variant("TIMESTAMP_MICROS", "v2", 19, BY_TIME),
    variant("TIMESTAMP_MICROS", "v2", 3, BY_EVENT),
    variant("TIMESTAMP_MICROS", "v2", 9, BY_EVENT),
    variant("TIMESTAMP_MICROS", "v2", 19, BY_EVENT),
    variant("TIMESTAMP_MICROS", "v2", 9, ("event_type", "event_name", "customer_id", "event_ts")),
    variant("TIMESTAMP_MICROS", "v2", 9, ("event_type", "event_name", "product_id", "event_ts")),
    variant("TIMESTAMP_MICROS", "v2", 9, ("event_type", "event_name", "page_name", "event_ts")),
    variant("TIMESTAMP_MICROS", "v1", 9, BY_EVENT),
    variant("TIMESTAMP_MICROS", "v2", 16, BY_EVENT),
    variant("TIMESTAMP_MICROS", "v2", 17, BY_EVENT),
    variant("TIMESTAMP_MICROS", "v2", 16, BY_TIME),
    variant("TIMESTAMP_MICROS", "v2", 16, BY_CUSTOMER),
    variant("TIMESTAMP_MICROS", "v2", 18, BY_EVENT),
    variant("TIMESTAMP_MICROS", "v2", 16, BY_EVENT, **{"parquet__enable__dictionary#event_id": "false"}),
    ("the writer's settings (PARQUET_OPTIONS, configure, _sort_order)", {}, {}, None),
]


def run_variants(spark, settings: Settings, raw: int, scratch: Path, detail: bool, only: str = "") -> None:
    storage = LakeStorage(settings.lake)
    files = [str(p) for p in events_files(storage)]
    base = spark.read.parquet(*files)
    rows = base.count()
    from pyspark.sql import functions as F

    frame = base.withColumn("event_date", F.to_date("event_ts")).persist()
    frame.count()
    print(f"\nvariants over the same {rows:,} events rows ({raw:,} B raw gzip)")
    first = None
    for label, confs, options, sort in [v for v in VARIANTS if only in v[0]]:
        out = scratch / "variant"
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        write_parquet(frame, out.as_uri(), 5_000_000, _sort_order(frame) if sort is None else sort, options=options,
                      timestamp_type=confs.get(TIMESTAMP_TYPE_CONF, TIMESTAMP_TYPE))
        seconds = time.perf_counter() - started
        n, sizes = column_bytes(parquet_files(out))
        total = sum(sizes.values())
        first = first or total
        print(f"  {label:<48} {total / n:7.1f} B/row  {total / raw:.3f} x raw gzip  "
              f"{total / first:.3f} x first  write {seconds:.1f}s", flush=True)
        if detail:
            print_columns(label, n, sizes, raw)
    frame.unpersist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-day", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--keep", type=Path, help="keep (or reuse) the lake in this directory")
    parser.add_argument("--variants", action="store_true", help="rewrite events once per candidate setting")
    parser.add_argument("--detail", action="store_true", help="per-column bytes of every variant")
    parser.add_argument("--only", default="", help="only the variants whose label contains this text")
    args = parser.parse_args()
    os.environ.setdefault("LAKEHOUSE_SPARK_DRIVER_MEMORY", "3g")
    home = args.keep or Path(tempfile.mkdtemp(prefix="bench-footprint-"))
    spark = local_spark("lakehouse-bench-footprint")
    settings = build_lake(home, args.events_per_day, args.days, spark)
    storage = LakeStorage(settings.lake)
    configure(spark, storage)
    raw = raw_gzip_bytes(storage)
    files = events_files(storage)
    rows, sizes = column_bytes(files)
    print(f"Parquet options of the writer: {PARQUET_OPTIONS}, timestamps {TIMESTAMP_TYPE}")
    print(curated_footprint(settings).line())
    print_columns(f"curated events as the job wrote it ({len(files)} files)", rows, sizes, raw)
    record("curated footprint", "curated events, bytes per row", sum(sizes.values()) / rows, "bytes",
           size=f"{rows:,} events ({args.events_per_day:,}/day x {args.days} days)",
           baseline="raw zone, gzip JSON lines, bytes per event", baseline_value=raw / rows)
    if args.variants:
        run_variants(spark, settings, raw, home / "scratch", args.detail, args.only)
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
