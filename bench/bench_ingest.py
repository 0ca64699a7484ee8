"""Ingestion API throughput and latency for 500-event batches.

Scenarios (the same events everywhere; each batch is a gzip JSON body, as Segment clients send it):

  baseline          bare contract work per event: parse_event + to_record (no API, no I/O)
  handler, stubbed  the Lambda handler in-process; stubbed stream and quarantine sinks, no I/O anywhere
  handler, moto     the Lambda handler in-process; Kinesis + DynamoDB (+ S3 for rejects) on a moto server
  gateway, stubbed  HTTP through the local API Gateway to the handler with stubbed sinks
  gateway, moto     HTTP through the local API Gateway to the real handler on moto

Figures: events/s (wall clock), events per CPU-second of this process ("per core": the handler is
single-threaded, and the machine is shared), p50/p99 latency per batch, and each rate as a ratio of the
baseline measured in the same run (baseline and stubbed handler alternate for three rounds; best of each).
Target: >= 20,000 validated events/s per core, handler with stubbed sinks.

    python bench/bench_ingest.py [--batches 40]
"""

from __future__ import annotations

import argparse
import base64
import copy
import gzip
import http.client
import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from report import record

from lakehouse.core.config import Settings
from lakehouse.core.contract import parse_event, to_record
from lakehouse.core.contract.examples import example_calls
from lakehouse.core.write_keys import WriteKey, WriteKeyStore
from lakehouse.local.aws.embedded import EmbeddedAws
from lakehouse.local.aws.provision import provision
from lakehouse.local.gateway import LocalGateway, LocalLambdaContext, proxy_event
from lambdas.ingest.app import SERVICE, create_handler
from lambdas.ingest.kinesis_sink import PutReport

BATCH = 500
TARGET = 20_000


def make_batches(count: int) -> list[list[dict]]:
    examples = list(example_calls().values())
    batches = []
    for b in range(count):
        batch = []
        for i in range(BATCH):
            call = copy.deepcopy(examples[(b * BATCH + i) % len(examples)])
            call["messageId"] = f"bench-{b}-{i}"
            call["timestamp"] = f"2025-06-{1 + i % 28:02d}T{i % 24:02d}:{b % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"
            for field in ("order_id", "product_id", "ticket_id", "offer_id", "content_id"):
                if field in call.get("properties", {}):
                    call["properties"][field] = f"{field[:2]}-{(b * BATCH + i) * 7 % 100_003}"
            call["userId"] = f"c{(b * 7919 + i) % 5000:05d}"
            call["context"] = {"ip": f"203.0.113.{i % 250}", "library": {"name": "analytics-python", "version": "2"}}
            batch.append(call)
        batches.append(batch)
    return batches


def body_of(batch: list[dict]) -> bytes:
    sent_at = datetime.now(UTC).isoformat()
    return gzip.compress(json.dumps({"batch": batch, "sentAt": sent_at}).encode(), compresslevel=6)


@dataclass
class Result:
    """One scenario's measurements: events handled, wall and CPU seconds, and per-batch latencies (seconds)."""

    name: str
    events: int
    wall: float
    cpu: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        """Events per wall-clock second."""
        return self.events / self.wall

    @property
    def cpu_rate(self) -> float:
        """Events per CPU-second of this process."""
        return self.events / self.cpu if self.cpu > 0 else float("inf")

    def pct(self, q: float) -> float:
        """The ``q`` quantile (0-1) of the batch latencies, in ms (nearest rank)."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def timed(name: str, items: list, run_one: Callable[[object], int]) -> Result:
    run_one(items[0])  # warm up (imports, caches, connections)
    latencies, events = [], 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for item in items:
        t = time.perf_counter()
        events += run_one(item)
        latencies.append(time.perf_counter() - t)
    return Result(name, events, time.perf_counter() - wall0, time.process_time() - cpu0, latencies)


class NullRawSink:
    """The function's lake sink (quarantine only: accepted events reach raw/ through the raw archive), storing
    nothing."""

    def quarantine(self, source, received_at, request_id, rejections):
        """Store nothing."""
        return "stub://quarantine"


class NullStream:
    """A stream sink that accepts every record at once and sends nothing."""

    def put(self, entries, deadline=None):
        """Accept ``entries`` in one pretend call."""
        return PutReport(len(entries), 1, 0)


def stub_handler(settings: Settings):
    key = WriteKey("bench", "h", "bench", "2025-01-01T00:00:00Z")
    return create_handler(settings, raw_sink=NullRawSink(), stream_sink=NullStream(),
                          key_lookup=lambda k: key, emit_metrics=False)


def in_process(name: str, handler, settings: Settings, bodies: list[bytes], key: str) -> Result:
    """The handler called with ready-made proxy events (building them is API Gateway's work, not timed)."""
    headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip"),
               ("Authorization", "Basic " + base64.b64encode(f"{key}:".encode()).decode())]
    events = [proxy_event("POST", "/v1/batch", headers, body, source_ip="127.0.0.1", stage=settings.stage,
                          binary_media_types=("*/*",)) for body in bodies]

    def one(event: dict) -> int:
        result = handler(event, LocalLambdaContext(function_name="bench"))
        assert result["statusCode"] == 200, result["body"][:300]
        return json.loads(result["body"])["accepted"]

    return timed(name, events, one)


