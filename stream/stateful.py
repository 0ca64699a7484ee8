"""The feature job's streaming query: records -> keyed state (Spark's state store) -> item writes from the executors.

    records (Kinesis rows)  --mapInPandas(route_records)-->  key, kind=event|reject, payload
    forwards (the feedback prefix, one JSON-lines object per micro-batch) --> key, kind=forward, payload
        --union--> groupBy(key).applyInPandasWithState(KeyStepper)  (one JSON state per key, stream/state.py)
        --> rows kind=item|forward|reject|counts  --> foreachBatch(write_micro_batch)

Only Spark 3.5's API is used (Glue 5 runs this query too). Rows between the stages are (``key``, ``kind``,
``payload``) strings: ``payload`` is JSON (an event, a forward, an item's DynamoDB attributes, a reject, counts).

``write_micro_batch`` does one action per micro-batch: each partition writes its items to DynamoDB (whole items,
``BatchWriteItem`` puts of 25, on a thread pool; throttling retried by botocore, unprocessed items by
:func:`write_items`) and hands back only the small things — forwards,
rejects, counts, freshness samples — which the driver writes as one forward object and one quarantine object
named by the micro-batch. A replay of an unfinished micro-batch starts from the state of the last committed one,
so it writes the same items and the same objects again (docs/decisions-stream.md).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lakehouse.core.config import EventTimeSettings
from lakehouse.core.erasure import Suppression, load_suppression
from lakehouse.core.lake.storage import LakeStorage
from stream.features import derive
from stream.items import FEATURES, MERGED_INTO, STATE, features_map, state_map
from stream.records import FieldProblem, RawStreamRecord, Rejected, StreamEvent, parse_record
from stream.state import (
    REJECTS_KEY,
    Forward,
    KeyState,
    Routed,
    StepConfig,
    StepResult,
    event_from_dict,
    event_to_dict,
    forward_from_json,
    forward_to_json,
    json_default,
    route_key,
    step,
)

ROWS_SCHEMA = "key string, kind string, payload string"
STATE_SCHEMA = "state string"
#: the Kinesis source's columns the query reads (arrival in epoch microseconds)
RECORD_COLUMNS = ("data", "shard_id", "sequence_number",
                  "unix_micros(approximate_arrival_timestamp) AS arrival_us")


# --- stage 1: records -> routed rows (stateless) ----------------------------------------------------------
def routed_rows(records: Iterable[RawStreamRecord], event_time: EventTimeSettings,
                suppression: Suppression | None = None) -> list[tuple[str, str, str]]:
    """(key, kind, payload) per record: a valid event by :func:`stream.state.route_key`, a reject by the reserved
    key (payload: the record and its problems). A record of an erased person (an id on ``suppression``) is
    dropped: no state, no item, no reject kept; one last row under the reserved key, kind ``suppressed``, says how
    many (payload: the count), so that the micro-batch counts them (:attr:`BatchResult.suppressed`)."""
    rows = []
    suppressed = 0
    for record in records:
        parsed = parse_record(record, event_time)
        if suppression is not None and suppression.digests and _suppressed(record, parsed, suppression):
            suppressed += 1
        elif isinstance(parsed, StreamEvent):
            rows.append((route_key(parsed), "event", json.dumps(event_to_dict(parsed), default=json_default)))
        else:
            rows.append((REJECTS_KEY, "reject", reject_to_json(parsed)))
    if suppressed:
        rows.append((REJECTS_KEY, "suppressed", str(suppressed)))
    return rows


def _suppressed(record: RawStreamRecord, parsed: StreamEvent | Rejected, suppression: Suppression) -> bool:
    """Whether the record is an erased person's: an id as the stream reads it, or an id or e-mail field of the
    record as sent (:meth:`lakehouse.core.erasure.Suppression.covers_record`), on the list."""
    if isinstance(parsed, StreamEvent) and any(suppression.covers(i) for i in (
            parsed.user_id, parsed.anonymous_id, parsed.previous_id, parsed.customer_id)):
        return True
    try:
        document = json.loads(record.data)
    except ValueError:
        return False
    return isinstance(document, dict) and suppression.covers_record(document)


def reject_to_json(reject: Rejected) -> str:
    """A reject as JSON text (the record, where it sat, what is wrong); :func:`reject_from_json` reads it back."""
    record = reject.record
    return json.dumps({"data": reject.text, "shard_id": record.shard_id, "sequence_number": record.sequence_number,
                       "arrival": None if record.arrival is None else record.arrival.isoformat(),
                       "problems": [[p.field, p.reason] for p in reject.problems]})


def reject_from_json(text: str) -> Rejected:
    """The reject :func:`reject_to_json` wrote."""
    raw = json.loads(text)
    arrival = datetime.fromisoformat(raw["arrival"]) if raw.get("arrival") else None
    return Rejected(RawStreamRecord(raw["data"], raw["shard_id"], raw["sequence_number"], arrival),
                    tuple(FieldProblem(f, r) for f, r in raw["problems"]))


def route_records(event_time: EventTimeSettings,
                  suppression: Suppression | None = None) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The ``mapInPandas`` function over Kinesis rows (:data:`RECORD_COLUMNS`) -> :data:`ROWS_SCHEMA` rows; events
    of ids on ``suppression`` (read when the query starts) dropped."""
    def route(frames: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd

        for frame in frames:
            records = [RawStreamRecord(bytes(data), shard, sequence,
                                       None if arrival is None or arrival != arrival
                                       else datetime.fromtimestamp(arrival / 1e6, UTC))
                       for data, shard, sequence, arrival in zip(frame["data"], frame["shard_id"],
                                                                 frame["sequence_number"], frame["arrival_us"],
                                                                 strict=True)]
            yield pd.DataFrame(routed_rows(records, event_time, suppression), columns=["key", "kind", "payload"])
    return route


# --- stage 2: the keyed state -----------------------------------------------------------------------------
@dataclass
class KeyStepper:
    """The ``applyInPandasWithState`` function: :func:`stream.state.step` for one key, its item derived with the
    breakpoints and exchange rates in force (``providers()`` -> (breakpoints provider, rates provider), built once
    per Python worker and re-read on their own refresh interval)."""

    config: StepConfig
    providers: Callable[[], tuple[Any, Any]]
    _cached: tuple[Any, Any] | None = field(default=None, init=False, repr=False)

    def __call__(self, key: tuple, frames: Iterator[Any], state: Any) -> Iterator[Any]:
        """Spark's call for one key: its rows of this micro-batch (pandas frames) and its ``GroupState``."""
        import pandas as pd

        (name,) = key
        routed: list[Routed] = []
        forwards: list[Forward] = []
        rows: list[tuple[str, str, str]] = []
        suppressed = 0
        for frame in frames:
            for kind, payload in zip(frame["kind"], frame["payload"], strict=True):
                if kind == "reject":
                    rows.append((REJECTS_KEY, "reject", payload))
                elif kind == "suppressed":
                    suppressed += int(payload)
                elif kind == "event":
                    routed.append(Routed(event_from_dict(json.loads(payload))))
                else:
                    forwards.append(forward_from_json(payload))
        if name != REJECTS_KEY:
            rows.extend(self.step(name, routed, forwards, state))
        if suppressed:
            rows.append((REJECTS_KEY, "counts", json.dumps({"suppressed": suppressed})))
        yield pd.DataFrame(rows, columns=["key", "kind", "payload"])

    def step(self, name: str, routed: list[Routed], forwards: list[Forward], state: Any) -> list[tuple[str, str, str]]:
        """One key's step; updates ``state`` (the Spark ``GroupState``) and returns its output rows."""
        if self._cached is None:
            self._cached = self.providers()
        breakpoints, rates = (provider.current() for provider in self._cached)
        before = KeyState.from_json(state.get[0]) if state.exists else None
        result = step(name, routed, forwards, before, self.config, rates)
        state.update((result.state.to_json(),))
        rows = [(f.target, "forward", forward_to_json(f)) for f in result.forwards]
        item = item_attributes(result, breakpoints, self.config, rates)
        if item is not None:
            rows.append((name, "item", json.dumps(item, default=json_default)))
        arrivals = [r.event.arrival.timestamp() * 1000 for r in routed if r.event.arrival is not None]
        counts = {**vars(result.counts), "routed": len(routed), "arrival_ms_max": max(arrivals, default=0)}
        rows.append((name, "counts", json.dumps(counts)))
        return rows


def item_attributes(result: StepResult, breakpoints: Any, config: StepConfig, rates: Any) -> dict | None:
    """The key's new item (None: no change): ``attributes``, DynamoDB JSON of every attribute but the key and the
    batch stamps (a put replaces the whole item: a live item holds ``features`` and ``state``, a merged id's holds
    ``merged_into``); ``received``: epoch ms of the API acceptance of the events it now includes (freshness)."""
    from boto3.dynamodb.types import TypeSerializer

    change = result.item
    if change is None:
        return None
    serialize = TypeSerializer().serialize
    if change.kind == "merged":
        return {"attributes": {MERGED_INTO: serialize(change.merged_into)}, "received": []}
    features = features_map(derive(change.state, breakpoints, config.features, rates=rates))
    return {"attributes": {FEATURES: serialize(features), STATE: serialize(state_map(change.state))},
            "received": [round(r.timestamp() * 1000) for r in change.received]}


# --- stage 3: the micro-batch's writes -------------------------------------------------------------------
@dataclass
class PartitionResult:
    """What a partition hands back to the driver: everything but the items it wrote."""

    forwards: list[str] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    written: int = 0
    freshness_ms: list[float] = field(default_factory=list)

    def add_counts(self, counts: dict[str, float]) -> None:
        """Sum counts in (names ending ``_max`` keep the largest)."""
        for name, value in counts.items():
            before = self.counts.get(name, 0)
            self.counts[name] = max(before, value) if name.endswith("_max") else before + value

    def add(self, other: PartitionResult) -> None:
        """Another partition's result folded into this one."""
        self.forwards.extend(other.forwards)
        self.rejects.extend(other.rejects)
        self.add_counts(other.counts)
        self.written += other.written
        self.freshness_ms.extend(other.freshness_ms)


#: items per BatchWriteItem request (the API's limit)
WRITE_CHUNK = 25
#: seconds a chunk keeps sending items DynamoDB throttles *without any of them being written* before the
#: micro-batch fails (and is replayed). A throttled provisioned table still takes its provisioned units a second, so
#: while auto scaling catches up (its alarms fire after a few minutes above target, then UpdateTable takes several
#: more: DynamoDB Developer Guide, "Managing throughput capacity automatically with DynamoDB auto scaling") chunks
#: go through slowly and each one written resets the clock; only a table that takes nothing for this long fails it
WRITE_PATIENCE_SECONDS = 300.0
#: the longest pause between two rounds, seconds
WRITE_MAX_PAUSE_SECONDS = 5.0
#: error codes of a throttled request (DynamoDB API Reference, "Common Errors" and BatchWriteItem's errors); botocore
#: has already retried them (standard mode, :func:`partition_writer`) when they reach the writer
THROTTLE_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})


