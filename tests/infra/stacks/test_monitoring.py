import json
import re
from pathlib import Path

from infra.stacks.monitoring import ACCEPTED_EVENTS, INGEST_NAMESPACE, INGEST_SERVICE, REJECTED_EVENTS
from lakehouse.core.config import Settings
from lakehouse.core.monitoring import (
    ARCHIVED_RECORDS,
    FEATURE_RECORDS,
    FEATURES_HEARTBEAT_SECONDS,
    NAMESPACE,
    archive_dimensions,
    features_dimensions,
)


def _alarms(synth) -> dict[str, dict]:
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in synth.resources("Monitoring", "AWS::CloudWatch::Alarm").values()
    }


def test_cross_cutting_alarms_watch_stream_tables_quarantine_and_glue(dev) -> None:
    prefix = Settings(stage="dev").names.prefix
    alarms = _alarms(dev)
    assert set(alarms) == {
        f"{prefix}-{n}"
        for n in (
            "stream-iterator-age",
            "stream-write-throttles",
            "customer-features-throttles",
            "customer-scores-throttles",
            "write-keys-throttles",
            "quarantine-volume",
            "streaming-job-failures",
            "failure-notifications-undelivered",
            "raw-archive-silent",
            "stream-features-silent",
            "raw-archive-not-reading",
            "stream-features-not-reading",
        )
    }
    age = alarms[f"{prefix}-stream-iterator-age"]
    assert (age["MetricName"], age["Statistic"], age["Threshold"]) == (
        "GetRecords.IteratorAgeMilliseconds",
        "Maximum",
        300_000,
    )
    assert alarms[f"{prefix}-stream-write-throttles"]["MetricName"] == "PutRecords.ThrottledRecords"
    quarantine = alarms[f"{prefix}-quarantine-volume"]
    expression = next(m for m in quarantine["Metrics"] if "Expression" in m)
    assert expression["Expression"] == "IF(a + q > 0, q / (a + q), 0)"
    used = {m["MetricStat"]["Metric"]["MetricName"] for m in quarantine["Metrics"] if "MetricStat" in m}
    assert used == {ACCEPTED_EVENTS, REJECTED_EVENTS}
    throttles = alarms[f"{prefix}-write-keys-throttles"]
    tables = {
        d["Value"] for m in throttles["Metrics"] if "MetricStat" in m for d in m["MetricStat"]["Metric"]["Dimensions"]
    }
    assert tables == {Settings(stage="dev").names.write_keys_table}
    # notified elsewhere: through a composite alarm, or (a failed job run) by the streaming stack's rule
    quiet = {f"{prefix}-{n}" for n in ("raw-archive-silent", "stream-features-silent", "stream-iterator-age",
                                       "streaming-job-failures")}
    for name, props in alarms.items():
        if name in quiet:
            assert "AlarmActions" not in props and "OKActions" not in props
            continue
        (action,) = props["AlarmActions"]
        assert dev.render(action, "Monitoring").startswith("${Storage:AlarmsTopic")


def _composites(synth) -> dict[str, dict]:
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in synth.resources("Monitoring", "AWS::CloudWatch::CompositeAlarm").values()
    }


def test_a_silent_streaming_query_alarms_with_missing_data_as_breaching(dev, prod) -> None:
    """Each query of the streaming job publishes a heartbeat counting every trigger, idle ones included
    (tests/stream/test_heartbeat.py): fewer than one trigger in three 5-minute periods, or no datapoint at all, is a
    stopped query — the raw archive's and the feature query's each on its own, as one may stop while the other runs
    in the same job. Each stage watches its own heartbeats. Seen failing with the alarm's missing data treated as
    ``NOT_BREACHING`` (a job that died publishes nothing, and the alarm then stays OK): 'notBreaching' ==
    'breaching'."""
    for synth, stage in ((dev, "dev"), (prod, "prod")):
        prefix = Settings(stage=stage).names.prefix
        for name, metric, dimensions in (("raw-archive-silent", ARCHIVED_RECORDS, archive_dimensions),
                                         ("stream-features-silent", FEATURE_RECORDS, features_dimensions)):
            silent = _alarms(synth)[f"{prefix}-{name}"]
            assert (silent["Namespace"], silent["MetricName"], silent["Statistic"], silent["Period"]) == (
                NAMESPACE, metric, "SampleCount", 300)
            assert {d["Name"]: d["Value"] for d in silent["Dimensions"]} == dimensions(stage)
            assert (silent["ComparisonOperator"], silent["Threshold"]) == ("LessThanThreshold", 1)
            assert (silent["EvaluationPeriods"], silent["DatapointsToAlarm"]) == (3, 3)
            assert silent["TreatMissingData"] == "breaching"
    # a running feature query publishes more than once a period, so one late datapoint never breaches
    assert 300 / FEATURES_HEARTBEAT_SECONDS >= 2


