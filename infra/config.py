"""What one deployment looks like: the shared ``Settings`` plus the knobs only the CDK app needs.

Everything is chosen by CDK context (``-c stage=prod``, ``-c kinesis_mode=provisioned`` …). Each stage starts
from a profile (``prod`` for the stage named ``prod``, ``dev`` for every other stage) and any field of that
profile can be overridden by a context key of the same name. Resource names never live here: they come from
``Settings(...).names`` so the stacks and the code that talks to the resources always agree.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from lakehouse.core.config import IngestSettings, ResourceNames, Settings
from lakehouse.core.lake.layout import ZONES, LakeLayout

KinesisMode = Literal["on-demand", "provisioned"]
CapacityMode = Literal["on-demand", "provisioned"]


@dataclass(frozen=True)
class StageProfile:
    """Sizes, limits and retention for one stage; every field can be overridden with ``-c <field>=<value>``."""

    retain_data: bool  # RETAIN buckets, key, tables and namespace on stack deletion
    kinesis_mode: KinesisMode
    kinesis_retention_hours: int
    api_rate_limit: float  # steady-state requests/s for the whole API stage
    api_burst_limit: int
    api_source_rate_limit: float  # requests/s per write key (Authorization header) at the WAF; WAF stages only
    api_ip_rate_limit: float  # requests/s per client IP at the WAF (keys in the body, bogus keys); >= the above
    ingest_memory_mb: int
    ingest_timeout_seconds: int
    ingest_reserved_concurrency: int  # 0 = no reservation (use the account pool)
    waf: bool
    batch_schedule: str  # EventBridge cron expression (UTC) for the batch chain; "" disables the schedule
    batch_worker_type: str
    batch_workers: int
    batch_timeout_minutes: int
    batch_flex: bool  # the nightly Glue jobs on the Flex execution class (spare capacity, $0.29 not $0.44/DPU-hour)
    streaming_worker_type: str
    streaming_workers: int
    # the feature table's capacity: on demand, or provisioned writes under auto scaling (docs/decisions-infra.md)
    features_table_billing: CapacityMode
    features_table_min_write_units: int  # provisioned: auto scaling's floor (what a sudden burst meets)
    features_table_max_write_units: int  # provisioned: auto scaling's ceiling
    features_table_read_units: int  # provisioned: fixed read capacity (lookups by `lakehouse customer`)
    redshift_base_rpu: int  # 4 (the minimum, warehouses under 32 TB), or 8 to 512 in steps of 8
    redshift_max_rpu: int
    redshift_usage_limit_rpu_hours: int  # RPU-hours per period before the breach action; 0 = no usage limit
    redshift_usage_limit_period: str  # daily | weekly | monthly
    redshift_usage_limit_action: str  # log | emit-metric | deactivate (queries refused until the period ends)
    trace_sampling_rate: float  # X-Ray: share of requests traced beyond the reservoir (0 to 1)
    trace_reservoir_per_second: int  # X-Ray: requests traced each second before the rate applies
    lambda_system_log_level: str  # DEBUG | INFO | WARN: WARN drops the platform's per-invocation lines
    log_retention_days: int
    raw_infrequent_access_days: int
    raw_glacier_ir_days: int
    quarantine_expire_days: int
    access_log_expire_days: int
    alarm_email: str  # "" = no e-mail subscription (subscribe your own endpoint to the topic)
    # AWS Budgets: the account's monthly cost in USD past which the alarm topic hears (80 % spent, 100 % forecast);
    # 0 = no budget. The defaults sit above `lakehouse cost` at 10 events/s (dev) and 1,000 events/s (prod)
    monthly_budget_usd: float


PROFILE_FIELDS = tuple(field.name for field in fields(StageProfile))

PROFILES: dict[str, StageProfile] = {
    "dev": StageProfile(
        retain_data=False,
        kinesis_mode="provisioned",
        kinesis_retention_hours=24,
        api_rate_limit=50.0,
        api_burst_limit=100,
        api_source_rate_limit=25.0,
        api_ip_rate_limit=50.0,
        ingest_memory_mb=512,
        ingest_timeout_seconds=IngestSettings().function_timeout_seconds,
        ingest_reserved_concurrency=0,
        waf=False,
        batch_schedule="cron(0 3 * * ? *)",
        batch_worker_type="G.1X",
        batch_workers=2,
        batch_timeout_minutes=60,
        batch_flex=True,
        streaming_worker_type="G.025X",
        streaming_workers=2,
        features_table_billing="on-demand",
        features_table_min_write_units=5,
        features_table_max_write_units=500,
        features_table_read_units=5,
        redshift_base_rpu=4,
        redshift_max_rpu=32,
        redshift_usage_limit_rpu_hours=24,
        redshift_usage_limit_period="daily",
        redshift_usage_limit_action="deactivate",
        trace_sampling_rate=0.05,
        trace_reservoir_per_second=1,
        lambda_system_log_level="INFO",
        log_retention_days=30,
        raw_infrequent_access_days=30,
        raw_glacier_ir_days=90,
        quarantine_expire_days=90,
        access_log_expire_days=90,
        alarm_email="",
        monthly_budget_usd=500.0,
    ),
    "prod": StageProfile(
        retain_data=True,
        kinesis_mode="on-demand",
        kinesis_retention_hours=72,
        api_rate_limit=2000.0,
        api_burst_limit=5000,
        api_source_rate_limit=500.0,
        api_ip_rate_limit=1000.0,
        ingest_memory_mb=1024,
        ingest_timeout_seconds=IngestSettings().function_timeout_seconds,
        ingest_reserved_concurrency=0,
        waf=True,
        batch_schedule="cron(0 2 * * ? *)",
        batch_worker_type="G.1X",
        batch_workers=10,
        batch_timeout_minutes=180,
        batch_flex=True,
        streaming_worker_type="G.1X",
        streaming_workers=2,
        features_table_billing="provisioned",
        features_table_min_write_units=100,
        features_table_max_write_units=10_000,
        features_table_read_units=10,
        redshift_base_rpu=4,
        redshift_max_rpu=128,
        redshift_usage_limit_rpu_hours=2000,
        redshift_usage_limit_period="monthly",
        redshift_usage_limit_action="deactivate",
        trace_sampling_rate=0.01,
        trace_reservoir_per_second=1,
        lambda_system_log_level="WARN",
        log_retention_days=365,
        raw_infrequent_access_days=30,
        raw_glacier_ir_days=180,
        quarantine_expire_days=365,
        access_log_expire_days=365,
        alarm_email="",
        monthly_budget_usd=4000.0,
    ),
}


#: The evaluation window of the web ACL's rate-based rules. AWS WAF allows 60, 120, 300 and 600 seconds and counts,
#: at each check, the requests of the window just past (AWS WAF Developer Guide, "Rate-based rule high-level
#: settings", https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html).
WAF_RATE_WINDOW_SECONDS = 60
WAF_RATE_WINDOWS_SECONDS = (60, 120, 300, 600)
#: A rate-based rule's ``Limit`` (requests per evaluation window and aggregation key): at least 10 (same page), at
#: most 2,000,000,000 (AWS WAFV2 API Reference, RateBasedStatement: Limit, valid range 10 to 2000000000).
WAF_RATE_LIMIT_MIN = 10
WAF_RATE_LIMIT_MAX = 2_000_000_000


def waf_rate_limit(requests_per_second: float, field: str, window_seconds: int = WAF_RATE_WINDOW_SECONDS) -> int:
    """The ``Limit`` of a rate-based rule (requests per ``window_seconds``) for ``requests_per_second``, rounded.

    Raises ``ValueError`` naming ``field`` when the window is not one WAF allows or the limit falls outside
    WAF's bounds (10 … 2,000,000,000 requests per window).

    Example: ``waf_rate_limit(500, "api_source_rate_limit")`` is 30,000 (500 requests/s over 60 s).
    """
    if window_seconds not in WAF_RATE_WINDOWS_SECONDS:
        raise ValueError(
            f"WAF evaluation window: expected one of {WAF_RATE_WINDOWS_SECONDS} seconds, got {window_seconds}"
        )
    per_window = requests_per_second * window_seconds
    limit = round(per_window) if math.isfinite(per_window) else 0
    if not WAF_RATE_LIMIT_MIN <= limit <= WAF_RATE_LIMIT_MAX:
        low = WAF_RATE_LIMIT_MIN / window_seconds
        high = WAF_RATE_LIMIT_MAX / window_seconds
        raise ValueError(
            f"context {field!r}: {requests_per_second:g} requests/s is {per_window:,.6g} requests per "
            f"{window_seconds} s window, outside AWS WAF's rate-based rule limits "
            f"({WAF_RATE_LIMIT_MIN:,} to {WAF_RATE_LIMIT_MAX:,} per window): "
            f"give between {low:.3g} and {high:,.0f} requests/s"
        )
    return limit


#: the context keys of :func:`quicksight_from_context`
QUICKSIGHT_KEYS = ("quicksight", "quicksightPrincipal")
#: a QuickSight user or group ARN: arn:aws:quicksight:<identity region>:<account>:user|group/<namespace>/<name>
QUICKSIGHT_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:quicksight:[a-z0-9-]+:[0-9]{12}:(user|group)/[^/]+/.+$")


@dataclass(frozen=True)
class QuickSightOptions:
    """QuickSight as code (docs/dashboards-aws.md). Off by default: QuickSight needs an account subscription.

    ``-c quicksight=true -c quicksightPrincipal=<user or group ARN>``: the principal owns the data source,
    datasets, analysis and dashboard the Dashboards stack creates.
    """

    enabled: bool = False
    principal_arn: str = ""


def quicksight_from_context(context: Mapping[str, Any]) -> QuickSightOptions:
    """The QuickSight options from the context keys ``quicksight`` and ``quicksightPrincipal``.

    Raises ``ValueError`` when QuickSight is on without a principal, or the principal is not a QuickSight user or
    group ARN.
    """
    enabled = _coerce(context.get("quicksight", False), False, "quicksight")
    principal = str(context.get("quicksightPrincipal") or "").strip()
    if not enabled:
        return QuickSightOptions()
    if not QUICKSIGHT_PRINCIPAL.match(principal):
        raise ValueError(
            "context 'quicksightPrincipal': with quicksight=true, give the QuickSight user or group that owns the "
            "dashboards, e.g. arn:aws:quicksight:us-east-1:123456789012:group/default/analysts "
            f"(got {principal!r}; docs/dashboards-aws.md)"
        )
    return QuickSightOptions(True, principal)


@dataclass(frozen=True)
class Deployment:
    """One deployment of the lakehouse: the shared settings, the stage profile and where it goes."""

    settings: Settings
    profile: StageProfile
    account: str | None
    availability_zones: tuple[str, ...]
    quicksight: QuickSightOptions = QuickSightOptions()

    @property
    def names(self) -> ResourceNames:
        """Every resource name of this deployment (from the settings)."""
        return self.settings.names

    @property
    def region(self) -> str:
        """The region the stacks deploy to."""
        return self.settings.region

    @property
    def lake(self) -> LakeLayout:
        """The lake root the stacks grant access to."""
        return self.settings.lake

    def zone_prefix(self, zone: str) -> str:
        """Key prefix of a lake zone below the lake root, with a trailing slash (``raw/``)."""
        if zone not in ZONES:
            raise ValueError(f"unknown lake zone {zone!r}; expected one of {', '.join(ZONES)}")
        return self.lake.key(zone) + "/"


def _coerce(value: Any, like: Any, key: str) -> Any:
    """Context values arrive as strings from ``-c key=value``; convert them to the profile field's type."""
    if isinstance(like, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"context {key!r}: expected true or false, got {value!r}")
    if isinstance(like, int | float):
        try:
            return type(like)(value)
        except (TypeError, ValueError):
            raise ValueError(f"context {key!r}: expected a number, got {value!r}") from None
    return str(value)


