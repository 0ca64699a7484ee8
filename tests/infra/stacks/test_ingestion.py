import json
import re
from dataclasses import replace
from datetime import date

import pytest
from aws_cdk.assertions import Match
from hypothesis import given
from hypothesis import strategies as st

from infra.app import create_app
from infra.components.ingest_api import greater_than_pattern
from infra.components.ingest_function import function_environment
from infra.config import PROFILES
from lakehouse.core.config import EventTimeSettings, PiiSettings, Settings
from lakehouse.core.contract.limits import MAX_REQUEST_BYTES


def test_ingest_role_grants_exactly_what_the_function_calls(dev, grants) -> None:
    lake = "arn:${AWS::Partition}:s3:::customer-lakehouse-dev-lake"
    statements = dev.policy_statements("Ingestion", "IngestRoleDefaultPolicy")
    grants(
        statements,
        {
            ("logs:CreateLogStream", "logs:PutLogEvents"): ["${IngestLogs*.Arn}"],
            ("s3:PutObject",): [f"{lake}/quarantine/*"],  # not raw/: the raw archive writes it
            ("kinesis:PutRecords",): ["${Streaming:Events*.Arn}"],
            ("dynamodb:GetItem",): ["${WriteKeysTable*.Arn}"],
            ("kms:GenerateDataKey",): ["${Storage:LakeKey*.Arn}"],
            ("kms:Decrypt",): ["${Storage:LakeKey*.Arn}"],
            ("xray:PutTelemetryRecords", "xray:PutTraceSegments"): ["*"],
        },
    )
    via = {
        s["actions"]: s["condition"]["StringEquals"]["kms:ViaService"]
        for s in statements
        if s["actions"][0].startswith("kms:")
    }
    assert via == {
        ("kms:GenerateDataKey",): ["s3.us-east-1.amazonaws.com", "kinesis.us-east-1.amazonaws.com"],
        ("kms:Decrypt",): ["dynamodb.us-east-1.amazonaws.com"],
    }
    (role,) = [r for k, r in dev.resources("Ingestion", "AWS::IAM::Role").items() if k.startswith("IngestRole")]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_function_runs_the_ingest_folder_with_its_layer_and_settings(dev) -> None:
    names = Settings(stage="dev").names
    (function,) = dev.resources("Ingestion", "AWS::Lambda::Function").values()
    props = function["Properties"]
    assert props["FunctionName"] == names.ingest_function
    assert props["Handler"] == "handler.handler"
    assert props["Runtime"] == "python3.14" and props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert "LakeKey" in dev.render(props["KmsKeyArn"], "Ingestion")
    assert len(props["Layers"]) == 1
    env = props["Environment"]["Variables"]
    assert env["LAKEHOUSE_STAGE"] == "dev" and env["LAKEHOUSE_REGION"] == "us-east-1"
    assert env["LAKEHOUSE_LAKE_ROOT"] == f"s3://{names.lake_bucket}"
    assert "resolve:secretsmanager" in dev.render(env["LAKEHOUSE_PII__HASH_KEY"], "Ingestion")


def test_function_environment_gives_the_function_the_same_names_as_the_stacks(dev, monkeypatch) -> None:
    (function,) = dev.resources("Ingestion", "AWS::Lambda::Function").values()
    for key, value in function["Properties"]["Environment"]["Variables"].items():
        if isinstance(value, str) and key.startswith("LAKEHOUSE_"):
            monkeypatch.setenv(key, value)
    settings = Settings()
    streaming = dev.json("Streaming")["Resources"]
    (stream,) = [r for r in streaming.values() if r["Type"] == "AWS::Kinesis::Stream"]
    assert settings.names.stream == stream["Properties"]["Name"]
    assert settings.lake.bucket == dev.lakehouse.deployment.names.lake_bucket
    assert settings.names.write_keys_table in {
        t["Properties"]["TableName"] for t in dev.resources("Ingestion", "AWS::DynamoDB::GlobalTable").values()
    }


