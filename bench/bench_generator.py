"""Generator throughput and size, against a same-run serialisation floor.

    python bench/bench_generator.py [--events N] [--days D] [--gzip-level L] [--spec-scale S] [--keep DIR]

1. ``generate`` about N events (customers sized from a calibrated events-per-customer rate) into a
   temporary directory; report events/s (wall clock and CPU time) and bytes/event (gzip and raw).
2. Baseline, same run: the serialisation floor. Read back up to 300,000 of the generated calls as
   dicts, then time only ``orjson.dumps`` + gzip (same level) of those ready-made dicts.
   The ratio generator/floor says how much the simulation and the building of the calls cost on
   top of writing the bytes.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from itertools import islice
from pathlib import Path

import orjson
from report import record

from lakehouse.local.generator import GeneratorConfig, customers_for_events, generate
from lakehouse.local.generator.signal import read_events

FLOOR_SAMPLE = 300_000


def serialisation_floor(calls: list[dict], level: int) -> tuple[float, float]:
    """(events/s wall, events/s CPU) of orjson.dumps + gzip for already-built calls."""
    sink = io.BytesIO()
    wall, cpu = time.perf_counter(), time.process_time()
    with gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=level, mtime=0) as gz:
        dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        for lo in range(0, len(calls), 16_384):
            buffer = bytearray()
            for call in calls[lo:lo + 16_384]:
                buffer += dumps(call, option=newline)
            gz.write(buffer)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(calls) / wall, len(calls) / cpu


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="about this many events (default 1,000,000)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--gzip-level", type=int, default=GeneratorConfig().gzip_level)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--spec-scale", type=float, default=GeneratorConfig().spec_scale,
                        help="x the rates of the Segment spec variety (0: off)")
    parser.add_argument("--keep", type=Path, default=None, help="write the data set here instead of a temp dir")
    args = parser.parse_args(argv)

    config = GeneratorConfig(seed=args.seed, days=args.days, gzip_level=args.gzip_level, spec_scale=args.spec_scale)
    config = replace(config, customers=customers_for_events(args.events, config))
    with tempfile.TemporaryDirectory(prefix="bench-generator-") as tmp:
        out = args.keep or Path(tmp)
        cpu = time.process_time()
        report = generate(config, out)
        cpu = time.process_time() - cpu
        calls = list(islice(read_events(out), FLOOR_SAMPLE))
        floor_wall, floor_cpu = serialisation_floor(calls, config.gzip_level)

    result = {
        "events": report.total_events,
        "customers": config.customers,
        "days": config.days,
        "gzip_level": config.gzip_level,
        "spec_scale": config.spec_scale,
        "seconds": round(report.elapsed_s, 2),
        "cpu_seconds": round(cpu, 2),
        "events_per_s": round(report.events_per_second),
        "events_per_cpu_s": round(report.total_events / cpu),
        "bytes_per_event_gzip": round(report.bytes_per_event, 1),
        "bytes_per_event_raw": round(report.uncompressed_bytes_per_event, 1),
        "floor_events_per_s": round(floor_wall),
        "floor_events_per_cpu_s": round(floor_cpu),
        "ratio_to_floor_cpu": round((report.total_events / cpu) / floor_cpu, 3),
        "cpus": os.cpu_count(),
    }
    print(f"generator : {result['events']:,} events ({config.customers:,} customers x {config.days} days)"
          f" in {result['seconds']} s wall / {result['cpu_seconds']} s CPU")
    print(f"            {result['events_per_s']:,} events/s wall, {result['events_per_cpu_s']:,} events/s CPU")
    print(f"size      : {result['bytes_per_event_gzip']} bytes/event gzip (level {config.gzip_level}),"
          f" {result['bytes_per_event_raw']} bytes/event uncompressed")
    print(f"floor     : orjson.dumps + gzip of {len(calls):,} ready-made calls:"
          f" {result['floor_events_per_s']:,} events/s wall, {result['floor_events_per_cpu_s']:,} events/s CPU")
    print(f"ratio     : generator / floor (CPU) = {result['ratio_to_floor_cpu']}")
    print(json.dumps(result))
    size = f"{result['events']:,} events"
    record("generator", "events per CPU-second", result["events_per_cpu_s"], "events/s", size=size,
           baseline="orjson.dumps + gzip of ready-made calls", baseline_value=result["floor_events_per_cpu_s"])
    record("generator", "gzip bytes per event", result["bytes_per_event_gzip"], "bytes", size=size,
           baseline="uncompressed", baseline_value=result["bytes_per_event_raw"])
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
