"""The DynamoDB sink: exactly-once effect for micro-batches that may be replayed.

Every micro-batch has a token ``<run>/<batch id>``: ``run`` identifies the checkpoint (see
:mod:`stream.identity`), and Spark replays a failed batch with the same id and the same records.

1. **Event claims** (dedup table, key ``event#<event_id>``), for events whose effect is a sum (see
   :data:`stream.features.COUNTED_EVENTS`): the batch reads the claims of its events
   (BatchGetItem, consistent). An event claimed by another token was applied before: it is a duplicate
   and dropped. Unclaimed events are claimed with this token (BatchWriteItem) — events claimed with this
   very token come from an earlier attempt of the same batch and stay in.
2. **Identity links** (dedup table, key ``identity#<source id>``, never expiring): the links the batch
   states that no stored link contradicts (:mod:`stream.stitching`) are stored with a conditional put
   ("absent, or stored by this token"), so a restart keeps them and a replay re-adds exactly the same ones.
3. **One conditional UpdateItem per customer** (feature table): the item is read (BatchGetItem,
   consistent); if its ``last_batch`` is this token, the attempt before already applied it and nothing
   is written (nor when the new state equals the stored one). Otherwise the new state is written with
   the condition "the item is still the version I read (or still absent) and was not written by this
   token", so a concurrent or repeated write can never apply a delta twice; a failed condition re-reads
   and decides again.
4. **Merging a stitched id's item exactly once.** A customer whose id absorbs another id in this batch (a
   new link ``S -> ... -> C``) gets S's stored state folded into the same conditional update as its delta,
   and S is added to the item's ``state.merged_from``: the merge rides on step 3's guard (an item already
   written by this token is skipped; ``merged_from`` refuses a second merge of S whatever the token). Only
   after C's update returned is S's item marked merged (``merged_into``, its ``features`` and ``state``
   removed): a crash in between leaves S unmarked, and the replay skips C and marks S. S's later events are
   routed to C by the stored link, so its item is never written again.

Throttling: the SDK retries throttled calls (adaptive mode), and unprocessed items of batch calls are
retried with jittered exponential backoff. Writes run on ``threads`` threads.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.contract.record import iso
from lakehouse.core.money import RateTable
from lakehouse.core.rfm_breakpoints import Breakpoints
from stream.features import CustomerDelta, CustomerState, FeatureConfig, combine, derive, merge
from stream.items import FEATURES, MERGED_INTO, STATE, features_map, is_customer, state_from_item, state_map
from stream.records import StreamEvent
from stream.reference import no_rates
from stream.stitching import StoredLink

GET_CHUNK = 100  # BatchGetItem keys per call
WRITE_CHUNK = 25  # BatchWriteItem requests per call
MAX_ROUNDS = 10  # rounds for unprocessed items / condition conflicts before giving up
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class SinkError(RuntimeError):
    """DynamoDB kept refusing; the micro-batch fails and is replayed after a restart."""


@dataclass
class ClaimResult:
    """The events of a micro-batch that are this token's to apply, and the claim counts."""

    fresh: list[StreamEvent]
    duplicates: int  # events applied by an earlier micro-batch
    claimed: int  # claims written by this attempt


@dataclass
class ApplyResult:
    """Per-customer outcomes of :meth:`FeatureSink.apply`; ``visible_at`` is epoch seconds (wall clock)."""

    written: int = 0
    skipped: int = 0  # already applied by an earlier attempt of this micro-batch
    unchanged: int = 0  # nothing to change (no write needed)
    conflicts: int = 0  # condition failures resolved by re-reading
    merged: int = 0  # stitched ids' items marked merged into a customer's by this call
    visible_at: dict[str, float] = field(default_factory=dict)  # customer -> wall time the write returned


def event_key(event_id: str) -> str:
    """The dedup table key that claims ``event_id``: ``event#<event_id>``."""
    return f"event#{event_id}"


def link_key(source: str) -> str:
    """The dedup table key of the identity link of ``source``: ``identity#<source>``."""
    return f"identity#{source}"