def over_http(name: str, gateway: LocalGateway, bodies: list[bytes], key: str) -> Result:
    host, port = gateway.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip",
               "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}

    def one(body: bytes) -> int:
        conn.request("POST", "/v1/batch", body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        assert response.status == 200, data[:300]
        return json.loads(data)["accepted"]

    return timed(name, bodies, one)


def baseline(batches: list[list[dict]]) -> Result:
    received = datetime.now(UTC)

    def one(batch: list[dict]) -> int:
        for call in batch:
            to_record(parse_event(call), call, source="bench", received_at=received)
        return len(batch)

    return timed("baseline: parse_event + to_record", batches, one)


def report(results: list[Result]) -> None:
    base = results[0]
    print(f"\n{'scenario':<38}{'events/s':>10}{'per CPU-s':>11}{'x base':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for r in results:
        print(f"{r.name:<38}{r.rate:>10,.0f}{r.cpu_rate:>11,.0f}{r.cpu_rate / base.cpu_rate:>8.2f}"
              f"{r.pct(0.5):>9.1f}{r.pct(0.99):>9.1f}")
    stubbed = next(r for r in results if r.name.startswith("handler, stubbed"))
    verdict = "meets" if stubbed.cpu_rate >= TARGET else "MISSES"
    print(f"\nhandler with stubbed sinks: {stubbed.cpu_rate:,.0f} validated events per CPU-second "
          f"({verdict} the {TARGET:,}/s per core target); handler overhead over the bare contract work: "
          f"{base.cpu_rate / stubbed.cpu_rate:.2f}x")
    size = f"{len(base.latencies)} batches x {BATCH} events"
    for r in results[1:]:
        record("ingestion handler", f"{r.name}: events per CPU-second (p99 {r.pct(0.99):.0f} ms per batch)",
               r.cpu_rate, "events/s", size=size, baseline=base.name, baseline_value=base.cpu_rate)


def main() -> None:
    logging.getLogger(SERVICE).setLevel(logging.WARNING)  # the function's per-request INFO lines
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40, help="500-event batches per scenario")
    args = parser.parse_args()
    os.environ.pop("AWS_ENDPOINT_URL", None)
    batches = make_batches(args.batches)
    bodies = [body_of(b) for b in batches]
    print(f"{args.batches} batches x {BATCH} events, gzip bodies of {statistics.mean(map(len, bodies)) / 1024:.0f}"
          f" KiB ({statistics.mean(len(json.dumps({'batch': b})) for b in batches) / 1024:.0f} KiB of JSON)")
    with tempfile.TemporaryDirectory() as home:
        local = Settings(stage="bench", home=Path(home))
        handler = stub_handler(local)
        # the machine is shared: alternate the two CPU-bound scenarios and keep each one's best round
        rounds = [(baseline(batches), in_process("handler, stubbed sinks", handler, local, bodies, "k"))
                  for _ in range(3)]
        results = [max((r[0] for r in rounds), key=lambda r: r.cpu_rate),
                   max((r[1] for r in rounds), key=lambda r: r.cpu_rate)]
        with LocalGateway(local, handler_factory=lambda: stub_handler(local), concurrency=1) as gateway:
            results.append(over_http("gateway (HTTP), stubbed sinks", gateway, bodies, "k"))
        with EmbeddedAws(log_path=Path(home) / "moto.log"):
            probe = Settings(stage="bench", home=Path(home))
            settings = Settings(stage="bench", home=Path(home), lake_root=f"s3://{probe.names.lake_bucket}")
            provision(settings)
            key = WriteKeyStore(settings.names.write_keys_table, settings.region).create("bench").key
            results.append(in_process("handler, sinks on moto", create_handler(settings, emit_metrics=False),
                                      settings, bodies, key))
            with LocalGateway(settings, concurrency=1) as gateway:
                results.append(over_http("gateway (HTTP), sinks on moto", gateway, bodies, key))
    report(results)


if __name__ == "__main__":
    main()
