"""The monthly AWS bill of one deployment, per component, from list prices and the CDK app's own configuration.

:func:`bill` prices a steady workload (:class:`Workload`: events per second, events per request, event size) on
a stage's :class:`~infra.config.StageProfile` (the sizes ``cdk deploy`` uses) and the fixed resources the stacks
define (:class:`Fixed`, kept equal to the synthesized templates by ``tests/infra/test_cost.py``). Every line
names the CloudFormation resource types it prices; the same test checks that every costly resource type in the
templates is priced by some line (the rest are listed in :data:`FREE_TYPES` with the reason).

Prices (:data:`PRICES`) are us-east-1 on-demand list prices as of :data:`PRICES_AS_OF`, no free tier, no
savings plans, each with the page it comes from. It is an estimate of the design as built, not a measurement:
``docs/cost-model.md`` is generated from this module (``lakehouse cost --markdown``) and states its assumptions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.config import PROFILES, TARGET_UTILIZATION_PERCENT, StageProfile
from lakehouse.core.config import ArchiveSettings, StreamSettings

#: when the prices below were read from the pages they cite
PRICES_AS_OF = "2026-11"
REGION = "us-east-1"
HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
GB = 1024**3
KB = 1024


@dataclass(frozen=True)
class Price:
    """One list price: ``usd`` per ``unit``, from ``source``."""

    usd: float
    unit: str
    source: str


_APIGW = "https://aws.amazon.com/api-gateway/pricing/"
_WAF = "https://aws.amazon.com/waf/pricing/"
_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_KINESIS = "https://aws.amazon.com/kinesis/data-streams/pricing/"
_S3 = "https://aws.amazon.com/s3/pricing/"
_DDB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
_DDB_PROVISIONED = "https://aws.amazon.com/dynamodb/pricing/provisioned/"
_GLUE = "https://aws.amazon.com/glue/pricing/"
_REDSHIFT = "https://aws.amazon.com/redshift/pricing/"
_CW = "https://aws.amazon.com/cloudwatch/pricing/"
_VPC = "https://aws.amazon.com/privatelink/pricing/"
_KMS = "https://aws.amazon.com/kms/pricing/"
_SECRETS = "https://aws.amazon.com/secrets-manager/pricing/"
_SFN = "https://aws.amazon.com/step-functions/pricing/"

PRICES: dict[str, Price] = {
    # API Gateway REST API requests, tiered per month (first 333 M, next 667 M, next 19 B, over 20 B)
    "apigw_rest_tier1": Price(3.50, "million requests (first 333 M a month)", _APIGW),
    "apigw_rest_tier2": Price(2.80, "million requests (next 667 M)", _APIGW),
    "apigw_rest_tier3": Price(2.38, "million requests (next 19 B)", _APIGW),
    "apigw_rest_tier4": Price(1.51, "million requests (over 20 B)", _APIGW),
    "waf_web_acl": Price(5.00, "web ACL-month", _WAF),
    "waf_rule": Price(1.00, "rule-month", _WAF),
    "waf_request": Price(0.60, "million requests inspected", _WAF),
    "lambda_request": Price(0.20, "million invocations", _LAMBDA),
    "lambda_arm_gb_second": Price(0.0000133334, "GB-second (arm64)", _LAMBDA),
    "kinesis_shard_hour": Price(0.015, "shard-hour (provisioned)", _KINESIS),
    "kinesis_put_unit": Price(0.014, "million PUT payload units of 25 KB (provisioned)", _KINESIS),
    "kinesis_extended_shard_hour": Price(0.02, "shard-hour of retention beyond 24 h (provisioned)", _KINESIS),
    "kinesis_od_stream_hour": Price(0.04, "stream-hour (on demand)", _KINESIS),
    "kinesis_od_in_gb": Price(0.08, "GB written, records rounded up to 1 KB (on demand)", _KINESIS),
    "kinesis_od_out_gb": Price(0.04, "GB read (on demand)", _KINESIS),
    "kinesis_od_extended_gb_month": Price(0.10, "GB-month kept beyond 24 h (on demand)", _KINESIS),
    "s3_put": Price(0.005, "thousand PUT/COPY/POST/LIST requests", _S3),
    "s3_get": Price(0.0004, "thousand GET requests", _S3),
    "s3_standard_gb_month": Price(0.023, "GB-month, S3 Standard", _S3),
    "s3_ia_gb_month": Price(0.0125, "GB-month, S3 Standard-IA", _S3),
    "s3_glacier_ir_gb_month": Price(0.004, "GB-month, S3 Glacier Instant Retrieval", _S3),
    "ddb_write": Price(0.625, "million write request units (on demand)", _DDB),
    "ddb_read": Price(0.125, "million read request units (on demand)", _DDB),
    "ddb_wcu_hour": Price(0.00065, "write capacity unit-hour (provisioned)", _DDB_PROVISIONED),
    "ddb_rcu_hour": Price(0.00013, "read capacity unit-hour (provisioned)", _DDB_PROVISIONED),
    "glue_dpu_hour": Price(0.44, "DPU-hour (Spark and streaming jobs, standard execution class)", _GLUE),
    "glue_flex_dpu_hour": Price(0.29, "DPU-hour (Spark jobs, Flex execution class)", _GLUE),
    "redshift_rpu_hour": Price(0.375, "RPU-hour (Redshift Serverless)", _REDSHIFT),
    "cw_logs_ingest_gb": Price(0.50, "GB of logs ingested", _CW),
    "cw_alarm": Price(0.10, "standard-resolution alarm metric-month", _CW),
    "cw_composite_alarm": Price(0.50, "composite alarm-month", _CW),
    "cw_put_metric_data": Price(0.01, "thousand PutMetricData requests", _CW),
    "cw_dashboard": Price(3.00, "dashboard-month", _CW),
    "cw_metric": Price(0.30, "custom metric-month", _CW),
    "vpc_interface_endpoint_hour": Price(0.01, "interface endpoint-hour per Availability Zone", _VPC),
    "kms_key_month": Price(1.00, "customer managed key-month", _KMS),
    "secret_month": Price(0.40, "secret-month", _SECRETS),
    "sfn_transition": Price(0.025, "thousand state transitions (standard workflow)", _SFN),
    "apigw_http_tier1": Price(1.00, "million HTTP API requests of up to 512 KB (first 300 M a month)", _APIGW),
    "apigw_http_tier2": Price(0.90, "million HTTP API requests (over 300 M)", _APIGW),
    "alb_hour": Price(0.0225, "Application Load Balancer-hour", "https://aws.amazon.com/elasticloadbalancing/pricing/"),
    "alb_lcu_hour": Price(0.008, "LCU-hour", "https://aws.amazon.com/elasticloadbalancing/pricing/"),
    "xray_trace": Price(5.00, "million traces recorded", "https://aws.amazon.com/xray/pricing/"),
}

#: Glue worker types -> DPUs per worker
GLUE_DPU = {"G.025X": 0.25, "G.1X": 1.0, "G.2X": 2.0, "G.4X": 4.0, "G.8X": 8.0}
#: S3 lifecycle rules do not move objects smaller than this to other storage classes (S3 User Guide, "Transitioning
#: objects using Amazon S3 Lifecycle": objects under 128 KB are not transitioned by default)
S3_MIN_TRANSITION_BYTES = 128 * KB


@dataclass(frozen=True)
class Workload:
    """A steady traffic: ``events_per_second`` all month, clients sending ``events_per_request`` events per
    HTTP request, ``event_kb`` KB of JSON per event."""

    events_per_second: float
    events_per_request: float = 10.0
    event_kb: float = 1.0

    @property
    def events(self) -> float:
        """Events in a month (730 hours)."""
        return self.events_per_second * 3600 * HOURS_PER_MONTH

    @property
    def requests(self) -> float:
        """HTTP requests in a month."""
        return self.events / self.events_per_request


def _noted(default: float, doc: str) -> Any:
    """A dataclass field with its explanation (``docs/cost-model.md`` prints it)."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Assumptions:
    """What the design does per event and per run, as built today (each field's note says where it comes from)."""

    lambda_ms_per_request: float = _noted(60.0, "ingest function duration per request, warm, ms")
    ddb_item_writes_per_event: float = _noted(0.5, "customer items the streaming job writes per event: one per "
                                                   "changed customer per micro-batch (stream/stateful.py); "
                                                   "bench/bench_stream.py measured 0.46 at 250 and 0.35 at 1,000 "
                                                   "events/s on the generator's workload (2,000 customers); traffic "
                                                   "spread over more customers approaches 1")
    ddb_write_units_per_item: float = _noted(1.5, "DynamoDB write units per item put (1 KB each): features and "
                                                  "state; bench/bench_items.py measures 1.38 over 180 days of the "
                                                  "generator's events (p95 item 1.5 KB; features alone 1.00, the "
                                                  "state zlib-compressed 1.14)")
    scored_customers: float = _noted(1_000_000.0, "customers the ML stage scores a day: each is a consistent read "
                                              "and a conditional update of one scores item under 1 KB "
                                              "(ml/serving.py)")
    autoscaling_alarms: int = _noted(4, "CloudWatch alarms Application Auto Scaling creates for a target-tracking "
                                        "policy (high, low and the two capacity alarms); outside the templates")
    stream_trigger_seconds: float = _noted(StreamSettings().trigger_seconds, "the feature query's micro-batch "
                                           "interval, seconds (LAKEHOUSE_STREAM__TRIGGER_SECONDS)")
    stream_puts_per_batch: float = _noted(3.0 + 1.1 * StreamSettings().state_partitions, "S3 PUT-class requests "
                                          "per feature micro-batch: the offset and commit log entries, a forward "
                                          "or quarantine object, the forward prefix's LIST, and a state-store delta "
                                          "per state partition (a snapshot every 10th)")
    archive_buffer_seconds: float = _noted(ArchiveSettings().buffer_seconds, "the raw archive's buffer period, "
                                           "seconds (LAKEHOUSE_ARCHIVE__BUFFER_SECONDS): one micro-batch writes one "
                                           "object per raw partition (source, arrival hour)")
    archive_max_object_bytes: float = _noted(ArchiveSettings().max_object_bytes, "uncompressed bytes of a raw "
                                             "object, at most (LAKEHOUSE_ARCHIVE__MAX_OBJECT_BYTES): then a new part")
    raw_sources: float = _noted(1.0, "sources (write keys) sending in the same buffer period: each is its own raw "
                                     "partition")
    archive_puts_per_batch: float = _noted(5.0, "S3 PUT-class requests per archive micro-batch besides its objects: "
                                                "the landing-log record and ~4 of Spark's offset and commit log files")
    archive_gets_per_batch: float = _noted(1.0, "S3 GETs per archive micro-batch besides its objects: the batch job "
                                                "reads its landing-log record")
    raw_gzip_ratio: float = _noted(0.11, "raw gzip bytes per byte of JSON (bench/bench_batch.py: 89 % smaller)")
    curated_ratio: float = _noted(0.5, "curated Parquet bytes per raw gzip byte (docs/batch.md: events 0.49x the "
                                       "raw gzip on 10k-event days)")
    retention_months: float = _noted(12.0, "months of data kept: storage is priced at the steady state after this "
                                           "long")
    batch_jobs_per_day: int = _noted(3, "batch jobs a day before the ML job (raw_to_curated, build_star, "
                                        "load_warehouse), on the profile's batch workers")
    batch_overhead_minutes: float = _noted(3.0, "Glue start-up and fixed work per batch job run, minutes")
    batch_events_per_dpu_second: float = _noted(5000.0, "batch processing speed per DPU across the chain, events/s "
                                                        "(bench/bench_batch.py order of magnitude)")
    ml_minutes_per_day: float = _noted(15.0, "the training and scoring job (2 x G.1X): minutes a day")
    redshift_load_minutes: float = _noted(5.0, "Redshift Serverless active minutes of the daily load, fixed part")
    redshift_load_seconds_per_million: float = _noted(3.0, "... and seconds per million events of the day")
    redshift_query_hours_per_day: float = _noted(1.0, "hours a day of dashboard queries at base capacity")
    function_log_bytes_per_request: float = _noted(1000.0, "bytes the ingest function logs per request: its "
                                                           "JSON request line and its EMF metric line "
                                                           "(tests/lambdas/ingest/test_log_volume.py measures "
                                                           "~1,025 for 10 events)")
    access_log_bytes_per_request: float = _noted(200.0, "bytes of API Gateway's JSON access log line per request "
                                                        "(its format's fields with a request's values)")
    platform_log_bytes_per_request: float = _noted(550.0, "bytes of Lambda's JSON platform lines per invocation "
                                                          "(platform.start and platform.report, estimated from "
                                                          "their documented fields); none at system log level WARN")
    stream_readers: int = _noted(2, "queries reading every record of the stream: the feature job and the raw archive "
                                    "(on-demand Kinesis charges each GB read)")
    custom_metrics: int = _noted(6, "custom metrics the code publishes (ingest and stream; the heartbeats of the "
                                    "raw archive, ArchivedRecords, and of the feature query, FeatureRecords)")
    metric_puts_per_month: float = _noted(DAYS_PER_MONTH * 24 * (12 + 60), "PutMetricData calls a month: the raw "
                                          "archive's heartbeat, one per trigger at its 300 s buffer, and the feature "
                                          "query's, at most one a minute (the ingest function's metrics are EMF log "
                                          "lines, priced as logs)")
    sfn_transitions_per_day: int = _noted(12, "state transitions of the batch workflow's daily run")


