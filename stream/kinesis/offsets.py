"""The source's offset: per-shard sequence numbers, stored by Spark in the query's checkpoint.

JSON shape (keys sorted, so equal positions always serialise identically)::

    {"start": "TRIM_HORIZON" | "AT_TIMESTAMP:<ISO 8601>",
     "shards": {"shardId-000000000000": "<last sequence number consumed>", ...},
     "done": ["<shards closed by resharding and read to their end>", ...]}

A shard missing from ``shards`` has not been read yet and begins at ``start`` (its first record for
TRIM_HORIZON; the first record at or after the time for AT_TIMESTAMP). A micro-batch covers, per shard,
the records after the start offset's sequence number up to and including the end offset's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

TRIM_HORIZON = "TRIM_HORIZON"
AT_TIMESTAMP = "AT_TIMESTAMP"


def start_spec(position: str, timestamp: datetime | None) -> str:
    """``TRIM_HORIZON`` or ``AT_TIMESTAMP:<iso>`` (LATEST is resolved to a time before it gets here).

    Raises ``ValueError`` for any other position without a ``timestamp``.
    """
    if position == TRIM_HORIZON:
        return TRIM_HORIZON
    if timestamp is None:
        raise ValueError(f"{position} needs a timestamp")
    moment = timestamp.astimezone(UTC)
    return f"{AT_TIMESTAMP}:{moment.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z"


def parse_start(spec: str) -> tuple[str, datetime | None]:
    """Inverse of :func:`start_spec`: (iterator type, timestamp or None); ``ValueError`` for anything else."""
    if spec == TRIM_HORIZON:
        return TRIM_HORIZON, None
    kind, _, text = spec.partition(":")
    if kind != AT_TIMESTAMP or not text:
        raise ValueError(f"not a start position: {spec!r}")
    return AT_TIMESTAMP, datetime.fromisoformat(text.replace("Z", "+00:00"))


def seq_key(sequence_number: str) -> int:
    """Sequence numbers are decimal strings of up to 128 bits: compare them as integers."""
    return int(sequence_number)


@dataclass(frozen=True)
class KinesisOffset:
    """Where a query stands on the stream (the JSON shape in the module docstring)."""

    start: str
    shards: Mapping[str, str] = field(default_factory=dict)
    done: frozenset[str] = frozenset()

    @classmethod
    def initial(cls, start: str) -> KinesisOffset:
        """The offset before any record: no shard started, nothing done."""
        return cls(start, {}, frozenset())

    @classmethod
    def from_dict(cls, data: Mapping) -> KinesisOffset:
        """The offset Spark stored; raises ``ValueError`` naming it when it is not a valid offset."""
        try:
            start = str(data["start"])
            parse_start(start)
            shards = {str(k): str(v) for k, v in dict(data.get("shards") or {}).items()}
            for value in shards.values():
                seq_key(value)
            return cls(start, shards, frozenset(str(s) for s in data.get("done") or ()))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a Kinesis source offset: {dict(data)!r} ({exc})") from None

    def to_dict(self) -> dict:
        """The JSON shape, keys sorted (equal offsets serialise identically)."""
        return {"done": sorted(self.done), "shards": dict(sorted(self.shards.items())), "start": self.start}

    def position(self, shard_id: str) -> str | None:
        """Last sequence number consumed from ``shard_id`` (None: not started, begins at ``start``)."""
        return self.shards.get(shard_id)

    def advanced(self, positions: Mapping[str, str], finished: Iterable[str] = ()) -> KinesisOffset:
        """A new offset with shards moved to ``positions`` (last sequence numbers) and ``finished`` marked done."""
        shards = dict(self.shards)
        shards.update(positions)
        return KinesisOffset(self.start, shards, self.done | frozenset(finished))

    def without(self, shard_ids: Iterable[str]) -> KinesisOffset:
        """Forget shards (finished ones that expired from the stream), keeping the offset small."""
        gone = frozenset(shard_ids)
        return KinesisOffset(self.start, {k: v for k, v in self.shards.items() if k not in gone}, self.done - gone)
