"""Real-time features: sustained throughput through moto, and freshness from the API to DynamoDB.

Workload: the data generator's events (2,000 customers, 30 simulated days, in time order), as the
ingestion API turns them into raw records.

Throughput (the same records everywhere, figures as a ratio of the baseline measured in this run):

  baseline          the pure micro-batch functions: parse, dedup, per-customer deltas, merge, derive (no I/O)
  keyed, no Spark   the query's stages in one Python loop: route, each key's step (state as JSON, as in the state
                    store), its item, written with BatchWriteItem to moto (stream/stateful.py, stream/state.py)
  job on moto       the whole job: Kinesis (moto) -> Spark (Python source, AvailableNow) -> DynamoDB (moto)

Freshness: the real ingestion API (local gateway -> ingest handler -> Kinesis on moto) is fed at a stated
rate while the job runs with a 0.5 s trigger; for every event, "API accepted it" (its received_at) ->
"its customer's item written" is measured by the job, and an independent probe posts one order per
second for a new customer and polls DynamoDB (consistent reads) until the item is there.

Context printed with the figures: the machine's load average and the cost of one moto request (GetItem),
because every request goes to a single moto process.

    python bench/bench_stream.py [--rates 250,1000] [--seconds 20] [--customers 2000] [--throughput-events 10000]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from report import record

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from lakehouse.core.contract import parse_event, to_record
from lakehouse.core.contract.record import dumps_record
from lakehouse.core.write_keys import WriteKeyStore
from lakehouse.local.aws.embedded import EmbeddedAws
from lakehouse.local.aws.provision import provision
from lakehouse.local.generator import GeneratorConfig, generate
from lakehouse.local.replay import api_is_up
from stream.features import FeatureConfig, customer_deltas, dedup_within, derive, merge
from stream.items import features_map, state_map
from stream.job import run_stream
from stream.records import RawStreamRecord, StreamEvent, parse_record
from stream.rfm import DEFAULT_BREAKPOINTS

TRIGGER_SECONDS = 0.5
SEND_TICK = 0.1  # one API batch per tick
SENDERS = 3  # threads posting (alternate ticks)


@dataclass
class Throughput:
    """One throughput scenario: events applied in ``seconds`` (wall clock)."""

    name: str
    events: int
    seconds: float
    note: str = ""

    @property
    def rate(self) -> float:
        """Events per second (0 for an empty run)."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def workload(customers: int, days: int, seed: int = 11) -> list[dict]:
    """Segment calls from the generator, in time order."""
    with tempfile.TemporaryDirectory() as folder:
        report = generate(GeneratorConfig(seed=seed, customers=customers, start=date(2025, 1, 1), days=days),
                          Path(folder))
        calls = []
        for chunk in report.files:
            with gzip.open(Path(folder) / chunk.name, "rt", encoding="utf-8") as handle:
                calls.extend(json.loads(line) for line in handle if line.strip())
    return calls


def raw_payloads(calls: list[dict]) -> list[bytes]:
    received = datetime.now(UTC)
    return [dumps_record(to_record(parse_event(c), c, source="bench", received_at=received)).encode()
            for c in calls]


def put(settings: Settings, payloads: list[bytes]) -> None:
    kinesis = aws_client("kinesis", region=settings.region)
    for start in range(0, len(payloads), 500):
        chunk = payloads[start:start + 500]
        pending = [{"Data": p, "PartitionKey": json.loads(p)["customer_id"]} for p in chunk]
        while pending:
            answer = kinesis.put_records(StreamName=settings.names.stream, Records=pending)
            pending = [e for e, r in zip(pending, answer["Records"], strict=True) if "ErrorCode" in r]


def fresh_settings(home: Path, stage: str) -> Settings:
    settings = Settings(stage=stage, home=home / stage)
    provision(settings)
    return settings


# --- throughput ---------------------------------------------------------------------------------------
def baseline(payloads: list[bytes]) -> Throughput:
    config = FeatureConfig()
    started = time.perf_counter()
    records = [RawStreamRecord(p, "shardId-0", str(i + 1)) for i, p in enumerate(payloads)]
    for first in range(0, len(records), 5_000):
        events = [e for e in map(parse_record, records[first:first + 5_000]) if isinstance(e, StreamEvent)]
        unique, _ = dedup_within(events)
        for delta in customer_deltas(unique).values():
            state = merge(None, delta, config)
            features_map(derive(state, DEFAULT_BREAKPOINTS, config))
            state_map(state)
    return Throughput("baseline: pure micro-batch functions", len(payloads), time.perf_counter() - started)


