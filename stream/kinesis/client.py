"""Kinesis calls with backoff: the boto3 client, shard listing, iterators and GetRecords pages.

Plain boto3, so the same code talks to AWS, moto or LocalStack (``endpoint_url`` / ``AWS_ENDPOINT_URL``).
Throttling (``ProvisionedThroughputExceededException``, ``LimitExceededException``…) and transient
server errors are retried with jittered exponential backoff; every retry is counted.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from stream.kinesis.offsets import AT_TIMESTAMP, TRIM_HORIZON, parse_start, seq_key
from stream.kinesis.options import KinesisOptions

RETRYABLE = frozenset({
    "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException",
    "KMSThrottlingException", "InternalFailure", "InternalServerError", "ServiceUnavailable",
    "ServiceUnavailableException", "RequestTimeout",
})
# Our loop does the retrying, so one SDK attempt per call keeps delays bounded and counted (``total_max_attempts``
# includes the first attempt; ``max_attempts`` would count retries: 1 meant two attempts).
_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                 max_pool_connections=16)
_DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # emulators accept any
_clients: dict[tuple, Any] = {}
_lock = threading.Lock()


class KinesisUnavailable(RuntimeError):
    """Kinesis kept failing after every retry; the message names the call and the last error."""


class IteratorExpired(RuntimeError):
    """A shard iterator is older than five minutes; get a new one from the last position."""


def kinesis_client(options: KinesisOptions):
    """A cached client; with an emulator endpoint and no credentials anywhere, dummy ones are used."""
    key = (options.region, options.endpoint_url)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                session = boto3.session.Session(region_name=options.region)
                if options.endpoint_url and session.get_credentials() is None:
                    session = boto3.session.Session(region_name=options.region, **_DUMMY)
                client = session.client("kinesis", endpoint_url=options.endpoint_url, config=_CONFIG)
                _clients[key] = client
    return client


@dataclass
class CallStats:
    """Counts of one caller's API calls: attempts made, retries, and attempts refused for throttling."""

    calls: int = 0
    retries: int = 0
    throttled: int = 0


class KinesisCaller:
    """Runs Kinesis API calls with retries on throttling and transient failures."""

    def __init__(self, options: KinesisOptions, client=None, sleep: Callable[[float], None] = time.sleep):
        self.options = options
        self.client = client or kinesis_client(options)
        self.stats = CallStats()
        self._sleep = sleep

    def call(self, operation: str, **kwargs: Any) -> dict:
        """The answer of boto3's ``operation(**kwargs)``, retried up to ``max_retries`` times on throttling and
        transient errors.

        Raises :class:`IteratorExpired` for an expired shard iterator, :class:`KinesisUnavailable` when every
        attempt failed, and any other ``ClientError`` at once.
        """
        last = ""
        for attempt in range(self.options.max_retries + 1):
            if attempt:
                self.stats.retries += 1
                delay = min(self.options.max_retry_backoff, self.options.retry_backoff * 2 ** (attempt - 1))
                self._sleep(random.uniform(delay / 2, delay))
            self.stats.calls += 1
            try:
                return getattr(self.client, operation)(**kwargs)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code == "ExpiredIteratorException":
                    raise IteratorExpired(str(exc)) from exc
                if code not in RETRYABLE:
                    raise
                if code in ("ProvisionedThroughputExceededException", "LimitExceededException",
                            "ThrottlingException"):
                    self.stats.throttled += 1
                last = code
            except BotoCoreError as exc:  # connection reset, timeout: transient
                last = type(exc).__name__
        raise KinesisUnavailable(f"{operation} failed {self.options.max_retries + 1} times: {last}")


@dataclass(frozen=True)
class ShardInfo:
    """One shard as ListShards describes it (sequence numbers are decimal strings)."""

    shard_id: str
    parent: str | None
    adjacent_parent: str | None
    starting_seq: str
    ending_seq: str | None  # set once the shard is closed by a split or merge

    @property
    def closed(self) -> bool:
        """Whether a split or merge closed the shard (it takes no new records)."""
        return self.ending_seq is not None

    @property
    def parents(self) -> tuple[str, ...]:
        """The shards this one came from (none, one for a split, two for a merge)."""
        return tuple(p for p in (self.parent, self.adjacent_parent) if p)


