"""Load on the ingestion API: concurrent clients posting Segment batches for a while, then every event the API
acknowledged looked for on the stream.

Each client is a thread with its own keep-alive HTTP connection, posting ``POST /v1/batch`` bodies of
``events_per_request`` ``Product Viewed`` calls (gzip, each call its own ``messageId``) back to back until the time
is up, as a Segment library flushing its queue does; it does not retry, so a refused request is counted, not hidden.
A request's latency is from sending to the last byte of the answer. An event is **acknowledged** when its
request got 200; :func:`verify` then compares them with the whole stream (every shard, from the start), and, once
the raw archive and the batch's curated step ran, with the raw zone and the curated ``events`` table: acknowledged
ids missing from a stage (lost) and ids in it more than once (duplicated).

Used by ``bench/bench_load.py`` (50 clients for 60 s, from a process of its own beside ``lakehouse serve``) and
its test.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import math
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from lakehouse.core.contract.examples import example_calls
from lakehouse.core.lake import tables as lake_tables
from lakehouse.core.lake.raw import decode_lines
from lakehouse.core.lake.storage import LakeStorage

#: the status recorded for a request that got no HTTP answer (connection refused or reset, timeout)
NO_ANSWER = 0


@dataclass
class LoadResult:
    """One load run: ``clients`` threads for ``seconds`` (wall clock, first send to last answer); per request its
    HTTP status (:data:`NO_ANSWER` when none) and latency in milliseconds; the event ids of every 200."""

    clients: int
    events_per_request: int
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        """Requests sent."""
        return sum(self.statuses.values())

    @property
    def requests_per_second(self) -> float:
        """Requests sent (answered with any status, or not at all) per second of the run."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def events_per_second(self) -> float:
        """Acknowledged events per second of the run."""
        return len(self.acknowledged) / self.seconds if self.seconds else 0.0

    @property
    def error_rate(self) -> float:
        """Share of requests not answered 200 (0 to 1)."""
        return 1 - self.statuses.get(200, 0) / self.requests if self.requests else 0.0

    def latency_ms(self, quantile: float) -> float:
        """The latency at ``quantile`` (0 to 1) over every request by the nearest-rank method (the value of rank
        ⌈quantile · n⌉); 0 when none was sent."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered), max(1, math.ceil(quantile * len(ordered)))) - 1]


def batch_body(events: int, client: int) -> tuple[bytes, list[str]]:
    """A gzip ``/v1/batch`` body of ``events`` ``Product Viewed`` calls by the customer ``load-<client>``, each with
    a new ``messageId``, stamped now; returns the body and the ids in order."""
    template = example_calls()["Product Viewed"]
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ids = [str(uuid.uuid4()) for _ in range(events)]
    calls = [{**template, "userId": f"load-{client}", "messageId": i, "timestamp": now} for i in ids]
    return gzip.compress(json.dumps({"batch": calls}).encode(), compresslevel=1), ids


def run_clients(url: str, write_key: str, *, clients: int, seconds: float, events_per_request: int = 10,
                timeout: float = 30.0) -> LoadResult:
    """``clients`` concurrent clients posting batches to ``url`` (the API's base URL) for ``seconds``; see the
    module docstring. Raises ``ValueError`` for a URL that is not ``http://host:port``."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"url must be http://host[:port], got {url!r}")
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip",
               "Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}
    result = LoadResult(clients=clients, events_per_request=events_per_request)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
        statuses: Counter[int] = Counter()
        latencies, acknowledged = [], []
        while time.monotonic() < deadline:
            body, ids = batch_body(events_per_request, number)
            sent = time.perf_counter()
            try:
                connection.request("POST", "/v1/batch", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = NO_ANSWER
                connection.close()  # reconnects on the next request
            latencies.append((time.perf_counter() - sent) * 1000)
            statuses[status] += 1
            if status == 200:
                acknowledged.extend(ids)
        connection.close()
        with lock:
            result.statuses.update(statuses)
            result.latencies_ms.extend(latencies)
            result.acknowledged.extend(acknowledged)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def stream_event_ids(settings: Settings) -> Counter[str]:
    """How many times each event id is on the stage's stream: every shard, from ``TRIM_HORIZON`` to its end."""
    kinesis = aws_client("kinesis", region=settings.region)
    found: Counter[str] = Counter()
    shards = [shard for page in kinesis.get_paginator("list_shards").paginate(StreamName=settings.names.stream)
              for shard in page["Shards"]]  # ListShards pages at 1,000 shards
    for shard in shards:
        iterator = kinesis.get_shard_iterator(StreamName=settings.names.stream, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            found.update(json.loads(record["Data"])["event_id"] for record in page["Records"])
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:  # at the shard's end
                break
            iterator = page.get("NextShardIterator")
    return found


def raw_event_ids(settings: Settings) -> Counter[str]:
    """How many times each event id is in the raw zone (every ``raw/`` object, each line's ``event_id``), after
    the raw archive landed the stream there."""
    storage = LakeStorage(settings.lake, settings.region)
    found: Counter[str] = Counter()
    for obj in storage.list("raw"):
        if obj.key.endswith(".jsonl.gz"):
            found.update(json.loads(line)["event_id"] for line in decode_lines(storage.get_bytes(obj.key)) if line)
    return found


def curated_event_ids(settings: Settings) -> Counter[str]:
    """How many times each event id is in the curated ``events`` table (its current version), after the batch's
    raw -> curated step; reads the one column."""
    storage = LakeStorage(settings.lake, settings.region)
    events = lake_tables.read_arrow(storage, settings.lake.curated_table("events"), columns=["event_id"])
    return Counter(events.column("event_id").to_pylist()) if events.num_columns else Counter()


@dataclass(frozen=True)
class Verification:
    """Acknowledged ids not on the stream (``lost``), and ids on it more than once (``duplicated``)."""

    acknowledged: int
    on_stream: int
    lost: frozenset[str]
    duplicated: frozenset[str]


def verify(acknowledged: list[str], on_stream: Counter[str]) -> Verification:
    """Compare what the API acknowledged with what a stage holds: the stream (:func:`stream_event_ids`), the raw
    zone (:func:`raw_event_ids`) or the curated zone (:func:`curated_event_ids`)."""
    return Verification(acknowledged=len(acknowledged), on_stream=sum(on_stream.values()),
                        lost=frozenset(set(acknowledged) - set(on_stream)),
                        duplicated=frozenset(i for i, n in on_stream.items() if n > 1))
