"""The streaming queries' heartbeats: every trigger of a query counted into a CloudWatch metric, idle triggers
included.

Why a heartbeat and not only a count of what was processed: a Spark query runs no micro-batch when the stream has
nothing new, so a metric written from ``foreachBatch`` is missing both when the stream is quiet and when the
query stopped, and an alarm could not tell the two apart. Spark reports every trigger to the session's streaming
listeners instead: ``onQueryProgress`` after a micro-batch (``numInputRows`` records read) and ``onQueryIdle`` when
a trigger found no new data (Spark 3.5 and later; posted at most every
``spark.sql.streaming.noDataProgressEventInterval``, 10 s). The listener runs on the driver, outside the query: it
keeps reporting only while the query keeps triggering, so a query stopped inside a running job, one stuck in a
micro-batch, and a job that is gone all leave the metric missing — which the monitoring stack's alarms treat as
breaching (infra/stacks/monitoring.py, docs/streaming.md, "Monitoring").

The metrics (declared in :mod:`lakehouse.core.monitoring`) are published as **statistic sets**: one
``PutMetricData`` datapoint holds the triggers since the last one (``SampleCount``) and the records they read
(``Sum``, ``Minimum``, ``Maximum`` per trigger), so the alarm's ``SampleCount`` per period is the number of
triggers however many were summed into a datapoint. The raw archive (a trigger every 300 s) publishes each trigger;
the feature query (a trigger every few seconds) at most once a minute, and what is pending when the query ends.
A failed call is reported on stderr and never fails the query: a missing datapoint is what the alarms are for.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark.sql.streaming import StreamingQueryListener

from lakehouse.core.monitoring import NAMESPACE, heartbeat_dimensions

#: how long a stopped run waits for Spark to hand its last trigger's report to the heartbeat listener, seconds
DRAIN_SECONDS = 10.0


@dataclass(frozen=True)
class Beats:
    """Triggers of a query summed into one datapoint: how many, and the records they read (sum, min, max)."""

    triggers: int
    records: int
    minimum: int
    maximum: int


Publish = Callable[[Beats], None]


def cloudwatch_publisher(region: str | None, stage: str, service: str, metric_name: str) -> Publish:
    """``publish(beats)``: one ``metric_name`` datapoint (Count, a statistic set) with the dimensions of ``service``
    and ``stage`` through CloudWatch ``PutMetricData`` (the client honours ``AWS_ENDPOINT_URL``, so locally it
    reaches the emulator)."""
    from lakehouse.core.aws.clients import aws_client

    client = aws_client("cloudwatch", region)
    named = [{"Name": name, "Value": value} for name, value in heartbeat_dimensions(service, stage).items()]

    def publish(beats: Beats) -> None:
        client.put_metric_data(Namespace=NAMESPACE, MetricData=[{
            "MetricName": metric_name, "Dimensions": named, "Unit": "Count",
            "StatisticValues": {"SampleCount": float(beats.triggers), "Sum": float(beats.records),
                                "Minimum": float(beats.minimum), "Maximum": float(beats.maximum)}}])

    return publish


class QueryHeartbeat(StreamingQueryListener):
    """A session listener that counts every trigger of the query named ``query_name`` and publishes the counts.

    Parameters
    ----------
    query_name
        The query's name (``queryName``); other queries of the session are ignored. Several runs of one name (a
        query restarted in the same session) are all followed.
    publish
        Called with the triggers since the last call (see :func:`cloudwatch_publisher`).
    every_seconds
        Publish at most this often (0: every trigger); what is pending is published when the query ends.
    clock
        Monotonic seconds (tests may pass their own).

    Register it with ``spark.streams.addListener`` before the query starts (it learns the query's id from
    ``onQueryStarted``) and remove it once the query has stopped (:meth:`wait_terminated` first).
    """

    def __init__(self, query_name: str, publish: Publish, *, every_seconds: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.query_name = query_name
        self._publish = publish
        self.every_seconds = every_seconds
        self._clock = clock
        self._ids: set[str] = set()
        self._terminated = threading.Event()
        self._lock = threading.Lock()
        self._pending: list[int] = []
        self._last_sent = float("-inf")
        self.started = False
        self.published = 0
        self.failures = 0

    def onQueryStarted(self, event) -> None:
        """Remember the id of a query named :attr:`query_name` (the other events carry only the id)."""
        if event.name == self.query_name:
            self._ids.add(str(event.id))
            self.started = True
            self._terminated.clear()

    def onQueryProgress(self, event) -> None:
        """A micro-batch ran: count it with the records it read."""
        progress = event.progress
        if str(progress.id) in self._ids:
            self._beat(int(progress.numInputRows))

    def onQueryIdle(self, event) -> None:
        """A trigger found nothing new on the stream: count it with 0 records (the query is alive)."""
        if str(event.id) in self._ids:
            self._beat(0)

    def onQueryTerminated(self, event) -> None:
        """The query ended: publish what is pending and forget it (see :meth:`wait_terminated`)."""
        if str(event.id) in self._ids:
            self._ids.discard(str(event.id))
            self._flush()
            self._terminated.set()

    def wait_terminated(self, timeout_seconds: float) -> bool:
        """Wait until the listener has seen the query end (Spark delivers events asynchronously: the last
        trigger's report may arrive after ``awaitTermination`` returns); ``False`` after ``timeout_seconds``."""
        return self._terminated.wait(timeout_seconds)

    def _beat(self, records: int) -> None:
        with self._lock:
            self._pending.append(records)
        if self._clock() - self._last_sent >= self.every_seconds:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        self._last_sent = self._clock()
        try:
            self._publish(Beats(len(pending), sum(pending), min(pending), max(pending)))
            self.published += 1
        except Exception as exc:  # never fail the query for a metric: its absence is what alarms
            self.failures += 1
            print(f"{self.query_name}: heartbeat not published: {type(exc).__name__}: {exc}", file=sys.stderr,
                  flush=True)


@contextmanager
def listening(spark, heartbeat: QueryHeartbeat | None) -> Iterator[QueryHeartbeat | None]:
    """Register ``heartbeat`` on ``spark``'s session for the block (nothing when it is ``None``); on the way out,
    once a query it follows has started, wait up to :data:`DRAIN_SECONDS` for Spark to deliver the last trigger's
    report, then remove it."""
    if heartbeat is None:
        yield None
        return
    spark.streams.addListener(heartbeat)
    try:
        yield heartbeat
    finally:
        if heartbeat.started:
            heartbeat.wait_terminated(DRAIN_SECONDS)
        spark.streams.removeListener(heartbeat)


__all__ = ["DRAIN_SECONDS", "Beats", "QueryHeartbeat", "cloudwatch_publisher", "listening"]
