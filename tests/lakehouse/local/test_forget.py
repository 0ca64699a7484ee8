"""`lakehouse forget` end to end, on a copy of the demo's home and its live emulator (``demo_run.forgotten``,
tests/demo_fixtures.py): a scored buyer with stitched ids is forgotten, then the source posts its whole history
again and the archive, the stream and the batch run over it.

The oracle reads every file the way a person with the disk would — gzip opened, Parquet and the DuckDB file
queried, Spark's lz4-framed state files decompressed with the lz4 library, anything else as bytes — and looks
for the person's ids and e-mail hash; it shares no code with the erasure."""

from __future__ import annotations

import gzip
import json
import struct
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import lz4.block
import pyarrow.parquet as pq
import pytest

from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.run_lock import CheckpointBusy, checkpoint_lock

#: the generator's exports (the simulated source systems' files) in the demo's home: not a store of the lakehouse
SOURCE_EXPORTS = "data"
#: item attributes a stream run rewrites without a change of the customer's numbers (the micro-batch that wrote it)
ITEM_METADATA = ("last_batch", "updated_at")


def readable(path: Path) -> bytes:
    """A file's content as a reader of the disk gets at it."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"PAR1":
        return json.dumps(pq.read_table(path).to_pylist(), default=str).encode()
    if data[:8] == b"LZ4Block":  # lz4-java's framing: magic, token, compressed and original length, checksum, block
        out, pos = b"", 0
        while pos < len(data):
            method = data[pos + 8] & 0xF0
            compressed, original, _ = struct.unpack_from("<iii", data, pos + 9)
            block = data[pos + 21:pos + 21 + compressed]
            pos += 21 + compressed
            if original:
                out += block if method == 0x10 else lz4.block.decompress(block, uncompressed_size=original)
        return out
    if path.suffix == ".duckdb":
        with duckdb.connect(str(path), read_only=True) as con:
            tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
            rows = [con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall() for s, t in tables]
        return data + json.dumps(rows, default=str).encode()
    return data


def remains(home: Path, identifiers: set[str]) -> dict[str, list[str]]:
    """File (relative to ``home``) -> the identifiers found in it, over every file but the source exports."""
    found = {}
    for path in sorted(home.rglob("*")):
        if path.is_file() and path.relative_to(home).parts[0] != SOURCE_EXPORTS:
            content = readable(path)
            hits = sorted(i for i in identifiers if i.encode() in content)
            if hits:
                found[str(path.relative_to(home))] = hits
    return found


@pytest.fixture(scope="module")
def forgotten(demo_run) -> dict[str, Any]:
    return demo_run.forgotten


def _identifiers(forgotten: dict[str, Any]) -> set[str]:
    return set(forgotten["ids"]) | set(forgotten["emails"])


def test_the_chosen_person_is_a_scored_buyer_with_stitched_ids_and_an_email(forgotten) -> None:
    """The test forgets someone every store holds: several ids, an e-mail hash, a name, live features and scores."""
    assert len(forgotten["ids"]) >= 2 and forgotten["emails"] and forgotten["names"]
    features, scores = (forgotten["before"][t] for t in (forgotten["settings"].names.features_table,
                                                         forgotten["settings"].names.scores_table))
    assert forgotten["person"] in features and forgotten["person"] in scores


def test_the_oracle_finds_the_person_everywhere_before(demo_run, forgotten) -> None:
    """The same scan of the demo's own home (never erased) finds them in every kind of store: it can see them."""
    found = remains(demo_run.settings.home, _identifiers(forgotten))
    kinds = {path.split("/")[1] if path.startswith("lake/") else path for path in found}
    assert {"raw", "curated", "warehouse", "state", "checkpoints", "warehouse.duckdb"} <= kinds, kinds
    state_files = [p for p in found if "/state/" in p and p.startswith("lake/checkpoints/")]
    assert state_files, "the streaming state store held the person (the oracle must read lz4-framed files)"


def test_no_byte_of_the_person_remains_after_forget_and_a_replay(forgotten) -> None:
    """After `forget`, and after the source posted its whole history again (the person's events included) through
    the API, the archive, the stream and the batch: no file of the home and no DynamoDB item holds an id or the
    e-mail hash. Seen failing without the archive's suppression (the replayed events landed in a new raw object),
    without the state store rewrite (the oracle found the ids in the checkpoint's .delta files), and with ids alone
    on the suppression list (the replay's sign-up under a new id with their e-mail address landed: the oracle found
    the e-mail hash in 11 files, curated ``customers`` and ``events`` among them)."""
    identifiers = _identifiers(forgotten) | set(forgotten["names"])  # whole records go: their name with them
    assert remains(forgotten["settings"].home, identifiers) == {}
    items = json.dumps(forgotten["replayed"], default=str)
    assert not [i for i in identifiers if i in items]


def _numbers(items: dict[str, dict], ids: set[str]) -> dict[str, dict]:
    return {cid: {k: v for k, v in item.items() if k not in ITEM_METADATA}
            for cid, item in items.items() if cid not in ids}