class ItemWriteError(RuntimeError):
    """DynamoDB kept throttling a chunk for :data:`WRITE_PATIENCE_SECONDS` (the micro-batch fails and is
    replayed)."""


def write_items(rows: Iterable[tuple[str, str, str]], table: str, token: str, client: Any,
                threads: int = 16, clock: Callable[[], float] = time.time,
                pause: Callable[[float], None] = time.sleep,
                patience: float = WRITE_PATIENCE_SECONDS) -> PartitionResult:
    """Write the item rows of one partition and sort the rest.

    Each changed key's whole item — ``customer_id``, its ``attributes``, ``last_batch`` (the micro-batch's token) and
    ``updated_at`` — goes in ``BatchWriteItem`` puts of :data:`WRITE_CHUNK` (no condition, no read: a replay of the
    micro-batch puts the same items), chunks on ``threads`` threads. Throttled writes — items DynamoDB returns as
    ``UnprocessedItems``, or a request refused with a :data:`THROTTLE_CODES` error after botocore's own retries — are
    sent again after a jittered exponential pause (at most :data:`WRITE_MAX_PAUSE_SECONDS`); a chunk fails with
    :class:`ItemWriteError` only after ``patience`` seconds in which none of its items was written, so the
    micro-batch rides out a provisioned table's scaling at the table's pace (freshness suffers, nothing is lost).
    Other errors propagate.
    """
    result = PartitionResult()
    items: list[tuple[str, dict]] = []
    for key, kind, payload in rows:
        if kind == "item":
            items.append((key, json.loads(payload)))
        elif kind == "forward":
            result.forwards.append(payload)
        elif kind == "reject":
            result.rejects.append(payload)
        elif kind == "counts":
            result.add_counts(json.loads(payload))
    now = {"S": _iso(clock())}

    def put(entry: tuple[str, dict]) -> dict:
        customer_id, item = entry
        return {"PutRequest": {"Item": {"customer_id": {"S": customer_id}, **item["attributes"],
                                        "last_batch": {"S": token}, "updated_at": now}}}

    def write(chunk: list[tuple[str, dict]]) -> float:
        requests = [put(entry) for entry in chunk]
        deadline, rounds, stalled = clock() + patience, 0, 0
        while True:
            rounds += 1
            before = len(requests)
            try:
                answer = client.batch_write_item(RequestItems={table: requests})
                requests = answer.get("UnprocessedItems", {}).get(table) or []
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in THROTTLE_CODES:
                    raise
            if not requests:
                return clock()
            if len(requests) < before:  # some went through: the table is taking writes, at its own pace
                deadline, stalled = clock() + patience, 0
            elif clock() >= deadline:
                raise ItemWriteError(f"{len(requests)} items of {table} still throttled after {rounds} rounds "
                                     f"of BatchWriteItem, none written in the last {patience:g} s")
            stalled += 1
            pause(min(WRITE_MAX_PAUSE_SECONDS, 0.05 * 2 ** min(stalled, 16)) * random.uniform(0.5, 1.0))

    chunks = [items[start:start + WRITE_CHUNK] for start in range(0, len(items), WRITE_CHUNK)]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for chunk, visible_at in zip(chunks, pool.map(write, chunks), strict=True):
            for _, item in chunk:
                result.freshness_ms.extend(visible_at * 1000 - r for r in item["received"])
    result.written = len(items)
    return result


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- the query and its micro-batch function (driver side) -------------------------------------------------
_PROVIDERS: dict[str, tuple[Any, Any]] = {}


