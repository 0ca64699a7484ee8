"""Job state in the lake: run records make the manifest; the curated version ignores empty runs."""

from __future__ import annotations

from datetime import UTC, datetime

from lakehouse.core.job_state import commit_run, curated_version, new_run_id, processed_raw_objects, run_records
from lakehouse.core.lake.storage import LakeStorage


def test_committed_runs_are_the_manifest(settings) -> None:
    storage = LakeStorage(settings.lake)
    assert processed_raw_objects(storage) == set() and curated_version(storage) is None
    first = new_run_id(datetime(2025, 6, 1, tzinfo=UTC))
    commit_run(storage, first, ["raw/a.jsonl.gz", "raw/b.jsonl.gz"], {"new_events": 10})
    second = new_run_id(datetime(2025, 6, 2, tzinfo=UTC))
    commit_run(storage, second, ["raw/c.jsonl.gz"], {"new_events": 0})  # only duplicates
    assert processed_raw_objects(storage) == {"raw/a.jsonl.gz", "raw/b.jsonl.gz", "raw/c.jsonl.gz"}
    assert curated_version(storage) == first
    assert [r["run_id"] for r in run_records(storage)] == [first, second]


def test_run_ids_sort_by_time() -> None:
    early, late = new_run_id(datetime(2025, 1, 1, tzinfo=UTC)), new_run_id(datetime(2025, 1, 2, tzinfo=UTC))
    assert early < late and early.startswith("20250101T000000Z-")
