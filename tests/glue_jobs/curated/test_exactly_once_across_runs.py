"""Exactly once across runs, whatever the date (issue 12, item 2): one ``event_id`` is curated once, whatever
timestamp a later copy carries, and the clock-skew correction is bounded in the batch as in the API.

The records are written as the ingestion API wrote them (or, for the replays, as it wrote them before the
correction was bounded), straight into the raw zone.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from glue_jobs.curated.event_index import INDEX
from glue_jobs.curated.job import run_raw_to_curated
from lakehouse.core.config import Settings
from lakehouse.core.contract import iso
from lakehouse.local.sample_data import land_lines
from tests.glue_jobs.curated.cases import PAGE_RECORD, line
from tests.glue_jobs.curated.test_event_time import curated_ids

DAY = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
LATER = DAY + timedelta(days=5)


def page(event_id: str, timestamp: datetime, received_at: datetime, *, original: datetime | None = None,
         sent_at: datetime | None = None) -> str:
    """A page record as the API lands it: ``timestamp`` after its correction, ``original`` the client's."""
    return line({**PAGE_RECORD, "event_id": event_id, "message_id": event_id, "timestamp": iso(timestamp),
                 "original_timestamp": iso(original or timestamp), "sent_at": iso(sent_at) if sent_at else None,
                 "received_at": iso(received_at)})


def test_a_copy_with_another_timestamp_days_later_is_not_curated_again(spark, tmp_path: Path) -> None:
    """Run 1 curates e1, e2 on 06-02. Five days later a second object holds e1 replayed with its original sentAt
    as the API landed it before the bound (timestamp moved by the whole 5 days), e2 re-stamped by its client
    (no sentAt: nothing to bound), and e3, new, with a 2-day correction. The lake was curated before the id index
    existed (its folder is removed after run 1), so run 2 builds it; run 3 brings e2 re-stamped once more.

    Seen failing before the fix (HEAD's code on the same lake): run 2 reported 3 new events and 0 duplicates of
    earlier runs, and the events table held e1 and e2 twice, on 2025-06-02 and again on 2025-06-07 (the duplicate
    check read only 06-06..06-08); e3 took its record's corrected date, 2025-06-05."""
    settings = Settings(stage="texo", home=tmp_path / "home")
    land_lines(settings, [page("e1", DAY, DAY), page("e2", DAY, DAY)], source="web", received_at=DAY)
    first = run_raw_to_curated(spark, settings)
    assert first.new_events == 2 and first.event_ids_backfilled == 0
    shutil.rmtree(settings.lake.key(INDEX))  # a lake curated before the index existed

    land_lines(settings, [
        page("e1", LATER, LATER, original=DAY, sent_at=DAY),  # replayed with its original sentAt
        page("e2", LATER, LATER),  # re-stamped retry
        page("e3", LATER - timedelta(days=2), LATER, original=LATER - timedelta(days=4),
             sent_at=LATER - timedelta(days=2)),  # corrected by 2 days, as the API did before the bound
    ], source="web", received_at=LATER)
    second = run_raw_to_curated(spark, settings)

    assert second.event_ids_backfilled == 2
    assert (second.accepted, second.duplicates_of_earlier_runs, second.new_events) == (3, 2, 1)
    assert second.skew_corrections_not_applied == 2  # e1 and e3: their corrections exceed one day
    assert curated_ids(settings, "events") == {"e1": "2025-06-02", "e2": "2025-06-02", "e3": "2025-06-03"}

    land_lines(settings, [page("e2", LATER + timedelta(days=4), LATER + timedelta(days=4))], source="web",
               received_at=LATER + timedelta(days=4))
    third = run_raw_to_curated(spark, settings)
    assert third.event_ids_backfilled is None  # the index is complete now
    assert (third.duplicates_of_earlier_runs, third.new_events) == (1, 0)
    assert len(curated_ids(settings, "events")) == 3


def test_a_run_that_crashed_after_indexing_its_ids_curates_them_when_repeated(spark, tmp_path: Path) -> None:
    """The index is appended before the run record: a crash in between leaves ids of raw objects no committed
    run processed. The repeated run must take them as its own (new events, which tell the star build that the
    curated zone changed), not as duplicates of an earlier run.

    Seen failing with the index lookup not excluding the batch's own raw objects: the repeated run reported
    ``new_events == 0`` and ``duplicates_of_earlier_runs == 2``, so ``curated_version`` never moved."""
    settings = Settings(stage="texc", home=tmp_path / "home")
    land_lines(settings, [page("c1", DAY, DAY), page("c2", DAY, DAY)], source="web", received_at=DAY)

    def crash(step: str, done: int, total: int) -> None:
        if step == "catalog":  # the curated tables and the index are written, the run record is not
            raise RuntimeError("driver lost")

    with pytest.raises(RuntimeError, match="driver lost"):
        run_raw_to_curated(spark, settings, on_progress=crash)
    again = run_raw_to_curated(spark, settings)
    assert (again.new_events, again.duplicates_of_earlier_runs) == (2, 0)
    assert curated_ids(settings, "events") == {"c1": "2025-06-02", "c2": "2025-06-02"}
    assert run_raw_to_curated(spark, settings).skipped == "no new raw objects"


def test_compaction_keeps_every_id_and_leaves_one_file_per_bucket(spark, tmp_path: Path) -> None:
    """Two runs append two files to the buckets both touched; compacting with a limit of one file rewrites those
    buckets as one file each, with every (id, raw object) row once. Oracle: the index read with pyarrow."""
    import pyarrow.parquet as pq

    from glue_jobs.common.lakefs import data_files
    from glue_jobs.curated.event_index import compact
    from lakehouse.core.lake.storage import LakeStorage

    settings = Settings(stage="texk", home=tmp_path / "home")
    ids = [f"k{i}" for i in range(40)]
    land_lines(settings, [page(i, DAY, DAY) for i in ids[:20]], source="web", received_at=DAY)
    run_raw_to_curated(spark, settings)
    land_lines(settings, [page(i, DAY, LATER) for i in ids[20:]], source="web", received_at=LATER)
    run_raw_to_curated(spark, settings)
    storage = LakeStorage(settings.lake)

    def rows() -> list[tuple[str, str]]:
        table = pq.read_table(settings.lake.key(INDEX), columns=["event_id", "raw_object"])
        return sorted(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))

    before = rows()
    crowded = compact(spark, storage, "compaction-test", max_files=1)
    assert crowded  # 40 ids over 16 buckets: some bucket holds ids of both runs
    assert rows() == before and sorted(r[0] for r in before) == sorted(ids)
    per_bucket: dict[str, int] = {}
    for obj in data_files(storage, INDEX):
        bucket = obj.key[len(INDEX) + 1:].split("/", 1)[0]
        per_bucket[bucket] = per_bucket.get(bucket, 0) + 1
    assert set(per_bucket.values()) == {1}
