"""Deciding each micro-batch's end offset: shard discovery, read-ahead and the per-trigger record cap.

The planner runs where Spark calls ``latestOffset`` (the driver side). To find an end offset it has to
read the records anyway, so it keeps them: the micro-batch just planned hands them to its partitions
and executors do not read them a second time. After a restart the cache is empty and executors read
the exact range ``(start, end]`` from Kinesis instead (same records: offsets are sequence numbers).

Resharding: shards are listed again every ``shard_list_interval`` seconds and whenever a shard ends.
A child shard is read only once its parents are done (closed and read to their end), which keeps the
per-key order Kinesis guarantees; a shard that is done is recorded in the offset's ``done`` list and
forgotten once it no longer appears in ListShards (expired from retention).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from stream.kinesis.client import IteratorExpired, KinesisRecord, ShardInfo, ShardReader, list_shards
from stream.kinesis.offsets import KinesisOffset, seq_key
from stream.kinesis.options import KinesisOptions

PAGES_PER_SHARD_PER_PLAN = 4  # GetRecords calls per shard per latestOffset, at most (AWS: 5 per second)
PLANNED_RANGES_KEPT = 64


@dataclass
class ShardCursor:
    """Read-ahead state of one shard: ``position`` is the last record handed to a plan."""

    shard_id: str
    position: str | None
    iterator: str | None = None
    buffer: deque[KinesisRecord] = field(default_factory=deque)
    ended: bool = False  # GetRecords said the (closed) shard has nothing more
    idle_since: float | None = None  # monotonic time of the last empty read at the tip
    millis_behind: int = 0


@dataclass(frozen=True)
class Plan:
    """A planned micro-batch: its end offset, how many records it holds, and those records by shard range
    ``(shard_id, after, until)``."""

    end: KinesisOffset
    records: int
    ranges: dict[tuple[str, str | None, str], list[KinesisRecord]]


class KinesisPlanner:
    """Plans micro-batches for one query (module docstring); ``clock`` is monotonic seconds, for tests."""

    def __init__(self, options: KinesisOptions, reader: ShardReader, clock: Callable[[], float] = time.monotonic):
        self.options = options
        self.reader = reader
        self._clock = clock
        self._shards: list[ShardInfo] = []
        self._listed_at: float | None = None
        self._cursors: dict[str, ShardCursor] = {}
        self._planned: dict[tuple[str, str | None, str], list[KinesisRecord]] = {}

    # --- shard discovery --------------------------------------------------------------------------
    def shards(self, force: bool = False) -> list[ShardInfo]:
        """The stream's shards, listed again when ``shard_list_interval`` seconds have passed (or ``force``)."""
        now = self._clock()
        if force or self._listed_at is None or now - self._listed_at >= self.options.shard_list_interval:
            self._shards = list_shards(self.reader.caller, self.options.stream_name)
            self._listed_at = now
        return self._shards

    # --- planning ---------------------------------------------------------------------------------
    def plan(self, start: KinesisOffset, max_records: int | None = None, arrived_by: datetime | None = None) -> Plan:
        """The end offset of the next micro-batch: at most ``max_records`` records (None: all available),
        only records that arrived by ``arrived_by`` when given (Trigger.AvailableNow)."""
        shards = self.shards(force=any(c.ended for c in self._cursors.values()))  # a shard ended: look for children
        listed = {s.shard_id for s in shards}
        done = set(start.done)
        taken: dict[str, list[KinesisRecord]] = {}
        remaining = math.inf if max_records is None else max_records
        waiting = [s for s in shards if s.shard_id not in done]
        readable: list[ShardInfo] = []
        progress = True
        while waiting and progress:  # parents before children: keeps per-key order across a split or merge
            progress = False
            for shard in list(waiting):
                if any(p in listed and p not in done for p in shard.parents):
                    continue
                waiting.remove(shard)
                progress = True
                quota = remaining if math.isinf(remaining) else math.ceil(remaining / (len(waiting) + 1))
                remaining -= self._take_into(taken, shard, start, quota, arrived_by)
                readable.append(shard)
                if self._drained(shard, self._cursors[shard.shard_id]):
                    done.add(shard.shard_id)
        for shard in readable:  # budget left by shards with little data goes to the others
            if remaining <= 0 or math.isinf(remaining):
                break
            cursor = self._cursors[shard.shard_id]
            if shard.shard_id not in done and (cursor.buffer or cursor.idle_since is None):
                remaining -= self._take_into(taken, shard, start, remaining, arrived_by)
                if self._drained(shard, self._cursors[shard.shard_id]):
                    done.add(shard.shard_id)
        positions = {shard_id: records[-1].sequence_number for shard_id, records in taken.items()}
        ranges = {(shard_id, start.position(shard_id), records[-1].sequence_number): records
                  for shard_id, records in taken.items()}
        for shard_id in done:
            self._cursors.pop(shard_id, None)
        expired = {s for s in done if s not in listed}
        end = start.advanced(positions, done).without(expired)
        self._remember(ranges)
        return Plan(end, sum(len(v) for v in ranges.values()), ranges)

    def planned_records(self, shard_id: str, after: str | None, until: str) -> list[KinesisRecord] | None:
        """The records of a range this planner planned (None when it did not: read them from Kinesis)."""
        return self._planned.pop((shard_id, after, until), None)

    def committed(self, end: KinesisOffset) -> None:
        """Spark finished every batch up to ``end``: drop planned ranges at or before it."""
        for key in [k for k in self._planned if k[0] in end.shards
                    and seq_key(k[2]) <= seq_key(end.shards[k[0]])]:
            del self._planned[key]

    # --- internals --------------------------------------------------------------------------------
    def _take_into(self, taken: dict[str, list[KinesisRecord]], shard: ShardInfo, start: KinesisOffset,
                   quota: float, arrived_by: datetime | None) -> int:
        cursor = self._cursors.get(shard.shard_id)
        expected = taken[shard.shard_id][-1].sequence_number if shard.shard_id in taken else \
            start.position(shard.shard_id)
        if cursor is None or cursor.position != expected:
            cursor = self._cursors[shard.shard_id] = ShardCursor(shard.shard_id, expected)  # (re)start reading
        records = self._take(cursor, start.start, quota, arrived_by)
        if records:
            taken.setdefault(shard.shard_id, []).extend(records)
        return len(records)

    def _take(self, cursor: ShardCursor, start: str, quota: float, arrived_by: datetime | None) -> list[KinesisRecord]:
        taken: list[KinesisRecord] = []
        pages = 0
        while len(taken) < quota:
            if not cursor.buffer:
                if cursor.ended or pages >= PAGES_PER_SHARD_PER_PLAN or not self._may_poll(cursor):
                    break
                pages += 1
                if not self._fetch(cursor, start, quota - len(taken)) and cursor.millis_behind == 0:
                    break  # caught up with the tip (an empty page while behind means: keep reading)
                continue
            head = cursor.buffer[0]
            if arrived_by is not None and head.arrival > arrived_by:
                break
            taken.append(cursor.buffer.popleft())
            cursor.position = head.sequence_number
        return taken

    def _may_poll(self, cursor: ShardCursor) -> bool:
        return cursor.idle_since is None or self._clock() - cursor.idle_since >= self.options.idle_poll_interval

    def _fetch(self, cursor: ShardCursor, start: str, wanted: float) -> bool:
        """One GetRecords into the buffer; False when it brought nothing."""
        last = cursor.buffer[-1].sequence_number if cursor.buffer else cursor.position
        if cursor.iterator is None:
            cursor.iterator = self.reader.iterator(cursor.shard_id, last, start)
        limit = int(min(self.options.max_records_per_call, max(wanted, 1)))
        try:
            page = self.reader.page(cursor.shard_id, cursor.iterator, limit)
        except IteratorExpired:
            cursor.iterator = self.reader.iterator(cursor.shard_id, last, start)
            page = self.reader.page(cursor.shard_id, cursor.iterator, limit)
        cursor.buffer.extend(page.records)
        cursor.iterator = page.next_iterator
        cursor.millis_behind = page.millis_behind
        if page.next_iterator is None:
            cursor.ended = True
        if page.records:
            cursor.idle_since = None
            return True
        if page.millis_behind == 0:
            cursor.idle_since = self._clock()
        return False

    @staticmethod
    def _drained(shard: ShardInfo, cursor: ShardCursor) -> bool:
        """A closed shard whose every record has been handed out.

        Only GetRecords' missing NextShardIterator says so: a closed shard's EndingSequenceNumber is not
        trusted (moto keeps routing puts to a split parent and moves its ending along).
        """
        return shard.closed and cursor.ended and not cursor.buffer

    def _remember(self, ranges: dict[tuple[str, str | None, str], list[KinesisRecord]]) -> None:
        self._planned.update(ranges)
        while len(self._planned) > PLANNED_RANGES_KEPT:
            del self._planned[next(iter(self._planned))]
