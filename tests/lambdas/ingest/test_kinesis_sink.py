"""PutRecords on moto: call limits, retry of failed records only, give-up as StreamUnavailable."""

from collections import Counter

import pytest
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from lakehouse.core.aws.clients import aws_client
from lambdas.ingest.kinesis_sink import (
    KINESIS_CONFIG,
    MAX_BYTES_PER_CALL,
    KinesisSink,
    StreamUnavailable,
    chunks,
)


def entries(n: int, size: int = 20) -> list[tuple[bytes, str]]:
    return [(f'{{"event_id":"e{i}","pad":"{"x" * size}"}}'.encode(), f"c{i % 5}") for i in range(n)]


def test_chunks_respect_count_and_byte_limits() -> None:
    assert [len(c) for c in chunks(entries(1200))] == [500, 500, 200]
    big = entries(300, size=30_000)  # ~9 MB in all
    sizes = [sum(len(d) + len(k) for d, k in c) for c in chunks(big)]
    assert len(sizes) == 2 and max(sizes) <= MAX_BYTES_PER_CALL and sum(len(c) for c in chunks(big)) == 300


def sink(settings, **kwargs) -> KinesisSink:
    return KinesisSink(settings.names.stream, settings.region, backoff_seconds=0.001, **kwargs)


def test_put_sends_every_record_once(s3_settings, kit) -> None:
    report = sink(s3_settings).put(entries(1100))
    assert (report.records, report.calls, report.retried_records) == (1100, 3, 0)
    streamed = kit.stream_records(s3_settings)
    assert Counter(r["event_id"] for _, r in streamed) == Counter(f"e{i}" for i in range(1100))
    assert {key for key, _ in streamed} == {f"c{i}" for i in range(5)}


def test_only_failed_records_are_retried(s3_settings, kit) -> None:
    """Seen failing without the protection: a call's records all sent again when any of them failed (``KinesisSink.put``
    in lambdas/ingest/kinesis_sink.py, ``failed.extend(chunk)`` in place of the loop over the failed records): 600
    records resent, not 120 (``assert (600 == 120)``; ``PutReport(records=600, calls=4, retried_records=600)``)."""
    with kit.kinesis_faults(s3_settings, lambda call, record: call < 2 and record["PartitionKey"] == "c1") as faults:
        report = sink(s3_settings).put(entries(600))
    assert faults[:3] == [100, 20, 0]  # round 1: two calls, 120 failures; round 2: one call, all good
    assert report.retried_records == 120 and report.calls == 3
    assert sorted(Counter(r["event_id"] for _, r in kit.stream_records(s3_settings)).values()) == [1] * 600


@pytest.mark.parametrize(("event", "fault", "copies"), [("after-call", ReadTimeoutError, 500),
                                                       ("after-call", ConnectionClosedError, 500),
                                                       ("before-send", EndpointConnectionError, 0)])
def test_records_of_a_call_that_got_no_answer_are_resent_and_counted(s3_settings, kit, event, fault, copies) -> None:
    """The first PutRecords call fails. After moto stored its 500 records and before the answer came (a read timeout,
    a dropped connection), its records are sent again and counted as ``unanswered_records``, which bounds the
    copies on the stream; a call that never left (no connection) is resent without being counted. Seen failing
    before the count: ``PutReport`` had no ``unanswered_records``; the 500 copies were visible only downstream."""
    client = aws_client("kinesis", region=s3_settings.region, config=KINESIS_CONFIG)
    calls: list[int] = []

    def lose(**_: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise fault(endpoint_url="http://kinesis.local")

    client.meta.events.register(f"{event}.kinesis.PutRecords", lose)
    try:
        report = sink(s3_settings).put(entries(600))
    finally:
        client.meta.events.unregister(f"{event}.kinesis.PutRecords", lose)
    assert (report.records, report.calls, report.retried_records) == (600, 3, 500)
    seen = Counter(r["event_id"] for _, r in kit.stream_records(s3_settings))
    assert set(seen) == {f"e{i}" for i in range(600)} and sum(seen.values()) - 600 == copies
    assert report.unanswered_records == copies


def test_persistent_failure_gives_up_after_the_configured_attempts(s3_settings, kit) -> None:
    """Seen failing without the protection: ``KinesisSink.put`` (lambdas/ingest/kinesis_sink.py) returning its report in
    place of raising ``StreamUnavailable`` after the last round: "DID NOT RAISE StreamUnavailable"; with one round more
    than ``attempts`` (``range(self.attempts + 1)``): ``calls`` was ``[10, 10, 10, 10, 10]``, not ``[10] * 4``."""
    slept: list[float] = []
    with kit.kinesis_throttled(s3_settings) as calls, pytest.raises(StreamUnavailable) as caught:
        KinesisSink(s3_settings.names.stream, s3_settings.region, attempts=4, backoff_seconds=0.1,
                    max_backoff_seconds=0.25, sleep=slept.append).put(entries(10))
    assert calls == [10] * 4 and caught.value.pending == 10
    assert "ProvisionedThroughputExceeded" in str(caught.value)
    assert len(slept) == 3 and 0.05 <= slept[0] <= 0.1 and all(s <= 0.25 for s in slept)


def test_unreachable_kinesis_is_stream_unavailable(s3_settings, kinesis_down) -> None:
    """Seen failing without the protection: ``KinesisSink.put`` (lambdas/ingest/kinesis_sink.py) without its
    ``except BotoCoreError``: botocore's ``EndpointConnectionError`` ("Could not connect to the endpoint URL")
    escaped."""
    with pytest.raises(StreamUnavailable, match="EndpointConnectionError"):
        sink(s3_settings, attempts=2).put(entries(3))


def test_missing_stream_fails_at_once(s3_settings) -> None:
    """Seen failing without the protection: ``ResourceNotFoundException`` taken out of ``NOT_RETRYABLE``
    (lambdas/ingest/kinesis_sink.py, read by ``KinesisSink.put``): the missing stream was retried, four backoff sleeps
    recorded (``assert calls == []``: "Left contains 4 more items")."""
    calls: list[float] = []
    with pytest.raises(StreamUnavailable, match="ResourceNotFound"):
        KinesisSink("no-such-stream", s3_settings.region, sleep=calls.append).put(entries(2))
    assert calls == []