def settings_providers(settings: Any) -> tuple[Any, Any]:
    """(breakpoints provider, rates provider) for ``settings``, one pair per Python process (executors reuse their
    workers across micro-batches, so the lake is re-read on the providers' refresh interval, not per task)."""
    from lakehouse.core.rfm_breakpoints import load_breakpoints
    from stream.reference import RatesProvider
    from stream.rfm import BreakpointsProvider

    fingerprint = settings.model_dump_json()
    if fingerprint not in _PROVIDERS:
        refresh = settings.stream.breakpoints_refresh_seconds
        _PROVIDERS[fingerprint] = (BreakpointsProvider(lambda: load_breakpoints(settings), refresh),
                                   RatesProvider.of_settings(settings))
    return _PROVIDERS[fingerprint]


def forward_prefix(streaming_job: str, run: str) -> str:
    """The lake key prefix of a checkpoint run's forwarded records, inside the job's checkpoint folder (a replaced
    checkpoint takes its forwards along; on AWS the job's role already writes there):
    ``checkpoints/<job>/_forward/<run>/``."""
    return f"checkpoints/{streaming_job}/_forward/{run}/"


def forward_object_key(streaming_job: str, run: str, batch_id: int) -> str:
    """The one object micro-batch ``batch_id`` forwards through (a replay rewrites the same key)."""
    return f"{forward_prefix(streaming_job, run)}{batch_id:010d}.jsonl"


