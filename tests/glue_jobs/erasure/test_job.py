"""One erasure start to end on a small local lakehouse (lake + DuckDB warehouse, no emulator): a run killed half
way and run again completes it; the record keeps no personal data; an empty home is refused."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from glue_jobs.erasure import job
from lakehouse.core.config import Settings
from lakehouse.core.lake.storage import LakeStorage

RAW = "raw/source=web/dt=2025-01-01/hour=00/a.jsonl.gz"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "home")
    storage = LakeStorage(settings.lake)
    lines = [{"event_id": "e1", "user_id": "u1"}, {"event_id": "e2", "anonymous_id": "anon-1"},
             {"event_id": "e3", "user_id": "u2"}]
    storage.put_bytes(RAW, gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in lines)))
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": ["anon-1"], "resolved_id": ["u1"]}), sink)
    storage.put_bytes("state/build_star/identity_map/b1/part-0.parquet", sink.getvalue())
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("CREATE TABLE dim_customer AS SELECT * FROM (VALUES ('u1'), ('u2')) t(customer_id)")
    return settings


def _customers(settings: Settings) -> list[str]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return [r[0] for r in con.execute("SELECT customer_id FROM dim_customer ORDER BY 1").fetchall()]


def test_a_run_killed_half_way_is_completed_by_the_next(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first run erases the identity map, then dies before the warehouse. The rerun, asked by the anonymous id
    (which nothing resolves any more), still erases u1 from the warehouse. Seen failing without the pending
    subject: the rerun resolved only anon-1, said nothing was left, and u1 stayed in dim_customer."""
    real = job.erase_duckdb

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(job, "erase_duckdb", killed)
    with pytest.raises(KeyboardInterrupt):
        job.run_erasure(settings, "anon-1", "DSR-1", warehouse="duckdb", dynamodb=False)
    assert _customers(settings) == ["u1", "u2"]
    monkeypatch.setattr(job, "erase_duckdb", real)
    record = job.run_erasure(settings, "anon-1", "DSR-1", warehouse="duckdb", dynamodb=False)
    assert _customers(settings) == ["u2"]
    assert record.identifiers["ids"] == 2
    storage = LakeStorage(settings.lake)
    assert not list(storage.list(job.PENDING_PREFIX))  # the only place naming the person while it ran: gone
    assert "u1" not in json.dumps(record.document())


def test_a_requester_naming_the_person_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="requested_by: it holds an id"):
        job.run_erasure(settings, "u1", "request of anon-1", warehouse="duckdb", dynamodb=False)
    job.run_erasure(settings, "u1", "DSR-u10", warehouse="duckdb", dynamodb=False)  # another id's text is fine


def test_an_empty_home_is_refused(tmp_path: Path) -> None:
    empty = Settings(home=tmp_path / "nothing")
    with pytest.raises(ValueError, match="no lakehouse at"):
        job.run_erasure(empty, "u1", "DSR-1", warehouse="duckdb", dynamodb=False)
    assert not (tmp_path / "nothing").exists()
