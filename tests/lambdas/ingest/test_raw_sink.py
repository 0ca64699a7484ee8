"""Raw and quarantine objects on a local lake and on moto S3."""

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
def test_land_and_quarantine(lake: str, settings: Settings, s3_settings: Settings) -> None:
    chosen = s3_settings if lake == "s3" else settings
    storage = LakeStorage(chosen.lake, region=chosen.region)
    sink = LakeRawSink(storage)
    uri = sink.land("web", AT, [{"event_id": "a", "n": 1}, {"event_id": "b", "text": "Zoë"}])
    assert "/raw/source=web/dt=2025-06-02/hour=07/" in uri and uri.endswith(".jsonl.gz")
    assert lines(storage, uri) == [{"event_id": "a", "n": 1}, {"event_id": "b", "text": "Zoë"}]
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
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    sink = LakeRawSink(LakeStorage(Settings(lake_root=str(blocked)).lake))
    with pytest.raises(StorageUnavailable):
        sink.land("web", AT, [{"event_id": "a"}])


def test_a_missing_bucket_is_storage_unavailable(moto_endpoint: str) -> None:
    sink = LakeRawSink(LakeStorage(Settings(lake_root="s3://no-such-bucket-here").lake))
    with pytest.raises(StorageUnavailable, match="NoSuchBucket"):
        sink.land("web", AT, [{"event_id": "a"}])


def test_records_land_with_decimal_amounts_as_exact_json_numbers(settings: Settings) -> None:
    """The sink's own encoding (records without pre-encoded lines) and encode_record agree, and both write a
    Decimal as the number it is: stdlib json.dumps refused Decimals (TypeError) and float() re-rounded them."""
    from decimal import Decimal

    from lakehouse.core.contract import parse_event, to_record
    from lakehouse.core.contract.examples import all_example_calls
    from lakehouse.core.lake.raw import encode_json_lines
    from lambdas.ingest.limits import encode_record

    records = [to_record(parse_event(c), c, source="web", received_at=AT) for c in all_example_calls().values()]
    records[0]["properties"]["note"] = "Zoë \u2028 北京 🚀"
    records[0]["properties"]["amount"] = Decimal("19.999999999999999999")
    storage = LakeStorage(settings.lake)
    uri = LakeRawSink(storage).land("web", AT, records)
    stored = storage.get_bytes(uri.split(storage.layout.root_uri + "/", 1)[1])
    assert stored == encode_json_lines([encode_record(r) for r in records])
    parsed = [json.loads(line, parse_float=Decimal) for line in decode_lines(stored)]
    assert parsed == records
    assert parsed[0]["properties"]["amount"] == Decimal("19.999999999999999999")