@dataclass(frozen=True)
class Fixed:
    """Fixed resources the stacks define (``tests/infra/test_cost.py`` checks each against the synthesized
    templates of the stage)."""

    alarms: int = 20
    #: what alarms are billed by: one per single-metric alarm, one per metric an alarm on a metric math expression
    #: reads (CloudWatch pricing, "Alarms": per alarm metric) — 5 throttle/volume/delivery alarms read 2, the two
    #: "not reading" alarms 3 (infra/stacks/monitoring.py)
    alarm_metrics: int = 29
    composite_alarms: int = 3  # the raw archive stopped, the feature query stopped, the stream behind (monitoring.py)
    dashboards: int = 1
    interface_endpoints: int = 4
    endpoint_zones: int = 1  # the load job's subnet only (infra/components/warehouse_network.py)
    kms_keys: int = 1
    secrets: int = 2
    waf_rules: int = 5  # per web ACL, when the profile has WAF (2 rate rules, the size rule, 2 managed rule groups)


@dataclass(frozen=True)
class Line:
    """One component of the bill: ``usd`` a month, the CloudFormation ``types`` it prices, how (``basis``)."""

    component: str
    usd: float
    types: tuple[str, ...]
    basis: str
    fixed: bool = False  # whether it costs the same whatever the traffic


