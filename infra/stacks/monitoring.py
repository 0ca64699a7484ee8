"""Monitoring: the operations dashboard and the cross-cutting alarms (stream lag and throttles, table throttles,
quarantine volume, streaming job failures, a stopped raw archive or feature query, one that runs but reads
nothing). Ingestion and batch keep the
alarms on their own resources; the dashboard shows every alarm of the app in one status widget.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from constructs import Construct

from infra.components.alarms import FIVE_MINUTES, AlarmSet
from infra.config import Deployment
from infra.stacks.batch import BatchStack
from infra.stacks.ingestion import IngestionStack
from infra.stacks.storage import StorageStack
from infra.stacks.streaming import StreamingStack
from lakehouse.core.monitoring import (
    ARCHIVED_RECORDS,
    FEATURE_RECORDS,
    archive_dimensions,
    features_dimensions,
)
from lakehouse.core.monitoring import NAMESPACE as HEARTBEAT_NAMESPACE

# The ingest function's Powertools metrics (lambdas/ingest/app.py): namespace, service dimension, names.
INGEST_NAMESPACE = "CustomerLakehouse"
INGEST_SERVICE = "ingest"
ACCEPTED_EVENTS = "AcceptedEvents"
REJECTED_EVENTS = "RejectedEvents"

ITERATOR_AGE_LIMIT = Duration.minutes(5)
#: 5-minute periods without a single trigger of the raw archive before it counts as stopped (its buffer is 300 s:
#: a running archive reports about once a period, idle or not; three absorb a late or long micro-batch)
ARCHIVE_SILENT_PERIODS = 3
#: 5-minute periods without a single trigger of the feature query before it counts as stopped (it triggers every
#: few seconds and publishes them at most every FEATURES_HEARTBEAT_SECONDS, 60 s: about five datapoints a period)
FEATURES_SILENT_PERIODS = 3
#: 5-minute periods in a row in which a query triggered and read nothing while records arrived before it alarms:
#: a running archive reads in the next period what arrived after its trigger, so one or two such periods are normal
READING_NOTHING_PERIODS = 3
#: how long after a failed streaming job run was notified a stopped archive or a lagging job stays quiet (the same
#: failure: the job down, then catching up after its restart)
SUPPRESSED_AFTER_JOB_FAILURE = Duration.hours(1)
QUARANTINE_RATIO_LIMIT = 0.05


def ingest_metric(name: str) -> cloudwatch.Metric:
    """The ingest function's EMF count ``name`` (e.g. AcceptedEvents), summed over 5 minutes."""
    return cloudwatch.Metric(
        namespace=INGEST_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": INGEST_SERVICE},
        statistic="Sum",
        period=FIVE_MINUTES,
    )


def heartbeat_triggers(metric_name: str, dimensions: dict[str, str]) -> cloudwatch.Metric:
    """Triggers of a streaming query per 5 minutes: the ``SampleCount`` of its heartbeat metric, every trigger
    counted, idle ones included (statistic sets: stream/heartbeat.py)."""
    return _heartbeat(metric_name, dimensions, "SampleCount")


def heartbeat_records(metric_name: str, dimensions: dict[str, str]) -> cloudwatch.Metric:
    """Records a streaming query read per 5 minutes: the ``Sum`` of its heartbeat metric (stream/heartbeat.py)."""
    return _heartbeat(metric_name, dimensions, "Sum")


