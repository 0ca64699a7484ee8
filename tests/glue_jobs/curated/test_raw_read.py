"""How the batch's read of the raw zone packs objects into Spark tasks: by their size once read, not on disk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from glue_jobs.curated.job import MAX_PARTITION_BYTES, RAW_EXPANSION, parse_objects, pending_landings, raw_split_bytes
from glue_jobs.curated.writer import session_conf
from lakehouse.core.config import Settings
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.local.sample_data import land_lines
from tests.glue_jobs.curated.cases import PAGE_RECORD, line

RECEIVED = datetime(2025, 6, 2, 9, 31, tzinfo=UTC)
OPEN_COST = "spark.sql.files.openCostInBytes"


def test_each_task_reads_a_tenth_of_the_split_size_of_gzip_objects(spark, tmp_path: Path) -> None:
    """Spark packs a scan's files into tasks by bytes on disk; gzip JSON lines take ~10 times that once read, so
    at 30M events a task held ~1M lines and the dedup's sort of it spilled more runs than a 4 GiB heap could merge
    (docs/scaling.md, "30M"). Here six objects, with the split size set to ten objects' bytes, must give six
    tasks.

    Seen failing without the split setting in ``parse_objects``: 3 tasks (Spark packed two objects a task)."""
    settings = Settings(stage="trawread", home=tmp_path / "home")
    storage = LakeStorage(settings.lake)
    for k in range(6):
        land_lines(settings, [line({**PAGE_RECORD, "event_id": f"e-{k}-{i}"}) for i in range(300)], source="web",
                   received_at=RECEIVED + timedelta(minutes=k))
    objects = pending_landings(storage).objects
    largest = max(o.size for o in objects)
    with session_conf(spark, {MAX_PARTITION_BYTES: str(RAW_EXPANSION * largest), OPEN_COST: "0"}):
        assert raw_split_bytes(spark) == largest
        parsed, counts, unreadable = parse_objects(spark, storage, settings, objects)
        assert spark.conf.get(MAX_PARTITION_BYTES) == str(RAW_EXPANSION * largest)  # put back after the read
    try:
        assert parsed.rdd.getNumPartitions() == 6
        assert sum(row["count"] for row in counts) == 1_800 and unreadable == []
    finally:
        parsed.unpersist()