@dataclass(frozen=True)
class Bill:
    """A month of one stage at one workload: the :class:`Line` items."""

    stage: str
    workload: Workload
    lines: list[Line] = field(default_factory=list)

    @property
    def total(self) -> float:
        """Dollars a month."""
        return sum(line.usd for line in self.lines)

    @property
    def per_million(self) -> float:
        """Dollars per million events."""
        return self.total / (self.workload.events / 1e6)


def _p(key: str) -> float:
    return PRICES[key].usd


def api_gateway_rest(requests: float) -> float:
    """REST API request charges for ``requests`` in a month, through the tiers of :data:`PRICES`."""
    tiers = [(333e6, "apigw_rest_tier1"), (667e6, "apigw_rest_tier2"), (19e9, "apigw_rest_tier3"),
             (math.inf, "apigw_rest_tier4")]
    usd, left = 0.0, requests
    for size, key in tiers:
        taken = min(left, size)
        usd += taken / 1e6 * _p(key)
        left -= taken
        if left <= 0:
            break
    return usd


def api_gateway_http(requests: float) -> float:
    """HTTP API request charges for ``requests`` (each under 512 KB) in a month: $1.00/M to 300 M, $0.90/M after."""
    first = min(requests, 300e6)
    return first / 1e6 * _p("apigw_http_tier1") + (requests - first) / 1e6 * _p("apigw_http_tier2")


