"""Feature items: DynamoDB write units per put, and puts per event, on the generator's workload.

The cost model's ``ddb_item_writes_per_event`` and ``ddb_write_units_per_item`` (infra/cost.py) come from here.
The generator's events are applied in micro-batches of ``--batch`` events with the stream's pure functions (dedup
in the batch, one delta per customer, merge, derive: what the keyed state does, without identity links); every
changed customer's item is sized by DynamoDB's rules (DynamoDB Developer Guide, "Item sizes and formats": names
and string values in UTF-8 bytes, a number 1 byte per two significant digits plus 1, a map or list 3 bytes plus
1 per element) and a put costs one write unit per started KB. Printed beside the item as stored, two variants
measured in the same run: the state zlib-compressed into one binary attribute, and the features alone.

    python bench/bench_items.py [--customers 2000] [--days 180] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
import zlib
from decimal import Decimal
from typing import Any

from bench_stream import raw_payloads, workload  # the same workload: bench/ is on the path as a script's folder
from boto3.dynamodb.types import TypeSerializer
from report import record

from stream.features import FeatureConfig, customer_deltas, dedup_within, derive, merge
from stream.items import FEATURES, STATE, features_map, state_map
from stream.records import RawStreamRecord, StreamEvent, parse_record
from stream.rfm import DEFAULT_BREAKPOINTS

_serialize = TypeSerializer().serialize


def value_bytes(value: dict[str, Any]) -> int:
    """Bytes of one DynamoDB-JSON value by the Developer Guide's rules ("Item sizes and formats")."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = len(Decimal(inner).normalize().as_tuple().digits)  # significant digits, exponent form or not
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_bytes(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(value_bytes(v) + 1 for v in inner)
    raise ValueError(f"unsized DynamoDB type {kind}")


def item_bytes(item: dict[str, dict[str, Any]]) -> int:
    """Bytes of an item: each attribute's name plus its value."""
    return sum(len(name.encode()) + value_bytes(value) for name, value in item.items())


def write_units(item: dict[str, dict[str, Any]]) -> int:
    """Standard write units of one put of ``item``: one per started KB."""
    return max(1, math.ceil(item_bytes(item) / 1024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--batch", type=int, default=1000, help="events per micro-batch")
    args = parser.parse_args()
    started = time.perf_counter()
    payloads = raw_payloads(workload(args.customers, args.days))
    config, states = FeatureConfig(), {}
    sizes: dict[str, list[int]] = {"as stored": [], "state compressed": [], "features alone": []}
    units: dict[str, list[int]] = {name: [] for name in sizes}
    records = [RawStreamRecord(p, "shardId-0", str(i + 1)) for i, p in enumerate(payloads)]
    for first in range(0, len(records), args.batch):
        events = [e for e in map(parse_record, records[first:first + args.batch]) if isinstance(e, StreamEvent)]
        unique, _ = dedup_within(events)
        for customer_id, delta in customer_deltas(unique).items():
            states[customer_id] = state = merge(states.get(customer_id), delta, config)
            base = {"customer_id": _serialize(customer_id), "last_batch": _serialize("0123456789abcdef/0000001234"),
                    "updated_at": _serialize("2026-12-01T22:00:00.000000Z"),
                    FEATURES: _serialize(features_map(derive(state, DEFAULT_BREAKPOINTS, config)))}
            stored = state_map(state)
            packed = zlib.compress(json.dumps(stored, separators=(",", ":"), default=str).encode(), 6)
            for name, item in (("as stored", {**base, STATE: _serialize(stored)}),
                               ("state compressed", {**base, "state_z": {"B": packed}}),
                               ("features alone", base)):
                sizes[name].append(item_bytes(item))
                units[name].append(write_units(item))
    puts = len(units["as stored"])
    print(f"feature items: {len(payloads):,} events of {args.customers:,} customers over {args.days} days, "
          f"micro-batches of {args.batch:,} events: {puts:,} puts = {puts / len(payloads):.3f} per event "
          f"({time.perf_counter() - started:.0f} s)")
    for name in sizes:
        ordered = sorted(sizes[name])
        print(f"  {name:<18} {statistics.mean(units[name]):.3f} write units per put   bytes p50 "
              f"{ordered[len(ordered) // 2]:,}  p95 {ordered[int(0.95 * len(ordered))]:,}  max {ordered[-1]:,}")
    size = f"{len(payloads):,} events, micro-batches of {args.batch:,}"
    record("feature items", "DynamoDB puts per event", puts / len(payloads), "puts", size=size)
    record("feature items", "write units per put, item as stored", statistics.mean(units["as stored"]), "WCU",
           size=size, baseline="the features alone", baseline_value=statistics.mean(units["features alone"]))


if __name__ == "__main__":
    main()