def feature_rows(spark: Any, records: Any, forward_uri: str, settings: Any,
                 columns: tuple[str, ...] = RECORD_COLUMNS) -> Any:
    """The streaming DataFrame of :data:`ROWS_SCHEMA` rows out of the keyed state, from ``records`` (Kinesis rows;
    ``columns`` project them to :data:`RECORD_COLUMNS`' names and types) and the forward objects under
    ``forward_uri``. The lake's suppression list is read once, here: ``lakehouse forget`` runs with the job
    stopped, and its next start drops the erased person's events."""
    from functools import partial

    from pyspark.sql.streaming.state import GroupStateTimeout

    from stream.features import FeatureConfig

    suppression = load_suppression(LakeStorage(settings.lake, region=settings.region))
    routed = records.selectExpr(*columns).mapInPandas(route_records(settings.event_time, suppression), ROWS_SCHEMA)
    forwards = (spark.readStream.format("text").load(forward_uri)
                .selectExpr("get_json_object(value, '$.target') AS key", "'forward' AS kind", "value AS payload"))
    config = StepConfig(FeatureConfig(retention_days=settings.stream.retention_days),
                        dedup_window_seconds=settings.stream.dedup_ttl_hours * 3600.0)
    stepper = KeyStepper(config, partial(settings_providers, settings))
    return (routed.unionByName(forwards).groupBy("key")
            .applyInPandasWithState(stepper, ROWS_SCHEMA, STATE_SCHEMA, "append", GroupStateTimeout.NoTimeout))


_CLIENTS: dict[tuple[str, str | None, int], Any] = {}