def test_every_other_customers_live_items_are_unchanged(forgotten) -> None:
    """Every other customer's features and scores items after the erasure equal those before it; after the replay
    too (the replayed events are duplicates for them), but for ``last_seen_at``, which a replayed view may move by
    milliseconds (its new ``sentAt`` changes the clock-skew correction).

    Seen failing without the protection: the stream's dedup against the event ids kept in its state taken out
    (``or event.event_id in current.seen`` removed from ``stream/state.py`` ``_dedup``, the in-batch dedup kept):
    the features table after the replay, 89 other customers changed, e.g. c0000003 ``views_7d`` 4 -> 8. Not seen by
    this test: the suppression list read by no stage (as in
    ``test_the_replay_brings_nothing_of_theirs_back_and_everything_else_once``), it still passed."""
    ids = set(forgotten["ids"])
    for table, before in forgotten["before"].items():
        expected = _numbers(before, ids)
        assert len(expected) > 100
        for moment in ("after", "replayed"):
            found = _numbers(forgotten[moment][table], ids)
            assert sorted(found) == sorted(expected), (table, moment)
            changed = {cid: _differences(expected[cid], found[cid]) for cid in expected if found[cid] != expected[cid]}
            if moment == "replayed":  # a replayed view is not a counted event: it only moves last_seen_at, by the
                # milliseconds its new sentAt changes the clock-skew correction (docs/streaming.md, dedup)
                changed = {cid: diff for cid, diff in changed.items()
                           if any(not path.endswith(".last_seen_at") or _apart(*values) > 1.0
                                  for path, values in diff.items())}
            assert changed == {}, (table, moment)


def _apart(before: str, after: str) -> float:
    return abs((datetime.fromisoformat(after) - datetime.fromisoformat(before)).total_seconds())


def _differences(before: Any, after: Any, path: str = "") -> dict[str, Any]:
    if isinstance(before, dict) and isinstance(after, dict):
        out: dict[str, Any] = {}
        for key in sorted(set(before) | set(after)):
            out.update(_differences(before.get(key), after.get(key), f"{path}.{key}"))
        return out
    return {} if before == after else {path: (before, after)}


def _rows(path: Path, table: str, ids: set[str]) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        columns = [c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                                             "ORDER BY column_index", [table]).fetchall()]
        rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
    if "customer_id" in columns:
        at = columns.index("customer_id")
        rows = [r for r in rows if r[at] not in ids]
    return sorted(rows, key=repr)


def test_every_other_customers_warehouse_rows_are_unchanged(demo_run, forgotten) -> None:
    """Every table of the warehouse holds, for everybody else, exactly the rows it held before; the anonymous
    aggregates (daily KPIs, dimensions without customers) are unchanged; the person's rows are gone.

    Seen failing without the protection: ``drop_already_curated`` in ``glue_jobs/curated/dedup.py`` returning its
    events unfiltered (the replay curated a second time): ``AssertionError: dim_product``, the rows before held 6
    more than those after. Not seen by this test: the suppression list read by no stage (as in
    ``test_the_replay_brings_nothing_of_theirs_back_and_everything_else_once``), it still passed."""
    before, after = demo_run.settings.warehouse_path, forgotten["settings"].warehouse_path
    ids = set(forgotten["ids"])
    with duckdb.connect(str(before), read_only=True) as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
    assert len(tables) >= 19
    for table in tables:
        assert _rows(after, table, ids) == _rows(before, table, ids), table
    with duckdb.connect(str(after), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM fact_order WHERE customer_id IN (SELECT unnest(?))",
                           [sorted(ids)]).fetchone()[0] == 0
    with duckdb.connect(str(before), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM fact_order WHERE customer_id IN (SELECT unnest(?))",
                           [sorted(ids)]).fetchone()[0] > 0


def test_the_erasure_record_says_what_was_touched_and_holds_no_personal_data(forgotten) -> None:
    record = forgotten["record"]
    text = json.dumps(record)
    assert not [i for i in _identifiers(forgotten) if i in text]
    assert record["requested_by"] == "erasure-test-ticket" and record["finished_at"] >= record["started_at"]
    assert record["identifiers"] == {"ids": len(forgotten["ids"]), "email_hashes": len(forgotten["emails"])}
    stores = record["stores"]
    assert {"raw", "curated", "warehouse", "warehouse_duckdb", "stream_state", "dynamodb"} <= set(stores)
    assert stores["dynamodb"]["items_deleted"] >= 2  # the features and the scores item, at least
    assert stores["stream_state"]["keys_removed"] >= 1
    assert stores["stream_state"].get("other_keys_mentioning", 0) == 0
    assert "kinesis" in record["not_erased"]
    settings = forgotten["settings"]
    stored = LakeStorage(settings.lake).get_bytes(f"state/erasure/records/{record['started_at'][:10]}/"
                                                  f"{record['erasure_id']}.json")
    assert json.loads(stored) == record