#: LCU dimensions of an Application Load Balancer with Lambda targets (Elastic Load Balancing pricing page): new
#: connections per second, processed GB per hour (0.4 for Lambda targets, 1 for others), rule evaluations per second
ALB_LCU_NEW_CONNECTIONS = 25.0
ALB_LCU_LAMBDA_GB_PER_HOUR = 0.4
ALB_LCU_RULE_EVALUATIONS = 1000.0


def alb(workload: Workload, requests_per_connection: float = 1.0) -> float:
    """An Application Load Balancer in front of the function for a month: the hours plus the LCU-hours of the most
    used dimension (each request its own connection unless ``requests_per_connection``; 10 rules free)."""
    per_second = workload.requests / (HOURS_PER_MONTH * 3600)
    gb_per_hour = per_second * 3600 * workload.events_per_request * workload.event_kb * KB / GB
    lcus = max(per_second / requests_per_connection / ALB_LCU_NEW_CONNECTIONS,
               gb_per_hour / ALB_LCU_LAMBDA_GB_PER_HOUR, per_second / ALB_LCU_RULE_EVALUATIONS)
    return HOURS_PER_MONTH * (_p("alb_hour") + lcus * _p("alb_lcu_hour"))


def front_doors(workload: Workload) -> dict[str, float]:
    """Monthly cost of each way in for ``workload`` (the function behind it is the same and not included):
    the REST API (deployed), an HTTP API, an Application Load Balancer."""
    return {"REST API": api_gateway_rest(workload.requests), "HTTP API": api_gateway_http(workload.requests),
            "Application Load Balancer": alb(workload)}


