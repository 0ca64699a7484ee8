"""The local ingestion API under concurrent load from another process, and every acknowledged event found once on
the stream, in the raw zone and in the curated zone.

`lakehouse serve` (the API Gateway stand-in with the real Lambda handler, ``--concurrency`` function instances) runs
in a process of its own against the embedded emulator; this process is the clients
(:mod:`lakehouse.local.load`): one client for the baseline, then ``--clients`` at once, each posting gzip
``/v1/batch`` bodies of ``--events-per-request`` calls back to back, no retries. Printed per run: requests and
events per second, error rate by status, latency p50/p99 per request, and the end-to-end check: acknowledged
events missing from, or twice in, the stream, then the raw zone after `lakehouse archive --once`, then the curated
``events`` table after `lakehouse batch --step curated` (each in a process of its own). Both runs share the two
cores with the server and the emulator.

    python bench/bench_load.py [--clients 50] [--seconds 60] [--events-per-request 10] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import record

from lakehouse.core.config import Settings
from lakehouse.core.write_keys import WriteKeyStore
from lakehouse.local.aws.embedded import export_endpoint, start_detached, stop_detached
from lakehouse.local.aws.provision import provision
from lakehouse.local.load import (
    LoadResult,
    curated_event_ids,
    raw_event_ids,
    run_clients,
    stream_event_ids,
    verify,
)


def serve(home: Path, concurrency: int) -> tuple[subprocess.Popen[str], str]:
    """`lakehouse serve --port 0` in its own process; returns it and the URL it printed."""
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "lakehouse.local.cli.main", "serve", "--port", "0",
                             "--concurrency", str(concurrency)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline()  # "ingestion API on http://127.0.0.1:<port> (stage …"
    if "http://" not in line:
        proc.kill()
        raise SystemExit(f"lakehouse serve did not start: {line!r}")
    return proc, line[line.index("http://"):].split()[0]


def lakehouse(home: Path, *args: str) -> None:
    """``lakehouse ARGS`` in a process of its own on ``home`` (the emulator this run started); raises SystemExit
    with its error when it fails."""
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "lakehouse.local.cli.main", *args], env=env, text=True,
                          capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"lakehouse {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")


def row(label: str, result: LoadResult, lost: int, duplicated: int) -> str:
    errors = ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(result.statuses.items())
                       if status != 200) or "none"
    return (f"| {label} | {result.clients} | {result.requests:,} | {result.requests_per_second:,.0f} | "
            f"{result.events_per_second:,.0f} | {result.error_rate:.2%} ({errors}) | {result.latency_ms(0.5):,.0f} | "
            f"{result.latency_ms(0.99):,.0f} | {len(result.acknowledged):,} | {lost} | {duplicated} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--baseline-seconds", type=float, default=10.0, help="the one-client run")
    parser.add_argument("--events-per-request", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4, help="function instances of `lakehouse serve`")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-load-"))
    settings = Settings(home=home)
    server = None
    try:
        state, _ = start_detached(settings.run_dir, 0)
        export_endpoint(state.endpoint, settings.region)
        provision(settings)
        key = WriteKeyStore(settings.names.write_keys_table, settings.region).create("bench-load").key
        server, url = serve(home, args.concurrency)
        print(f"lakehouse serve at {url}, {args.concurrency} function instances; emulator {state.endpoint}; "
              f"{args.events_per_request} events a request, no client retries", flush=True)
        runs = [("baseline: one client", 1, args.baseline_seconds),
                (f"{args.clients} clients", args.clients, args.seconds)]
        lines, acknowledged, results = [], [], []
        for label, clients, seconds in runs:
            result = run_clients(url, key, clients=clients, seconds=seconds,
                                 events_per_request=args.events_per_request)
            acknowledged += result.acknowledged
            results.append(result)
            started = time.perf_counter()
            checked = verify(result.acknowledged, stream_event_ids(settings))
            lines.append(row(label, result, len(checked.lost), len(checked.duplicated)))
            print(f"{label}: {result.requests:,} requests in {result.seconds:.1f} s; stream read and checked in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
        whole = verify(acknowledged, stream_event_ids(settings))
        # on through the pipeline: the raw archive lands the stream in the raw zone, the batch curates it
        stages = {"stream": whole}
        for stage, command, ids in (("raw zone", ["archive", "--once"], raw_event_ids),
                                    ("curated", ["batch", "--step", "curated", "--no-catalog"], curated_event_ids)):
            started = time.perf_counter()
            lakehouse(home, *command)
            stages[stage] = verify(acknowledged, ids(settings))
            print(f"{stage}: `lakehouse {' '.join(command)}` and the check in {time.perf_counter() - started:.1f} s",
                  flush=True)
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # the figures stand; say that the server was slow to stop
                print("lakehouse serve did not stop within 30 s of SIGINT: killed", flush=True)
                server.kill()
                server.wait()
        stop_detached(settings.run_dir)
        shutil.rmtree(home, ignore_errors=True)
    print()
    print("| run | clients | requests | requests/s | events/s acknowledged | errors | p50 ms | p99 ms | "
          "events acknowledged | lost | duplicated |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for line in lines:
        print(line)
    print(f"\nend to end: {whole.acknowledged:,} events acknowledged; " + "; ".join(
        f"{stage}: {found.on_stream:,} held, {len(found.lost)} lost, {len(found.duplicated)} twice"
        for stage, found in stages.items()))
    lost = sum(len(found.lost) for found in stages.values())
    twice = sum(len(found.duplicated) for found in stages.values())
    base, loaded = results
    size = f"{args.clients} clients x {args.seconds:.0f} s, {args.events_per_request} events a request"
    record("ingestion API under load", "acknowledged events/s", loaded.events_per_second, "events/s", size=size,
           baseline="one client", baseline_value=base.events_per_second,
           note=f"{loaded.error_rate:.2%} errors; stream, raw zone, curated: {lost} lost, {twice} twice")
    record("ingestion API under load", "p99 latency per request", loaded.latency_ms(0.99), "ms", size=size,
           baseline="one client", baseline_value=base.latency_ms(0.99))
    if lost or twice:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