def dynamodb_client(region: str, endpoint: str | None, threads: int) -> Any:
    """The executor process's DynamoDB client for the writer, made once per Python worker and kept (Spark reuses
    its workers across micro-batches; a new session and client cost ~0.1-0.3 s of CPU, per partition per
    micro-batch when they were made in the task). boto3 clients are thread-safe and refresh their credentials."""
    wanted = (region, endpoint, threads)
    if wanted not in _CLIENTS:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(region_name=region)
        if endpoint and session.get_credentials() is None:  # an emulator accepts any (as the Kinesis source)
            session = boto3.session.Session(region_name=region, aws_access_key_id="testing",
                                            aws_secret_access_key="testing")
        _CLIENTS[wanted] = session.client("dynamodb", endpoint_url=endpoint,
                                          config=Config(retries={"max_attempts": 10, "mode": "standard"},
                                                        max_pool_connections=max(10, threads)))
    return _CLIENTS[wanted]


def partition_writer(table: str, region: str, endpoint: str | None, token: str, threads: int,
                     ) -> Callable[[Iterator[Any]], Iterator[PartitionResult]]:
    """The ``mapPartitions`` function of a micro-batch: :func:`write_items` with the worker's DynamoDB client."""
    def write(rows: Iterator[Any]) -> Iterator[PartitionResult]:
        client = dynamodb_client(region, endpoint, threads)
        yield write_items(((r[0], r[1], r[2]) for r in rows), table, token, client, threads)
    return write


@dataclass
class MicroBatchWriter:
    """The ``foreachBatch`` function of the feature query: one action over the micro-batch's rows (items written by
    the executors), then the forward object and the quarantine object, both named by the micro-batch.

    ``fault(step, batch_id)`` is called at ``before-writes``, ``after-writes`` and ``after-forwards`` (crash tests
    only). Returns a :class:`stream.microbatch.BatchResult`.
    """

    settings: Any
    run: str
    endpoint: str | None = None  # DynamoDB endpoint for the executors (None: AWS)
    fault: Callable[[str, int], None] | None = None

    def __call__(self, frame: Any, batch_id: int) -> Any:
        """Write micro-batch ``batch_id`` (safe to repeat for the same id: same state in, same writes out)."""
        from lakehouse.core.lake.storage import LakeStorage
        from stream.identity import batch_token
        from stream.microbatch import BatchResult
        from stream.quarantine import write_quarantine

        settings = self.settings
        started = time.time()
        token = batch_token(self.run, batch_id)
        self._fault("before-writes", batch_id)
        writer = partition_writer(settings.names.features_table, settings.region, self.endpoint, token,
                                  settings.stream.writer_threads)
        total = PartitionResult()
        for part in frame.rdd.mapPartitions(writer).collect():
            total.add(part)
        self._fault("after-writes", batch_id)
        storage = LakeStorage(settings.lake, region=settings.region)
        if total.forwards:
            key = forward_object_key(settings.names.streaming_job, self.run, batch_id)
            storage.put_bytes(key, ("\n".join(sorted(total.forwards)) + "\n").encode(),
                              content_type="application/x-ndjson")
        rejects = sorted((reject_from_json(r) for r in total.rejects), key=lambda r: r.record.position)
        quarantine = write_quarantine(storage, rejects, settings.names.stream, self.run, batch_id, token)
        self._fault("after-forwards", batch_id)
        finished = time.time()
        counts = total.counts
        suppressed = int(counts.get("suppressed", 0))
        result = BatchResult(batch_id, token, records=int(counts.get("routed", 0)) + len(rejects) + suppressed,
                             events=int(counts.get("events", 0)), rejected=len(rejects), suppressed=suppressed,
                             duplicates=int(counts.get("duplicates", 0)), customers=total.written,
                             written=total.written, links=int(counts.get("links", 0)),
                             identity_conflicts=int(counts.get("identity_conflicts", 0)),
                             merged=int(counts.get("merged", 0)), quarantine_key=quarantine, started_at=started,
                             seconds=finished - started, freshness_ms=total.freshness_ms,
                             forwarded=int(counts.get("forwarded", 0)), forwards_pending=bool(total.forwards))
        newest = max([counts.get("arrival_ms_max", 0)] + [r.record.arrival.timestamp() * 1000 for r in rejects
                                                          if r.record.arrival is not None])
        if newest:
            result.lag_ms = finished * 1000 - newest
        return result

    def _fault(self, step: str, batch_id: int) -> None:
        if self.fault is not None:
            self.fault(step, batch_id)
