"""Vacuum of curated partition versions: retired and orphan versions go after the retention, current ones never."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from glue_jobs.curated.vacuum import vacuum_table
from lakehouse.core.config import BatchSettings
from lakehouse.core.lake import tables
from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.storage import LakeStorage

RUN1, RUN2, CRASHED = "20250601T000000Z-aaaa", "20250605T000000Z-bbbb", "20250606T000000Z-cccc"


def write(root: Path, rel: str) -> None:
    (root / rel).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"event_id": ["x"]}), root / rel / "part-0.parquet")


def lake(tmp_path: Path) -> LakeStorage:
    """A table with a legacy partition replaced on 06-05, a version replaced on 06-05, a current version, and the
    orphan of a run that crashed before its switch on 06-06."""
    storage = LakeStorage(LakeLayout.from_uri(str(tmp_path)))
    write(tmp_path, "curated/t/event_date=2025-05-31")  # legacy, replaced by RUN2
    write(tmp_path, f"curated/t/event_date=2025-06-01/_v-{RUN1}")  # replaced by RUN2
    write(tmp_path, f"curated/t/event_date=2025-06-02/_v-{RUN1}")  # current
    write(tmp_path, f"curated/t/event_date=2025-05-31/_v-{RUN2}")
    write(tmp_path, f"curated/t/event_date=2025-06-01/_v-{RUN2}")
    write(tmp_path, f"curated/t/event_date=2025-06-01/_v-{CRASHED}")  # orphan
    write(tmp_path, f"curated/t/_w-{CRASHED}/event_date=2025-06-01")  # its work folder
    retired_at = "2025-06-05T00:10:00+00:00"
    state = tables.TableState("curated/t", {"2025-05-31": f"_v-{RUN2}", "2025-06-01": f"_v-{RUN2}",
                                            "2025-06-02": f"_v-{RUN1}"},
                              [tables.Retired("2025-05-31", "", retired_at),
                               tables.Retired("2025-06-01", f"_v-{RUN1}", retired_at)], True)
    tables.commit(storage, state, RUN2)
    return storage


def parquet_files(root: Path) -> set[str]:
    return {p.relative_to(root).parent.as_posix() for p in root.rglob("*.parquet")}


def test_nothing_goes_within_the_retention(tmp_path: Path) -> None:
    storage = lake(tmp_path)
    before = parquet_files(tmp_path / "curated/t")
    done = vacuum_table(storage, "curated/t", timedelta(days=7), RUN2, now=datetime(2025, 6, 8, tzinfo=UTC))
    assert (done.versions, done.files) == (0, 0) and parquet_files(tmp_path / "curated/t") == before


def test_retired_and_orphan_versions_go_after_it_and_readers_see_the_same_rows(tmp_path: Path) -> None:
    """Seen failing with the orphan rule removed: ``event_date=2025-06-01/_v-<crashed>`` stayed."""
    storage = lake(tmp_path)
    rows = tables.read_arrow(storage, "curated/t").to_pylist()
    done = vacuum_table(storage, "curated/t", timedelta(days=7), RUN2, now=datetime(2025, 6, 14, tzinfo=UTC))
    assert parquet_files(tmp_path / "curated/t") == {
        f"event_date=2025-06-02/_v-{RUN1}", f"event_date=2025-05-31/_v-{RUN2}", f"event_date=2025-06-01/_v-{RUN2}"}
    assert done.versions == 3 and done.files == 4
    assert tables.current(storage, "curated/t").retired == []
    assert tables.read_arrow(storage, "curated/t").to_pylist() == rows
    assert not (tmp_path / f"curated/t/event_date=2025-06-01/_v-{CRASHED}").exists()
    assert not (tmp_path / f"curated/t/_w-{CRASHED}").exists()


def test_the_retention_is_a_setting() -> None:
    assert BatchSettings().partition_version_retention_days == 7
    assert BatchSettings(partition_version_retention_days=0.5).partition_version_retention_days == 0.5


def test_on_s3_a_moved_version_reads_after_its_switch_and_vacuum_removes_the_replaced_one(aws_settings) -> None:
    """The same protocol on the moto server's S3: a work folder moved into a version (server-side copies), the
    manifest switched, the reader seeing only current versions, vacuum deleting the replaced legacy files."""
    import io

    from glue_jobs.common.lakefs import move_prefix
    from lakehouse.core.aws.clients import aws_client

    bucket = aws_settings.names.lake_bucket
    storage = LakeStorage(LakeLayout.from_uri(f"s3://{bucket}/lake"))

    def put(rel: str, ids: list[str]) -> None:
        out = io.BytesIO()
        pq.write_table(pa.table({"event_id": ids}), out)
        storage.put_bytes(f"{rel}/part-0.parquet", out.getvalue())

    put("curated/t/event_date=2025-06-01", ["old"])  # a legacy partition
    put(f"curated/t/_w-{RUN2}/event_date=2025-06-01", ["old", "new"])  # a run's work folder
    assert tables.read_arrow(storage, "curated/t")["event_id"].to_pylist() == ["old"]

    moved = move_prefix(storage, f"curated/t/_w-{RUN2}/event_date=2025-06-01",
                        f"curated/t/event_date=2025-06-01/_v-{RUN2}")
    assert moved == 1
    assert tables.read_arrow(storage, "curated/t")["event_id"].to_pylist() == ["old"]  # not switched yet
    state = tables.current(storage, "curated/t")
    state.retired.append(tables.Retired("2025-06-01", "", "2025-06-05T00:10:00+00:00"))
    state.partitions["2025-06-01"] = f"_v-{RUN2}"
    tables.commit(storage, state, RUN2)
    assert sorted(tables.read_arrow(storage, "curated/t")["event_id"].to_pylist()) == ["new", "old"]

    vacuum_table(storage, "curated/t", timedelta(days=7), RUN2, now=datetime(2025, 6, 14, tzinfo=UTC))
    keys = sorted(o["Key"] for o in aws_client("s3").list_objects_v2(Bucket=bucket, Prefix="lake/curated/t/")
                  .get("Contents", []))
    assert keys == ["lake/curated/t/_manifest.json",
                    f"lake/curated/t/event_date=2025-06-01/_v-{RUN2}/part-0.parquet"]
    assert sorted(tables.read_arrow(storage, "curated/t")["event_id"].to_pylist()) == ["new", "old"]
