"""The cost model (infra/cost.py): its arithmetic on hand-computed cases, its resources against the synthesized
templates, and docs/cost-model.md against the model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from infra.config import PROFILES
from infra.cost import (
    FREE_TYPES,
    Assumptions,
    Fixed,
    Workload,
    api_gateway_rest,
    bill,
    front_doors,
    kinesis_shards,
    raw_objects,
)
from infra.cost_doc import document
from tests.infra.conftest import STACK_IDS, Synthesized

ROOT = Path(__file__).resolve().parents[2]


def line(result, component: str) -> float:
    return next(item.usd for item in result.lines if item.component == component)


def test_dev_at_ten_events_a_second_by_hand() -> None:
    """10 ev/s, 10 events per request, 1 KB: 26,280,000 events and 2,628,000 requests in 730 hours, priced by hand
    from the price list (dev: 512 MB function, provisioned Kinesis kept 24 h, 2 x G.025X streaming)."""
    result = bill("dev", Workload(10))
    assert result.workload.events == 26_280_000 and result.workload.requests == 2_628_000
    assert line(result, "API Gateway (REST API)") == pytest.approx(2.628 * 3.50)
    # 2.628 M invocations x $0.20 + 2,628,000 x 0.06 s x 0.5 GB = 78,840 GB-s x $0.0000133334
    assert line(result, "Lambda (ingest)") == pytest.approx(0.5256 + 78_840 * 0.0000133334)
    # one shard all month + one PUT payload unit per event
    assert line(result, "Kinesis Data Streams") == pytest.approx(730 * 0.015 + 26.28 * 0.014)
    # features: 0.5 customer items put per event x 1.5 write units at $0.625/M, no reads; scores: 1 M customers a
    # day x 30.4167 days, a write unit ($0.625/M) and a consistent read unit ($0.125/M) each
    assert line(result, "DynamoDB") == pytest.approx(26.28 * 0.5 * 1.5 * 0.625 + 30.416667 * (0.625 + 0.125))
    assert line(result, "Glue streaming job") == pytest.approx(2 * 0.25 * 730 * 0.44)
    # the raw archive: 2,628,000 s / 300 s = 8,760 micro-batches; each holds one arrival hour, and two in the
    # 300/3,600 of them an hour boundary falls in: 8,760 x 13/12 = 9,490 objects, a PUT ($0.005/1k) and a GET
    # ($0.0004/1k) each, + 5 PUTs (landing log, checkpoint files) and 1 GET (landing log) per micro-batch. The
    # feature query: 2,628,000 micro-batches of 1 s, each 3 PUT-class requests + 1.1 per state partition (4).
    # 864,000 events a day x 1,024 B x 0.11 = 97,320,960 B a day of raw gzip in 9,490 objects a month: 305 KB each,
    # so they follow dev's lifecycle over the 365 days kept: 30 d Standard, 60 d IA, 275 d Glacier IR; curated (half
    # the raw bytes) stays in Standard
    raw_gb_day = 97_320_960 / 1024**3
    requests = 9490 * 0.0054 / 1000 + 8760 * (5 * 0.005 + 0.0004) / 1000 + 2_628_000 * 7.4 * 0.005 / 1000
    raw_storage = raw_gb_day * (30 * 0.023 + 60 * 0.0125 + 275 * 0.004)
    assert line(result, "S3") == pytest.approx(requests + raw_storage + raw_gb_day * 0.5 * 365 * 0.023)
    # 1 request/s on average: X-Ray's reservoir of one a second traces every one
    assert line(result, "X-Ray") == pytest.approx(2.628 * 5.00)
    assert result.total == pytest.approx(sum(item.usd for item in result.lines))
    assert result.per_million == pytest.approx(result.total / 26.28)


def test_tracing_samples_one_request_a_second_then_the_profiles_rate() -> None:
    """100 requests/s: dev traces 1 + 0.05 x 99 = 5.95 a second, prod 1 + 0.01 x 99 = 1.99; 2,628,000 seconds a
    month at $5.00 a million traces."""
    assert line(bill("dev", Workload(1000)), "X-Ray") == pytest.approx(5.95 * 2_628_000 / 1e6 * 5.00)
    assert line(bill("prod", Workload(1000)), "X-Ray") == pytest.approx(1.99 * 2_628_000 / 1e6 * 5.00)


def test_logs_are_the_function_access_and_platform_lines_per_request() -> None:
    """262.8 M requests a month (1,000 ev/s): prod (system logs at WARN) ingests 1,000 + 200 bytes a request, dev
    (INFO) also the platform's 550; $0.50 a GB ingested, beside $0.10 an alarm metric (29: 20 alarms, 7 of them on
    metric math reading 2 or 3 metrics), $0.50 a composite alarm (three), $3 a dashboard, $0.30 a metric and $0.01
    per thousand PutMetricData calls (the archive's heartbeat: 12 an hour, the feature query's: 60 an hour; 730
    hours)."""
    fixed = 29 * 0.10 + 3 * 0.50 + 3.00 + 6 * 0.30 + 730 * 72 / 1000 * 0.01
    prod, dev = bill("prod", Workload(1000)), bill("dev", Workload(1000))
    assert line(prod, "CloudWatch") == pytest.approx(fixed + 262.8e6 * 1200 / 1024**3 * 0.50)
    assert line(dev, "CloudWatch") == pytest.approx(fixed + 262.8e6 * 1750 / 1024**3 * 0.50)


def test_redshift_runs_at_the_base_capacity_under_a_usage_limit() -> None:
    """4 RPUs for 1 h of queries and the load (5 min + 3 s per million events of the day: 86.4 M at 1,000 ev/s)
    a day, 30.4167 days, $0.375 an RPU-hour; prod's usage limit, 2,000 RPU-hours a month, caps it at $750."""
    prod = bill("prod", Workload(1000))
    hours = 1 + 5 / 60 + 86.4 * 3 / 3600
    assert line(prod, "Redshift Serverless") == pytest.approx(4 * 365 / 12 * hours * 0.375)
    assert "usage limit 2,000 RPU-hours monthly ($750), then deactivate" in next(
        i.basis for i in prod.lines if i.component == "Redshift Serverless")


