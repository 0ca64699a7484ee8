"""One erasure, start to end (docs/erasure.md): what ``lakehouse forget`` runs locally and the ``forget`` Glue job
runs on AWS. The streaming jobs must be stopped while it runs (locally the checkpoints' locks, on AWS the
ForgetCustomer state machine stops and restarts the streaming job): their state store is rewritten.

Order (each step safe to repeat: a second run finds nothing more to remove and says so):

1. **Resolve** the person (:func:`glue_jobs.erasure.lake.resolve_subject`), joined with any unfinished erasure of
   theirs (a run killed half-way already erased what resolves them: its subject is kept in
   ``state/erasure/pending/<erasure id>.json`` until it completes, the only place the lakehouse names a person
   it is erasing).
2. **Suppress** their ids first (:class:`lakehouse.core.erasure.Suppression`): anything read from now on drops
   them, so nothing written after this run's scan brings them back.
3. **The lake** (:func:`glue_jobs.erasure.lake.erase_lake`), then every streaming checkpoint's state store
   (:func:`lakehouse.core.lake.state_store.erase_state`).
4. **The warehouse** (:mod:`glue_jobs.erasure.warehouse`: DuckDB or Redshift).
5. **DynamoDB**: the features and scores items of each of their ids.
6. **The erasure record** (``state/erasure/records/<date>/<id>.json``): who, when, counts per store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from glue_jobs.erasure.lake import erase_lake, is_a_persons_id, resolve_subject
from glue_jobs.erasure.warehouse import erase_duckdb, erase_redshift
from lakehouse.core.config import Settings
from lakehouse.core.erasure import SUPPRESSION_KEY, ErasureRecord, Subject, load_suppression
from lakehouse.core.lake.state_store import erase_state
from lakehouse.core.lake.storage import LakeStorage

Progress = Callable[[str], None]
#: the subject of each erasure still running (or killed): ``<erasure id>.json``, deleted when it completes
PENDING_PREFIX = "state/erasure/pending"
Warehouse = Literal["duckdb", "redshift", "none"]

#: what no erasure can reach, said in every record
NOT_ERASED = {
    "kinesis": "records inside the stream's retention period stay until it expires (Kinesis cannot delete a "
               "record); the stream, the raw archive and the batch drop them by the suppression list",
}


def checkpoints(storage: LakeStorage) -> list[str]:
    """The names of the streaming checkpoints under ``checkpoints/`` (one folder per job or query)."""
    return sorted({o.key.split("/")[1] for o in storage.list("checkpoints") if o.key.count("/") >= 2})


def run_erasure(settings: Settings, customer_id: str, requested_by: str, *, warehouse: Warehouse,
                dynamodb: bool, on_progress: Progress | None = None) -> ErasureRecord:
    """Erase ``customer_id``'s person everywhere (module docstring) and return the erasure record, also written to
    the lake. ``warehouse``: which warehouse to erase them from (``none``: there is none); ``dynamodb``: whether
    the live tables can be reached. Raises ``ValueError`` for a blank id or requester, and for an id no record holds
    as a person's (:func:`assess`), changing nothing; an id erased before that no record holds as a person's since
    rewrites nothing (the record says so). Any store's error propagates after the suppression list was written (a
    repeated run completes the erasure)."""
    if not requested_by or not requested_by.strip():
        raise ValueError("requested_by: say who asked for the erasure (a ticket or an operator, not the person)")
    say = on_progress or (lambda _: None)
    storage = LakeStorage(settings.lake, region=settings.region)
    record = ErasureRecord(requested_by=requested_by.strip())
    say("resolving the person's ids")
    target = assess(storage, customer_id)
    subject, unfinished, started = target.subject, target.unfinished, target.started
    if target.erased_before:
        # nothing holds the id as a person's since it was suppressed: records merely mentioning it (a group's or a
        # product's id) are other people's, and a rewrite by it would remove them
        say("erased before: no record holds the id as a person's; nothing to rewrite")
        return _finish(storage, record, Subject(customer_id, frozenset(), frozenset()), [])
    if any(re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", record.requested_by) for i in subject.identifiers):
        raise ValueError("requested_by: it holds an id of the person; the erasure record keeps no personal data")
    _write_pending(storage, record.erasure_id, subject, record.started_at)
    say(f"suppressing {len(subject.ids)} ids and {len(subject.emails)} e-mail hash(es)")
    suppression = load_suppression(storage).adding(subject, record.erasure_id)
    storage.put_bytes(SUPPRESSION_KEY, json.dumps(suppression.document(), indent=1).encode(),
                      content_type="application/json")
    say("rewriting the lake")
    subject = erase_lake(storage, subject, record, since=started).subject
    _write_pending(storage, record.erasure_id, subject, record.started_at)  # with the e-mails their records had
    say("rewriting the streaming state")
    for name in checkpoints(storage):
        state = erase_state(storage, f"checkpoints/{name}", subject.ids)
        if state.partitions_rewritten:
            record.touched("stream_state", partitions_rewritten=state.partitions_rewritten,
                           keys_removed=state.keys_removed, files_deleted=state.files_deleted)
        if state.other_keys_mentioning:
            record.touched("stream_state", other_keys_mentioning=state.other_keys_mentioning)
        if state.versions_purged:
            record.touched("s3_versions", noncurrent_versions_deleted=state.versions_purged)
    if warehouse == "duckdb":
        say("rewriting the warehouse")
        erase_duckdb(settings.warehouse_path, subject, record)
    elif warehouse == "redshift":
        say("deleting from Redshift")
        erase_redshift(settings, subject, record)
    if dynamodb:
        say("deleting DynamoDB items")
        erase_items(settings, subject, record)
    return _finish(storage, record, subject, [_pending_key(record.erasure_id), *unfinished])


@dataclass(frozen=True)
class Target:
    """Whom an erasure request names: the person's ids and e-mails (with those of unfinished erasures of theirs),
    the pending files of those erasures, when the first started, and whether the id was erased before and no
    record holds it as a person's since (then there is nothing to rewrite)."""

    subject: Subject
    unfinished: list[str]
    started: datetime | None
    erased_before: bool


