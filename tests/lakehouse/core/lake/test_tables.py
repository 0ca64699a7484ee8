"""The reader API of curated tables (lakehouse/core/lake/tables.py): legacy folders, manifests, versions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.core.lake import tables
from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.storage import LakeStorage


def write(root: Path, rel: str, ids: list[str]) -> None:
    (root / rel).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"event_id": ids}), root / rel / "part-0.parquet")


def test_legacy_folders_read_until_a_manifest_names_versions(tmp_path: Path) -> None:
    """Without a manifest the partition folders with files are the table (their ``_v-*`` siblings are not); with
    one, exactly the versions it names are — an orphan version folder never shows."""
    storage = LakeStorage(LakeLayout.from_uri(str(tmp_path)))
    write(tmp_path, "curated/t/event_date=2025-06-01", ["a"])
    write(tmp_path, "curated/t/event_date=2025-06-02", ["b"])
    write(tmp_path, "curated/t/event_date=2025-06-02/_v-20250603T000000Z-x", ["b", "c"])  # not committed
    state = tables.current(storage, "curated/t")
    assert (state.managed, state.partitions) == (False, {"2025-06-01": "", "2025-06-02": ""})
    assert sorted(tables.read_arrow(storage, "curated/t")["event_id"].to_pylist()) == ["a", "b"]

    state.partitions["2025-06-02"] = "_v-20250603T000000Z-x"
    tables.commit(storage, state, "20250603T000000Z-x")
    again = tables.current(storage, "curated/t")
    assert again.managed and again.dirs() == ["curated/t/event_date=2025-06-01",
                                              "curated/t/event_date=2025-06-02/_v-20250603T000000Z-x"]
    rows = tables.read_arrow(storage, "curated/t").to_pylist()
    assert sorted((r["event_id"], r["event_date"]) for r in rows) == [
        ("a", date(2025, 6, 1)), ("b", date(2025, 6, 2)), ("c", date(2025, 6, 2))]