def test_rest_api_requests_are_priced_through_the_tiers() -> None:
    assert api_gateway_rest(100e6) == pytest.approx(350.0)
    assert api_gateway_rest(1_000e6) == pytest.approx(333 * 3.50 + 667 * 2.80)
    assert api_gateway_rest(21_000e6) == pytest.approx(333 * 3.50 + 667 * 2.80 + 19_000 * 2.38 + 1_000 * 1.51)


def test_the_front_doors_by_hand() -> None:
    """100 requests/s of 10 KB (1,000 ev/s): 262.8 M requests; the ALB processes 100 x 3,600 x 10 KB =
    3.43 GB an hour = 8.58 LCUs at 0.4 GB per LCU-hour for Lambda targets (the largest dimension: 4 for 100 new
    connections a second, 0.1 for rule evaluations)."""
    doors = front_doors(Workload(1000))
    assert doors["REST API"] == pytest.approx(262.8 * 3.50)
    assert doors["HTTP API"] == pytest.approx(262.8 * 1.00)
    lcus = 100 * 3600 * 10 * 1024 / 1024**3 / 0.4
    assert doors["Application Load Balancer"] == pytest.approx(730 * (0.0225 + lcus * 0.008))
    assert front_doors(Workload(1e5))["HTTP API"] == pytest.approx(300 * 1.00 + (26_280 - 300) * 0.90)


def test_provisioned_shards_follow_the_write_limits() -> None:
    """1 MB/s and 1,000 records/s per shard: 1,000 ev/s of 1 KB fits one shard by both limits; 1,001 do not."""
    assert kinesis_shards(Workload(1000)) == 1
    assert kinesis_shards(Workload(1001)) == 2
    assert kinesis_shards(Workload(500, event_kb=4)) == 2  # 1.95 MB/s


