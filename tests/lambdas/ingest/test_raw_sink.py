"""Quarantine objects (the function's only lake writes) on a local lake and on moto S3."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lakehouse.core.config import Settings
from lakehouse.core.contract import FieldError
from lakehouse.core.lake.raw import decode_lines
from lakehouse.core.lake.storage import LakeStorage
from lambdas.ingest.normalise import Rejection
from lambdas.ingest.raw_sink import LakeRawSink, StorageUnavailable, storable_payload

AT = datetime(2025, 6, 2, 7, 5, tzinfo=UTC)


def lines(storage: LakeStorage, uri: str) -> list[dict]:
    key = uri.split(storage.layout.root_uri + "/", 1)[1]
    return [json.loads(line) for line in decode_lines(storage.get_bytes(key))]


@pytest.mark.parametrize("lake", ["local", "s3"])
def test_quarantine(lake: str, settings: Settings, s3_settings: Settings) -> None:
    chosen = s3_settings if lake == "s3" else settings
    storage = LakeStorage(chosen.lake, region=chosen.region)
    sink = LakeRawSink(storage)
    assert not hasattr(sink, "land")  # accepted events reach raw/ through Kinesis and the raw archive only
    q = sink.quarantine("web", AT, "req-1", [Rejection(3, [FieldError("event", "is required")], {"type": "track"})])
    assert "/quarantine/dt=2025-06-02/hour=07/" in q
    assert lines(storage, q) == [{"received_at": "2025-06-02T07:05:00.000Z", "source": "web", "request_id": "req-1",
                                  "index": 3, "errors": [{"field": "event", "reason": "is required"}],
                                  "payload": {"type": "track"}}]


def test_unencodable_payloads_are_kept_as_escaped_text() -> None:
    assert storable_payload({"a": 1}) == {"a": 1}
    assert storable_payload({"a": float("nan")}) == {"unencodable_payload": '{"a": NaN}'}
    assert storable_payload({"s": "\ud800"}) == {"unencodable_payload": '{"s": "\\ud800"}'}


def test_a_lake_that_refuses_writes_is_storage_unavailable(tmp_path: Path) -> None:
    """Seen failing without the protection: ``OSError`` taken out of the ``except`` of ``LakeRawSink._put``
    (lambdas/ingest/raw_sink.py): ``NotADirectoryError: [Errno 20] Not a directory`` escaped from the quarantine
    write."""
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    sink = LakeRawSink(LakeStorage(Settings(lake_root=str(blocked)).lake))
    with pytest.raises(StorageUnavailable):
        sink.quarantine("web", AT, "req-1", [Rejection(0, [FieldError("event", "is required")], {})])


def test_a_missing_bucket_is_storage_unavailable(moto_endpoint: str) -> None:
    """Seen failing without the protection: ``ClientError`` taken out of the ``except`` of ``LakeRawSink._put``
    (lambdas/ingest/raw_sink.py): botocore's ``NoSuchBucket`` ("The specified bucket does not exist") escaped."""
    sink = LakeRawSink(LakeStorage(Settings(lake_root="s3://no-such-bucket-here").lake))
    with pytest.raises(StorageUnavailable, match="NoSuchBucket"):
        sink.quarantine("web", AT, "req-1", [Rejection(0, [FieldError("event", "is required")], {})])
