"""What one micro-batch of the feature query reports (:class:`BatchResult`), and the points where the crash tests
interrupt one (:data:`FAULT_STEPS`). The query itself is :mod:`stream.stateful`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

#: the points of a micro-batch where a ``fault(step, batch_id)`` callback is called (tests crash the job there):
#: before its item writes, after them, after its forward and quarantine objects (stream/stateful.py)
FAULT_STEPS = ("before-writes", "after-writes", "after-forwards")
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
    suppressed: int = 0  # records of erased people read and dropped (docs/erasure.md), in ``records``
    duplicates: int = 0  # within the batch + applied by earlier batches
    customers: int = 0
    written: int = 0
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
