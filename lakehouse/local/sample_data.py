"""Land Segment-style calls in the raw zone exactly as the ingestion API does (tests, demos, benchmarks).

Each call is validated with ``parse_event``, turned into the canonical record with ``to_record``, and
written as gzip JSON lines to ``raw/source=<source>/dt=…/hour=…/<uuid>.jsonl.gz`` by arrival time; then a
landing-log record names the objects written (``raw/_landed/…``, :mod:`lakehouse.core.lake.raw`), which is how
the batch job finds them. This skips the API and the stream: the raw archive lands what the API accepts.
Calls come from the data generator (:func:`lakehouse.local.generator.generate`) or from a caller's list.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lakehouse.core.config import Settings
from lakehouse.core.contract import parse_event, parse_iso, to_record
from lakehouse.core.lake.raw import encode_lines, land_objects, raw_object_key
from lakehouse.core.lake.storage import LakeStorage


@dataclass(frozen=True)
class Arrival:
    """When a call reaches the API: a few seconds after its timestamp, or days later for a late share."""

    delay_seconds: float = 2.0
    late_share: float = 0.0  # share of calls that arrive late (offline devices, replays)
    late_days: int = 2
    hours_per_object: int = 6  # calls arriving within this many hours share one raw object

    def received_at(self, call: dict[str, Any]) -> datetime:
        """When ``call`` arrives: its timestamp + ``delay_seconds``, + ``late_days`` for the late share
        (which calls are late is deterministic)."""
        moment = parse_iso(call["timestamp"]) + timedelta(seconds=self.delay_seconds)
        if self.late_share and _fraction(call) < self.late_share:
            moment += timedelta(days=self.late_days)
        return moment


def _fraction(call: dict[str, Any]) -> float:
    """A deterministic number in [0, 1) per call (same call, same number)."""
    key = str(call.get("messageId") or json.dumps(call, sort_keys=True))
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 2**32


def read_calls(directory: Path) -> Iterator[dict[str, Any]]:
    """Every call of the generator's ``events-*.jsonl.gz`` chunks, in file order."""
    for path in sorted(Path(directory).glob("events-*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)


def records_by_object(calls: Iterable[dict[str, Any]], source: str, arrival: Arrival) -> dict[datetime, list[dict]]:
    """Canonical records grouped by the arrival slot (object) they land in."""
    slots: dict[datetime, list[dict]] = defaultdict(list)
    for call in calls:
        received = arrival.received_at(call)
        record = to_record(parse_event(call), call, source=source, received_at=received)
        slot = received.replace(minute=0, second=0, microsecond=0)
        slot = slot.replace(hour=slot.hour - slot.hour % arrival.hours_per_object)
        slots[slot].append(record)
    return slots


def land_calls(settings: Settings, calls: Iterable[dict[str, Any]], *, source: str = "web",
               arrival: Arrival | None = None, chunk: int = 200_000) -> list[str]:
    """Validate, convert and write ``calls`` to the raw zone; returns the raw object keys written.

    Calls are handled ``chunk`` at a time, so any number of them lands in bounded memory; each chunk's objects
    get one landing-log record (writer ``sample-data``) once they are stored.
    """
    storage = LakeStorage(settings.lake, region=settings.region)
    keys: list[str] = []
    written: list[str] = []
    iterator = iter(calls)
    while batch := list(itertools.islice(iterator, chunk)):
        for slot, records in sorted(records_by_object(batch, source, arrival or Arrival()).items()):
            key = raw_object_key(source, slot)
            storage.put_bytes(key, encode_lines(records), content_type="application/x-ndjson",
                              content_encoding="gzip")
            written.append(key)
        land_objects(storage, written, "sample-data")
        keys += written
        written = []
    return keys


def land_lines(settings: Settings, lines: Iterable[str], *, source: str, received_at: datetime) -> str:
    """Write raw text lines as they are (another writer's output, possibly malformed) as one raw object, and its
    landing-log record."""
    storage = LakeStorage(settings.lake, region=settings.region)
    body = gzip.compress("".join(line.rstrip("\n") + "\n" for line in lines).encode(), mtime=0)
    key = raw_object_key(source, received_at)
    storage.put_bytes(key, body, content_type="application/x-ndjson", content_encoding="gzip")
    land_objects(storage, [key], "sample-data")
    return key


def generate_calls(work_dir: Path, **config: Any) -> list[dict[str, Any]]:
    """Calls from the data generator (``config`` are :class:`GeneratorConfig` fields)."""
    return list(generated_calls(work_dir, **config))


def generated_calls(work_dir: Path, **config: Any) -> Iterator[dict[str, Any]]:
    """Run the data generator into ``work_dir`` and stream its calls (bounded memory)."""
    from lakehouse.local.generator import GeneratorConfig, generate

    generate(GeneratorConfig(**config), Path(work_dir))
    return read_calls(Path(work_dir))