def test_code_asset_holds_the_handler_and_layer_holds_dependencies_and_core(dev) -> None:
    (function,) = dev.resources("Ingestion", "AWS::Lambda::Function").values()
    (layer,) = dev.resources("Ingestion", "AWS::Lambda::LayerVersion").values()
    code_dir = dev.outdir / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    layer_dir = dev.outdir / f"asset.{layer['Properties']['Content']['S3Key'].removesuffix('.zip')}"
    assert (code_dir / "handler.py").is_file() and (code_dir / "app.py").is_file()
    assert not (code_dir / "requirements.txt").exists()
    assert not list(code_dir.rglob("__pycache__"))
    site = layer_dir / "python"
    assert (site / "lakehouse" / "core" / "config.py").is_file()
    assert sorted(p.name for p in (site / "lakehouse").iterdir()) == ["__init__.py", "core"]  # no lakehouse/local
    assert (site / "aws_lambda_powertools").is_dir()
    assert not (site / "moto").exists() and not (site / "typer").exists()
    assert any("aarch64" in so.name for so in (site / "pydantic_core").glob("*.so"))


def test_api_stage_is_throttled_traced_and_access_logged(dev, prod) -> None:
    for synth, rate, burst in ((dev, 50, 100), (prod, 2000, 5000)):
        stage = synth.lakehouse.deployment.settings.stage
        synth.template("Ingestion").has_resource_properties(
            "AWS::ApiGateway::Stage",
            {
                "StageName": stage,
                "TracingEnabled": True,
                "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp("status")},
                "MethodSettings": [
                    Match.object_like(
                        {
                            "HttpMethod": "*",
                            "ResourcePath": "/*",
                            "ThrottlingRateLimit": rate,
                            "ThrottlingBurstLimit": burst,
                            "LoggingLevel": "ERROR",
                            "DataTraceEnabled": False,
                        }
                    )
                ],
            },
        )
    dev.template("Ingestion").has_resource_properties("AWS::ApiGateway::RestApi", {"BinaryMediaTypes": ["*/*"]})
    dev.template("Ingestion").has_resource_properties(
        "AWS::Logs::LogGroup",
        {"LogGroupName": "/aws/apigateway/customer-lakehouse-dev-ingest-api/access", "KmsKeyId": Match.any_value()},
    )


def test_the_access_log_holds_no_caller_ip(dev) -> None:
    """API Gateway cannot truncate $context.identity.sourceIp inside its log format, so the format leaves it
    out (the function logs the truncated address); with ip=True the format carried the full address."""
    (stage,) = dev.resources("Ingestion", "AWS::ApiGateway::Stage").values()
    log_format = stage["Properties"]["AccessLogSetting"]["Format"]
    fields = json.loads(log_format)
    assert "sourceIp" not in log_format and "$context.identity" not in log_format
    assert {"requestId", "status", "httpMethod", "resourcePath"} <= set(fields)


def test_every_request_is_proxied_to_the_function(dev) -> None:
    methods = dev.resources("Ingestion", "AWS::ApiGateway::Method").values()
    assert {m["Properties"]["HttpMethod"] for m in methods} == {"ANY"}
    assert all(m["Properties"]["Integration"]["Type"] == "AWS_PROXY" for m in methods)
    (proxy,) = dev.resources("Ingestion", "AWS::ApiGateway::Resource").values()
    assert proxy["Properties"]["PathPart"] == "{proxy+}"


#: Every rule whose name ends in _BODY in the two managed groups the web ACL uses, read from AWS WAF Developer
#: Guide, "Baseline rule groups" (https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html):
#: written out here, not imported, so a body rule the code forgets fails the test.
DOCUMENTED_BODY_RULES = {
    "AWSManagedRulesCommonRuleSet": {
        "SizeRestrictions_BODY",
        "EC2MetaDataSSRF_BODY",
        "GenericLFI_BODY",
        "GenericRFI_BODY",
        "CrossSiteScripting_BODY",
    },
    "AWSManagedRulesKnownBadInputsRuleSet": {"JavaDeserializationRCE_BODY", "Log4JRCE_BODY"},
}
#: AWS WAF's rate-based rules count over this many seconds here (one of 60, 120, 300, 600 by the WAF docs)
WINDOW_SECONDS = 60


def _waf_rules(prod) -> tuple[dict, dict[str, dict]]:
    (acl,) = prod.resources("Ingestion", "AWS::WAFv2::WebACL").values()
    return acl["Properties"], {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}


