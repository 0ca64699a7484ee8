"""The lake's erasure on a small local lake written here: JSON-lines objects of every zone, Parquet files with
string, list, map, struct and JSON-text columns, a COPY manifest and a scoring-run record."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from glue_jobs.erasure.lake import erase_lake, resolve_subject, row_mentions
from lakehouse.core.erasure import ErasureRecord
from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.storage import LakeStorage

RAW = "raw/source=web/dt=2025-01-01/hour=00/a.jsonl.gz"
FORWARD = "checkpoints/features/_forward/run1/0000000000.jsonl"
CUSTOMERS = "curated/customers/event_date=2025-01-01/_v-1/part-0.parquet"
EVENTS = "curated/events/event_date=2025-01-01/_v-1/part-0.parquet"
IDENTITY = "state/build_star/identity_map/b1/part-0.parquet"
SCORES = "warehouse/fact_customer_scores/cutoff_date=2025-01-01/run=r1/part-00000.parquet"


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


@pytest.fixture
def lake(tmp_path: Path) -> LakeStorage:
    storage = LakeStorage(LakeLayout.from_uri(str(tmp_path / "lake")))
    lines = [{"event_id": "e1", "user_id": "u1", "traits": {"email": "m1@hashed.invalid"}},
             {"event_id": "e2", "user_id": "u10", "properties": {"note": "not u1"}},
             {"event_id": "e3", "anonymous_id": "anon-1", "type": "page"},
             {"event_id": "e4", "anonymous_id": "anon-9", "traits": {"email": "m1@hashed.invalid"}}]
    storage.put_bytes(RAW, gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in lines)))
    storage.put_bytes("quarantine/dt=2025-01-01/hour=00/q.jsonl.gz",
                      gzip.compress(b'{"reason": "x", "line": {"user_id": "u2"}}\n'))
    storage.put_bytes(FORWARD, b'{"kind": "merge", "source": "anon-1", "target": "u1"}\n'
                               b'{"source": "a", "target": "b"}\n')
    storage.put_bytes(IDENTITY, _parquet(pa.table({"id": ["anon-1", "anon-2"], "resolved_id": ["u1", "u2"]})))
    storage.put_bytes(CUSTOMERS, _parquet(pa.table({"customer_id": ["u1", "u2"],
                                                    "email": [None, "m2@hashed.invalid"],
                                                    "traits_cleared": [["age"], []]})))
    events = pa.table({
        "customer_id": ["u10", "u2", "u2", "u2", "u2"],
        "extra": pa.array([[("ref", "u1")], [("ref", "u3")], None, [], [("u1", "x")]],
                          pa.map_(pa.string(), pa.string())),
        "tags": pa.array([None, ["u9"], ["anon-1"], [], None], pa.list_(pa.string())),
        "ts": pa.array([1, 2, 3, 4, 5], pa.timestamp("us", tz="UTC")),
        "properties": ['{"a": 1}', '{"friend": "u1"}', "{}", "{}", "{}"],
    })
    storage.put_bytes(EVENTS, _parquet(events))
    scores = _parquet(pa.table({"customer_id": ["u1", "u2", "u3"], "churn": [0.1, 0.2, 0.3]}))
    storage.put_bytes(SCORES, scores)
    url = storage.layout.key(SCORES)
    storage.put_bytes("warehouse/_manifests/fact_customer_scores/r1.json", json.dumps(
        {"entries": [{"url": url, "mandatory": True, "meta": {"content_length": len(scores)}}]}).encode())
    storage.put_bytes("state/score/runs/r1.json", json.dumps(
        {"run_id": "r1", "rows": 3, "manifest": "warehouse/_manifests/fact_customer_scores/r1.json",
         "files": [SCORES]}).encode())
    Path(storage.layout.key(EVENTS)).with_name(".part-0.parquet.crc").write_bytes(b"checksum of the old bytes")
    return storage


def test_the_subject_gathers_stitched_ids_and_profile_emails(lake: LakeStorage) -> None:
    lake.put_bytes(CUSTOMERS, _parquet(pa.table({"customer_id": ["u1", "anon-1", "u2"],
                                                 "email": ["m1@hashed.invalid", "m3@hashed.invalid", "m2@x"]})))
    subject = resolve_subject(lake, "anon-1")
    assert subject.customer_id == "u1" and subject.ids == {"u1", "anon-1"}
    assert subject.emails == {"m1@hashed.invalid", "m3@hashed.invalid"}


def _lines(lake: LakeStorage, key: str) -> list[dict]:
    data = lake.get_bytes(key)
    text = gzip.decompress(data) if key.endswith(".gz") else data
    return [json.loads(line) for line in text.decode().splitlines()]


def test_every_record_of_theirs_goes_and_every_other_stays(lake: LakeStorage) -> None:
    """Lines with an id or an e-mail of theirs (found on one of their lines: e4 shares u1's e-mail) go; a
    map key or value, a list element or a JSON text naming them removes the row; `u10` and `not u1` stay (whole
    values only). Seen failing before the JSON-lines objects were read again for e-mails learned on the way
    (e4, after e1 in the same object, stayed)."""
    record = ErasureRecord(requested_by="t")
    result = erase_lake(lake, resolve_subject(lake, "u1"), record)
    assert [r["event_id"] for r in _lines(lake, RAW)] == ["e2"]
    assert _lines(lake, FORWARD) == [{"source": "a", "target": "b"}]
    assert len(_lines(lake, "quarantine/dt=2025-01-01/hour=00/q.jsonl.gz")) == 1
    events = pq.read_table(io.BytesIO(lake.get_bytes(EVENTS)))
    assert events.column("customer_id").to_pylist() == ["u2"]  # a map value, a JSON text, a list, a map key
    assert events.column("tags").to_pylist() == [[]]
    assert events.schema.field("ts").type == pa.timestamp("us", tz="UTC")  # the schema as written
    assert pq.read_table(io.BytesIO(lake.get_bytes(CUSTOMERS))).column("customer_id").to_pylist() == ["u2"]
    assert pq.read_table(io.BytesIO(lake.get_bytes(IDENTITY))).column("id").to_pylist() == ["anon-2"]
    assert result.subject.emails == {"m1@hashed.invalid"}
    assert record.stores["raw"] == {"objects_rewritten": 1, "records_removed": 3}
    assert record.stores["curated"] == {"files_rewritten": 2, "rows_removed": 5}
    assert "quarantine" not in record.stores


def test_copy_manifests_and_score_runs_follow_the_rewritten_files(lake: LakeStorage) -> None:
    """COPY of Parquet checks each manifest entry's content_length: a rewritten file's entry gets its new size —
    also when an earlier, killed run rewrote the file (so this run finds nothing of theirs in it). Seen failing
    before the fix-up: the manifest still said the old size."""
    first = erase_lake(lake, resolve_subject(lake, "u1"), ErasureRecord(requested_by="t")).subject
    lake.put_bytes("warehouse/_manifests/fact_customer_scores/r1.json", json.dumps(  # as a killed run left it
        {"entries": [{"url": lake.layout.key(SCORES), "mandatory": True, "meta": {"content_length": 1}}]}).encode())
    erase_lake(lake, first, ErasureRecord(requested_by="t"))
    manifest = json.loads(lake.get_bytes("warehouse/_manifests/fact_customer_scores/r1.json"))
    assert manifest["entries"][0]["meta"]["content_length"] == len(lake.get_bytes(SCORES))
    assert json.loads(lake.get_bytes("state/score/runs/r1.json"))["rows"] == 2
    assert not Path(lake.layout.key(EVENTS)).with_name(".part-0.parquet.crc").exists()


def test_a_lake_without_them_is_left_byte_for_byte(lake: LakeStorage) -> None:
    before = {o.key: lake.get_bytes(o.key) for o in lake.list("")}
    record = ErasureRecord(requested_by="t")
    erase_lake(lake, resolve_subject(lake, "nobody"), record)
    assert {o.key: lake.get_bytes(o.key) for o in lake.list("")} == before
    assert record.stores == {}


def test_row_mentions_reads_nested_values() -> None:
    table = pa.table({"s": pa.array([{"a": "x", "b": ["u1"]}, {"a": "u1", "b": []}, {"a": "y", "b": None}])})
    assert row_mentions(table, {"u1"}).to_pylist() == [True, True, False]
