"""Fixes applied to moto inside our emulator process (and nowhere else).

moto 5.2.5 keeps each Kinesis shard's records in an ordered dict and, on every ``PutRecord``, copies
all its keys into a list to find the last sequence number; every ``GetRecords`` scans the shard from
its first record. Both are O(records in the shard), so a stream slows down as it fills: measured here,
``PutRecords`` fell from ~14k to ~7.7k records/s after only 15,000 records. Sequence numbers within a
moto shard are consecutive integers (each put takes the last one + 1; records are never removed one by
one), which makes both lookups O(1). The patched methods fall back to moto's own code whenever that
invariant does not hold, and return exactly what moto's would.
"""

from __future__ import annotations

from moto.kinesis.models import Shard

_original_get_records = Shard.get_records


def _first_key(shard: Shard) -> int:
    return next(iter(shard.records)) if shard.records else 0


def _last_key(shard: Shard) -> int:
    return next(reversed(shard.records)) if shard.records else 0


def _is_consecutive(shard: Shard) -> bool:
    return not shard.records or _last_key(shard) - _first_key(shard) + 1 == len(shard.records)


def _get_records(shard: Shard, last_sequence_id: str, limit: int | None) -> tuple[list, int, int]:
    """moto's ``Shard.get_records``, reading from the requested position instead of the first record."""
    if not _is_consecutive(shard):
        return _original_get_records(shard, last_sequence_id, limit)
    last_sequence_int = int(last_sequence_id)
    first, last = _first_key(shard), _last_key(shard)
    start = max(last_sequence_int + 1, first)
    stop = last if limit is None else min(last, start + limit - 1)
    results = [shard.records[n] for n in range(start, stop + 1)]
    if not results:
        return [], last_sequence_int, 0
    behind_ms = int((shard.records[last].created_at - results[-1].created_at) * 1000)
    return results, results[-1].sequence_number, behind_ms


def apply() -> None:
    """Install the fixes (idempotent)."""
    Shard.get_min_sequence_number = _first_key  # type: ignore[method-assign]
    Shard.get_max_sequence_number = _last_key  # type: ignore[method-assign]
    Shard.get_records = _get_records  # type: ignore[method-assign]