def test_waf_guards_prod_with_a_request_size_rule_and_managed_rules(dev, prod) -> None:
    assert not dev.resources("Ingestion", "AWS::WAFv2::WebACL")
    _, rules = _waf_rules(prod)
    size = rules["request-size-limit"]["Statement"]["RegexMatchStatement"]
    assert size["FieldToMatch"] == {"SingleHeader": {"Name": "content-length"}}
    assert size["RegexString"] == greater_than_pattern(MAX_REQUEST_BYTES)
    assert rules["request-size-limit"]["Action"] == {"Block": {}}
    for group in DOCUMENTED_BODY_RULES:
        statement = rules[group]["Statement"]["ManagedRuleGroupStatement"]
        assert (statement["VendorName"], statement["Name"]) == ("AWS", group)
        assert rules[group]["OverrideAction"] == {"None": {}}  # the group's other rules keep their Block
    assert len(prod.resources("Ingestion", "AWS::WAFv2::WebACLAssociation")) == 1
    assert any(a.rule == "AwsSolutions-APIG3" for a in dev.acknowledged)
    assert not any(a.rule == "AwsSolutions-APIG3" for a in prod.acknowledged)


def test_every_documented_body_rule_of_the_managed_groups_only_counts(prod) -> None:
    """Batches carry URLs, free text and HTML-ish strings: no body-inspecting managed rule may block them. With
    only SizeRestrictions_BODY overridden (the code before this test), six documented rules were missing."""
    _, rules = _waf_rules(prod)
    for group, documented in DOCUMENTED_BODY_RULES.items():
        overrides = rules[group]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
        assert {o["Name"] for o in overrides} == documented, group
        assert all(o["ActionToUse"] == {"Count": {}} for o in overrides), group


def test_rate_rules_run_first_then_the_size_rule_then_the_managed_groups(prod) -> None:
    _, rules = _waf_rules(prod)
    by_priority = [name for name, _ in sorted(rules.items(), key=lambda item: item[1]["Priority"])]
    assert by_priority == [
        "rate-per-source",
        "rate-per-ip",
        "request-size-limit",
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
    ]
    assert len({rule["Priority"] for rule in rules.values()}) == len(rules)


