"""The raw zone's object format: gzip JSON lines of canonical records (see lakehouse.contract.record).

Written by the ingestion Lambda (and anything else that lands raw data), read by the batch jobs.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from lakehouse.lake.layout import LakeLayout


def encode_lines(records: Iterable[dict[str, Any]]) -> bytes:
    """Gzip-compressed JSON lines (compact, UTF-8, one record per line)."""
    body = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records)
    return gzip.compress(body.encode("utf-8"), compresslevel=6, mtime=0)


def decode_lines(data: bytes) -> Iterator[str]:
    """The text lines of a gzip JSON-lines object (no parsing: callers decide what a bad line means)."""
    for line in gzip.decompress(data).decode("utf-8", errors="replace").splitlines():
        if line.strip():
            yield line


def raw_object_key(source: str, received_at: datetime, name: str | None = None) -> str:
    """Where a batch received from ``source`` at ``received_at`` lands (partitioned by arrival time)."""
    return LakeLayout.raw_object(source, received_at, name or uuid.uuid4().hex)


def quarantine_object_key(received_at: datetime, name: str | None = None) -> str:
    return LakeLayout.quarantine_object(received_at, name or uuid.uuid4().hex)