def assess(storage: LakeStorage, customer_id: str) -> Target:
    """What erasing ``customer_id`` would do (reads only). Raises ``ValueError`` for an id no record holds as a
    person's (:func:`glue_jobs.erasure.lake.is_a_persons_id`), no unfinished erasure names and the suppression
    list does not hold: a product's or an order's id, or a typo; and when the lake is empty."""
    if not any(next(iter(storage.list(zone)), None) for zone in ("raw", "curated", "warehouse", "state")):
        raise ValueError(f"no lakehouse at {storage.layout.root_uri}: nothing to erase (is LAKEHOUSE_HOME right?)")
    subject, unfinished, started = _with_unfinished(storage, customer_id, resolve_subject(storage, customer_id))
    if unfinished or is_a_persons_id(storage, subject.ids):
        return Target(subject, unfinished, started, erased_before=False)
    if load_suppression(storage).covers(customer_id):
        return Target(subject, unfinished, started, erased_before=True)
    raise ValueError(f"{customer_id!r} is no customer's or visitor's id in this lakehouse: no record holds it as "
                     "a user, anonymous or customer id (records merely mentioning it, such as a product's or an "
                     "order's, are other people's); nothing was changed. Events accepted but not yet archived "
                     "are on the stream only: let the raw archive land them (`lakehouse archive --once` locally; "
                     "on AWS it runs every 5 minutes) and ask again")


def _finish(storage: LakeStorage, record: ErasureRecord, subject: Subject, done: list[str]) -> ErasureRecord:
    """Write the erasure record (counts only), then delete the ``done`` pending files; returns the record."""
    record.identifiers = {"ids": len(subject.ids), "email_hashes": len(subject.emails)}
    record.not_erased = dict(NOT_ERASED)
    record.finished_at = datetime.now(UTC).isoformat()
    storage.put_bytes(record.key(), json.dumps(record.document(), indent=1, sort_keys=True).encode(),
                      content_type="application/json")
    if done:
        storage.delete(done)
        storage.purge_history(done)
    return record


def _pending_key(erasure_id: str) -> str:
    return f"{PENDING_PREFIX}/{erasure_id}.json"


def _write_pending(storage: LakeStorage, erasure_id: str, subject: Subject, started_at: str) -> None:
    """The erasure's subject, kept while it runs: a run killed half-way has already erased what would resolve
    the person again (identity maps, profiles), so its rerun takes the ids from here. Deleted when it completes."""
    body = {"customer_id": subject.customer_id, "ids": sorted(subject.ids), "emails": sorted(subject.emails),
            "started_at": started_at}
    storage.put_bytes(_pending_key(erasure_id), json.dumps(body).encode(), content_type="application/json")


def _with_unfinished(storage: LakeStorage, customer_id: str,
                     subject: Subject) -> tuple[Subject, list[str], datetime | None]:
    """``subject`` joined with every unfinished erasure of the same person (one naming any of its ids), the keys
    of those erasures' pending files, and when the first of them started (None: there is none)."""
    keys, started = [], None
    for obj in storage.list(PENDING_PREFIX):
        pending = json.loads(storage.get_bytes(obj.key))
        ids = frozenset(pending.get("ids", []))
        if customer_id in ids or ids & subject.ids:
            subject = Subject(pending.get("customer_id", subject.customer_id), subject.ids | ids,
                              subject.emails | frozenset(pending.get("emails", [])))
            keys.append(obj.key)
            began = datetime.fromisoformat(pending["started_at"])
            started = began if started is None else min(started, began)
    return subject, keys, started


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