def test_each_write_key_has_its_own_rate_budget(prod) -> None:
    """The per-source rule aggregates on the raw Authorization header (Basic base64(writeKey:)), so each write
    key is its own aggregation instance; its limit is the profile's requests/s times the 60 s window."""
    _, rules = _waf_rules(prod)
    statement = rules["rate-per-source"]["Statement"]["RateBasedStatement"]
    assert statement["AggregateKeyType"] == "CUSTOM_KEYS"
    assert statement["CustomKeys"] == [
        {"Header": {"Name": "authorization", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}
    ]
    assert statement["EvaluationWindowSec"] == WINDOW_SECONDS
    assert statement["Limit"] == PROFILES["prod"].api_source_rate_limit * WINDOW_SECONDS == 30_000
    assert "ScopeDownStatement" not in statement


def test_each_client_address_has_a_higher_budget_covering_keys_in_the_body(prod) -> None:
    """A CUSTOM_KEYS rule skips requests without the key (no Authorization header: writeKey in the body); the
    per-IP rule counts every request, at a higher limit than one source's."""
    _, rules = _waf_rules(prod)
    statement = rules["rate-per-ip"]["Statement"]["RateBasedStatement"]
    assert statement["AggregateKeyType"] == "IP" and "CustomKeys" not in statement
    assert statement["EvaluationWindowSec"] == WINDOW_SECONDS
    assert statement["Limit"] == PROFILES["prod"].api_ip_rate_limit * WINDOW_SECONDS
    assert statement["Limit"] > rules["rate-per-source"]["Statement"]["RateBasedStatement"]["Limit"]


@pytest.mark.parametrize(("rule", "field"), [("rate-per-source", "Authorization"), ("rate-per-ip", "(ip)")])
def test_a_rate_limited_request_gets_429_with_the_api_error_shape_and_retry_after(prod, rule, field) -> None:
    props, rules = _waf_rules(prod)
    response = rules[rule]["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    headers = {h["Name"]: h["Value"] for h in response["ResponseHeaders"]}
    assert int(headers["Retry-After"]) > 0
    assert headers["Access-Control-Allow-Origin"] == "*"  # browser SDKs can read it, as the function's answers
    body = props["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    error = json.loads(body["Content"])
    assert error["success"] is False and error["code"] == "rate_limited" and error["field"] == field
    assert error["retry_after"] == int(headers["Retry-After"])
    assert "requests/s" in error["message"] and str(int(error["retry_after"])) in error["message"]


@pytest.mark.parametrize(
    ("key", "value"),
    [("api_source_rate_limit", "0.01"), ("api_ip_rate_limit", "0.1"), ("api_ip_rate_limit", "40000000")],
)
def test_a_rate_limit_outside_wafs_bounds_stops_the_synth_naming_the_field(key, value, tmp_path) -> None:
    """WAF takes 10 to 2,000,000,000 requests per window; 0.01 requests/s is 0.6 per minute."""
    context = {"stage": "prod", "region": "us-east-1", key: value}
    with pytest.raises(ValueError, match=rf"context '{key}': .* outside AWS WAF's rate-based rule limits"):
        create_app(context, outdir=str(tmp_path))


@given(limit=st.integers(min_value=0, max_value=10**9), value=st.integers(min_value=0, max_value=10**10))
def test_size_pattern_matches_exactly_the_numbers_above_the_limit(limit: int, value: int) -> None:
    pattern = re.compile(greater_than_pattern(limit))
    assert bool(pattern.match(str(value))) == (value > limit)
    assert bool(pattern.match("00" + str(value))) == (value > limit)


@pytest.mark.parametrize("text", ["", "12a", "-5", "1e9", " 600000"])
def test_size_pattern_ignores_what_is_not_a_number(text: str) -> None:
    assert not re.match(greater_than_pattern(512_000), text)


def test_alarms_cover_api_errors_latency_and_function_health(dev) -> None:
    alarms = dev.resources("Ingestion", "AWS::CloudWatch::Alarm").values()
    by_metric = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"] for a in alarms}
    assert set(by_metric) == {
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "4XXError"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Duration"),
    }
    assert by_metric[("AWS/Lambda", "Duration")]["Threshold"] == 8000  # 80% of the 10 s timeout
    for props in by_metric.values():
        (action,) = props["AlarmActions"]
        assert dev.render(action, "Ingestion").startswith("${Storage:AlarmsTopic")
        assert props["OKActions"] == props["AlarmActions"]


def test_deployment_rules_reach_the_function(dev, monkeypatch) -> None:
    """The deployment's PII and event-time rules are the function's: without these variables the function read
    its defaults whatever the deployment said (seen: ``pii.email="drop"`` at deploy time, hashing in the
    function)."""
    deployment = dev.lakehouse.deployment
    custom = deployment.settings.model_copy(update={
        "pii": PiiSettings(email="drop", ip="drop"),
        "event_time": EventTimeSettings(future_tolerance_seconds=600, earliest_event_date=date(2005, 3, 1),
                                        max_skew_correction_seconds=3600)})
    for key, value in function_environment(replace(deployment, settings=custom), "key").items():
        monkeypatch.setenv(key, value)
    inside = Settings()
    assert (inside.pii.email, inside.pii.ip) == ("drop", "drop")
    assert inside.event_time == custom.event_time


def test_one_sampling_rule_traces_the_api_stage_at_the_profiles_rate(dev) -> None:
    """API Gateway Developer Guide, "Configure AWS X-Ray sampling rules for API Gateway APIs": service name
    ``{api-name}/{stage-name}``, service type ``AWS::ApiGateway::Stage``, the stage's ARN, priority 1-9999; X-Ray
    rule names are at most 32 characters."""
    names = dev.lakehouse.deployment.names
    (rule,) = [r["Properties"]["SamplingRule"] for r in dev.resources("Ingestion", "AWS::XRay::SamplingRule").values()]
    assert rule["ServiceName"] == f"{names.api}/dev" and rule["ServiceType"] == "AWS::ApiGateway::Stage"
    (api,) = dev.resources("Ingestion", "AWS::ApiGateway::RestApi")
    (stage,) = dev.resources("Ingestion", "AWS::ApiGateway::Stage")
    assert dev.render(rule["ResourceARN"], "Ingestion") == (
        f"arn:aws:apigateway:us-east-1::/restapis/${{{api}}}/stages/${{{stage}}}")
    assert rule["Priority"] in range(1, 10_000) and len(rule["RuleName"]) <= 32 and rule["Version"] == 1
    assert (rule["FixedRate"], rule["ReservoirSize"]) == (0.05, 1)
