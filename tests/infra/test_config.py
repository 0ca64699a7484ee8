import math
import re

import pytest

from infra.config import PROFILES, deployment_from_context, profile_for, waf_rate_limit


def test_prod_gets_the_prod_profile_and_every_other_stage_the_dev_profile() -> None:
    assert profile_for("prod", {}) == PROFILES["prod"]
    assert profile_for("dev", {}) == PROFILES["dev"]
    assert profile_for("qa", {}) == PROFILES["dev"]


def test_context_strings_override_profile_fields_with_their_types() -> None:
    profile = profile_for(
        "dev",
        {
            "waf": "true",
            "api_rate_limit": "12.5",
            "batch_workers": "4",
            "kinesis_mode": "on-demand",
            "alarm_email": "ops@example.com",
        },
    )
    assert profile.waf is True and profile.api_rate_limit == 12.5 and profile.batch_workers == 4
    assert profile.kinesis_mode == "on-demand" and profile.alarm_email == "ops@example.com"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("waf", "maybe", "'waf': expected true or false"),
        ("batch_workers", "many", "'batch_workers': expected a number"),
        ("kinesis_mode", "sharded", "'kinesis_mode': expected one of on-demand, provisioned"),
        # Redshift Serverless: 4 RPUs, or 8 to 512 in steps of 8; CreateUsageLimit's period and breachAction
        ("redshift_base_rpu", "12", "'redshift_base_rpu': expected 4 or a multiple of 8 from 8 to 512, got 12"),
        ("redshift_base_rpu", "1024", "'redshift_base_rpu': expected 4 or a multiple of 8"),
        ("redshift_max_rpu", "2", "'redshift_max_rpu': must be at least redshift_base_rpu"),
        ("redshift_usage_limit_period", "yearly", "'redshift_usage_limit_period': expected one of daily, weekly"),
        ("redshift_usage_limit_action", "stop", "'redshift_usage_limit_action': expected one of log, emit-metric"),
        ("redshift_usage_limit_rpu_hours", "-5", "'redshift_usage_limit_rpu_hours': expected 0"),
        # X-Ray: a fixed rate from 0 to 1; Lambda's SystemLogLevel: DEBUG, INFO or WARN
        ("trace_sampling_rate", "5", "'trace_sampling_rate': expected a share from 0 to 1, got 5.0"),
        ("trace_reservoir_per_second", "-1", "'trace_reservoir_per_second': expected 0 or more"),
        ("lambda_system_log_level", "ERROR", "'lambda_system_log_level': expected one of DEBUG, INFO, WARN"),
        ("api_source_rate_limit", "0.01", "'api_source_rate_limit': 0.01 requests/s is 0.6 requests per 60 s"),
        ("api_ip_rate_limit", "nan", "'api_ip_rate_limit': nan requests/s"),
        ("api_ip_rate_limit", "20", "'api_ip_rate_limit': 20 requests/s is below api_source_rate_limit"),
        # DynamoDB: a capacity mode, and provisioned units within the default per-table quota (40,000)
        ("features_table_billing", "reserved", "'features_table_billing': expected one of on-demand, provisioned"),
        ("features_table_min_write_units", "0", "expected 1 <= min <= max <= 40,000"),
        ("features_table_min_write_units", "600", "got 600 and 500"),
        ("features_table_max_write_units", "40001", "got 5 and 40001"),
        ("features_table_read_units", "0", "'features_table_read_units': expected 1 to 40,000, got 0"),
        ("monthly_budget_usd", "-1", "'monthly_budget_usd': expected 0 (no budget) or a monthly amount in USD, got -1"),
        ("monthly_budget_usd", "lots", "'monthly_budget_usd': expected a number"),
    ],
)
def test_bad_context_values_name_the_key(key: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        profile_for("dev", {key: value})


def test_deployment_names_everything_from_the_shared_settings() -> None:
    deployment = deployment_from_context({"stage": "qa", "region": "eu-west-1", "project": "acme"}, environ={})
    assert deployment.names.prefix == "acme-qa"
    assert deployment.lake.root_uri == "s3://acme-qa-lake"
    assert deployment.region == "eu-west-1" and deployment.account is None
    assert deployment.availability_zones == ("eu-west-1a", "eu-west-1b", "eu-west-1c")
    assert deployment.zone_prefix("raw") == "raw/"
    with pytest.raises(ValueError, match="unknown lake zone 'bronze'"):
        deployment.zone_prefix("bronze")


def test_region_and_account_fall_back_to_the_cdk_environment() -> None:
    deployment = deployment_from_context({}, environ={"CDK_DEFAULT_REGION": "us-west-2", "CDK_DEFAULT_ACCOUNT": "1"})
    assert (deployment.settings.stage, deployment.region, deployment.account) == ("dev", "us-west-2", "1")


def test_availability_zones_can_be_chosen_but_need_three() -> None:
    chosen = deployment_from_context({"availability_zones": "us-east-1b, us-east-1d,us-east-1f"}, environ={})
    assert chosen.availability_zones == ("us-east-1b", "us-east-1d", "us-east-1f")
    with pytest.raises(ValueError, match="three zones"):
        deployment_from_context({"availability_zones": "us-east-1a,us-east-1b"}, environ={})


def test_waf_rate_limits_are_profile_fields_overridable_from_the_context() -> None:
    profile = profile_for("dev", {"api_source_rate_limit": "40", "api_ip_rate_limit": "80.5"})
    assert (profile.api_source_rate_limit, profile.api_ip_rate_limit) == (40.0, 80.5)
    assert PROFILES["prod"].api_source_rate_limit < PROFILES["prod"].api_ip_rate_limit
    assert PROFILES["dev"].api_source_rate_limit < PROFILES["dev"].api_ip_rate_limit


@pytest.mark.parametrize(
    ("per_second", "window", "limit"),
    [
        (500, 60, 30_000),
        (10 / 60, 60, 10),  # WAF's lowest limit: 10 requests per window
        (2_000_000_000 / 600, 600, 2_000_000_000),  # the highest (WAFV2 API Reference, RateBasedStatement)
        (12.5, 120, 1_500),
    ],
)
def test_waf_rate_limit_is_requests_per_second_times_the_window(per_second, window, limit) -> None:
    assert waf_rate_limit(per_second, "api_source_rate_limit", window) == limit


@pytest.mark.parametrize(
    ("kind", "per_second", "window"),
    [
        ("below WAF's 10 per window", 9.4 / 60, 60),
        ("above WAF's 2,000,000,000 per window", 2_000_000_001 / 60, 60),
        ("zero", 0, 60),
        ("negative", -1, 60),
        ("infinite", math.inf, 60),
        ("not a number", math.nan, 60),
        ("a window WAF does not offer", 100, 30),
    ],
)
def test_waf_rate_limit_refuses_what_waf_would_refuse(kind, per_second, window) -> None:
    field = "api_ip_rate_limit"
    with pytest.raises(ValueError, match=f"'{field}'|evaluation window"):
        waf_rate_limit(per_second, field, window)
