"""Resharding while the job runs: a shard is split mid-stream; nothing is lost or counted twice."""

from __future__ import annotations

import threading
import time

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from stream.job import run_stream
from stream.rfm import DEFAULT_BREAKPOINTS

from .conftest import actual_features, assert_features_match, oracle_features, put_payloads, scenario, stored_items


def test_split_a_shard_while_the_stream_runs(spark, aws_settings: Settings) -> None:
    settings = aws_settings.model_copy(update={"stream": aws_settings.stream.model_copy(
        update={"max_records_per_trigger": 250})})
    stream = settings.names.stream
    data = scenario(seed=8, customers=50, events=900)
    half = len(data.payloads) // 2
    put_payloads(stream, data.payloads[:half])
    stop = threading.Event()
    processed: list[int] = []
    outcome: dict = {}

    def job() -> None:
        try:
            outcome["report"] = run_stream(settings, spark, once=False, trigger_seconds=0.5, stop=stop,
                                           on_progress=lambda r: processed.append(r.records))
        except BaseException as exc:  # surfaced by the assertions below
            outcome["error"] = exc

    runner = threading.Thread(target=job, daemon=True)
    runner.start()
    deadline = time.monotonic() + 120
    while sum(processed) < 250 and time.monotonic() < deadline and runner.is_alive():
        time.sleep(0.1)
    kinesis = aws_client("kinesis")
    parent = kinesis.list_shards(StreamName=stream)["Shards"][0]
    low, high = (int(parent["HashKeyRange"][k]) for k in ("StartingHashKey", "EndingHashKey"))
    kinesis.split_shard(StreamName=stream, ShardToSplit=parent["ShardId"], NewStartingHashKey=str((low + high) // 2))
    put_payloads(stream, data.payloads[half:])
    while sum(processed) < len(data.payloads) and time.monotonic() < deadline and runner.is_alive():
        time.sleep(0.2)
    time.sleep(1.5)  # a few more (empty) triggers: nothing may arrive twice
    stop.set()
    runner.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert sum(processed) == len(data.payloads)
    report = outcome["report"]
    assert report.rejected == data.bad
    assert len(kinesis.list_shards(StreamName=stream)["Shards"]) == 4
    assert_features_match(oracle_features(data.records, DEFAULT_BREAKPOINTS), actual_features(stored_items(settings)))
