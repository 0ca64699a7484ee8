"""Fixes applied to moto inside our emulator process (and nowhere else).

**Kinesis.**
moto 5.2.5 keeps each Kinesis shard's records in an ordered dict and, on every ``PutRecord``, copies
all its keys into a list to find the last sequence number; every ``GetRecords`` scans the shard from
its first record. Both are O(records in the shard), so a stream slows down as it fills: measured here,
``PutRecords`` fell from ~14k to ~7.7k records/s after only 15,000 records. Sequence numbers within a
moto shard are consecutive integers (each put takes the last one + 1; records are never removed one by
one), which makes both lookups O(1). The patched methods fall back to moto's own code whenever that
invariant does not hold, and return exactly what moto's would.

moto's ``Shard.put_record`` is also not thread-safe (its own comment says so) while the moto server
answers requests on threads: two concurrent ``PutRecords`` into one shard can take the same sequence
number, and the second record silently replaces the first. Measured here: 8 threads x 3,000 puts kept
only ~17,900 of 24,000 records. The patch serialises every shard read and write behind one lock, so an
accepted record is never lost.

**DynamoDB responses.** moto 5.2 serialises every response by walking the botocore output shape, asking
an attribute picker for each member; for DynamoDB items (the recursive ``AttributeValue`` shape) that
costs ~0.25 ms per attribute — ~5 ms to return one 20-attribute item. Attribute values already arrive
as plain JSON-shaped dicts, so the patch copies them directly (binary values base64-encoded exactly as
the shape walk does) and hands anything else (a value that still holds moto objects) to the shape walk.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.core.serialize import ResponseSerializer
from moto.kinesis.models import Shard

_original_put_record = Shard.put_record
_original_get_records = Shard.get_records
_SHARDS = threading.RLock()  # one lock for every shard: a put or read holds it for microseconds
_original_serialize = ResponseSerializer._serialize
_PLAIN = (str, bool, int, float)


def _first_key(shard: Shard) -> int:
    with _SHARDS:
        return next(iter(shard.records)) if shard.records else 0


def _last_key(shard: Shard) -> int:
    with _SHARDS:
        return next(reversed(shard.records)) if shard.records else 0


def _put_record(shard: Shard, partition_key: str, data: str, explicit_hash_key: str) -> str:
    """moto's ``Shard.put_record``, one at a time: each record gets its own sequence number."""
    with _SHARDS:
        return _original_put_record(shard, partition_key, data, explicit_hash_key)


def _is_consecutive(shard: Shard) -> bool:
    return not shard.records or _last_key(shard) - _first_key(shard) + 1 == len(shard.records)


def _get_records(shard: Shard, last_sequence_id: str, limit: int | None) -> tuple[list, int, int]:
    """moto's ``Shard.get_records``, reading from the requested position instead of the first record."""
    with _SHARDS:
        return _read_records(shard, last_sequence_id, limit)


def _read_records(shard: Shard, last_sequence_id: str, limit: int | None) -> tuple[list, int, int]:
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


class _NotPlain(Exception):
    """An attribute value holds something other than plain JSON data."""


def _attribute_value(value: Any, base64: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _NotPlain
    out: dict[str, Any] = {}
    for kind, inner in value.items():
        if kind == "M":
            if not isinstance(inner, dict):
                raise _NotPlain
            out[kind] = {k: _attribute_value(v, base64) for k, v in inner.items()}
        elif kind == "L":
            if not isinstance(inner, list):
                raise _NotPlain
            out[kind] = [_attribute_value(v, base64) for v in inner]
        elif kind == "B":
            out[kind] = base64(inner)
        elif kind == "BS":
            out[kind] = [base64(v) for v in inner]
        elif kind in ("SS", "NS"):
            if not all(isinstance(v, str) for v in inner):
                raise _NotPlain
            out[kind] = list(inner)
        elif isinstance(inner, _PLAIN):
            out[kind] = inner
        else:
            raise _NotPlain
    return out


def _serialize(self: ResponseSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
    """The shape walk, with DynamoDB attribute values copied directly when they are plain data."""
    if shape.name == "AttributeValue" and isinstance(value, dict):
        try:
            serialized[self.get_serialized_name(shape, key)] = _attribute_value(value, self._base64)
            return
        except _NotPlain:
            pass
    _original_serialize(self, serialized, value, shape, key)


def apply() -> None:
    """Install the fixes (idempotent)."""
    Shard.get_min_sequence_number = _first_key  # type: ignore[method-assign]
    Shard.get_max_sequence_number = _last_key  # type: ignore[method-assign]
    Shard.get_records = _get_records  # type: ignore[method-assign]
    Shard.put_record = _put_record  # type: ignore[method-assign]
    ResponseSerializer._serialize = _serialize  # type: ignore[method-assign]