def _heartbeat(metric_name: str, dimensions: dict[str, str], statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(namespace=HEARTBEAT_NAMESPACE, metric_name=metric_name, dimensions_map=dimensions,
                             statistic=statistic, period=FIVE_MINUTES)


def reading_nothing(incoming: cloudwatch.IMetric, triggers: cloudwatch.Metric, records: cloudwatch.Metric,
                    label: str) -> cloudwatch.MathExpression:
    """1 in a 5-minute period when records arrived on the stream and the query triggered but read none, else 0.

    Written with IF and comparisons only (``IF(a + q > 0, …)`` is the quarantine alarm's form), the three
    conditions multiplied; missing datapoints are filled with 0, so a query that did not trigger at all is 0 here
    (that is the silent alarm's case, notified once, there)."""
    return cloudwatch.MathExpression(
        expression="IF(FILL(i, 0) > 0, 1, 0) * IF(FILL(t, 0) > 0, 1, 0) * IF(FILL(r, 0) < 1, 1, 0)",
        using_metrics={"i": incoming, "t": triggers, "r": records},
        label=label,
        period=FIVE_MINUTES,
    )


def archive_triggers(stage: str) -> cloudwatch.Metric:
    """Triggers of the raw archive query per 5 minutes (its heartbeat ``ArchivedRecords``, one datapoint a trigger)."""
    return heartbeat_triggers(ARCHIVED_RECORDS, archive_dimensions(stage))


def feature_triggers(stage: str) -> cloudwatch.Metric:
    """Triggers of the feature query per 5 minutes (its heartbeat ``FeatureRecords``, at most one statistic set a
    minute)."""
    return heartbeat_triggers(FEATURE_RECORDS, features_dimensions(stage))


def rule_triggers(rule: events.IRule, metric_name: str = "TriggeredRules") -> cloudwatch.Metric:
    """How often ``rule`` matched an event (or, ``metric_name="FailedInvocations"``, failed to deliver one to its
    target), summed over 5 minutes."""
    return cloudwatch.Metric(
        namespace="AWS/Events",
        metric_name=metric_name,
        dimensions_map={"RuleName": rule.rule_name},
        statistic="Sum",
        period=FIVE_MINUTES,
    )


def table_throttles(table_name: str, tag: str) -> cloudwatch.MathExpression:
    """Read + write throttle events of a table; ``tag`` keeps metric ids unique when graphed together."""

    def metric(name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/DynamoDB",
            metric_name=name,
            dimensions_map={"TableName": table_name},
            statistic="Sum",
            period=FIVE_MINUTES,
        )

    return cloudwatch.MathExpression(
        expression=f"FILL(r{tag}, 0) + FILL(w{tag}, 0)",
        using_metrics={f"r{tag}": metric("ReadThrottleEvents"), f"w{tag}": metric("WriteThrottleEvents")},
        label=f"{table_name} throttles",
        period=FIVE_MINUTES,
    )


class MonitoringStack(Stack):
    """The operations dashboard and the cross-cutting alarms (see the module docstring)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        storage: StorageStack,
        streaming: StreamingStack,
        ingestion: IngestionStack,
        batch: BatchStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        names = deployment.names
        stream = streaming.stream
        self.alarms = AlarmSet(self, "Alarms", topic=storage.alarm_topic, prefix=names.prefix)
        add = self.alarms.add

        iterator_age = stream.metric_get_records_iterator_age_milliseconds(period=FIVE_MINUTES, statistic="Maximum")
        behind = add(
            "StreamIteratorAge",
            metric=iterator_age,
            threshold=ITERATOR_AGE_LIMIT.to_milliseconds(),
            periods=3,
            notify=False,
            description="The streaming job is more than 5 minutes behind the event stream (notifies through "
            "stream-behind).",
        )
        write_throttles = stream.metric_put_records_throttled_records(period=FIVE_MINUTES, statistic="Sum")
        add(
            "StreamWriteThrottles",
            metric=write_throttles,
            threshold=1,
            periods=2,
            description="PutRecords to the event stream were throttled (add shards or switch to on-demand).",
        )
        table_names = [names.features_table, names.scores_table, names.write_keys_table]
        throttles = {name: table_throttles(name, str(i)) for i, name in enumerate(table_names)}
        for table_name, expression in throttles.items():
            add(
                f"{_pascal(table_name.removeprefix(names.prefix + '-'))}Throttles",
                metric=expression,
                threshold=1,
                periods=2,
                description=f"DynamoDB throttled requests on {table_name}.",
            )

        accepted, rejected = ingest_metric(ACCEPTED_EVENTS), ingest_metric(REJECTED_EVENTS)
        quarantine_ratio = cloudwatch.MathExpression(
            expression="IF(a + q > 0, q / (a + q), 0)",
            using_metrics={"a": accepted, "q": rejected},
            label="quarantined share of events",
            period=FIVE_MINUTES,
        )
        add(
            "QuarantineVolume",
            metric=quarantine_ratio,
            threshold=QUARANTINE_RATIO_LIMIT,
            periods=3,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description="More than 5% of events were quarantined for 15 minutes (a source sends invalid events).",
        )
        job_failures = rule_triggers(streaming.job_failure_rule)
        job_failed = add(
            "StreamingJobFailures",
            metric=job_failures,
            threshold=1,
            notify=False,
            description="A streaming job run failed, timed out or stopped (notified by the streaming stack's "
            "JobFailures rule, once per run; this alarm suppresses raw-archive-stopped for the same failure).",
        )

        def unless_the_job_failed(construct_id: str, alarm: cloudwatch.IAlarm, description: str) -> None:
            """``alarm`` notifies through a composite that stays quiet within an hour of a failed job run."""
            self.alarms.add_composite(
                construct_id,
                rule=cloudwatch.AlarmRule.from_alarm(alarm, cloudwatch.AlarmState.ALARM),
                suppressor=job_failed,
                suppress_for=SUPPRESSED_AFTER_JOB_FAILURE,
                description=description,
            )

        # The failure rules are the only channel of a failed batch or streaming run: a rule that cannot deliver to
        # the topic (its policy, the topic key's policy) would drop them silently, so that alarms (through
        # CloudWatch's own permission on the topic and key)
        undelivered = cloudwatch.MathExpression(
            expression="FILL(e, 0) + FILL(j, 0)",
            using_metrics={"e": rule_triggers(batch.execution_failure_rule, "FailedInvocations"),
                           "j": rule_triggers(streaming.job_failure_rule, "FailedInvocations")},
            label="failure notifications not delivered",
            period=FIVE_MINUTES,
        )
        add(
            "FailureNotificationsUndelivered",
            metric=undelivered,
            threshold=1,
            description="EventBridge could not deliver a failed-run notification to the alarm topic (check the "
            "topic policy and the key policy): a batch or streaming failure went untold.",
        )
        # a restarted job catching up on what piled up while it was down is the failure already notified
        unless_the_job_failed(
            "StreamBehind",
            behind,
            "The streaming job has been more than 5 minutes behind the event stream for 15 minutes. Not sent within "
            "an hour of a failed streaming job run (a restarted job catching up: already notified).",
        )
        def alarm_when_silent(name: str, beats: cloudwatch.Metric, periods: int, query: str, stopped: str,
                              consequence: str) -> None:
            """``<name>Silent``: ``query`` (which reports every trigger, idle or not) ran none for ``periods`` x 5
            minutes, missing data breaching, without actions; it notifies through ``<name>Stopped`` (``stopped``),
            which :func:`unless_the_job_failed` keeps quiet after a failed job run."""
            minutes = periods * FIVE_MINUTES.to_minutes()
            silent = add(
                f"{name}Silent",
                metric=beats,
                threshold=1,
                periods=periods,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cloudwatch.TreatMissingData.BREACHING,
                notify=False,
                description=f"{query} ran no trigger for {minutes} minutes (notifies through {stopped}).",
            )
            unless_the_job_failed(
                f"{name}Stopped",
                silent,
                f"{query} stopped reading the stream (no trigger for {minutes} minutes){consequence}. Not sent within "
                "an hour of a failed streaming job run (already notified).",
            )

        # The raw archive reports every trigger, idle or not; silence means it stopped (docs/streaming.md)
        stage = deployment.settings.stage
        triggers, feature_beats = archive_triggers(stage), feature_triggers(stage)
        alarm_when_silent("RawArchive", triggers, ARCHIVE_SILENT_PERIODS, "The raw archive",
                          "raw-archive-stopped", "; events it does not land within the stream's retention are lost "
                          "to the raw zone")
        # The feature query too: the archive may keep triggering in the same job while this query is stuck, and
        # the stream's iterator age is the slowest reader's only while that reader still calls GetRecords
        alarm_when_silent("StreamFeatures", feature_beats, FEATURES_SILENT_PERIODS,
                          "The streaming feature query", "stream-features-stopped",
                          ": customer features in DynamoDB are no longer updated")

        # A query that triggers but reads nothing while records arrive (a reader handed no records, a wrong
        # starting position): the silent alarms do not see it, and the iterator age only while it calls GetRecords
        incoming = stream.metric_incoming_records(period=FIVE_MINUTES, statistic="Sum")
        for name, metric_name, dimensions, query in (
                ("RawArchive", ARCHIVED_RECORDS, archive_dimensions(stage), "The raw archive"),
                ("StreamFeatures", FEATURE_RECORDS, features_dimensions(stage), "The streaming feature query")):
            add(
                f"{name}NotReading",
                metric=reading_nothing(incoming, heartbeat_triggers(metric_name, dimensions),
                                       heartbeat_records(metric_name, dimensions),
                                       f"{query}: triggered, read nothing, records arriving"),
                threshold=1,
                periods=READING_NOTHING_PERIODS,
                description=f"{query} triggered but read no record for {READING_NOTHING_PERIODS * 5} minutes while "
                "records arrived on the stream (it runs, but does not read them).",
            )

        every_alarm = [*ingestion.alarms.alarms, *batch.alarms.alarms, *self.alarms.alarms]
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=names.dashboard)
        api, fn, sm = ingestion.api, ingestion.function, batch.state_machine
        lake = storage.lake
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=every_alarm, width=24, height=4),
        )
        self.dashboard.add_widgets(
            _graph(
                "API requests and errors",
                [
                    api.metric_count(period=FIVE_MINUTES),
                    api.metric_client_error(period=FIVE_MINUTES, statistic="Sum"),
                    api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                ],
            ),
            _graph(
                "API latency (p50, p99)",
                [
                    api.metric_latency(period=FIVE_MINUTES, statistic="p50"),
                    api.metric_latency(period=FIVE_MINUTES, statistic="p99"),
                ],
            ),
            _graph("Events accepted and quarantined", [accepted, rejected]),
        )
        self.dashboard.add_widgets(
            _graph(
                "Ingest function",
                [
                    fn.metric_invocations(period=FIVE_MINUTES),
                    fn.metric_errors(period=FIVE_MINUTES),
                    fn.metric_throttles(period=FIVE_MINUTES),
                ],
            ),
            _graph("Ingest duration (p99)", [fn.metric_duration(period=FIVE_MINUTES, statistic="p99")]),
            _graph(
                "Objects landed (raw, quarantine)",
                [_bucket_puts(lake.bucket_name, "raw"), _bucket_puts(lake.bucket_name, "quarantine")],
            ),
        )
        self.dashboard.add_widgets(
            _graph("Stream records in", [stream.metric_incoming_records(period=FIVE_MINUTES, statistic="Sum")]),
            _graph("Stream iterator age (max)", [iterator_age]),
            _graph("Stream write throttles", [write_throttles]),
            _graph("Streaming triggers (raw archive, features)", [triggers, feature_beats]),
        )
        self.dashboard.add_widgets(
            _graph("DynamoDB throttles", list(throttles.values())),
            _graph(
                "Batch executions",
                [
                    sm.metric_succeeded(period=FIVE_MINUTES),
                    sm.metric_failed(period=FIVE_MINUTES),
                    sm.metric_timed_out(period=FIVE_MINUTES),
                ],
            ),
            _graph("Streaming job failures", [job_failures]),
        )


def _graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, width=8, height=6)


def _bucket_puts(bucket_name: str, zone: str) -> cloudwatch.Metric:
    """S3 request metrics of the lake's per-zone filters (``LakeBucket`` adds a filter per zone)."""
    return cloudwatch.Metric(
        namespace="AWS/S3",
        metric_name="PutRequests",
        dimensions_map={"BucketName": bucket_name, "FilterId": zone},
        statistic="Sum",
        period=FIVE_MINUTES,
        label=f"{zone}/ objects written",
    )


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))
