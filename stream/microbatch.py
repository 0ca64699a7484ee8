"""One micro-batch end to end, whatever delivered it (the Python Kinesis source locally, Glue's on AWS).

``process(records, batch_id)``: parse and validate (implausible event times included) -> quarantine the
rejects -> drop duplicates within the batch -> stitch identities (read the stored links of every id, add
and store the batch's new links) -> claim the ids of counted events (drops those applied before; events
whose effect is a max or a set union need no claim) -> per-customer deltas, each event routed to its
stitched customer -> one conditional update per customer, folding in the items of ids stitched to it in
this batch, then marking those items merged. Every step is idempotent for a given (run, batch id), which is
what makes Spark's replay of an unfinished batch safe; the argument, step by step, is in docs/streaming.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from lakehouse.core.config import EventTimeSettings
from lakehouse.core.lake.storage import LakeStorage
from stream.features import CustomerDelta, customer_deltas, dedup_within, needs_claim
from stream.identity import batch_token
from stream.quarantine import write_quarantine
from stream.records import RawStreamRecord, Rejected, StreamEvent, parse_record
from stream.reference import RatesProvider
from stream.rfm import BreakpointsProvider
from stream.sink import FeatureSink
from stream.stitching import ids_of, stitch

#: the points of a micro-batch where a ``fault(step, batch_id)`` callback is called (tests crash the job there)
FAULT_STEPS = ("before-claims", "after-claims", "mid-updates", "after-updates",  # the claims design (Glue job)
               "before-writes", "after-writes", "after-forwards")  # the keyed-state job (stream/stateful.py)
#: ``fault(step, batch_id)``: called at each point of :data:`FAULT_STEPS`; the crash tests pass one that kills
#: the process. Production code passes none: nothing reads a fault from the environment.
Fault = Callable[[str, int], None]


@dataclass
class BatchResult:
    """What one micro-batch did: record and event counts, item writes, and timings.

    ``started_at`` is wall-clock epoch seconds, ``seconds`` the batch's duration; ``lag_ms`` and
    ``freshness_ms`` are milliseconds.
    """

    batch_id: int
    token: str
    records: int = 0
    events: int = 0  # valid events applied (after both dedups)
    rejected: int = 0
    duplicates: int = 0  # within the batch + applied by earlier batches
    customers: int = 0
    written: int = 0
    skipped: int = 0  # customers already written by an earlier attempt of this batch
    unchanged: int = 0  # customers whose item needed no change
    conflicts: int = 0
    links: int = 0  # identity links this batch added (identify with both ids, alias)
    identity_conflicts: int = 0  # links ignored: their source id already links to another customer
    merged: int = 0  # items of stitched ids merged into their customer's (and marked merged)
    forwarded: int = 0  # records sent to another key through the feedback source (stateful job)
    forwards_pending: bool = False  # this batch wrote records the next micro-batch must read
    quarantine_key: str | None = None
    started_at: float = 0.0  # wall clock
    seconds: float = 0.0
    lag_ms: float | None = None  # newest record's arrival on the stream -> its features written
    freshness_ms: list[float] = field(default_factory=list)  # API acceptance -> features written, per event

    @property
    def records_per_second(self) -> float:
        """Records handled per second of this batch (0 for an instant batch)."""
        return self.records / self.seconds if self.seconds > 0 else 0.0


@dataclass
class MicroBatchProcessor:
    """Runs the steps of the module docstring for one micro-batch against ``sink`` and the lake's quarantine.

    ``run`` is the checkpoint's run id (:mod:`stream.identity`); ``update_chunk`` customers are updated per
    round; ``rates`` gives the exchange rates in force (default: only the reporting currency converts);
    ``event_time`` says which event times are believable; ``fault`` is for crash tests only.
    """

    sink: FeatureSink
    storage: LakeStorage  # the lake, for quarantine
    breakpoints: BreakpointsProvider
    run: str
    stream_name: str
    update_chunk: int = 2_000  # customers per round of parallel updates
    fault: Fault | None = None
    rates: RatesProvider | None = None
    event_time: EventTimeSettings = field(default_factory=EventTimeSettings)

    def process(self, records: Sequence[RawStreamRecord], batch_id: int) -> BatchResult:
        """Parse, validate and apply ``records`` as micro-batch ``batch_id`` (safe to repeat for the same id).

        Rejected records are quarantined, never raised; ``SinkError`` (DynamoDB kept refusing) propagates
        and the batch is replayed after a restart.
        """
        return self.process_parsed([parse_record(r, self.event_time) for r in records], batch_id,
                                   records=len(records))

    def process_parsed(self, parsed: Sequence[StreamEvent | Rejected], batch_id: int,
                       records: int | None = None) -> BatchResult:
        """:meth:`process` for records already parsed (Glue's source); ``records`` overrides the count."""
        started = time.time()
        token = batch_token(self.run, batch_id)
        result = BatchResult(batch_id, token, records=len(parsed) if records is None else records,
                             started_at=started)
        rejected = [p for p in parsed if isinstance(p, Rejected)]
        events = [p for p in parsed if isinstance(p, StreamEvent)]
        result.rejected = len(rejected)
        result.quarantine_key = write_quarantine(self.storage, rejected, self.stream_name, self.run, batch_id, token)
        unique, in_batch = dedup_within(events)
        stitched = stitch(unique, self.sink.read_links(ids_of(unique)), token)
        self.sink.write_links(token, stitched.new_links)
        result.links, result.identity_conflicts = len(stitched.new_links), stitched.conflicts
        counted = [e for e in unique if needs_claim(e)]
        self._fault("before-claims", batch_id)
        claim = self.sink.claim(token, counted)
        self._fault("after-claims", batch_id)
        applied = claim.fresh + [e for e in unique if not needs_claim(e)]
        result.duplicates = in_batch + claim.duplicates
        result.events = len(applied)
        deltas = customer_deltas(applied, stitched.customer_of)
        absorbs = stitched.absorbs()
        for customer_id in absorbs:  # an alias alone is no activity, yet its customer absorbs the old id's item
            deltas.setdefault(customer_id, CustomerDelta(customer_id))
        result.customers = len(deltas)
        breakpoints = self.breakpoints.current()
        rates = self.rates.current() if self.rates is not None else None
        customers = list(deltas)
        for first in range(0, len(customers), self.update_chunk):
            if first:
                self._fault("mid-updates", batch_id)
            chunk = {c: deltas[c] for c in customers[first:first + self.update_chunk]}
            applied = self.sink.apply(token, chunk, breakpoints, rates, absorbs)
            result.merged += applied.merged
            result.written += applied.written
            result.skipped += applied.skipped
            result.unchanged += applied.unchanged
            result.conflicts += applied.conflicts
            for customer_id, visible_at in applied.visible_at.items():
                result.freshness_ms.extend((visible_at - r.timestamp()) * 1000 for r in chunk[customer_id].received)
        self._fault("after-updates", batch_id)
        finished = time.time()
        result.seconds = finished - started
        arrivals = [r.record.arrival for r in rejected if r.record.arrival] + _arrivals(parsed)
        if arrivals:
            result.lag_ms = (finished - max(arrivals).timestamp()) * 1000
        return result

    def _fault(self, step: str, batch_id: int) -> None:
        if self.fault is not None:
            self.fault(step, batch_id)


def _arrivals(parsed: Iterable[StreamEvent | Rejected]) -> list[datetime]:
    return [p.arrival for p in parsed if isinstance(p, StreamEvent) and p.arrival is not None]
