"""The raw zone: its object format (gzip JSON lines of canonical records, see lakehouse.core.contract.record),
its object names, and the landing log that tells the batch jobs which objects are new.

Written by the raw archive (``stream/archive.py``: Kinesis -> one object per arrival partition per micro-batch)
and by local tools that land data directly (``lakehouse.local.sample_data``); read by the batch jobs.

**Landing log.** Every writer, after its objects are stored, writes one small JSON record
``raw/_landed/dt=YYYY-MM-DD/<name>.json`` (``dt`` = the UTC date the record is written) listing them:
``{"writer": str, "name": str, "written_at": ISO 8601, "objects": [{"key": str, "bytes": int, "records": int}]}``.
The batch job reads the records of the last few days instead of listing the whole raw prefix
(:func:`landing_logs`). Written after the objects, a record never names an object that does not exist yet; a
writer that crashes between the two writes its objects again, and the record, when it is replayed.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lakehouse.core.contract.record import dumps_record
from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.storage import LakeStorage

#: the landing log's prefix (``_``: Spark and Hive skip it when they list ``raw/``)
LANDED = "raw/_landed"
RAW_SUFFIX = ".jsonl.gz"


def encode_json_lines(lines: Iterable[bytes]) -> bytes:
    """The raw object for records already serialised as compact UTF-8 JSON (one per line)."""
    return gzip.compress(b"".join(line + b"\n" for line in lines), compresslevel=6, mtime=0)


def encode_lines(records: Iterable[dict[str, Any]]) -> bytes:
    """Gzip-compressed JSON lines (compact, UTF-8, one record per line; Decimal amounts as exact JSON numbers)."""
    return encode_json_lines(dumps_record(r).encode("utf-8") for r in records)


def decode_lines(data: bytes) -> Iterator[str]:
    """The text lines of a gzip JSON-lines object (no parsing: callers decide what a bad line means).

    Splits on ``\n`` only: JSON text may hold U+2028, U+0085 and other characters ``str.splitlines`` breaks on.
    """
    for line in gzip.decompress(data).decode("utf-8", errors="replace").split("\n"):
        if line.strip():
            yield line


def raw_object_key(source: str, received_at: datetime, name: str | None = None) -> str:
    """Where a batch received from ``source`` at ``received_at`` lands (partitioned by arrival time)."""
    return LakeLayout.raw_object(source, received_at, name or uuid.uuid4().hex)


def quarantine_object_key(received_at: datetime, name: str | None = None) -> str:
    """Where rejects received at ``received_at`` land (by arrival hour); ``name`` defaults to a random uuid."""
    return LakeLayout.quarantine_object(received_at, name or uuid.uuid4().hex)


def archive_object_name(run: str, batch_id: int, part: int) -> str:
    """The raw archive's object name for part ``part`` of micro-batch ``batch_id`` of checkpoint run ``run``:
    ``<run>-b<batch id, 10 digits>-p<part, 4 digits>``. Deterministic: a replayed micro-batch (same run, same
    batch id, same records) rewrites the same keys with the same bytes."""
    return f"{run}-b{batch_id:010d}-p{part:04d}"


@dataclass(frozen=True)
class LandedObject:
    """One raw object a landing log names: its key (relative to the lake root), size in bytes, line count."""

    key: str
    bytes: int
    records: int

    def as_dict(self) -> dict[str, Any]:
        """``{"key", "bytes", "records"}``."""
        return {"key": self.key, "bytes": self.bytes, "records": self.records}


@dataclass(frozen=True)
class LandingLog:
    """A landing-log record: its own key, the writer and name it was written under, the objects it names."""

    key: str
    writer: str
    objects: tuple[LandedObject, ...]

    @property
    def day(self) -> date:
        """The ``dt=`` date of the record's key (the UTC date it was written)."""
        return landing_log_day(self.key)


def landing_log_key(name: str, at: datetime) -> str:
    """``raw/_landed/dt=YYYY-MM-DD/<name>.json`` for a record written at ``at`` (UTC)."""
    return f"{LANDED}/dt={at.astimezone(UTC):%Y-%m-%d}/{name}.json"


def landing_log_day(key: str) -> date:
    """The date in a landing-log key's ``dt=`` folder; raises ``ValueError`` for a key that has none."""
    for part in key.split("/"):
        if part.startswith("dt="):
            return date.fromisoformat(part[3:])
    raise ValueError(f"{key!r} is not a landing-log key (no dt= folder)")


def write_landing_log(storage: LakeStorage, writer: str, name: str, objects: Iterable[LandedObject],
                      at: datetime | None = None) -> str:
    """Write the landing-log record of ``objects`` (call it after they are stored); returns its key.

    ``writer`` says who landed them (``raw-archive``, ``sample-data`` …), ``name`` makes the record unique and,
    for the archive, deterministic (``<run>-b<batch id>``); ``at`` (default now, UTC) picks the ``dt=`` folder.
    """
    moment = at or datetime.now(UTC)
    key = landing_log_key(name, moment)
    body = {"writer": writer, "name": name, "written_at": moment.astimezone(UTC).isoformat(),
            "objects": [o.as_dict() for o in sorted(objects, key=lambda o: o.key)]}
    storage.put_bytes(key, json.dumps(body, indent=1).encode(), content_type="application/json")
    return key


def land_objects(storage: LakeStorage, keys: Iterable[str], writer: str) -> str | None:
    """Landing log for objects already stored by a direct writer (local tools and tests): sizes read back,
    line counts unknown (-1). Returns the record's key, None when ``keys`` is empty."""
    objects = []
    for key in keys:
        objects.append(LandedObject(key, len(storage.get_bytes(key)), -1))
    if not objects:
        return None
    return write_landing_log(storage, writer, f"{writer}-{uuid.uuid4().hex}", objects)


def landing_logs(storage: LakeStorage, since: date | None = None, until: date | None = None) -> list[LandingLog]:
    """The landing-log records dated ``since`` .. ``until`` (inclusive; ``until`` default tomorrow, UTC), by key.

    ``since=None`` reads every record (one listing of ``raw/_landed``); otherwise one listing per day, so the
    cost follows the days asked for, not the size of the raw zone. Raises ``ValueError`` for a record that is
    not valid JSON of the module's shape (a writer bug: never skipped silently).
    """
    if since is None:
        listed = [o.key for o in storage.list(LANDED) if o.key.endswith(".json")]
    else:
        last = until or (datetime.now(UTC).date() + timedelta(days=1))
        listed = []
        day = since
        while day <= last:
            listed += [o.key for o in storage.list(f"{LANDED}/dt={day.isoformat()}") if o.key.endswith(".json")]
            day += timedelta(days=1)
    logs = []
    for key in sorted(listed):
        try:
            body = json.loads(storage.get_bytes(key))
            objects = tuple(LandedObject(str(o["key"]), int(o["bytes"]), int(o["records"])) for o in body["objects"])
            logs.append(LandingLog(key, str(body["writer"]), objects))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"landing log {key} is unreadable ({type(exc).__name__}: {exc}); "
                             "move it aside and land its objects again") from exc
    return logs
