"""``lakehouse forget``: erase one person from the local lakehouse and keep them out (docs/erasure.md).

Order (each step safe to repeat: a second run finds nothing more to remove and says so):

1. **Resolve** the person (:func:`glue_jobs.erasure.lake.resolve_subject`): every id the identity maps resolve
   to the customer, and their e-mail hashes.
2. **Suppress** them first (``state/erasure/suppressed.json``, keyed digests only): a batch or the stream reading
   their records from now on drops them, so nothing written after the erasure's scan brings them back.
3. **The lake** (:func:`glue_jobs.erasure.lake.erase_lake`): raw, quarantine, the stream's feedback records,
   every curated version, every star build, identity maps, scoring runs; then each streaming checkpoint's state
   store (:func:`stream.erasure.erase_state`).
4. **The warehouse** (DuckDB): a new file with every table and view, the person's rows left out, then swapped in
   (deleted rows of a DuckDB file can stay in its free blocks; a new file holds none).
5. **DynamoDB**: the features and scores items of each of their ids (the running emulator, LocalStack or AWS:
   whatever ``AWS_ENDPOINT_URL`` and the credentials name; with no emulator running its in-memory tables are gone).
6. **The erasure record** (``state/erasure/records/<date>/<id>.json``): who, when, counts per store.

The streaming jobs' checkpoints are locked for the whole erasure (:mod:`lakehouse.core.run_lock`): a running
``lakehouse stream``/``archive`` makes it refuse (``CheckpointBusy``) before anything changed, and neither starts
until it ended. The state store of each checkpoint loses the person's keys and every older version
(:func:`stream.erasure.erase_state`).

Not erased, said in the record's ``not_erased``: records still inside the Kinesis stream's retention (24 h by
default; Kinesis cannot delete a record: the archive, the stream and the batch drop suppressed ids).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from glue_jobs.erasure.lake import erase_lake, resolve_subject
from lakehouse.core.config import Settings
from lakehouse.core.erasure import SUPPRESSION_KEY, ErasureRecord, Subject, load_suppression
from lakehouse.core.lake.state_store import erase_state
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.run_lock import checkpoint_lock

Progress = Callable[[str], None]

NOT_ERASED = {
    "kinesis": "records inside the stream's retention period stay until it expires (Kinesis cannot delete a "
               "record); the stream, the raw archive and the batch drop them by the suppression list",
}


def forget(settings: Settings, customer_id: str, requested_by: str, *, dynamodb: bool = True,
           on_progress: Progress | None = None) -> ErasureRecord:
    """Erase ``customer_id``'s person from the lake, the local warehouse and (``dynamodb``) the live tables, and
    suppress their ids; returns the erasure record (also written to the lake). ``dynamodb=False`` when no emulator
    runs: its tables live in its memory, so nothing of the person is kept there. Raises ``ValueError`` for a blank
    id or requester."""
    if not requested_by or not requested_by.strip():
        raise ValueError("requested_by: say who asked for the erasure (a ticket or an operator, not the person)")
    say = on_progress or (lambda _: None)
    storage = LakeStorage(settings.lake, region=settings.region)
    record = ErasureRecord(requested_by=requested_by.strip())
    checkpoints = sorted({o.key.split("/")[1] for o in storage.list("checkpoints") if o.key.count("/") >= 2})
    with ExitStack() as locks:  # the streaming jobs stopped, and kept from starting, while their state is rewritten
        for name in checkpoints:
            locks.enter_context(checkpoint_lock(settings.lake.path("checkpoints", name), f"a streaming job ({name})"))
        _erase(settings, storage, customer_id, record, checkpoints, say, dynamodb)
    record.finished_at = datetime.now(UTC).isoformat()
    storage.put_bytes(record.key(), json.dumps(record.document(), indent=1, sort_keys=True).encode(),
                      content_type="application/json")
    return record


def _erase(settings: Settings, storage: LakeStorage, customer_id: str, record: ErasureRecord,
           checkpoints: list[str], say: Progress, dynamodb: bool) -> None:
    say("resolving the person's ids")
    subject = resolve_subject(storage, customer_id)
    say(f"suppressing {len(subject.ids)} ids")
    suppression = load_suppression(storage).adding(subject, record.erasure_id)
    storage.put_bytes(SUPPRESSION_KEY, json.dumps(suppression.document(), indent=1).encode(),
                      content_type="application/json")
    say("rewriting the lake")
    subject = erase_lake(storage, subject, record).subject
    say("rewriting the streaming state")
    for name in checkpoints:
        state = erase_state(storage, f"checkpoints/{name}", subject.ids)
        if state.partitions_rewritten:
            record.touched("stream_state", partitions_rewritten=state.partitions_rewritten,
                           keys_removed=state.keys_removed, files_deleted=state.files_deleted)
        if state.versions_purged:
            record.touched("s3_versions", noncurrent_versions_deleted=state.versions_purged)
        if state.other_keys_mentioning:
            record.touched("stream_state", other_keys_mentioning=state.other_keys_mentioning)
    say("rewriting the warehouse")
    erase_duckdb(settings.warehouse_path, subject, record)
    if dynamodb:
        say("deleting DynamoDB items")
        erase_items(settings, subject, record)
    record.identifiers = {"ids": len(subject.ids), "email_hashes": len(subject.emails)}
    record.not_erased = dict(NOT_ERASED)


def erase_duckdb(path: Path, subject: Subject, record: ErasureRecord) -> None:
    """Write the warehouse again without the person's rows (:func:`glue_jobs.erasure.lake.row_mentions`'s rule, in
    SQL) into a new file, then swap it in. Nothing to do without a warehouse file."""
    import duckdb

    if not path.exists():
        return
    fresh = path.with_name(f".{path.name}.erasing")
    fresh.unlink(missing_ok=True)
    removed_total = 0
    with duckdb.connect(str(fresh)) as con:
        con.execute("ATTACH ? AS old (READ_ONLY)", [str(path)])
        new = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f'COPY FROM DATABASE old TO "{new}" (SCHEMA)')
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'old' "
                             "ORDER BY 1, 2").fetchall()
        values = sorted(subject.identifiers)
        for schema, table in tables:
            columns = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'old' "
                                  "AND schema_name = ? AND table_name = ?", [schema, table]).fetchall()
            condition = _mentions_sql(columns) or "false"
            source = f'old."{schema}"."{table}"'
            removed = con.execute(f"SELECT count(*) FROM {source} WHERE {condition}",
                                  _parameters(columns, values)).fetchone()[0]
            con.execute(f'INSERT INTO "{new}"."{schema}"."{table}" SELECT * FROM {source} '
                        f"WHERE NOT coalesce({condition}, false)", _parameters(columns, values))
            removed_total += removed
            if removed:
                record.touched("warehouse_duckdb", tables_rewritten=1, rows_removed=removed)
        con.execute("DETACH old")
    os.replace(fresh, path)
    Path(f"{path}.wal").unlink(missing_ok=True)


def _mentions_sql(columns: list[tuple[str, str]]) -> str:
    """A row condition: a VARCHAR column equal to an identifier or holding one quoted; a VARCHAR[] holding one."""
    terms = []
    for name, kind in columns:
        if kind == "VARCHAR":
            terms.append(f'(list_contains($ids, "{name}") OR list_bool_or(list_transform($quoted, '
                         f'lambda q: contains("{name}", q))))')
        elif kind == "VARCHAR[]":
            terms.append(f'list_has_any("{name}", $ids)')
    return " OR ".join(terms)


def _parameters(columns: list[tuple[str, str]], values: list[str]) -> dict[str, list[str]]:
    if not any(kind in ("VARCHAR", "VARCHAR[]") for _, kind in columns):
        return {}
    used = {"ids": values}
    if any(kind == "VARCHAR" for _, kind in columns):
        used["quoted"] = [json.dumps(v) for v in values]
    return used


def erase_items(settings: Settings, subject: Subject, record: ErasureRecord) -> None:
    """Delete the features and scores items of every id of the person (a missing item is no error), through the
    endpoint the environment names (the embedded emulator, LocalStack or AWS)."""
    from lakehouse.core.aws.clients import aws_client

    client = aws_client("dynamodb", region=settings.region)
    deleted = 0
    for table in (settings.names.features_table, settings.names.scores_table):
        for customer_id in sorted(subject.ids):
            answer = client.delete_item(TableName=table, Key={"customer_id": {"S": customer_id}},
                                        ReturnValues="ALL_OLD")
            deleted += 1 if answer.get("Attributes") else 0
    record.touched("dynamodb", items_deleted=deleted)