def _evaluate(expression: str, values: dict[str, float | None]) -> float:
    """One period of a metric math expression using only ``IF(condition, a, b)``, ``FILL(m, v)``, ``>``, ``<`` and
    ``*``, as CloudWatch's metric math documents them; ``None`` is a missing datapoint. Anything else raises."""
    assert re.fullmatch(r"[A-Za-z0-9_(), ><*.]+", expression) and set(re.findall(r"[A-Z]+", expression)) <= {
        "IF", "FILL"}, expression
    python = expression.replace("IF(", "when(").replace("FILL(", "fill(")
    return eval(python, {"__builtins__": {}}, {  # the expression is checked above
        "when": lambda condition, a, b: a if condition else b,
        "fill": lambda value, default: default if value is None else value, **values})


def test_a_query_that_triggers_but_reads_nothing_while_records_arrive_alarms(dev, prod) -> None:
    """The case the silent alarms cannot see (docs/streaming.md): a query triggering on time and reading nothing
    while the stream receives records. 1 in a period only then — not for a healthy query, a dead one (the silent
    alarm's case: told once, there) or a quiet stream — and three such periods in a row alarm, notifying the topic
    directly. Seen failing before: the alarm did not exist (the docs said this case went unalarmed)."""
    for synth, stage in ((dev, "dev"), (prod, "prod")):
        prefix = Settings(stage=stage).names.prefix
        for name, metric, dimensions in (("raw-archive-not-reading", ARCHIVED_RECORDS, archive_dimensions),
                                         ("stream-features-not-reading", FEATURE_RECORDS, features_dimensions)):
            alarm = _alarms(synth)[f"{prefix}-{name}"]
            assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
            assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3, 3)
            assert alarm["TreatMissingData"] == "notBreaching"
            (action,) = alarm["AlarmActions"]
            assert synth.render(action, "Monitoring").startswith("${Storage:AlarmsTopic")
            (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
            assert expression["ReturnData"] is not False
            stats = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
            by_role = {}
            for metric_id, stat in stats.items():
                found = stat["Metric"]
                assert stat["Period"] == 300 and m_return_data_false(alarm, metric_id)
                if found["Namespace"] == "AWS/Kinesis":
                    assert (found["MetricName"], stat["Stat"]) == ("IncomingRecords", "Sum")
                    by_role["incoming"] = metric_id
                else:
                    assert (found["Namespace"], found["MetricName"]) == (NAMESPACE, metric)
                    assert {d["Name"]: d["Value"] for d in found["Dimensions"]} == dimensions(stage)
                    by_role["triggers" if stat["Stat"] == "SampleCount" else "records"] = metric_id
                    assert stat["Stat"] in ("SampleCount", "Sum")
            assert set(by_role) == {"incoming", "triggers", "records"}

            def period(incoming, triggers, records, ids=by_role, text=expression["Expression"]):
                return _evaluate(text, {ids["incoming"]: incoming, ids["triggers"]: triggers,
                                        ids["records"]: records})

            assert period(500.0, 1.0, 0.0) == 1  # triggered, read nothing, records arriving
            assert period(500.0, 1.0, 480.0) == 0  # healthy
            assert period(500.0, None, None) == 0  # not triggering: the silent alarm's case
            assert period(None, 1.0, 0.0) == 0 and period(0.0, 1.0, 0.0) == 0  # a quiet stream


def m_return_data_false(alarm: dict, metric_id: str) -> bool:
    """The metric ``metric_id`` of ``alarm`` feeds the expression only (``ReturnData: false``)."""
    (metric,) = [m for m in alarm["Metrics"] if m["Id"] == metric_id]
    return metric.get("ReturnData") is False


def test_a_failed_streaming_job_notifies_once(dev) -> None:
    """One notification per failure. A failed streaming job run is told by the streaming stack's job-run rule
    (tests/infra/stacks/test_streaming.py); what follows from it is not told again: the stopped archive and the
    stopped feature query (their heartbeats silent) and, after a restart, the job catching up more than 5 minutes
    behind each notify through a composite alarm whose actions are suppressed while the job-failure alarm (no
    actions of its own) is in ALARM and for an hour after. Seen failing with the suppressor removed from
    ``add_composite``'s composites and with the job-failure alarm notifying too: a failed run then told two to four
    times."""
    prefix = Settings(stage="dev").names.prefix
    composites = _composites(dev)
    assert set(composites) == {f"{prefix}-raw-archive-stopped", f"{prefix}-stream-features-stopped",
                               f"{prefix}-stream-behind"}
    for name, child in ((f"{prefix}-raw-archive-stopped", "RawArchiveSilent"),
                        (f"{prefix}-stream-features-stopped", "StreamFeaturesSilent"),
                        (f"{prefix}-stream-behind", "StreamIteratorAge")):
        composite = composites[name]
        (action,) = composite["AlarmActions"]
        assert dev.render(action, "Monitoring").startswith("${Storage:AlarmsTopic")
        assert composite["OKActions"] == composite["AlarmActions"]
        rule = dev.render(composite["AlarmRule"], "Monitoring")
        assert rule.startswith("ALARM(") and child in rule and " OR " not in rule
        suppressor = dev.render(composite["ActionsSuppressor"], "Monitoring")
        assert "StreamingJobFailures" in suppressor
        assert (composite["ActionsSuppressorWaitPeriod"], composite["ActionsSuppressorExtensionPeriod"]) == (60, 3600)
    # the job failure alarm counts the streaming job's failed runs: the triggers of its job-run rule
    failures = _alarms(dev)[f"{prefix}-streaming-job-failures"]
    assert (failures["Namespace"], failures["MetricName"]) == ("AWS/Events", "TriggeredRules")
    (rule,) = [d["Value"] for d in failures["Dimensions"]]
    assert dev.render(rule, "Monitoring").startswith("${Streaming:JobFailures")


def test_quarantine_alarm_uses_the_metrics_the_ingest_function_emits() -> None:
    source = (Path(__file__).resolve().parents[3] / "lambdas" / "ingest" / "app.py").read_text()
    assert f'namespace="{INGEST_NAMESPACE}"' in source
    assert re.search(rf'SERVICE = "{INGEST_SERVICE}"', source)
    for name in (ACCEPTED_EVENTS, REJECTED_EVENTS):
        assert f'"{name}"' in source


def test_dashboard_shows_every_alarm_of_the_app_and_each_area(dev) -> None:
    (dashboard,) = dev.resources("Monitoring", "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == Settings(stage="dev").names.dashboard
    body = json.loads(dev.render(dashboard["Properties"]["DashboardBody"], "Monitoring"))
    titles = [w["properties"].get("title") for w in body["widgets"]]
    for wanted in (
        "Alarms",
        "API requests and errors",
        "Ingest function",
        "Stream iterator age (max)",
        "DynamoDB throttles",
        "Batch executions",
        "Streaming job failures",
        "Objects landed (raw, quarantine)",
        "Streaming triggers (raw archive, features)",
    ):
        assert wanted in titles
    status = next(w for w in body["widgets"] if w["properties"].get("title") == "Alarms")
    every = sum(len(dev.resources(s, kind)) for s in ("Ingestion", "Batch", "Monitoring")
                for kind in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"))
    assert len(status["properties"]["alarms"]) == every == 23


def test_an_undelivered_failure_notification_alarms(dev) -> None:
    """The failure rules are the only channel of a failed run (batch: the execution rule; streaming: the job-run
    rule); EventBridge counts what it could not deliver to the topic as FailedInvocations, and that alarm notifies
    through CloudWatch's own permission. Seen failing with the streaming rule left out of the expression."""
    prefix = Settings(stage="dev").names.prefix
    alarm = _alarms(dev)[f"{prefix}-failure-notifications-undelivered"]
    stats = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    assert {(m["Namespace"], m["MetricName"]) for m in stats} == {("AWS/Events", "FailedInvocations")}
    rules = sorted(dev.render(d["Value"], "Monitoring") for m in stats for d in m["Dimensions"])
    assert [r.split(":")[0] for r in rules] == ["${Batch", "${Streaming"]
    assert "ExecutionFailures" in rules[0] and "JobFailures" in rules[1]
    (action,) = alarm["AlarmActions"]
    assert dev.render(action, "Monitoring").startswith("${Storage:AlarmsTopic")
