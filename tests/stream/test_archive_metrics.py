"""The raw archive's heartbeat on the real code path: run_archive on real Spark, the project's Kinesis source on the
session's moto server, ``PutMetricData`` to moto's CloudWatch, read back with ``GetMetricStatistics``.

The oracle is the stream itself (records put) and the run's own micro-batch list; the alarm reads ``SampleCount``
(triggers) and the dashboard ``Sum`` (records), so both are checked.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from lakehouse.core.monitoring import ARCHIVED_RECORDS, NAMESPACE, archive_dimensions
from stream.archive import run_archive

from .conftest import put_payloads, scenario

IDLE_INTERVAL = "spark.sql.streaming.noDataProgressEventInterval"


def heartbeat(settings: Settings, since: datetime) -> tuple[int, float]:
    """(datapoints, records) of the stage's ``ArchivedRecords`` since ``since``, from the emulator's CloudWatch."""
    stats = aws_client("cloudwatch", settings.region).get_metric_statistics(
        Namespace=NAMESPACE, MetricName=ARCHIVED_RECORDS,
        Dimensions=[{"Name": k, "Value": v} for k, v in archive_dimensions(settings.stage).items()],
        StartTime=since, EndTime=datetime.now(UTC) + timedelta(minutes=1), Period=3600,
        Statistics=["SampleCount", "Sum"])
    points = stats["Datapoints"]
    return int(sum(p["SampleCount"] for p in points)), sum(p["Sum"] for p in points)


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

    Seen failing without the protection: with ``onQueryIdle`` removed from ``ArchiveHeartbeat`` (a metric written
    per micro-batch only) the run published one datapoint, the new checkpoint's first (empty) micro-batch:
    ``1 >= 1 + 3`` failed.
    """
    since = datetime.now(UTC) - timedelta(minutes=1)
    stop = threading.Event()

    def stop_after_idle_triggers() -> None:  # the machine may be slow to start the query: count, don't time
        deadline = time.monotonic() + 180
        while not stop.is_set() and time.monotonic() < deadline:
            if heartbeat(aws_settings, since)[0] >= 4:
                break
            time.sleep(1.0)
        stop.set()

    watcher = threading.Thread(target=stop_after_idle_triggers, daemon=True)
    # Spark reports an idle trigger at most every noDataProgressEventInterval (10 s by default, below the
    # archive's 300 s buffer on AWS, so every idle trigger reports there); 1 s here for 1 s triggers
    spark.conf.set(IDLE_INTERVAL, "1000")
    watcher.start()
    try:
        report = run_archive(aws_settings, spark, once=False, buffer_seconds=1.0, stop=stop)
    finally:
        stop.set()
        spark.conf.unset(IDLE_INTERVAL)
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
