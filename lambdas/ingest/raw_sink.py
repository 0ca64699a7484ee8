"""The ingestion function's lake sink: one gzip JSON-lines object per request for its rejected calls.

Rejected calls go to ``quarantine/dt=YYYY-MM-DD/hour=HH/<uuid>.jsonl.gz`` (by arrival time) through
:class:`lakehouse.core.lake.storage.LakeStorage` (S3 or a local directory). A quarantine line holds the
reasons and the call as the normaliser redacted it (the PII rules of accepted records; never the raw PII).
Lines are written with :func:`lakehouse.core.contract.record.dumps_record` (Decimals as exact JSON numbers).

Accepted records are not written here: the function puts them on Kinesis, and the raw archive
(``stream/archive.py``) lands them in the raw zone in large objects (one per arrival partition per micro-batch).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from lakehouse.core.contract import dumps_record, iso
from lakehouse.core.lake.raw import encode_json_lines, quarantine_object_key
from lakehouse.core.lake.storage import LakeStorage

from .normalise import Rejection

GZIP_TYPE = "application/gzip"


class StorageUnavailable(RuntimeError):
    """The lake could not take an object; nothing of this request may be acknowledged."""


class RawSink(Protocol):
    """Where a request's rejections land (the lake, or a stand-in in tests and benchmarks)."""

    def quarantine(self, source: str, received_at: datetime, request_id: str,
                   rejections: list[Rejection]) -> str:
        """Store rejected calls with their reasons as one object; returns its key."""
        ...


def storable_payload(payload: Any) -> Any:
    """The payload itself if it has a strict JSON encoding, else its escaped text (never raises)."""
    try:
        dumps_record(payload).encode("utf-8")
        return payload
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError):
        try:
            return {"unencodable_payload": json.dumps(payload, ensure_ascii=True, default=str)[:65536]}
        except (ValueError, RecursionError):
            return {"unencodable_payload": repr(payload)[:65536]}


def _encode(lines: list[dict[str, Any]]) -> bytes:
    return encode_json_lines(dumps_record(line).encode("utf-8") for line in lines)


def quarantine_lines(source: str, received_at: datetime, request_id: str,
                     rejections: list[Rejection]) -> list[dict[str, Any]]:
    """One quarantine line per rejected call: ``received_at``, ``source``, ``request_id``, ``index``, ``errors``,
    ``payload`` (the rejection's payload: the normaliser stores the redacted copy there)."""
    stamp = iso(received_at)
    return [{"received_at": stamp, "source": source, "request_id": request_id, "index": r.index,
             "errors": [e.as_dict() for e in r.errors], "payload": storable_payload(r.payload)}
            for r in rejections]


class LakeRawSink:
    """The quarantine sink over a lake root (``settings.lake``)."""

    def __init__(self, storage: LakeStorage):
        self.storage = storage

    def quarantine(self, source: str, received_at: datetime, request_id: str,
                   rejections: list[Rejection]) -> str:
        """Write ``quarantine/dt=/hour=/<uuid>.jsonl.gz``; raises :class:`StorageUnavailable`."""
        lines = quarantine_lines(source, received_at, request_id, rejections)
        return self._put(quarantine_object_key(received_at), _encode(lines))

    def _put(self, key: str, data: bytes) -> str:
        try:
            return self.storage.put_bytes(key, data, content_type=GZIP_TYPE)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise StorageUnavailable(f"lake storage refused {key}: {exc}") from exc
