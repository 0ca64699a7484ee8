"""The Kinesis source in Spark: micro-batch caps, AvailableNow, restarts and replays from the checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from stream.kinesis.source import register


def put(settings: Settings, prefix: str, count: int) -> set[bytes]:
    datas = [f"{prefix}-{i}".encode() for i in range(count)]
    for start in range(0, count, 500):
        aws_client("kinesis").put_records(StreamName=settings.names.stream, Records=[
            {"Data": d, "PartitionKey": d.decode()} for d in datas[start:start + 500]])
    return set(datas)


def run(spark, settings: Settings, checkpoint: Path, handle, cap: int = 150) -> None:
    register(spark)
    query = (spark.readStream.format("kinesis").option("streamName", settings.names.stream)
             .option("maxRecordsPerTrigger", cap).option("endpointUrl", aws_client("kinesis").meta.endpoint_url)
             .load().writeStream.foreachBatch(handle).option("checkpointLocation", str(checkpoint))
             .trigger(availableNow=True).start())
    query.awaitTermination()


def test_available_now_caps_batches_and_a_restart_resumes(spark, aws_settings: Settings, tmp_path: Path) -> None:
    sent = put(aws_settings, "a", 420)
    batches: list[list] = []

    def handle(frame, batch_id: int) -> None:
        batches.append(frame.collect())

    run(spark, aws_settings, tmp_path / "ck", handle)
    sizes = [len(b) for b in batches if b]
    assert sizes == [150, 150, 120]
    rows = [r for b in batches for r in b]
    assert {bytes(r.data) for r in rows} == sent and len(rows) == len(sent)
    assert {r.shard_id for r in rows} == {"shardId-000000000000", "shardId-000000000001"}
    assert all(r.approximate_arrival_timestamp is not None and r.partition_key for r in rows)
    more = put(aws_settings, "b", 10)
    batches.clear()
    run(spark, aws_settings, tmp_path / "ck", handle)
    assert {bytes(r.data) for b in batches for r in b} == more


def test_a_failed_batch_is_replayed_with_the_same_records(spark, aws_settings: Settings, tmp_path: Path) -> None:
    put(aws_settings, "r", 300)
    seen: dict[int, list[list[bytes]]] = {}

    def handle(frame, batch_id: int) -> None:
        seen.setdefault(batch_id, []).append(sorted(bytes(r.data) for r in frame.collect()))
        if batch_id == 1 and len(seen[1]) == 1:
            raise RuntimeError("crash in batch 1")

    with pytest.raises(Exception, match="crash in batch 1"):
        run(spark, aws_settings, tmp_path / "ck", handle, cap=120)
    run(spark, aws_settings, tmp_path / "ck", handle, cap=120)  # a new planner: executors re-read the range
    assert len(seen[1]) == 2 and seen[1][0] == seen[1][1] and len(seen[1][0]) == 120
    assert sum(len(v[-1]) for v in seen.values()) == 300