def kinesis_shards(workload: Workload) -> int:
    """Provisioned shards for the write rate: 1 MB/s and 1,000 records/s per shard (one record per event)."""
    mb_per_s = workload.events_per_second * workload.event_kb / 1024
    return max(1, math.ceil(mb_per_s / 1.0), math.ceil(workload.events_per_second / 1000))


@dataclass(frozen=True)
class RawObjects:
    """What the raw archive writes in a month: ``batches`` (buffer periods), ``objects``, and the compressed size of
    one object in bytes (``object_bytes``)."""

    batches: float
    objects: float
    object_bytes: float


def raw_objects(workload: Workload, a: Assumptions) -> RawObjects:
    """The raw archive's objects: every buffer period writes one object per raw partition, in parts of at most
    ``a.archive_max_object_bytes`` uncompressed. A buffer period holds ``a.raw_sources`` partitions, plus the next
    hour's for the share of periods an hour boundary falls in (``buffer / 3,600``)."""
    buffer = max(1.0, a.archive_buffer_seconds)
    batches = HOURS_PER_MONTH * 3600 / buffer
    partitions = a.raw_sources * (1 + min(buffer, 3600) / 3600) * max(1.0, buffer / 3600)
    partition_bytes = workload.events_per_second * buffer * workload.event_kb * KB / partitions
    parts = max(1, math.ceil(partition_bytes / a.archive_max_object_bytes))
    objects = min(batches * partitions * parts, workload.events)  # never more objects than events
    return RawObjects(batches, objects, workload.events * workload.event_kb * KB * a.raw_gzip_ratio / objects)


def _raw_storage(profile: StageProfile, workload: Workload, a: Assumptions) -> tuple[float, str]:
    """Raw zone storage at the steady state after ``a.retention_months``: Standard, then IA, then Glacier IR per
    the profile's lifecycle, unless the objects are too small for lifecycle transitions (then all Standard)."""
    gb_per_day = workload.events / DAYS_PER_MONTH * workload.event_kb * KB * a.raw_gzip_ratio / GB
    kept_days = a.retention_months * DAYS_PER_MONTH
    object_bytes = raw_objects(workload, a).object_bytes
    if object_bytes < S3_MIN_TRANSITION_BYTES:
        return gb_per_day * kept_days * _p("s3_standard_gb_month"), (
            f"{object_bytes / KB:.1f} KB objects stay in Standard (< 128 KB: no lifecycle transition)")
    standard = min(kept_days, profile.raw_infrequent_access_days)
    ia = max(0.0, min(kept_days, profile.raw_glacier_ir_days) - standard)
    glacier = max(0.0, kept_days - standard - ia)
    usd = gb_per_day * (standard * _p("s3_standard_gb_month") + ia * _p("s3_ia_gb_month")
                        + glacier * _p("s3_glacier_ir_gb_month"))
    return usd, f"Standard {standard:.0f} d, IA {ia:.0f} d, Glacier IR {glacier:.0f} d"