def test_large_raw_objects_follow_the_lifecycle_and_cost_less() -> None:
    """At 1 ev/s a 300 s buffer makes 300 x 1,024 x 0.11 x 12/13 = 31,193 B objects (30 KB), under 128 KB: they
    stay in Standard; at 10 ev/s (305 KB) they move to IA after 30 days and Glacier IR after 180 (prod), so the
    storage costs less per event. One object per request (the ingest function before the raw archive) would have
    made 262.8 M objects a month at 1,000 ev/s; the archive makes 8,760 x 13/12 x 3 parts (283.6 MB a partition,
    128 MB at most each) = 28,470."""
    small, large = bill("prod", Workload(1)), bill("prod", Workload(10))
    assert "30.5 KB objects stay in Standard" in next(i.basis for i in small.lines if i.component == "S3")
    assert "Glacier IR" in next(i.basis for i in large.lines if i.component == "S3")
    assert line(large, "S3") / 10 < line(small, "S3")
    assert raw_objects(Workload(1000), Assumptions()).objects == pytest.approx(28_470)
    longer = Assumptions(archive_buffer_seconds=900)  # 2,920 batches x (1 + 900/3,600) x 6 parts of 737 MB
    assert raw_objects(Workload(1000), longer).objects == pytest.approx(2920 * 1.25 * 6)


def test_prod_prices_what_prod_deploys() -> None:
    """WAF and on-demand Kinesis with 72 h retention are prod's; dev has neither."""
    prod, dev = bill("prod", Workload(1000)), bill("dev", Workload(1000))
    assert "WAF" in [i.component for i in prod.lines] and "WAF" not in [i.component for i in dev.lines]
    assert PROFILES["prod"].kinesis_mode == "on-demand"
    assert "on demand" in next(i.basis for i in prod.lines if i.component == "Kinesis Data Streams")


def test_a_provisioned_feature_table_by_hand() -> None:
    """prod at 1,000 ev/s: 1,000 x 0.5 items x 1.5 units = 750 write units a second, auto scaled to 750 / 0.7 =
    1,071.4 provisioned ($0.00065 a unit-hour), 10 read units ($0.00013), 4 alarms of the scaling policy ($0.10);
    at 10 ev/s (7.5 a second) the floor of 100 units is what is paid for; over the ceiling, the ceiling."""
    scores = 30.416667 * (0.625 + 0.125)
    at_1000 = line(bill("prod", Workload(1000)), "DynamoDB")
    assert at_1000 == pytest.approx(730 * (750 / 0.7 * 0.00065 + 10 * 0.00013) + 0.4 + scores)
    assert line(bill("prod", Workload(10)), "DynamoDB") == pytest.approx(730 * (100 * 0.00065 + 10 * 0.00013)
                                                                        + 0.4 + scores)
    small = replace(PROFILES["prod"], features_table_max_write_units=500)
    capped = bill("prod", Workload(1000), profile=small)
    assert line(capped, "DynamoDB") == pytest.approx(730 * (500 * 0.00065 + 10 * 0.00013) + 0.4 + scores)
    assert "the stream falls behind" in next(i.basis for i in capped.lines if i.component == "DynamoDB")
    on_demand = replace(PROFILES["prod"], features_table_billing="on-demand")
    assert line(bill("prod", Workload(1000), profile=on_demand), "DynamoDB") == pytest.approx(
        2628 * 0.75 * 0.625 + scores)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_table_capacity_priced_is_the_one_deployed(stage, request) -> None:
    app: Synthesized = request.getfixturevalue(stage)
    profile = PROFILES[stage]
    names = app.lakehouse.deployment.names
    tables = {t["Properties"]["TableName"]: t["Properties"]
              for t in app.all_resources("AWS::DynamoDB::GlobalTable").values()}
    expected = "PROVISIONED" if profile.features_table_billing == "provisioned" else "PAY_PER_REQUEST"
    assert tables[names.features_table]["BillingMode"] == expected
    assert {name: t["BillingMode"] for name, t in tables.items() if name != names.features_table} == {
        names.scores_table: "PAY_PER_REQUEST", names.write_keys_table: "PAY_PER_REQUEST"}


