"""The real CDNOW purchase log (shipped inside the ``lifetimes`` package) replayed as Order Completed calls.

Mapping (documented in docs/data-generator.md):

* one call per line of ``CDNOW_master.txt`` (customer_id, date YYYYMMDD, number_of_cds, dollar_value);
* ``userId`` = ``cdnow-<customer_id>`` (the file's 5-digit id), ``properties.order_id`` = ``cdnow-o<line>``
  (1-based data line), ``messageId`` = UUID-5 of the line number and its text;
* ``timestamp`` = 12:00:00 UTC of the purchase date (noon keeps the calendar date in every time zone
  from UTC-12 to UTC+11), plus k seconds for a customer's k-th purchase on the same date;
* ``total`` = dollar_value, currency USD, one line item (category ``music``, product ``cdnow-cd``,
  quantity = number_of_cds, unit_price = dollar_value / number_of_cds rounded to 4 decimals, so
  round(quantity * unit_price, 2) == total);
* zero dollar values (80 lines) are kept as free orders (total 0.0 is valid); a zero or missing quantity
  (none in the file) would become quantity 1 with unit_price = dollar_value.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from lakehouse.local.generator.report import MANIFEST, GenerationReport
from lakehouse.local.generator.writer import ChunkWriter

CDNOW_FILE = "CDNOW_master.txt"
CDNOW_ORDERS = 69_659
CDNOW_CUSTOMERS = 23_570
NAMESPACE = uuid.UUID("6f1c3a52-2f4e-4c1b-9a57-0c9d5c0b7d11")
CONTEXT = {"library": {"name": "lakehouse-cdnow", "version": "1"}, "channel": "web"}
BATCH = 16_384


@dataclass(frozen=True)
class Purchase:
    """One line of the CDNOW log."""

    line: int  # 1-based data line (the header is line 0)
    customer: str
    day: date
    cds: int
    dollars: float
    text: str


def cdnow_text() -> str:
    """The CDNOW master file, read from the installed ``lifetimes`` package (no network).

    The package is located with importlib but not imported (importing lifetimes costs ~1.7 s).
    """
    spec = importlib.util.find_spec("lifetimes")
    if spec is None:
        raise FileNotFoundError("the lifetimes package is not installed; it ships the CDNOW data set")
    reader = spec.loader.get_resource_reader(spec.name) if spec.loader else None  # type: ignore[attr-defined]
    root = reader.files() if reader is not None else importlib.resources.files("lifetimes")
    return root.joinpath("datasets", CDNOW_FILE).read_text(encoding="ascii")


def parse_cdnow(text: str) -> list[Purchase]:
    """Every data line of the log, in file order."""
    purchases = []
    lines = text.splitlines()
    for number, raw in enumerate(lines[1:], start=1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) != 4:
            raise ValueError(f"{CDNOW_FILE} line {number + 1}: expected 4 fields, got {raw!r}")
        customer, day, cds, dollars = fields
        purchases.append(Purchase(number, customer, date(int(day[:4]), int(day[4:6]), int(day[6:])),
                                  int(cds), float(dollars), raw.strip()))
    return purchases


def cdnow_event(p: Purchase, same_day_rank: int) -> dict[str, Any]:
    """The Order Completed call of one purchase (``same_day_rank``: k-th purchase of that customer that day)."""
    quantity = p.cds if p.cds >= 1 else 1
    unit_price = round(p.dollars / quantity, 4)
    stamp = f"{p.day.isoformat()}T12:00:{same_day_rank:02d}.000Z"
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": str(uuid.uuid5(NAMESPACE, f"cdnow:{p.line}:{p.text}")),
        "userId": f"cdnow-{p.customer}",
        "timestamp": stamp,
        "properties": {
            "order_id": f"cdnow-o{p.line:05d}",
            "total": p.dollars,
            "currency": "USD",
            "products": [{"product_id": "cdnow-cd", "category": "music", "quantity": quantity,
                          "unit_price": unit_price}],
        },
        "context": CONTEXT,
    }


def cdnow_events(purchases: list[Purchase]) -> Iterator[dict[str, Any]]:
    """Calls in timestamp order: by date, then same-day rank, then customer and line."""
    rank: dict[tuple[str, date], int] = {}
    keyed = []
    for p in purchases:
        k = rank.get((p.customer, p.day), 0)
        if k > 59:
            raise ValueError(f"customer {p.customer} has more than 60 purchases on {p.day}")
        rank[(p.customer, p.day)] = k + 1
        keyed.append(((p.day, k, p.customer, p.line), p, k))
    keyed.sort(key=lambda item: item[0])
    for _, p, k in keyed:
        yield cdnow_event(p, k)


def load_cdnow(out_dir: Path, chunk_events: int = 250_000, gzip_level: int = 6,
               on_progress: Callable[[int, int], None] | None = None) -> GenerationReport:
    """Write the CDNOW orders as chunked gzip JSON lines plus ``manifest.json`` (same layout as ``generate``)."""
    if chunk_events < 1:
        raise ValueError(f"chunk_events must be at least 1 (got {chunk_events})")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    purchases = parse_cdnow(cdnow_text())
    batch: list[dict[str, Any]] = []
    first = last = None
    done = 0
    with ChunkWriter(out_dir, chunk_events, gzip_level) as writer:
        for event in cdnow_events(purchases):
            batch.append(event)
            first = first or event["timestamp"]
            last = event["timestamp"]
            if len(batch) == BATCH:
                writer.write(batch)
                done += len(batch)
                batch = []
                if on_progress:
                    on_progress(done, len(purchases))
        writer.write(batch)
    if on_progress:
        on_progress(len(purchases), len(purchases))
    report = GenerationReport(
        out_dir=out_dir, source="cdnow",
        config={"source_file": f"lifetimes/datasets/{CDNOW_FILE}", "chunk_events": chunk_events,
                "gzip_level": gzip_level},
        customers=len({p.customer for p in purchases}), counts={"Order Completed": len(purchases)},
        files=writer.files, first_timestamp=first, last_timestamp=last,
        extra={"zero_value_orders": sum(p.dollars == 0 for p in purchases)},
    )
    report.write_manifest()
    report.elapsed_s = time.perf_counter() - started
    return report
