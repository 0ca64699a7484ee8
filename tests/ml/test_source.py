"""ml.source reads a curated table's current partition versions (the manifest), not every file in its folder."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.core.config import Settings
from lakehouse.core.lake import tables
from lakehouse.core.lake.storage import LakeStorage
from ml.source import open_curated


def closure(root: Path, folder: str, customer: str) -> None:
    (root / folder).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"customer_id": [customer], "event_ts": pa.array([None], pa.timestamp("us"))}),
                   root / folder / "part-0.parquet")


def test_only_current_versions_are_read(tmp_path: Path) -> None:
    """A legacy partition replaced by a version (still on disk until vacuumed), a current legacy partition and a
    crashed run's orphan: the view holds the version and the legacy partition, once each.

    Seen failing with the old glob (``event_date=*/*.parquet``): the view held the replaced legacy row ``old``
    and missed ``new`` (the version folder is one level deeper)."""
    settings = Settings(stage="tsrc", home=tmp_path / "home")
    root = Path(settings.lake.path(settings.lake.curated_table("account_closures")))
    closure(root, "event_date=2025-06-01", "old")
    closure(root, "event_date=2025-06-01/_v-20250602T000000Z-a", "new")
    closure(root, "event_date=2025-06-01/_v-20250603T000000Z-b", "orphan")
    closure(root, "event_date=2025-05-31", "kept")
    storage = LakeStorage(settings.lake)
    state = tables.current(storage, "curated/account_closures")
    state.partitions["2025-06-01"] = "_v-20250602T000000Z-a"
    state.retired.append(tables.Retired("2025-06-01", "", "2025-06-02T00:00:00+00:00"))
    tables.commit(storage, state, "20250602T000000Z-a")

    rows = open_curated(settings).execute("SELECT customer_id FROM account_closures ORDER BY 1").fetchall()
    assert rows == [("kept",), ("new",)]