def template_types(app: Synthesized) -> dict[str, int]:
    counts: dict[str, int] = {}
    for stack_id in STACK_IDS:
        for resource in app.json(stack_id)["Resources"].values():
            counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
    return counts


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_costly_resource_is_priced_and_every_priced_one_exists(stage, request) -> None:
    """A resource type added to the stacks fails this until a line prices it or FREE_TYPES says why it is free."""
    app: Synthesized = request.getfixturevalue(stage)
    in_templates = template_types(app)
    result = bill(stage, Workload(100))
    priced = {t for item in result.lines for t in item.types}
    assert set(in_templates) - priced - set(FREE_TYPES) == set()
    for item in result.lines:
        assert in_templates.get(item.types[0], 0) > 0, f"{item.component}: no {item.types[0]} in the {stage} stacks"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_fixed_resources_priced_are_the_ones_deployed(stage, request) -> None:
    app: Synthesized = request.getfixturevalue(stage)
    fixed, types = Fixed(), template_types(app)
    endpoints = app.all_resources("AWS::EC2::VPCEndpoint").values()
    assert fixed.interface_endpoints == sum(e["Properties"].get("VpcEndpointType") == "Interface" for e in endpoints)
    assert (fixed.alarms, fixed.composite_alarms, fixed.dashboards, fixed.kms_keys, fixed.secrets) == (
        types["AWS::CloudWatch::Alarm"], types["AWS::CloudWatch::CompositeAlarm"], types["AWS::CloudWatch::Dashboard"],
        types["AWS::KMS::Key"], types["AWS::SecretsManager::Secret"])
    acls = app.all_resources("AWS::WAFv2::WebACL").values()
    assert [len(acl["Properties"]["Rules"]) for acl in acls] == ([fixed.waf_rules] if stage == "prod" else [])
    alarms = [a["Properties"] for a in app.all_resources("AWS::CloudWatch::Alarm").values()]
    read = [sum("MetricStat" in m for m in a["Metrics"]) if "Metrics" in a else 1 for a in alarms]
    assert fixed.alarm_metrics == sum(read) and max(read) > 1  # billed per metric an alarm reads


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_sampling_and_log_levels_priced_are_the_ones_deployed(stage, request) -> None:
    app: Synthesized = request.getfixturevalue(stage)
    profile = PROFILES[stage]
    (rule,) = [r["Properties"]["SamplingRule"] for r in app.all_resources("AWS::XRay::SamplingRule").values()]
    assert (rule["FixedRate"], rule["ReservoirSize"]) == (profile.trace_sampling_rate,
                                                          profile.trace_reservoir_per_second)
    functions = [f["Properties"] for f in app.all_resources("AWS::Lambda::Function").values()]
    (ingest,) = [f for f in functions if f.get("FunctionName") == app.lakehouse.deployment.names.ingest_function]
    assert ingest["LoggingConfig"]["SystemLogLevel"] == profile.lambda_system_log_level


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_glue_sizes_priced_are_the_ones_deployed(stage, request) -> None:
    """The streaming job runs on the profile's workers; every other job on the batch profile's, or the smallest size
    for the two driver-only jobs (ML, forget; the forget job runs on demand, priced per erasure in docs/erasure.md)."""
    app: Synthesized = request.getfixturevalue(stage)
    profile = PROFILES[stage]
    jobs = [j["Properties"] for j in app.all_resources("AWS::Glue::Job").values()]
    streaming = [j for j in jobs if j["Command"]["Name"] == "gluestreaming"]
    assert [(j["WorkerType"], j["NumberOfWorkers"]) for j in streaming] == [
        (profile.streaming_worker_type, profile.streaming_workers)]
    batch = [j for j in jobs if j["Command"]["Name"] == "glueetl"]
    assert sorted((j["WorkerType"], j["NumberOfWorkers"]) for j in batch) == sorted(
        [(profile.batch_worker_type, profile.batch_workers)] * 3 + [("G.1X", 2)] * 2)
    # priced at the Flex rate exactly when the chain's jobs run on Flex; the ML job is standard
    classes = sorted((j.get("ExecutionClass", "STANDARD"), j["NumberOfWorkers"]) for j in batch)
    chain = "FLEX" if profile.batch_flex else "STANDARD"
    assert classes == sorted([(chain, profile.batch_workers)] * 3 + [("STANDARD", 2)] * 2)
    assert {j.get("ExecutionClass", "STANDARD") for j in streaming} == {"STANDARD"}


def test_the_cost_document_is_the_models() -> None:
    """docs/cost-model.md is generated: `lakehouse cost --markdown > docs/cost-model.md` after changing the model."""
    assert (ROOT / "docs" / "cost-model.md").read_text() == document()
