import json
import re
from dataclasses import replace
from datetime import date

import pytest
from aws_cdk.assertions import Match
from hypothesis import given
from hypothesis import strategies as st

from infra.components.ingest_api import greater_than_pattern
from infra.components.ingest_function import function_environment
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


def test_waf_guards_prod_with_a_request_size_rule_and_managed_rules(dev, prod) -> None:
    assert not dev.resources("Ingestion", "AWS::WAFv2::WebACL")
    (acl,) = prod.resources("Ingestion", "AWS::WAFv2::WebACL").values()
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    size = rules["request-size-limit"]["Statement"]["RegexMatchStatement"]
    assert size["FieldToMatch"] == {"SingleHeader": {"Name": "content-length"}}
    assert size["RegexString"] == greater_than_pattern(MAX_REQUEST_BYTES)
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert common["RuleActionOverrides"] == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    assert "AWSManagedRulesKnownBadInputsRuleSet" in rules
    assert len(prod.resources("Ingestion", "AWS::WAFv2::WebACLAssociation")) == 1
    assert any(a.rule == "AwsSolutions-APIG3" for a in dev.acknowledged)
    assert not any(a.rule == "AwsSolutions-APIG3" for a in prod.acknowledged)


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
