"""The raw archive: Kinesis -> the raw zone in large objects, by arrival hour, bytes as the API wrote them.

Real Spark, the project's Kinesis source on the session's moto server, a local lake. The oracle is written
independently of the archive: Python groups the payloads put on the stream by their own ``source`` and
``received_at`` and encodes them with the API's encoding.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from lakehouse.core.config import Settings
from lakehouse.core.lake.raw import decode_lines, encode_json_lines, landing_logs
from lakehouse.core.lake.storage import LakeStorage
from stream.archive import UNKNOWN_SOURCE, archive_batch, run_archive

from .conftest import BAD_RECORDS, put_payloads, raw_record, record_bytes, scenario

NAME = re.compile(r"^raw/source=([^/]+)/dt=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/"
                  r"([0-9a-f]{16})-b(\d{10})-p(\d{4})\.jsonl\.gz$")


def raw_objects(settings: Settings) -> dict[str, bytes]:
    storage = LakeStorage(settings.lake)
    return {o.key: storage.get_bytes(o.key) for o in storage.list("raw") if o.key.endswith(".jsonl.gz")}


def with_arrival(payloads: list[bytes], hours: int, source: str) -> list[bytes]:
    """The payloads re-stamped as received by ``source`` over ``hours`` consecutive hours (round robin)."""
    base = datetime(2025, 3, 9, 22, 15, tzinfo=UTC)  # crosses midnight: two dates
    out = []
    for index, payload in enumerate(payloads):
        record = json.loads(payload)
        record["received_at"] = (base + timedelta(hours=index % hours)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        record["source"] = source
        out.append(json.dumps(record, separators=(",", ":")).encode())
    return out


def test_every_record_lands_once_by_source_and_arrival_hour_with_the_api_bytes(spark, aws_settings: Settings) -> None:
    data = scenario(seed=31, customers=20, events=300, bad_every=0)
    web = with_arrival(data.payloads[:200], hours=3, source="web")
    crm = with_arrival(data.payloads[200:], hours=1, source="crm")
    payloads = [*web, *crm, BAD_RECORDS[0]]
    put_payloads(aws_settings.names.stream, payloads)

    report = run_archive(aws_settings, spark, once=True)
    assert report.records == len(payloads) and report.objects >= 1

    objects = raw_objects(aws_settings)
    expected: dict[tuple[str, str, str], list[bytes]] = {}
    for payload in [*web, *crm]:
        record = json.loads(payload)
        stamp = record["received_at"]
        expected.setdefault((record["source"], stamp[:10], stamp[11:13]), []).append(payload)
    lines: Counter[bytes] = Counter()
    partitions: dict[tuple[str, str, str], list[bytes]] = {}
    for key, body in objects.items():
        match = NAME.match(key)
        assert match, key
        assert match.group(4) == report.run and match.group(6) == "0000"
        found = gzip.decompress(body).split(b"\n")[:-1]
        assert body == encode_json_lines(found)  # the API's encoding, byte for byte
        lines.update(found)
        partitions.setdefault(match.group(1, 2, 3), []).extend(found)
    assert lines == Counter(payloads)  # every record once, its bytes as put on the stream
    unknown = {k: v for k, v in partitions.items() if k[0] == UNKNOWN_SOURCE}
    assert list(unknown.values()) == [[BAD_RECORDS[0]]]  # not from the API: by its arrival on the stream
    assert {k: sorted(v) for k, v in partitions.items() if k[0] != UNKNOWN_SOURCE} == {
        k: sorted(v) for k, v in expected.items()}
    assert len(objects) == len(partitions) == len(expected) + 1  # one object per partition (one micro-batch)

    logs = landing_logs(LakeStorage(aws_settings.lake))
    assert [log.writer for log in logs] == ["raw-archive"]
    assert {o.key for o in logs[0].objects} == set(objects)
    assert sum(o.records for o in logs[0].objects) == len(payloads)
    assert {o.key: o.bytes for o in logs[0].objects} == {k: len(v) for k, v in objects.items()}

    again = run_archive(aws_settings, spark, once=True)  # nothing new on the stream: nothing written
    assert again.records == 0 and raw_objects(aws_settings) == objects


def test_objects_split_into_parts_at_the_size_cap(spark, aws_settings: Settings) -> None:
    cap = 4096
    settings = aws_settings.model_copy(update={"archive": aws_settings.archive.model_copy(
        update={"max_object_bytes": cap})})
    payloads = with_arrival(scenario(seed=32, customers=10, events=120, bad_every=0).payloads, hours=1, source="web")
    put_payloads(settings.names.stream, payloads)
    run_archive(settings, spark, once=True)
    objects = raw_objects(settings)
    parts = sorted(int(NAME.match(k).group(6)) for k in objects)  # type: ignore[union-attr]
    assert parts == list(range(len(objects))) and len(objects) > 3
    for body in objects.values():
        assert len(gzip.decompress(body)) <= cap
    assert Counter(line.encode() for body in objects.values() for line in decode_lines(body)) == Counter(payloads)


def test_a_replayed_micro_batch_rewrites_the_same_keys_with_the_same_bytes(spark, settings: Settings) -> None:
    """What Spark's replay of an unfinished micro-batch does: the same records under the same (run, batch id)."""
    received = datetime(2025, 5, 1, 8, 30, tzinfo=UTC)
    records = [raw_record({"type": "track", "event": "Product Viewed", "userId": f"u{i}", "messageId": f"m{i}",
                           "timestamp": "2025-05-01T08:29:00.000Z", "properties": {"product_id": f"p{i}"}},
                          received + timedelta(minutes=40 * (i % 3))) for i in range(50)]
    rows = [(record_bytes(r),) for r in records]
    storage = LakeStorage(settings.lake)
    first = archive_batch(spark.createDataFrame(rows, "data binary"), 7, storage=storage, region=None,
                          run="0123456789abcdef", max_object_bytes=1 << 20, partitions=2)
    before = raw_objects(settings)
    replay = archive_batch(spark.createDataFrame(list(reversed(rows)), "data binary").repartition(3), 7,
                           storage=storage, region=None, run="0123456789abcdef", max_object_bytes=1 << 20,
                           partitions=2)
    assert replay.objects == first.objects and replay.landing_log == first.landing_log
    assert raw_objects(settings) == before and len(before) == 2  # 08:xx and 09:xx; nothing added
    assert [log.key for log in landing_logs(storage)] == [first.landing_log]