def bill(stage: str, workload: Workload, profile: StageProfile | None = None,
         assumptions: Assumptions | None = None, fixed: Fixed | None = None) -> Bill:
    """The monthly :class:`Bill` of ``stage`` (its profile from :data:`~infra.config.PROFILES`, or ``profile``)
    at ``workload``. Raises ``KeyError`` for an unknown stage or Glue worker type."""
    profile = profile or PROFILES["prod" if stage == "prod" else "dev"]
    a, f = assumptions or Assumptions(), fixed or Fixed()
    w = workload
    events_m, requests_m = w.events / 1e6, w.requests / 1e6
    lines: list[Line] = []

    def add(component: str, usd: float, types: Sequence[str], basis: str, fixed_cost: bool = False) -> None:
        lines.append(Line(component, usd, tuple(types), basis, fixed_cost))

    add("API Gateway (REST API)", api_gateway_rest(w.requests), ["AWS::ApiGateway::RestApi"],
        f"{requests_m:,.1f} M requests ({w.events_per_request:g} events each), tiered from $3.50/M")
    if profile.waf:
        add("WAF", _p("waf_web_acl") + f.waf_rules * _p("waf_rule") + requests_m * _p("waf_request"),
            ["AWS::WAFv2::WebACL", "AWS::WAFv2::WebACLAssociation"],
            f"1 web ACL, {f.waf_rules} rules, $0.60/M requests inspected")
    gb_seconds = w.requests * a.lambda_ms_per_request / 1000 * profile.ingest_memory_mb / 1024
    add("Lambda (ingest)", requests_m * _p("lambda_request") + gb_seconds * _p("lambda_arm_gb_second"),
        ["AWS::Lambda::Function"],
        f"{requests_m:,.1f} M invocations x {a.lambda_ms_per_request:g} ms x {profile.ingest_memory_mb} MB arm64")
    extended_hours = max(0, profile.kinesis_retention_hours - 24)
    if profile.kinesis_mode == "provisioned":
        shards = kinesis_shards(w)
        usd = shards * HOURS_PER_MONTH * _p("kinesis_shard_hour") + events_m * _p("kinesis_put_unit")
        usd += shards * HOURS_PER_MONTH * _p("kinesis_extended_shard_hour") if extended_hours else 0.0
        basis = f"provisioned, {shards} shard(s), one 25 KB PUT unit per event"
    else:
        gb_in = w.events * math.ceil(w.event_kb) * KB / GB
        extended_gb = gb_in / HOURS_PER_MONTH * extended_hours  # the data held beyond 24 h at any moment
        usd = (HOURS_PER_MONTH * _p("kinesis_od_stream_hour") + gb_in * _p("kinesis_od_in_gb")
               + a.stream_readers * gb_in * _p("kinesis_od_out_gb") + extended_gb * _p("kinesis_od_extended_gb_month"))
        basis = f"on demand, {gb_in:,.0f} GB in, read by {a.stream_readers} queries"
    add("Kinesis Data Streams", usd, ["AWS::Kinesis::Stream"],
        basis + (f", {profile.kinesis_retention_hours} h retention" if extended_hours else ""))
    raw = raw_objects(w, a)
    storage, storage_basis = _raw_storage(profile, w, a)
    curated_gb = w.events / DAYS_PER_MONTH * w.event_kb * KB * a.raw_gzip_ratio * a.curated_ratio / GB
    curated = curated_gb * a.retention_months * DAYS_PER_MONTH * _p("s3_standard_gb_month")
    stream_batches = HOURS_PER_MONTH * 3600 / max(a.stream_trigger_seconds, 1.0)  # Glue: whole seconds
    requests = (raw.objects * (_p("s3_put") + _p("s3_get"))
                + raw.batches * (a.archive_puts_per_batch * _p("s3_put") + a.archive_gets_per_batch * _p("s3_get"))
                + stream_batches * a.stream_puts_per_batch * _p("s3_put"))
    add("S3", requests / 1e3 + storage + curated, ["AWS::S3::Bucket"],
        f"{raw.objects:,.0f} raw objects a month from {raw.batches:,.0f} archive micro-batches of "
        f"{a.archive_buffer_seconds:g} s (a PUT and a GET each, {raw.object_bytes / KB:,.0f} KB; + landing log and "
        f"checkpoint); the feature query's checkpoint: {stream_batches / 1e6:,.1f} M micro-batches x "
        f"{a.stream_puts_per_batch:g} PUTs; raw: {storage_basis}; {a.retention_months:g} months kept")
    usd, basis = _features_table(profile, w, a)
    scores_units = a.scored_customers * DAYS_PER_MONTH / 1e6
    add("DynamoDB", usd + scores_units * (_p("ddb_write") + _p("ddb_read")), ["AWS::DynamoDB::GlobalTable"],
        f"features: {basis}; scores: {a.scored_customers / 1e6:g} M customers a day, on demand")
    streaming_dpu = GLUE_DPU[profile.streaming_worker_type] * profile.streaming_workers
    add("Glue streaming job", streaming_dpu * HOURS_PER_MONTH * _p("glue_dpu_hour"), ["AWS::Glue::Job"],
        f"{profile.streaming_workers} x {profile.streaming_worker_type} ({streaming_dpu:g} DPU) all month",
        fixed_cost=True)
    batch_dpu = GLUE_DPU[profile.batch_worker_type] * profile.batch_workers
    processing_hours = w.events / DAYS_PER_MONTH / (a.batch_events_per_dpu_second * batch_dpu) / 3600
    batch_hours = a.batch_jobs_per_day * a.batch_overhead_minutes / 60 + processing_hours
    ml_hours = a.ml_minutes_per_day / 60
    batch_rate = _p("glue_flex_dpu_hour" if profile.batch_flex else "glue_dpu_hour")
    add("Glue batch jobs", DAYS_PER_MONTH * (batch_hours * batch_dpu * batch_rate
                                             + ml_hours * 2 * GLUE_DPU["G.1X"] * _p("glue_dpu_hour")),
        ["AWS::Glue::Job"],
        f"a run a day: {a.batch_jobs_per_day} jobs on {profile.batch_workers} x {profile.batch_worker_type} "
        f"({batch_hours * 60:,.0f} min), ML on 2 x G.1X ({a.ml_minutes_per_day:g} min)"
        + (" (the batch jobs on Flex)" if profile.batch_flex else ""))
    load_hours = (a.redshift_load_minutes / 60 + events_m / DAYS_PER_MONTH * a.redshift_load_seconds_per_million
                  / 3600)
    add("Redshift Serverless", profile.redshift_base_rpu * DAYS_PER_MONTH
        * (load_hours + a.redshift_query_hours_per_day) * _p("redshift_rpu_hour"),
        ["AWS::RedshiftServerless::Workgroup", "AWS::RedshiftServerless::Namespace"],
        f"{profile.redshift_base_rpu} RPU for the daily load and {a.redshift_query_hours_per_day:g} h of queries "
        "a day (storage not counted)" + _usage_limit(profile))
    per_second = w.requests / (HOURS_PER_MONTH * 3600)
    reservoir, rate = profile.trace_reservoir_per_second, profile.trace_sampling_rate
    traces = (min(per_second, reservoir) + rate * max(0.0, per_second - reservoir)) * HOURS_PER_MONTH * 3600
    add("X-Ray", traces / 1e6 * _p("xray_trace"),
        ["AWS::ApiGateway::Stage", "AWS::Lambda::Function", "AWS::XRay::SamplingRule"],
        f"the API's sampling rule: {reservoir} request(s) a second, then {rate:.0%} of the others: "
        f"{traces / 1e6:,.1f} M traces")
    platform = a.platform_log_bytes_per_request if profile.lambda_system_log_level != "WARN" else 0.0
    logs_gb = w.requests * (a.function_log_bytes_per_request + a.access_log_bytes_per_request + platform) / GB
    add("CloudWatch", f.alarm_metrics * _p("cw_alarm") + f.composite_alarms * _p("cw_composite_alarm")
        + f.dashboards * _p("cw_dashboard") + a.custom_metrics * _p("cw_metric")
        + a.metric_puts_per_month / 1e3 * _p("cw_put_metric_data") + logs_gb * _p("cw_logs_ingest_gb"),
        ["AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm", "AWS::CloudWatch::Dashboard",
         "AWS::Logs::LogGroup", "AWS::EC2::FlowLog"],
        f"{f.alarms} alarms ({f.alarm_metrics} alarm metrics) + {f.composite_alarms} composite, "
        f"{f.dashboards} dashboard, {a.custom_metrics} metrics, "
        f"{logs_gb:,.0f} GB of logs "
        f"(Lambda system logs at {profile.lambda_system_log_level})")
    add("VPC endpoints, KMS, Secrets Manager, Step Functions",
        f.interface_endpoints * f.endpoint_zones * HOURS_PER_MONTH * _p("vpc_interface_endpoint_hour")
        + f.kms_keys * _p("kms_key_month") + f.secrets * _p("secret_month")
        + a.sfn_transitions_per_day * DAYS_PER_MONTH / 1e3 * _p("sfn_transition"),
        ["AWS::EC2::VPCEndpoint", "AWS::KMS::Key", "AWS::SecretsManager::Secret", "AWS::StepFunctions::StateMachine"],
        f"{f.interface_endpoints} interface endpoints, {f.kms_keys} key, {f.secrets} secrets, a workflow run a day",
        fixed_cost=True)
    return Bill(stage, workload, lines)


