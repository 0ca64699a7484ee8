"""What a raw_to_curated run did: records read/accepted/rejected per rule, duplicates, files written."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TableWrite:
    """One curated table's share of a run: rows added, partitions rewritten, their files and bytes."""

    table: str
    rows: int = 0
    partitions: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0


@dataclass
class CuratedReport:
    """What a raw_to_curated run did, as the run record and ``lakehouse batch`` report it.

    Counts are of records (raw lines) and events; ``rejected_by_rule`` maps each reason to its count;
    ``late_events`` are new events whose event date precedes their arrival date; ``seconds`` is wall-clock.
    ``skew_corrections_not_applied``: accepted records whose clock-skew correction exceeded
    ``Settings.event_time.max_skew_correction_seconds`` (they keep the client's time); ``unreadable_objects``:
    raw objects set aside (``raw_object``, ``reason``, ``lines_salvaged``, ``dead_letter`` key), processed all
    the same; ``event_ids_backfilled``: rows of the event id index built from curated events by this run (None:
    the index existed); ``event_index_buckets_compacted``: index buckets rewritten as one file; ``suppressed``:
    records of people erased (``lakehouse forget``: on the suppression list), dropped unread and never quarantined.
    """

    run_id: str | None = None
    raw_objects: int = 0
    raw_bytes: int = 0
    records_read: int = 0
    accepted: int = 0
    rejected: int = 0
    rejected_by_rule: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0
    duplicates_in_batch: int = 0
    duplicates_of_earlier_runs: int = 0
    new_events: int = 0
    late_events: int = 0
    skew_corrections_not_applied: int = 0
    quarantine_objects: list[str] = field(default_factory=list)
    unreadable_objects: list[dict[str, Any]] = field(default_factory=list)
    event_ids_backfilled: int | None = None
    event_index_buckets_compacted: int = 0
    tables: dict[str, TableWrite] = field(default_factory=dict)
    catalog_tables: int = 0
    catalog_partitions_added: int = 0
    skipped: str | None = None  # why nothing was written (e.g. no new raw objects)
    seconds: float = 0.0

    @property
    def files_written(self) -> int:
        """Parquet files in the partitions this run rewrote, over all tables."""
        return sum(t.files for t in self.tables.values())

    @property
    def bytes_written(self) -> int:
        """Total size in bytes of :attr:`files_written`."""
        return sum(t.bytes for t in self.tables.values())

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values (the run record's ``report``)."""
        return asdict(self)
