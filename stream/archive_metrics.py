"""The raw archive's heartbeat: one CloudWatch datapoint per trigger of the archive query, idle triggers included.

Why a heartbeat and not only a count of what was archived: a Spark query runs no micro-batch when the stream has
nothing new, so a metric written from ``foreachBatch`` is missing both when the stream is quiet and when the
archive stopped, and an alarm could not tell the two apart. Spark reports every trigger to the session's
streaming listeners instead: ``onQueryProgress`` after a micro-batch (``numInputRows`` records read) and
``onQueryIdle`` when a trigger found no new data (Spark 3.5 and later; posted at most every
``spark.sql.streaming.noDataProgressEventInterval``, 10 s, so once per trigger at the archive's 300 s buffer).
The listener runs on the driver, outside the query: it keeps reporting only while the query keeps triggering,
so a query stopped inside a running job, one stuck in a micro-batch, and a job that is gone all leave the metric
missing — which the monitoring stack's alarm treats as breaching (infra/stacks/monitoring.py, docs/streaming.md).

The metric (declared in :mod:`lakehouse.core.monitoring`): namespace ``CustomerLakehouse``, dimensions
``service`` = ``raw-archive`` and ``stage``, name ``ArchivedRecords``, unit Count, value = the records one trigger
read from the stream and archived (0 for an idle trigger). Its ``SampleCount`` per period is the number of
triggers, its ``Sum`` the records archived. One ``PutMetricData`` call per trigger (8,766 a month at the 300 s
buffer). A failed call is reported on stderr and never fails the archive: a missing datapoint is what the alarm
is for.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from pyspark.sql.streaming import StreamingQueryListener

from lakehouse.core.monitoring import ARCHIVED_RECORDS, NAMESPACE, archive_dimensions

Publish = Callable[[int], None]


def cloudwatch_publisher(region: str | None, stage: str) -> Publish:
    """``publish(records)``: one :data:`ARCHIVED_RECORDS` datapoint (Count) through CloudWatch ``PutMetricData``
    (the client honours ``AWS_ENDPOINT_URL``, so locally it reaches the emulator)."""
    from lakehouse.core.aws.clients import aws_client

    client = aws_client("cloudwatch", region)
    named = [{"Name": name, "Value": value} for name, value in archive_dimensions(stage).items()]

    def publish(records: int) -> None:
        client.put_metric_data(Namespace=NAMESPACE, MetricData=[{
            "MetricName": ARCHIVED_RECORDS, "Dimensions": named,
            "Value": float(records), "Unit": "Count"}])

    return publish


class ArchiveHeartbeat(StreamingQueryListener):
    """A session listener that calls ``publish(records)`` once per trigger of the query named ``query_name``.

    Parameters
    ----------
    query_name
        The archive query's name (``queryName``); other queries of the session are ignored.
    publish
        Called with the records a trigger read (0 when idle); see :func:`cloudwatch_publisher`.

    Register it with ``spark.streams.addListener`` before the query starts (it learns the query's id from
    ``onQueryStarted``) and remove it once the query has stopped.
    """

    def __init__(self, query_name: str, publish: Publish) -> None:
        self.query_name = query_name
        self._publish = publish
        self._ids: set[str] = set()
        self._terminated = threading.Event()
        self.published = 0
        self.failures = 0

    def onQueryStarted(self, event) -> None:
        """Remember the id of a query named :attr:`query_name` (the other events carry only the id)."""
        if event.name == self.query_name:
            self._ids.add(str(event.id))

    def onQueryProgress(self, event) -> None:
        """A micro-batch ran: publish the records it read."""
        progress = event.progress
        if str(progress.id) in self._ids:
            self._send(int(progress.numInputRows))

    def onQueryIdle(self, event) -> None:
        """A trigger found nothing new on the stream: publish 0 (the query is alive)."""
        if str(event.id) in self._ids:
            self._send(0)

    def onQueryTerminated(self, event) -> None:
        """The query ended: forget it (see :meth:`wait_terminated`)."""
        if str(event.id) in self._ids:
            self._ids.discard(str(event.id))
            self._terminated.set()

    def wait_terminated(self, timeout_seconds: float) -> bool:
        """Wait until the listener has seen the query end (Spark delivers events asynchronously: the last
        trigger's report may arrive after ``awaitTermination`` returns); ``False`` after ``timeout_seconds``."""
        return self._terminated.wait(timeout_seconds)

    def _send(self, records: int) -> None:
        try:
            self._publish(records)
            self.published += 1
        except Exception as exc:  # never fail the archive for a metric: its absence is what alarms
            self.failures += 1
            print(f"raw archive: metric {ARCHIVED_RECORDS} not published: {type(exc).__name__}: {exc}",
                  file=sys.stderr, flush=True)


__all__ = ["ArchiveHeartbeat", "cloudwatch_publisher"]
