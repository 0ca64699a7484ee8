"""A ``curated/_staging`` folder left by the writer before versioned partition commits (issue 15, item 3) is left
alone: after a crash of that writer between its delete and its move, it held the only copy of a partition.

Seen failing before the fix: the run deleted ``curated/_staging`` first, and the planted file was gone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from glue_jobs.curated.job import run_raw_to_curated
from lakehouse.core.config import Settings
from lakehouse.local.sample_data import land_lines
from tests.glue_jobs.curated.cases import PAGE_RECORD, line
from tests.glue_jobs.curated.test_event_time import curated_ids

DAY = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)


def test_a_run_keeps_what_the_old_writer_left_in_staging(spark, tmp_path: Path) -> None:
    settings = Settings(stage="tstg", home=tmp_path / "home")
    left = settings.lake.key("curated/_staging/20250601T000000Z/events/event_date=2025-06-01/part-0.parquet")
    Path(left).parent.mkdir(parents=True)
    Path(left).write_bytes(b"the only copy of a partition")
    land_lines(settings, [line({**PAGE_RECORD, "event_id": "e1", "message_id": "e1"})], source="web",
               received_at=DAY)

    report = run_raw_to_curated(spark, settings)

    assert report.new_events == 1 and set(curated_ids(settings, "events")) == {"e1"}
    assert Path(left).read_bytes() == b"the only copy of a partition"