def _features_table(profile: StageProfile, w: Workload, a: Assumptions) -> tuple[float, str]:
    """The feature table's month: on-demand write units, or provisioned capacity that auto scaling keeps at its
    target utilization over the consumed write units (between the profile's floor and ceiling) plus the fixed
    reads and the scaling policy's alarms."""
    per_event = f"{a.ddb_item_writes_per_event:g} item puts per event x {a.ddb_write_units_per_item:g} write units"
    consumed = w.events_per_second * a.ddb_item_writes_per_event * a.ddb_write_units_per_item  # units a second
    if profile.features_table_billing == "on-demand":
        return w.events / 1e6 * a.ddb_item_writes_per_event * a.ddb_write_units_per_item * _p("ddb_write"), (
            f"on demand, {per_event}, no reads")
    wanted = consumed / (TARGET_UTILIZATION_PERCENT / 100)
    units = min(max(float(profile.features_table_min_write_units), wanted), profile.features_table_max_write_units)
    usd = (HOURS_PER_MONTH * (units * _p("ddb_wcu_hour") + profile.features_table_read_units * _p("ddb_rcu_hour"))
           + a.autoscaling_alarms * _p("cw_alarm"))
    short = (f"; over the ceiling of {profile.features_table_max_write_units:,} units the stream falls behind"
             if wanted > profile.features_table_max_write_units else "")
    return usd, (f"provisioned, {per_event} = {consumed:,.1f} a second, auto scaled to {units:,.0f} at "
                 f"{TARGET_UTILIZATION_PERCENT} % (floor {profile.features_table_min_write_units:,}), "
                 f"{profile.features_table_read_units} read units{short}")