def _source_events_of(files: list[Path], ids: set[str]) -> int:
    count = 0
    for path in files:
        data = path.read_bytes()
        for line in (gzip.decompress(data) if path.suffix == ".gz" else data).decode().splitlines():
            call = json.loads(line)
            calls = call.get("batch", [call])
            count += sum(1 for c in calls if {c.get("userId"), c.get("anonymousId"), c.get("previousId")} & ids)
    return count


def test_the_replay_brings_nothing_of_theirs_back_and_everything_else_once(demo_run, forgotten) -> None:
    """The source's replay: every event accepted again by the API; the archive lands all but the person's (they
    stay on Kinesis until its retention ends) and a sign-up under a new id with their e-mail address (the one call
    beyond the replay); the batch finds every landed event curated before (none new).

    Seen failing without the protection: the suppression list read by no stage (``Suppression("")`` in place of
    ``load_suppression(...)`` in ``stream/archive.py`` ``archive_batch``, ``stream/stateful.py`` ``feature_rows`` and
    ``glue_jobs/curated/job.py`` ``run_raw_to_curated``): the archive landed the person's events again,
    ``assert 6874 == (6874 - 111)``."""
    files = sorted((demo_run.settings.home / "data" / "demo").glob("events-*.jsonl*"))
    theirs = _source_events_of(files, set(forgotten["ids"]))
    assert theirs > 0
    theirs += 1  # the sign-up under a new id with their e-mail address
    # on the stream at least once: a PutRecords call outliving the sink's read timeout on a loaded runner is sent
    # again (docs/ingestion.md), and the function counts such records; the feature job and the archive read the
    # same records, such copies included
    copies = forgotten["stream_records"] - forgotten["posted"]
    assert 0 <= copies <= forgotten["resent"]
    assert forgotten["archived"] == forgotten["posted"] + copies - theirs and forgotten["archive_suppressed"] == theirs
    assert forgotten["stream_suppressed"] == theirs  # the feature job drops and counts the same records
    assert forgotten["archive_read"] == forgotten["posted"] + copies  # both count them among the records read
    curated = forgotten["curated"]
    assert curated.new_events == 0 and curated.accepted == forgotten["archived"], forgotten["new_events"]


def test_forget_refuses_while_a_streaming_job_runs_and_changes_nothing(tmp_path: Path) -> None:
    """A stream holding its checkpoint: `forget` stops before anything changed. Seen failing without the lock:
    the raw object was rewritten under the running job."""
    from lakehouse.core.config import Settings
    from lakehouse.local.forget import forget

    settings = Settings(home=tmp_path / "home")
    lake = LakeStorage(LakeLayout.from_uri(str(settings.home / "lake")))
    line = b'{"event_id": "e1", "user_id": "u1", "type": "track"}\n'
    lake.put_bytes("raw/source=s/dt=2025-01-01/hour=00/x.jsonl.gz", gzip.compress(line))
    lake.put_bytes("checkpoints/features/commits/0", b"v1\n{}")
    with checkpoint_lock(settings.lake.path("checkpoints", "features"), "a test stream"), \
            pytest.raises(CheckpointBusy, match="a streaming job"):
        forget(settings, "u1", "ticket", dynamodb=False)
    assert gzip.decompress(lake.get_bytes("raw/source=s/dt=2025-01-01/hour=00/x.jsonl.gz")) == line
    assert not lake.exists("state/erasure/suppressed.json")


def test_forget_refuses_while_the_emulator_keeps_a_journal_and_changes_nothing(tmp_path: Path) -> None:
    """The embedded AWS with its journal on (LAKEHOUSE_MOTO_PERSIST) keeps every request it was sent, the
    person's events included, where the erasure cannot reach: `forget` says so before anything changed.

    Seen failing without the protection: with the journal on, the erasure test above found the person's customer id
    and anonymous id in ``run/aws-journal.jsonl`` after `forget` (``remains(...) == {}`` failed)."""
    from lakehouse.core.config import Settings
    from lakehouse.local.aws.embedded import journal_file
    from lakehouse.local.forget import forget

    settings = Settings(home=tmp_path / "home")
    lake = LakeStorage(LakeLayout.from_uri(str(settings.home / "lake")))
    line = b'{"event_id": "e1", "user_id": "u1", "type": "track"}\n'
    lake.put_bytes("raw/source=s/dt=2025-01-01/hour=00/x.jsonl.gz", gzip.compress(line))
    journal_file(settings.run_dir).parent.mkdir(parents=True, exist_ok=True)
    journal_file(settings.run_dir).write_text('{"at": 1, "environ": {}, "text": "u1"}\n')
    with pytest.raises(ValueError, match="lakehouse down --reset"):
        forget(settings, "u1", "ticket", dynamodb=False)
    assert gzip.decompress(lake.get_bytes("raw/source=s/dt=2025-01-01/hour=00/x.jsonl.gz")) == line
    assert not lake.exists("state/erasure/suppressed.json")
