"""A real Segment client (segment-analytics-python) posting through the local gateway arrives intact."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from segment.analytics.client import Client
from segment.analytics.request import APIError

from lakehouse.local.gateway import LocalGateway


@pytest.mark.parametrize("gzip_body", [False, True])
def test_segment_python_library_track_identify_page(s3_settings, kit, gzip_body: bool) -> None:
    key = kit.create_key(s3_settings, "backend")
    errors: list[Exception] = []
    with LocalGateway(s3_settings) as gateway:
        client = Client(write_key=key, host=gateway.url, sync_mode=True, gzip=gzip_body, max_retries=1,
                        on_error=lambda error, batch: errors.append(error))
        logging.getLogger("segment").setLevel(logging.CRITICAL)
        at = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
        client.track("c-1", "Order Completed", {"order_id": "o-1", "total": 25.0, "currency": "EUR", "products": [
            {"product_id": "p-1", "category": "books", "quantity": 2, "unit_price": 12.5}]}, timestamp=at,
            message_id="seg-track")
        client.identify("c-1", {"name": "Ada Martin", "email": "ada@example.com", "age": 34}, timestamp=at,
                        message_id="seg-identify")
        client.page(anonymous_id="anon-7", name="Home", properties={"path": "/"}, timestamp=at,
                    message_id="seg-page")
        with pytest.raises(APIError) as refused:  # a call the contract rejects: a clear 400, then quarantine
            client.track("c-2", "Order Completed", {"total": -1}, message_id="seg-bad")
        assert refused.value.status == 400 and refused.value.code == "invalid_events"
    assert errors == []
    raw = {record["event_id"]: (key, record) for key, record in kit.stream_records(s3_settings)}
    assert set(raw) == {"seg-track", "seg-identify", "seg-page"}
    _, track = raw["seg-track"]
    assert track["source"] == "backend" and track["event"] == "Order Completed"
    assert track["properties"]["products"][0]["unit_price"] == 12.5 and track["properties"]["currency"] == "EUR"
    assert track["original_timestamp"] == "2025-06-02T09:30:00.000Z" and track["sent_at"]
    assert track["context"]["library"]["name"] == "analytics-python"
    assert raw["seg-identify"][1]["traits"]["name"] == "Ada Martin"
    assert raw["seg-page"][1]["name"] == "Home" and raw["seg-page"][1]["customer_id"] == "anon-7"
    streamed = {r["event_id"]: partition for partition, r in kit.stream_records(s3_settings)}
    assert streamed == {"seg-track": "c-1", "seg-identify": "c-1", "seg-page": "anon-7"}
    [quarantined] = [r for _, r in kit.raw_records(s3_settings, "quarantine")]
    assert quarantined["payload"]["messageId"] == "seg-bad"


def test_segment_python_library_background_batches(s3_settings, kit) -> None:
    key = kit.create_key(s3_settings, "backend")
    with LocalGateway(s3_settings) as gateway:
        client = Client(write_key=key, host=gateway.url, gzip=True, upload_size=40, max_retries=2)
        for i in range(130):
            client.track(f"c-{i % 9}", "Product Viewed", {"product_id": f"p-{i}", "category": "books"},
                         message_id=f"bg-{i}")
        client.flush()
        client.shutdown()
    ids = sorted(record["event_id"] for _, record in kit.stream_records(s3_settings))
    assert ids == sorted(f"bg-{i}" for i in range(130))
