"""How raw_to_curated finds new raw objects: the landing-log records of the last days, minus the manifest.

No Spark: ``pending_landings`` is storage work only. The oracle is the list of what each writer landed, kept by
the test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from glue_jobs.curated.job import pending_landings, unlogged_raw_objects
from lakehouse.core.config import Settings
from lakehouse.core.job_state import commit_run
from lakehouse.core.lake.raw import LandedObject, encode_lines, landing_log_key, raw_object_key, write_landing_log
from lakehouse.core.lake.storage import LakeStorage

AT = datetime(2025, 6, 2, 7, 5, tzinfo=UTC)


def put(storage: LakeStorage, name: str) -> LandedObject:
    key = raw_object_key("web", AT, name)
    body = encode_lines([{"event_id": name}])
    storage.put_bytes(key, body)
    return LandedObject(key, len(body), 1)


def test_new_objects_come_from_landing_records_not_from_a_listing_of_raw(tmp_path: Path) -> None:
    storage = LakeStorage(Settings(home=tmp_path / "home").lake)
    now = datetime.now(UTC)
    a, b, c = put(storage, "a"), put(storage, "b"), put(storage, "c")
    put(storage, "stray")  # in raw/, named by no record
    first = write_landing_log(storage, "raw-archive", "run-b0000000000", [a, b], at=now)
    again = write_landing_log(storage, "raw-archive", "run-b0000000000", [b], at=now + timedelta(days=1))

    pending = pending_landings(storage)
    assert [o.key for o in pending.objects] == [a.key, b.key]  # b named twice (a replay after midnight): once
    assert pending.landing_logs == [first, again]
    assert [o.key for o in unlogged_raw_objects(storage)] == [c.key, raw_object_key("web", AT, "stray")]

    commit_run(storage, "r1", [a.key, b.key], {}, landing_logs=pending.landing_logs)
    later = write_landing_log(storage, "raw-archive", "run-b0000000001", [c], at=now + timedelta(days=1))
    forgotten = write_landing_log(storage, "sample-data", "old", [put(storage, "old")], at=now - timedelta(days=3))
    pending = pending_landings(storage)
    assert [o.key for o in pending.objects] == [c.key] and pending.landing_logs == [later]
    assert forgotten == landing_log_key("old", now - timedelta(days=3))  # before the window: never read again