class HeldState:
    """A key's state between micro-batches, as Spark's ``GroupState`` hands it to the stepper (one JSON string)."""

    def __init__(self, value: str | None = None) -> None:
        self.value = value

    @property
    def exists(self) -> bool:
        """Whether the key has a state."""
        return self.value is not None

    @property
    def get(self) -> tuple[str]:
        """The state's row."""
        return (self.value,)

    def update(self, value: tuple[str]) -> None:
        """Keep the key's new state."""
        (self.value,) = value


def keyed_without_spark(settings: Settings, payloads: list[bytes], batch: int) -> Throughput:
    """The query's stages without Spark: routed rows, the job's ``KeyStepper.step`` per key (state through its JSON
    form), the items written with ``write_items`` (BatchWriteItem) to moto; forwards carried to the next batch."""
    from functools import partial

    from stream.state import Routed, StepConfig, event_from_dict, forward_from_json
    from stream.stateful import KeyStepper, routed_rows, settings_providers, write_items

    stepper = KeyStepper(StepConfig(FeatureConfig(retention_days=settings.stream.retention_days),
                                    dedup_window_seconds=settings.stream.dedup_ttl_hours * 3600.0),
                         partial(settings_providers, settings))
    client = aws_client("dynamodb", region=settings.region)
    states: dict[str, HeldState] = {}
    pending: list[tuple[str, str, str]] = []
    written = 0
    started = time.perf_counter()
    for index, first in enumerate(range(0, len(payloads), batch)):
        records = [RawStreamRecord(p, "shardId-0", str(first + i + 1), datetime.now(UTC))
                   for i, p in enumerate(payloads[first:first + batch])]
        by_key: dict[str, tuple[list, list]] = {}
        for key, kind, payload in routed_rows(records, settings.event_time) + pending:
            routed, forwards = by_key.setdefault(key, ([], []))
            if kind == "event":
                routed.append(Routed(event_from_dict(json.loads(payload))))
            elif kind == "forward":
                forwards.append(forward_from_json(payload))
        rows = []
        for key, (routed, forwards) in sorted(by_key.items()):
            rows.extend(stepper.step(key, routed, forwards, states.setdefault(key, HeldState())))
        pending = [row for row in rows if row[1] == "forward"]
        written += write_items([row for row in rows if row[1] == "item"], settings.names.features_table,
                               f"bench/{index}", client).written
    seconds = time.perf_counter() - started
    return Throughput("keyed state + BatchWriteItem on moto (no Spark)", len(payloads), seconds,
                      f"{written:,} customer items written, {written / seconds:,.0f}/s")


def job(spark, settings: Settings, payloads: list[bytes], batch: int) -> Throughput:
    put(settings, payloads)
    report = run_stream(settings, spark, once=True, max_records=batch)
    assert report.records == len(payloads), (report.records, len(payloads))
    return Throughput("job on moto (Kinesis -> Spark -> DynamoDB)", report.records, report.seconds,
                      f"{len(report.batches)} micro-batches, p50 {report.batch_seconds_p50:.2f} s each, "
                      f"{report.customers_written:,} customer updates")


