import json
import re
from pathlib import Path

from infra.stacks.monitoring import ACCEPTED_EVENTS, INGEST_NAMESPACE, INGEST_SERVICE, REJECTED_EVENTS
from lakehouse.core.config import Settings


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
            "stream-dedup-throttles",
            "write-keys-throttles",
            "quarantine-volume",
            "glue-job-failures",
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
    for props in alarms.values():
        (action,) = props["AlarmActions"]
        assert dev.render(action, "Monitoring").startswith("${Storage:AlarmsTopic")


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
        "Glue job failures",
        "Objects landed (raw, quarantine)",
    ):
        assert wanted in titles
    status = next(w for w in body["widgets"] if w["properties"].get("title") == "Alarms")
    every = sum(len(dev.resources(s, "AWS::CloudWatch::Alarm")) for s in ("Ingestion", "Batch", "Monitoring"))
    assert len(status["properties"]["alarms"]) == every == 15