def _usage_limit(profile: StageProfile) -> str:
    if not profile.redshift_usage_limit_rpu_hours:
        return "; no usage limit"
    cap = profile.redshift_usage_limit_rpu_hours * _p("redshift_rpu_hour")
    return (f"; usage limit {profile.redshift_usage_limit_rpu_hours:,} RPU-hours {profile.redshift_usage_limit_period}"
            f" (${cap:,.0f}), then {profile.redshift_usage_limit_action}")


#: resource types in the templates that cost nothing by themselves, with the reason (tests/infra/test_cost.py:
#: every type in the synthesized templates is priced by a line or listed here)
FREE_TYPES: dict[str, str] = {
    "AWS::ApiGateway::Account": "account setting",
    "AWS::ApiGateway::Deployment": "part of the REST API",
    "AWS::ApiGateway::Method": "part of the REST API",
    "AWS::ApiGateway::Resource": "part of the REST API",
    "AWS::ApiGateway::Stage": "part of the REST API (no cache cluster)",
    "AWS::Budgets::Budget": "a budget without actions: AWS price list, Budget Notifications \"$0.00 for Budget-days\"",
    "AWS::CDK::Metadata": "CDK bookkeeping",
    "Custom::AWS": "the usage limit's API calls at deploy time (its function is within Lambda's free tier)",
    "AWS::EC2::RouteTable": "no charge",
    "AWS::EC2::SecurityGroup": "no charge",
    "AWS::EC2::SecurityGroupIngress": "no charge",
    "AWS::EC2::Subnet": "no charge",
    "AWS::EC2::SubnetRouteTableAssociation": "no charge",
    "AWS::EC2::VPC": "no charge (no NAT gateway, no public IPv4)",
    "AWS::Events::Rule": "scheduled and AWS-service event rules are free",
    "AWS::Glue::Connection": "no charge",
    "AWS::Glue::Database": "Data Catalog: first million objects free",
    "AWS::Glue::SecurityConfiguration": "no charge",
    "AWS::Glue::Table": "Data Catalog: first million objects free",
    "AWS::IAM::Policy": "no charge",
    "AWS::IAM::Role": "no charge",
    "AWS::KMS::Alias": "no charge",
    "AWS::Lambda::LayerVersion": "storage within the free 75 GB",
    "AWS::Lambda::Permission": "no charge",
    "AWS::S3::BucketPolicy": "no charge",
    "AWS::SNS::Topic": "a few alarm notifications a month: within SNS's free million",
    "AWS::SNS::TopicPolicy": "no charge",
}
