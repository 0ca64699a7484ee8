"""The raw zone's object format: gzip JSON lines of canonical records (see lakehouse.core.contract.record).

Written by the ingestion Lambda (and anything else that lands raw data), read by the batch jobs.
"""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from lakehouse.core.contract.record import dumps_record
from lakehouse.core.lake.layout import LakeLayout


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
