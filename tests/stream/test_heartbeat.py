"""The streaming queries' heartbeats on the real code path: run_archive and run_stream on real Spark, the project's
Kinesis source on the session's moto server, ``PutMetricData`` to moto's CloudWatch, read back with
``GetMetricStatistics``; and the listener's batching of triggers into statistic sets.

The oracle is the stream itself (records put) and the run's own micro-batch list; the alarms read ``SampleCount``
(triggers) and the dashboard ``Sum`` (records), so both are checked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from lakehouse.core.monitoring import (
    ARCHIVED_RECORDS,
    FEATURE_RECORDS,
    NAMESPACE,
    archive_dimensions,
    features_dimensions,
)
from stream.archive import run_archive
from stream.heartbeat import Beats, QueryHeartbeat
from stream.job import run_stream

from .conftest import put_payloads, scenario

IDLE_INTERVAL = "spark.sql.streaming.noDataProgressEventInterval"


def heartbeat(settings: Settings, since: datetime, metric: str = ARCHIVED_RECORDS) -> tuple[int, float]:
    """(triggers, records) of the stage's ``metric`` since ``since``, from the emulator's CloudWatch."""
    dimensions = archive_dimensions if metric == ARCHIVED_RECORDS else features_dimensions
    stats = aws_client("cloudwatch", settings.region).get_metric_statistics(
        Namespace=NAMESPACE, MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions(settings.stage).items()],
        StartTime=since, EndTime=datetime.now(UTC) + timedelta(minutes=1), Period=3600,
        Statistics=["SampleCount", "Sum"])
    points = stats["Datapoints"]
    return int(sum(p["SampleCount"] for p in points)), sum(p["Sum"] for p in points)


def run_idle(spark, settings: Settings, metric: str, run: Callable[[threading.Event], Any], seen: int,
             then: float = 0.0) -> Any:
    """``run(stop)``, a query on an empty stream with a trigger a second, until CloudWatch holds ``seen`` of its
    triggers (``metric``'s SampleCount) and ``then`` seconds more, or for 180 s; returns what ``run`` returns.

    The machine may be slow to start the query: the watcher counts triggers, it does not time the run.
    """
    since = datetime.now(UTC) - timedelta(minutes=1)
    stop = threading.Event()

    def stop_after_idle_triggers() -> None:
        deadline = time.monotonic() + 180
        while not stop.is_set() and time.monotonic() < deadline:
            if heartbeat(settings, since, metric)[0] >= seen:
                stop.wait(then)
                break
            time.sleep(1.0)
        stop.set()

    watcher = threading.Thread(target=stop_after_idle_triggers, daemon=True)
    # Spark reports an idle trigger at most every noDataProgressEventInterval (10 s by default, below the
    # archive's 300 s buffer on AWS, so every idle trigger reports there); 1 s here for 1 s triggers
    spark.conf.set(IDLE_INTERVAL, "1000")
    watcher.start()
    try:
        return run(stop)
    finally:
        stop.set()
        spark.conf.unset(IDLE_INTERVAL)


def test_each_micro_batch_publishes_the_records_it_archived(spark, aws_settings: Settings) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    payloads = scenario(seed=41, customers=10, events=120, bad_every=0).payloads
    put_payloads(aws_settings.names.stream, payloads)

    report = run_archive(aws_settings, spark, once=True, max_records=50)

    assert len(report.batches) >= 3  # 120 records, at most 50 a micro-batch
    assert heartbeat(aws_settings, since) == (len(report.batches), float(len(payloads)))


def test_an_idle_running_archive_keeps_publishing_so_only_a_stopped_one_goes_missing(
        spark, aws_settings: Settings) -> None:
    """Nothing on the stream: no micro-batch reads a record, yet every trigger publishes a 0 — the alarm's missing
    data then means the archive stopped, not that the stream is quiet.

    Seen failing without the protection: with ``onQueryIdle`` removed from the heartbeat (a metric written
    per micro-batch only) the run published one datapoint, the new checkpoint's first (empty) micro-batch:
    ``1 >= 1 + 3`` failed.
    """
    since = datetime.now(UTC) - timedelta(minutes=1)
    report = run_idle(spark, aws_settings, ARCHIVED_RECORDS, seen=4, run=lambda stop: run_archive(
        aws_settings, spark, once=False, buffer_seconds=1.0, stop=stop))
    assert sum(b.records for b in report.batches) == 0  # a new checkpoint's first trigger may run an empty batch
    triggers, records = heartbeat(aws_settings, since)
    assert triggers >= len(report.batches) + 3 and records == 0.0


def test_a_run_without_metrics_publishes_nothing(spark, aws_settings: Settings) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    payloads = scenario(seed=43, customers=3, events=10, bad_every=0).payloads
    put_payloads(aws_settings.names.stream, payloads)
    report = run_archive(aws_settings, spark, once=True, metrics=False)
    assert report.records == len(payloads)
    time.sleep(0.5)
    assert heartbeat(aws_settings, since) == (0, 0.0)


def test_each_feature_trigger_counts_with_the_records_it_read(spark, aws_settings: Settings) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    payloads = scenario(seed=47, customers=8, events=90, bad_every=0).payloads
    put_payloads(aws_settings.names.stream, payloads)

    report = run_stream(aws_settings, spark, once=True, max_records=40)

    assert len(report.batches) >= 3  # 90 records, at most 40 a micro-batch
    read = sum(b.records for b in report.batches)
    assert read >= len(payloads)  # and the records forwarded to another key by an identify, read back
    assert heartbeat(aws_settings, since, FEATURE_RECORDS) == (len(report.batches), float(read))


def test_an_idle_running_feature_query_keeps_counting_its_triggers(spark, aws_settings: Settings) -> None:
    """Nothing on the stream: the feature query's idle triggers are counted (summed into a datapoint a minute, the
    pending ones published when the query stops), so a silent metric means a stopped query.

    Seen failing without the protection: with the features run's heartbeat not registered (``metrics`` ignored in
    run_stream) no datapoint came: the watcher gave up after 180 s and ``0 >= 1 + 3`` failed.
    """
    since = datetime.now(UTC) - timedelta(minutes=1)
    # the first trigger publishes at once; then idle ones pile up for 6 s, published when the query stops
    report = run_idle(spark, aws_settings, FEATURE_RECORDS, seen=1, then=6.0, run=lambda stop: run_stream(
        aws_settings, spark, once=False, trigger_seconds=1.0, stop=stop))
    assert sum(b.records for b in report.batches) == 0
    triggers, records = heartbeat(aws_settings, since, FEATURE_RECORDS)
    assert triggers >= len(report.batches) + 3 and records == 0.0


def progress(query_id: str, rows: int) -> SimpleNamespace:
    return SimpleNamespace(progress=SimpleNamespace(id=query_id, numInputRows=rows))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_triggers_within_the_interval_are_summed_into_one_statistic_set_and_the_rest_sent_at_the_end() -> None:
    """Seen failing without the batching (every trigger published at once): seven datapoints, the second
    ``Beats(1, 12, 12, 12)`` where five triggers belong summed."""
    sent: list[Beats] = []
    clock = Clock()
    beat = QueryHeartbeat("features_x", sent.append, every_seconds=60.0, clock=clock)
    beat.onQueryStarted(SimpleNamespace(name="other", id="o"))
    beat.onQueryStarted(SimpleNamespace(name="features_x", id="q"))
    beat.onQueryProgress(progress("q", 40))  # the first trigger: sent at once
    for seconds, rows in ((5, 12), (10, 0), (30, 3)):
        clock.now += seconds
        beat.onQueryProgress(progress("q", rows))
    beat.onQueryIdle(SimpleNamespace(id="q"))
    beat.onQueryProgress(progress("o", 999))  # another query of the session: not counted
    clock.now += 20  # 65 s after the first datapoint
    beat.onQueryIdle(SimpleNamespace(id="q"))
    clock.now += 1
    beat.onQueryProgress(progress("q", 7))
    beat.onQueryTerminated(SimpleNamespace(id="q"))
    assert sent == [Beats(1, 40, 40, 40), Beats(5, 15, 0, 12), Beats(1, 7, 7, 7)]
    assert beat.wait_terminated(0) and beat.published == 3


def test_a_failed_publish_is_counted_and_never_raises_into_the_query(capsys: pytest.CaptureFixture) -> None:
    """Seen failing without the protection: the ``except Exception`` of ``QueryHeartbeat._flush`` (stream/heartbeat.py)
    removed: ``ConnectionError: endpoint unreachable`` raised out of ``onQueryIdle`` into its caller."""
    def refuse(beats: Beats) -> None:
        raise ConnectionError("endpoint unreachable")

    beat = QueryHeartbeat("q", refuse)
    beat.onQueryStarted(SimpleNamespace(name="q", id="1"))
    beat.onQueryIdle(SimpleNamespace(id="1"))
    assert beat.failures == 1 and beat.published == 0
    assert "q: heartbeat not published: ConnectionError: endpoint unreachable" in capsys.readouterr().err