def list_shards(caller: KinesisCaller, stream_name: str) -> list[ShardInfo]:
    """Every shard ListShards reports (open and closed, within retention), sorted by id."""
    shards: list[ShardInfo] = []
    kwargs: dict[str, Any] = {"StreamName": stream_name}
    while True:
        page = caller.call("list_shards", **kwargs)
        for shard in page.get("Shards", []):
            seq = shard.get("SequenceNumberRange", {})
            shards.append(ShardInfo(shard["ShardId"], shard.get("ParentShardId"), shard.get("AdjacentParentShardId"),
                                    str(seq.get("StartingSequenceNumber", "0")), seq.get("EndingSequenceNumber")))
        token = page.get("NextToken")
        if not token:
            return sorted(shards, key=lambda s: s.shard_id)
        kwargs = {"NextToken": token}


@dataclass(frozen=True)
class KinesisRecord:
    """One record as GetRecords returns it; ``arrival`` is Kinesis' approximate arrival time."""

    shard_id: str
    sequence_number: str
    arrival: datetime
    partition_key: str
    data: bytes

    def as_row(self) -> tuple:
        """The record as a row of the source's schema (:data:`stream.kinesis.source.SCHEMA`)."""
        return (self.shard_id, self.sequence_number, self.arrival, self.partition_key, self.data)


@dataclass(frozen=True)
class Page:
    """One GetRecords answer; ``millis_behind`` is how far (ms) the page is behind the shard's tip."""

    records: list[KinesisRecord]
    next_iterator: str | None  # None: the shard is closed and this was its end
    millis_behind: int


class ShardReader:
    """Iterators and pages for one stream."""

    def __init__(self, caller: KinesisCaller):
        self.caller = caller
        self.stream_name = caller.options.stream_name

    def iterator(self, shard_id: str, after: str | None, start: str) -> str:
        """An iterator just after sequence number ``after``, or at ``start`` when nothing was read."""
        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard_id}
        if after is not None:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        else:
            kind, moment = parse_start(start)
            kwargs["ShardIteratorType"] = kind
            if kind == AT_TIMESTAMP:
                kwargs["Timestamp"] = moment
            assert kind in (TRIM_HORIZON, AT_TIMESTAMP)
        return self.caller.call("get_shard_iterator", **kwargs)["ShardIterator"]

    def page(self, shard_id: str, iterator: str, limit: int) -> Page:
        """One GetRecords call of at most ``limit`` records (raises :class:`IteratorExpired` for an old iterator)."""
        answer = self.caller.call("get_records", ShardIterator=iterator, Limit=limit)
        records = [KinesisRecord(shard_id, r["SequenceNumber"], r["ApproximateArrivalTimestamp"], r["PartitionKey"],
                                 bytes(r["Data"])) for r in answer.get("Records", [])]
        return Page(records, answer.get("NextShardIterator"), int(answer.get("MillisBehindLatest") or 0))

    def read_range(self, shard_id: str, after: str | None, until: str, start: str, *, limit: int,
                   idle_pause: float = 0.2, max_idle_polls: int = 25,
                   sleep: Callable[[float], None] = time.sleep) -> Iterator[KinesisRecord]:
        """The records of ``shard_id`` after ``after`` (or from ``start``) up to and including ``until``.

        Used when a micro-batch is replayed after a restart. Raises :class:`RangeUnavailable` when the
        shard ends, or stays empty, before ``until`` (records expired from the stream, or moved away).
        """
        end = seq_key(until)
        position = after
        iterator = self.iterator(shard_id, position, start)
        idle = 0
        while True:
            try:
                page = self.page(shard_id, iterator, limit)
            except IteratorExpired:
                iterator = self.iterator(shard_id, position, start)
                continue
            for record in page.records:
                if seq_key(record.sequence_number) > end:
                    return
                yield record
                position = record.sequence_number
                if seq_key(position) == end:
                    return
            if page.next_iterator is None:
                raise RangeUnavailable(shard_id, after, until, position, "the shard ended")
            iterator = page.next_iterator
            if not page.records and page.millis_behind == 0:
                idle += 1
                if idle > max_idle_polls:
                    raise RangeUnavailable(shard_id, after, until, position, "no further records on the shard")
                sleep(idle_pause)
            else:
                idle = 0


class RangeUnavailable(RuntimeError):
    """A shard range a micro-batch covered can no longer be read (the message says how far it got)."""

    def __init__(self, shard_id: str, after: str | None, until: str, reached: str | None, why: str):
        super().__init__(f"records of {shard_id} after {after or 'its start'} up to {until} cannot be read again "
                         f"({why}; reached {reached or 'nothing'}): expired from the stream's retention?")