def profile_for(stage: str, context: Mapping[str, Any]) -> StageProfile:
    """The stage's profile with every matching context key applied."""
    profile = PROFILES["prod" if stage == "prod" else "dev"]
    overrides = {}
    for field in fields(StageProfile):
        if field.name in context and context[field.name] is not None:
            overrides[field.name] = _coerce(context[field.name], getattr(profile, field.name), field.name)
    profile = replace(profile, **overrides)
    validate_profile(profile)
    return profile


#: the share of a provisioned table's write capacity auto scaling keeps consumed (its target tracking value,
#: percent): the DynamoDB console's default, leaving 30 % for a rise while scaling catches up
TARGET_UTILIZATION_PERCENT = 70
#: read or write capacity units a provisioned table may have: DynamoDB's default per-table quota (DynamoDB Developer
#: Guide, "Quotas in Amazon DynamoDB": 40,000 read and 40,000 write capacity units per table)
TABLE_UNITS_MAX = 40_000

#: profile fields with a closed set of values (the service's documented ones)
CHOICES: dict[str, tuple[str, ...]] = {
    "kinesis_mode": ("on-demand", "provisioned"),
    "features_table_billing": ("on-demand", "provisioned"),
    # Redshift Serverless API Reference, CreateUsageLimit: period and breachAction
    "redshift_usage_limit_period": ("daily", "weekly", "monthly"),
    "redshift_usage_limit_action": ("log", "emit-metric", "deactivate"),
    # Lambda API Reference, LoggingConfig: SystemLogLevel
    "lambda_system_log_level": ("DEBUG", "INFO", "WARN"),
}


