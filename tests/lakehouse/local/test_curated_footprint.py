"""The curated zone's file count and curated / raw-gzip byte ratios that ``lakehouse demo`` prints."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

from glue_jobs.curated.writer import merge_partitions
from lakehouse.core.config import Settings
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.local.batch import curated_footprint


def test_the_printed_figures_are_the_files_on_disk(spark, tmp_path: Path) -> None:
    """Two curated tables written by the real writer (3 partitions), two raw gzip objects: the footprint's files
    and bytes are those found on disk (a listing, independent of the manifest the footprint reads), the retired
    version of the day a late event rewrote left out."""
    settings = Settings(stage="tfoot", home=tmp_path / "home")
    storage = LakeStorage(settings.lake)
    lake = Path(settings.lake.key(""))
    for i, day in enumerate(("2025-06-01", "2025-06-02")):
        raw = lake / "raw" / "source=web" / f"dt={day}" / "hour=09" / f"o{i}.jsonl.gz"
        raw.parent.mkdir(parents=True)
        raw.write_bytes(gzip.compress(b'{"event_id": "x"}\n' * (50 + i)))
    rows = spark.createDataFrame([("e1", date(2025, 6, 1)), ("e2", date(2025, 6, 2))],
                                 "event_id string, event_date date")
    merge_partitions(spark, storage, "events", rows, keys=["event_id"], order=[], run_id="r1", target_file_rows=1000)
    merge_partitions(spark, storage, "orders", rows.limit(1), keys=["event_id"], order=[], run_id="r1",
                     target_file_rows=1000)
    late = spark.createDataFrame([("e3", date(2025, 6, 1))], "event_id string, event_date date")
    merge_partitions(spark, storage, "events", late, keys=["event_id"], order=[], run_id="r2", target_file_rows=1000)

    found = curated_footprint(settings)

    def on_disk(folder: Path) -> list[Path]:  # current files: the retired version of a rewritten day excluded
        return [p for p in folder.rglob("*.parquet") if "r1" not in p.parent.name or "06-01" not in str(p)]

    events_files = on_disk(lake / "curated" / "events")
    order_files = list((lake / "curated" / "orders").rglob("*.parquet"))
    raw_bytes = sum(p.stat().st_size for p in (lake / "raw").rglob("*.jsonl.gz"))
    assert found.raw_gzip_bytes == raw_bytes
    assert found.tables["events"] == (2, sum(p.stat().st_size for p in events_files))
    assert found.files == len(events_files) + len(order_files) == 3
    assert found.ratio("events") == sum(p.stat().st_size for p in events_files) / raw_bytes
    line = found.line()
    assert f"{found.files:,} Parquet files in 2 tables" in line and f"{found.ratio():.2f} x" in line