# --- freshness ----------------------------------------------------------------------------------------
class Sender:
    """Posts calls to the API at a fixed rate (one batch per tick), stamping them with the current time."""

    def __init__(self, url: str, key: str):
        parts = url.removeprefix("http://").split(":")
        self.host, self.port = parts[0], int(parts[1])
        self.headers = {"Content-Type": "application/json",
                        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
        self._local = threading.local()

    def post(self, calls: list[dict]) -> tuple[int, dict]:
        """POST ``calls`` to ``/v1/batch`` stamped with now (UTC); returns the status and the JSON answer."""
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        for call in calls:
            call["timestamp"] = now
        body = json.dumps({"batch": calls, "sentAt": now}).encode()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        conn.request("POST", "/v1/batch", body=body, headers=self.headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")


def probe(sender: Sender, settings: Settings, stop: threading.Event, samples: list[float]) -> None:
    """One order per second for a new customer; polls DynamoDB (consistent reads) until each item exists.

    Polling goes on after ``stop`` (no new probes) until every probe is seen or 120 s pass.
    """
    dynamodb = aws_client("dynamodb", region=settings.region)
    template = next(c for c in workload_cache if c.get("event") == "Order Completed")
    pending: dict[str, float] = {}
    number, next_probe, give_up = 0, time.perf_counter(), None
    while pending or give_up is None:
        now = time.perf_counter()
        if stop.is_set() and give_up is None:
            give_up = now + 120
        if give_up is not None and now > give_up:
            return
        if give_up is None and now >= next_probe:
            number += 1
            call = json.loads(json.dumps(template))
            call.update(userId=f"probe-{number}", messageId=f"probe-{number}-{time.time_ns()}")
            call.pop("anonymousId", None)
            status, _ = sender.post([call])
            if status == 200:
                pending[f"probe-{number}"] = now
            next_probe = now + 1.0
        if pending:
            keys = [{"customer_id": {"S": c}} for c in list(pending)[:100]]
            answer = dynamodb.batch_get_item(RequestItems={settings.names.features_table: {
                "Keys": keys, "ConsistentRead": True, "ProjectionExpression": "customer_id"}})
            seen = time.perf_counter()
            for item in answer["Responses"].get(settings.names.features_table, []):
                samples.append(seen - pending.pop(item["customer_id"]["S"]))
        time.sleep(0.05)


workload_cache: list[dict] = []


class ApiProcess:
    """``lakehouse serve`` in its own process (the API and the job never share a Python interpreter on AWS)."""

    def __init__(self, settings: Settings, port: int):
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
        env.update(LAKEHOUSE_HOME=str(settings.home), LAKEHOUSE_STAGE=settings.stage)
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "lakehouse.local.cli.main", "serve", "--port", str(port),
                                      "--concurrency", "4"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not api_is_up(self.url, timeout=1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the local API did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the API process (TERM, then KILL after 15 s)."""
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(15)


def freshness(spark, settings: Settings, calls: list[dict], rate: int, seconds: float) -> dict:
    store = WriteKeyStore(settings.names.write_keys_table, region=settings.region)
    key = store.create("bench").key
    per_tick = max(1, round(rate * SEND_TICK))
    batches = [calls[i:i + per_tick] for i in range(0, len(calls), per_tick)]
    results: list = []
    stop_job = threading.Event()
    outcome: dict = {}

    def run_job() -> None:
        try:
            outcome["report"] = run_stream(settings, spark, once=False, trigger_seconds=TRIGGER_SECONDS,
                                           stop=stop_job, on_progress=results.append)
        except BaseException as exc:
            outcome["error"] = exc

    api = ApiProcess(settings, free_port())
    try:
        sender = Sender(api.url, key)
        runner = threading.Thread(target=run_job, daemon=True)
        runner.start()
        sender.post([dict(c) for c in batches[0]])  # warm-up: the first micro-batch starts Spark work
        deadline = time.monotonic() + 180
        while not results and time.monotonic() < deadline and runner.is_alive():
            time.sleep(0.2)
        results.clear()
        accepted = 0
        ticks = int(seconds / SEND_TICK)
        stop_probe = threading.Event()
        probes: list[float] = []
        prober = threading.Thread(target=probe, args=(sender, settings, stop_probe, probes), daemon=True)
        prober.start()
        lock = threading.Lock()
        started = time.perf_counter()

        def send(offset: int) -> None:
            nonlocal accepted
            for tick in range(offset, ticks, SENDERS):
                delay = started + tick * SEND_TICK - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                _, answer = sender.post([dict(c) for c in batches[1 + tick % (len(batches) - 1)]])
                with lock:
                    accepted += int(answer.get("accepted", 0))

        senders = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(SENDERS)]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        sending = time.perf_counter() - started
        stop_probe.set()
        prober.join(150)
        deadline = time.monotonic() + 120
        expected = accepted + len(probes)
        while sum(r.events + r.duplicates for r in results) < expected and time.monotonic() < deadline \
                and runner.is_alive():
            time.sleep(0.2)
        stop_job.set()
        runner.join(60)
    finally:
        api.stop()
    if "error" in outcome:
        raise outcome["error"]
    fresh = [f for r in results for f in r.freshness_ms]
    busy = [r for r in results if r.records]
    sent = [c for b in batches[1:ticks + 1] for c in b]
    windows = [sent[i:i + rate] for i in range(0, max(1, len(sent) - rate + 1), rate)]
    demand = statistics.mean(len({c.get("userId") or c.get("anonymousId") for c in w}) for w in windows)
    return {"rate": rate, "demand": demand, "sent_rate": accepted / sending, "events": sum(r.events for r in results),
            "batches": len(busy), "fresh_p50": pct(fresh, 0.5) / 1000, "fresh_p95": pct(fresh, 0.95) / 1000,
            "probe_p50": pct(probes, 0.5), "probe_p95": pct(probes, 0.95), "probes": len(probes),
            "batch_p50": pct([r.seconds for r in busy], 0.5), "batch_p95": pct([r.seconds for r in busy], 0.95),
            "customers_per_batch": statistics.mean([r.customers for r in busy] or [0]),
            "updates_per_second": sum(r.written for r in busy) / max(1e-9, sum(r.seconds for r in busy)),
            "max_lag": max((r.lag_ms or 0) for r in results) / 1000 if results else float("nan")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="250,1000", help="events/s posted to the API (freshness), comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to post at each rate")
    parser.add_argument("--customers", type=int, default=2000, help="customers in the generated workload")
    parser.add_argument("--throughput-events", type=int, default=10_000, help="records for the throughput part")
    parser.add_argument("--batch", type=int, default=5_000, help="records per micro-batch (throughput)")
    args = parser.parse_args()
    logging.getLogger("ingest").setLevel(logging.WARNING)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    calls = workload(args.customers, 30)
    workload_cache.extend(calls)
    payloads = raw_payloads(calls)[:args.throughput_events]
    print(f"workload: {len(calls):,} events of {args.customers:,} customers (generator, 30 days), "
          f"{sum(map(len, payloads)) / len(payloads):,.0f} bytes per record; load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with EmbeddedAws() as _aws, tempfile.TemporaryDirectory() as folder:
        from lakehouse.core.spark import local_spark

        spark = local_spark("bench-stream")
        spark.sparkContext.setLogLevel("ERROR")
        home = Path(folder)
        print(f"moto request cost (GetItem, one thread): {moto_request_ms(fresh_settings(home, 'bping')):.1f} ms")
        results = [baseline(payloads)]
        results.append(keyed_without_spark(fresh_settings(home, "bkeyed"), payloads, args.batch))
        warm = fresh_settings(home, "bwarm")  # the first query of a process pays Python-worker start-up
        put(warm, payloads[:10])
        run_stream(warm, spark, once=True)
        results.append(job(spark, fresh_settings(home, "bjob"), payloads, args.batch))
        base = results[0]
        print(f"\n{'throughput':<46}{'events/s':>10}{'x base':>9}  notes")
        for r in results:
            print(f"{r.name:<46}{r.rate:>10,.0f}{r.rate / base.rate:>9.3f}  {r.note}")
        rates = [int(r) for r in args.rates.split(",") if r.strip()]
        measured = [freshness(spark, fresh_settings(home, f"bfresh{rate}"), calls, rate, args.seconds)
                    for rate in rates]
    print(f"\nfreshness: {args.customers:,} customers, {args.seconds:.0f} s at each rate, trigger {TRIGGER_SECONDS} s")
    print(f"{'asked/s':>8}{'accepted/s':>11}{'fresh p50':>10}{'fresh p95':>10}{'probe p50':>10}{'probe p95':>10}"
          f"{'batch p50':>10}{'batch p95':>10}{'cust/batch':>11}{'updates/s':>10}{'cust/s in':>10}{'max lag':>9}")
    for f in measured:
        print(f"{f['rate']:>8,}{f['sent_rate']:>11,.0f}{f['fresh_p50']:>9.2f}s{f['fresh_p95']:>9.2f}s"
              f"{f['probe_p50']:>9.2f}s{f['probe_p95']:>9.2f}s{f['batch_p50']:>9.2f}s{f['batch_p95']:>9.2f}s"
              f"{f['customers_per_batch']:>11,.0f}{f['updates_per_second']:>10,.0f}{f['demand']:>10,.0f}"
              f"{f['max_lag']:>8.1f}s")
    print("fresh: API accepted (received_at) -> the customer's item written, every event; probe: POST of one order "
          "for a new customer -> a consistent read sees it (one per second); updates/s: customer items the job wrote "
          "per second of micro-batch; cust/s in: distinct customers per second in the events posted")
    for f in measured:
        verdict = "meets" if f["fresh_p95"] <= 5.0 else "misses"
        print(f"p95 freshness {verdict} the 5 s aim at {f['sent_rate']:,.0f} events/s")
    size = f"{len(payloads):,} records, micro-batches of {args.batch:,}"
    for r in results[1:]:
        record("stream job", f"{r.name}, events/s", r.rate, "events/s", size=size, baseline=base.name,
               baseline_value=base.rate)
    for f in measured:
        record("stream job", f"freshness p95 at {f['sent_rate']:,.0f} events/s (API accepted -> item written)",
               f["fresh_p95"], "s", size=f"{args.customers:,} customers, {args.seconds:.0f} s",
               baseline="the 5 s aim", baseline_value=5.0)


def moto_request_ms(settings: Settings, calls: int = 100) -> float:
    dynamodb = aws_client("dynamodb", region=settings.region)
    started = time.perf_counter()
    for i in range(calls):
        dynamodb.get_item(TableName=settings.names.features_table, Key={"customer_id": {"S": f"x{i}"}})
    return (time.perf_counter() - started) / calls * 1000


if __name__ == "__main__":
    main()