class FeatureSink:
    """Applies micro-batches to the feature and dedup tables exactly once (the protocol of the module docstring).

    ``threads`` parallel DynamoDB calls; claims expire (TTL) after ``dedup_ttl_hours``; ``clock`` (epoch
    seconds) and ``sleep`` are for tests. Call :meth:`close` when done.
    """

    def __init__(self, features_table: str, dedup_table: str, region: str | None = None, *, threads: int = 16,
                 dedup_ttl_hours: int = 192, config: FeatureConfig = FeatureConfig(),
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        self.features_table = features_table
        self.dedup_table = dedup_table
        self.region = region
        self.threads = threads
        self.dedup_ttl_seconds = dedup_ttl_hours * 3600
        self.config = config
        self._clock = clock
        self._sleep = sleep
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="feature-sink")
        self._links: dict[str, StoredLink] = {}  # stored links never change: cached once read

    @property
    def _dynamodb(self):
        return aws_client("dynamodb", region=self.region)

    def close(self) -> None:
        """Stop the writer threads (waits for calls in flight)."""
        self._pool.shutdown(wait=True)

    # --- 1. event claims ----------------------------------------------------------------------------
    def claim(self, token: str, events: Sequence[StreamEvent]) -> ClaimResult:
        """Keep the events no other micro-batch applied; claim the unclaimed ones for ``token``."""
        keys = [event_key(e.event_id) for e in events]
        claims = self._get_many(self.dedup_table, "dedup_key", keys, projection="dedup_key, batch_token")
        fresh, unclaimed, duplicates = [], [], 0
        for event, key in zip(events, keys, strict=True):
            owner = claims.get(key, {}).get("batch_token")
            if owner is None:
                unclaimed.append(key)
                fresh.append(event)
            elif owner == token:
                fresh.append(event)
            else:
                duplicates += 1
        expires = int(self._clock()) + self.dedup_ttl_seconds
        self._put_many(self.dedup_table, [{"dedup_key": k, "batch_token": token, "expires_at": expires}
                                          for k in unclaimed])
        return ClaimResult(fresh, duplicates, len(unclaimed))

    # --- 2. identity links ---------------------------------------------------------------------------
    def read_links(self, ids: set[str]) -> dict[str, StoredLink]:
        """The stored links of ``ids`` and of every id they lead to (source -> link; at most 32 hops)."""
        found = {i: self._links[i] for i in ids if i in self._links}
        wanted = {i for i in ids if i not in found}
        attempted: set[str] = set()
        for _ in range(32):
            if not wanted:
                break
            attempted |= wanted
            items = self._get_many(self.dedup_table, "dedup_key", [link_key(i) for i in sorted(wanted)])
            for item in items.values():
                link = StoredLink(str(item["dedup_key"]).removeprefix("identity#"), str(item["target"]),
                                  str(item["link_type"]), str(item["event_id"]), str(item["event_ts"]),
                                  str(item["batch_token"]))
                found[link.source] = self._links[link.source] = link
            wanted = {link.target for link in found.values() if link.target not in found} - attempted
        return found

    def write_links(self, token: str, links: Sequence[StoredLink]) -> None:
        """Store ``links`` for ``token`` (absent, or already stored by this token). Raises ``SinkError`` when
        another writer stored a link of the same id first (the micro-batch is replayed and re-reads it)."""
        def put(link: StoredLink) -> None:
            try:
                self._dynamodb.put_item(
                    TableName=self.dedup_table,
                    Item={k: {"S": v} for k, v in (("dedup_key", link_key(link.source)), ("target", link.target),
                                                   ("link_type", link.link_type), ("event_id", link.event_id),
                                                   ("event_ts", link.event_ts), ("batch_token", token),
                                                   ("linked_at", _iso_now(self._clock)))},
                    ConditionExpression="attribute_not_exists(dedup_key) OR batch_token = :token",
                    ExpressionAttributeValues={":token": {"S": token}})
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    raise SinkError(f"the identity link of {link.source!r} was stored by another writer") from None
                raise
            self._links[link.source] = link

        list(self._pool.map(put, links))

    # --- 3. one conditional update per customer -----------------------------------------------------
    def apply(self, token: str, deltas: dict[str, CustomerDelta], breakpoints: Breakpoints,
              rates: RateTable | None = None, absorbs: dict[str, list[str]] | None = None) -> ApplyResult:
        """Merge each customer's delta into their item with one conditional update (step 3 of the protocol),
        folding in the items of the ids each absorbs (``absorbs``: customer -> ids, step 4), then mark those
        items merged. Money is converted with ``rates`` (default: only the reporting currency converts).

        Raises ``SinkError`` when an item keeps changing under the update or DynamoDB keeps throttling.
        """
        rates = rates or no_rates()
        absorbs = {c: ids for c, ids in (absorbs or {}).items() if c in deltas}
        sources = [s for ids in absorbs.values() for s in ids]
        items = self._get_many(self.features_table, "customer_id", list(dict.fromkeys([*deltas, *sources])))
        result = ApplyResult()
        customers = list(deltas)

        def one(cid: str) -> tuple[str, int, float]:
            merged = [(s, items.get(s)) for s in absorbs.get(cid, [])]
            return self._apply_one(token, deltas[cid], items.get(cid), breakpoints, rates, merged)

        for customer_id, (status, conflicts, visible_at) in zip(customers, self._pool.map(one, customers),
                                                                strict=True):
            result.conflicts += conflicts
            if status == "skipped":
                result.skipped += 1
                continue
            result.written += status == "written"
            result.unchanged += status == "unchanged"
            result.visible_at[customer_id] = visible_at
        marks = [(s, c) for c, ids in absorbs.items() for s in ids if items.get(s) is not None
                 and MERGED_INTO not in items[s]]
        result.merged = sum(self._pool.map(lambda sc: self._mark_merged(token, *sc), marks))
        return result

    def _apply_one(self, token: str, delta: CustomerDelta, item: dict | None, breakpoints: Breakpoints,
                   rates: RateTable | None = None,
                   merged: Sequence[tuple[str, dict | None]] = ()) -> tuple[str, int, float]:
        rates = rates or no_rates()
        conflicts = 0
        for _ in range(MAX_ROUNDS):
            if item is not None and item.get("last_batch") == token:
                return "skipped", conflicts, 0.0
            state = state_from_item(item) if item else CustomerState(delta.customer_id)
            for source_id, source_item in merged:
                if source_id in state.merged_from:
                    continue  # merged by an earlier micro-batch: never twice
                if source_item is not None and is_customer(source_item):
                    state = combine(state, state_from_item(source_item))
                state.merged_from.add(source_id)
            state = merge(state, delta, self.config, rates)
            if item is None and state.last_seen_at is None:
                return "unchanged", conflicts, self._clock()  # no activity anywhere yet: no item to create
            attributes = {FEATURES: features_map(derive(state, breakpoints, self.config, rates=rates)),
                          STATE: state_map(state)}
            if item is not None and all(item.get(k) == v for k, v in attributes.items()):
                return "unchanged", conflicts, self._clock()  # e.g. only repeats of idempotent events
            version = int(item["version"]) if item is not None and "version" in item else None
            try:
                self._update(delta.customer_id, attributes, token, version, exists=item is not None)
                return "written", conflicts, self._clock()
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
            conflicts += 1
            item = self._get_one(self.features_table, {"customer_id": delta.customer_id})
        raise SinkError(f"customer {delta.customer_id}: the item kept changing under the update ({conflicts} times)")

    def _mark_merged(self, token: str, source_id: str, customer_id: str) -> int:
        """Mark ``source_id``'s item merged into ``customer_id``'s (no features, no state, no ML ``scores``: they
        belong to the customer now); 1 when this call did."""
        try:
            self._dynamodb.update_item(
                TableName=self.features_table, Key={"customer_id": {"S": source_id}},
                UpdateExpression="SET #merged_into = :customer, #merged_by = :token, #merged_at = :now, "
                                 "#last_batch = :token, #version = if_not_exists(#version, :zero) + :one "
                                 "REMOVE #features, #state, #scores",
                ConditionExpression="attribute_exists(customer_id) AND attribute_not_exists(#merged_into)",
                ExpressionAttributeNames={"#merged_into": MERGED_INTO, "#merged_by": "merged_by",
                                          "#merged_at": "merged_at", "#last_batch": "last_batch",
                                          "#version": "version", "#features": FEATURES, "#state": STATE,
                                          "#scores": "scores"},
                ExpressionAttributeValues={":customer": {"S": customer_id}, ":token": {"S": token},
                                           ":now": {"S": _iso_now(self._clock)}, ":zero": {"N": "0"},
                                           ":one": {"N": "1"}})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return 0  # marked already (a replay), or gone
            raise
        return 1

    def _update(self, customer_id: str, attributes: dict[str, Any], token: str, version: int | None,
                exists: bool) -> None:
        """One UpdateItem: SET every attribute, guarded by the version read and the batch token."""
        names = {"#last_batch": "last_batch", "#version": "version", "#updated_at": "updated_at"}
        values: dict[str, Any] = {":token": token, ":next": (version or 0) + 1, ":now": _iso_now(self._clock)}
        sets = ["#last_batch = :token", "#version = :next", "#updated_at = :now"]
        for index, (name, value) in enumerate(attributes.items()):
            names[f"#a{index}"] = name
            values[f":a{index}"] = value
            sets.append(f"#a{index} = :a{index}")
        if exists:
            condition = "#version = :expected AND #last_batch <> :token"
            values[":expected"] = version or 0
        else:
            condition = "attribute_not_exists(customer_id)"
        self._dynamodb.update_item(
            TableName=self.features_table, Key={"customer_id": {"S": customer_id}},
            UpdateExpression="SET " + ", ".join(sets), ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={k: _serializer.serialize(v) for k, v in values.items()})

    # --- batched reads and writes with retries ------------------------------------------------------
    def _get_many(self, table: str, key_name: str, keys: list[str], projection: str | None = None) -> dict[str, dict]:
        unique = list(dict.fromkeys(keys))
        chunks = [unique[i:i + GET_CHUNK] for i in range(0, len(unique), GET_CHUNK)]
        found: dict[str, dict] = {}
        for part in self._pool.map(lambda c: self._get_chunk(table, key_name, c, projection), chunks):
            found.update(part)
        return found

    def _get_chunk(self, table: str, key_name: str, keys: list[str], projection: str | None) -> dict[str, dict]:
        request: dict[str, Any] = {"Keys": [{key_name: {"S": k}} for k in keys], "ConsistentRead": True}
        if projection:
            request["ProjectionExpression"] = projection
        found: dict[str, dict] = {}
        for attempt in range(MAX_ROUNDS):
            answer = self._dynamodb.batch_get_item(RequestItems={table: request})
            for raw in answer.get("Responses", {}).get(table, []):
                item = {k: _deserializer.deserialize(v) for k, v in raw.items()}
                found[item[key_name]] = item
            pending = answer.get("UnprocessedKeys", {}).get(table)
            if not pending or not pending.get("Keys"):
                return found
            request = pending
            self._backoff(attempt)
        raise SinkError(f"BatchGetItem on {table} left keys unprocessed after {MAX_ROUNDS} rounds")

    def _get_one(self, table: str, key: dict[str, str]) -> dict | None:
        answer = self._dynamodb.get_item(TableName=table, Key={k: {"S": v} for k, v in key.items()},
                                         ConsistentRead=True)
        raw = answer.get("Item")
        return {k: _deserializer.deserialize(v) for k, v in raw.items()} if raw else None

    def _put_many(self, table: str, items: Iterable[dict[str, Any]]) -> None:
        requests = [{"PutRequest": {"Item": {k: _serializer.serialize(v) for k, v in item.items()}}}
                    for item in items]
        chunks = [requests[i:i + WRITE_CHUNK] for i in range(0, len(requests), WRITE_CHUNK)]
        list(self._pool.map(lambda c: self._put_chunk(table, c), chunks))

    def _put_chunk(self, table: str, requests: list[dict]) -> None:
        for attempt in range(MAX_ROUNDS):
            answer = self._dynamodb.batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table) or []
            if not requests:
                return
            self._backoff(attempt)
        raise SinkError(f"BatchWriteItem on {table} left items unprocessed after {MAX_ROUNDS} rounds")

    def _backoff(self, attempt: int) -> None:
        delay = min(2.0, 0.05 * 2 ** attempt)
        self._sleep(random.uniform(delay / 2, delay))


def _iso_now(clock: Callable[[], float] = time.time) -> str:
    """``clock()`` (epoch seconds) as the lake's ISO 8601 UTC text."""
    return iso(datetime.fromtimestamp(clock(), UTC))  # type: ignore[return-value]