def redshift_base_capacities() -> tuple[int, ...]:
    """Base capacities a Redshift Serverless workgroup takes (Amazon Redshift Management Guide, "Compute capacity
    for Amazon Redshift Serverless"): 4 RPUs, or 8 to 512 in steps of 8 (1,024 in some regions: not offered)."""
    return (4, *range(8, 513, 8))


def validate_profile(profile: StageProfile) -> None:
    """Raise ``ValueError`` naming the context key when a field is outside what the service accepts."""
    for name, allowed in CHOICES.items():
        if getattr(profile, name) not in allowed:
            raise ValueError(f"context {name!r}: expected one of {', '.join(allowed)}, got {getattr(profile, name)!r}")
    if profile.redshift_base_rpu not in redshift_base_capacities():
        raise ValueError(f"context 'redshift_base_rpu': expected 4 or a multiple of 8 from 8 to 512, got "
                         f"{profile.redshift_base_rpu}")
    if profile.redshift_max_rpu < profile.redshift_base_rpu:
        raise ValueError(f"context 'redshift_max_rpu': must be at least redshift_base_rpu "
                         f"({profile.redshift_base_rpu}), got {profile.redshift_max_rpu}")
    if profile.redshift_usage_limit_rpu_hours < 0:
        raise ValueError("context 'redshift_usage_limit_rpu_hours': expected 0 (no limit) or a positive number of "
                         f"RPU-hours, got {profile.redshift_usage_limit_rpu_hours}")
    if profile.monthly_budget_usd < 0:
        raise ValueError("context 'monthly_budget_usd': expected 0 (no budget) or a monthly amount in USD, got "
                         f"{profile.monthly_budget_usd:g}")
    if not 0.0 <= profile.trace_sampling_rate <= 1.0:
        raise ValueError("context 'trace_sampling_rate': expected a share from 0 to 1, got "
                         f"{profile.trace_sampling_rate}")
    if profile.trace_reservoir_per_second < 0:
        raise ValueError("context 'trace_reservoir_per_second': expected 0 or more requests a second, got "
                         f"{profile.trace_reservoir_per_second}")
    units = (profile.features_table_min_write_units, profile.features_table_max_write_units,
             profile.features_table_read_units)
    if not 1 <= profile.features_table_min_write_units <= profile.features_table_max_write_units <= TABLE_UNITS_MAX:
        raise ValueError("context 'features_table_min_write_units' / 'features_table_max_write_units': expected "
                         f"1 <= min <= max <= {TABLE_UNITS_MAX:,} (DynamoDB's default per-table quota), got "
                         f"{units[0]} and {units[1]}")
    if not 1 <= profile.features_table_read_units <= TABLE_UNITS_MAX:
        raise ValueError(f"context 'features_table_read_units': expected 1 to {TABLE_UNITS_MAX:,}, got {units[2]}")
    # checked in every stage, WAF or not, so a bad value fails before `-c waf=true` is ever tried with it
    waf_rate_limit(profile.api_source_rate_limit, "api_source_rate_limit")
    waf_rate_limit(profile.api_ip_rate_limit, "api_ip_rate_limit")
    if profile.api_ip_rate_limit < profile.api_source_rate_limit:
        raise ValueError(
            f"context 'api_ip_rate_limit': {profile.api_ip_rate_limit:g} requests/s is below api_source_rate_limit "
            f"({profile.api_source_rate_limit:g}): a source sending from one address would be throttled by its IP "
            "before its own budget; give at least as much per IP as per source"
        )


def deployment_from_context(context: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Deployment:
    """Build the deployment from CDK context (``stage``, ``project``, ``region`` …) and the environment."""
    environ = os.environ if environ is None else environ
    stage = str(context.get("stage") or "dev")
    region = str(
        context.get("region")
        or environ.get("CDK_DEFAULT_REGION")
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )
    identity: dict[str, Any] = {"stage": stage, "region": region}
    if context.get("project"):
        identity["project"] = str(context["project"])
    if context.get("kinesis_shards"):
        identity["kinesis_shards"] = int(context["kinesis_shards"])
    names = Settings(**identity).names
    settings = Settings(**identity, lake_root=f"s3://{names.lake_bucket}")
    azs = context.get("availability_zones") or f"{region}a,{region}b,{region}c"
    zones = tuple(z.strip() for z in (azs if isinstance(azs, list | tuple) else str(azs).split(",")) if z.strip())
    if len(zones) < 3:
        raise ValueError("context 'availability_zones': Redshift Serverless needs subnets in three zones")
    account = context.get("account") or environ.get("CDK_DEFAULT_ACCOUNT") or None
    return Deployment(settings, profile_for(stage, context), account, zones, quicksight_from_context(context))
