"""The REST API in front of the ingest function: Segment's routes, stage throttling, access logs, optional WAF.

Every path and method is proxied to the function, which owns the route table (``/v1/track``, ``/v1/batch`` …,
``/health``, ``/openapi.json``) and answers unknown routes (404), wrong methods (405) and CORS preflights
itself; the gateway stage is named after the lakehouse stage
(``https://<id>.execute-api.<region>.amazonaws.com/<stage>/v1/track``). Every request body reaches the
function base64-encoded (binary media type ``*/*``) so gzip-compressed bodies arrive intact; the function
decompresses, enforces the 32 KB/event and 500 KB/request limits and answers with Segment's status codes.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.components.log_group import encrypted_log_group
from infra.components.nag import acknowledge
from infra.config import Deployment

API_VERSION = "v1"


def greater_than_pattern(limit: int) -> str:
    """A regular expression matching decimal integers strictly greater than ``limit`` (leading zeros allowed)."""
    if limit < 0:
        raise ValueError("limit must be non-negative")
    digits = str(limit)
    width = len(digits)
    longer = rf"[1-9]\d{{{width},}}"
    same_width = []
    for i, digit in enumerate(digits):
        if digit == "9":
            continue
        rest = width - i - 1
        tail = rf"\d{{{rest}}}" if rest else ""
        same_width.append(f"{digits[:i]}[{int(digit) + 1}-9]{tail}")
    return "^0*(" + "|".join([longer, *same_width]) + ")$"


class IngestApi(Construct):
    """REST API → Lambda proxy integration, with throttling, JSON access logs, tracing and (optionally) WAF."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        function: lambda_.IFunction,
        key: kms.IKey,
        max_request_bytes: int,
    ) -> None:
        super().__init__(scope, construct_id)
        names = deployment.names
        profile = deployment.profile
        self.access_logs = encrypted_log_group(
            self,
            "AccessLogs",
            name=f"/aws/apigateway/{names.api}/access",
            key=key,
            days=profile.log_retention_days,
            retain=profile.retain_data,
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=names.api,
            description="Customer Lakehouse ingestion API (Segment-compatible track/identify/page/batch)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            binary_media_types=["*/*"],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=deployment.settings.stage,
                throttling_rate_limit=profile.api_rate_limit,
                throttling_burst_limit=profile.api_burst_limit,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # request bodies hold personal data: never log them
                metrics_enabled=False,
                tracing_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                # no caller IP: API Gateway's $context.identity.sourceIp cannot be truncated in a log format,
                # so the function logs it instead, truncated by the PII ip rule (docs/ingestion.md, "Privacy")
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=False,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )
        integration = apigw.LambdaIntegration(function, proxy=True, allow_test_invoke=False)
        self.api.root.add_method("ANY", integration)
        self.api.root.add_proxy(default_integration=integration, any_method=True)
        self.stage = self.api.deployment_stage
        self.url = self.api.url_for_path(f"/{API_VERSION}")

        self.web_acl = self._web_acl(deployment, max_request_bytes) if profile.waf else None
        self._acknowledge(waf=profile.waf)

    def _web_acl(self, deployment: Deployment, max_request_bytes: int) -> wafv2.CfnWebACL:
        metric = deployment.names.api
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(metric),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="request-size-limit",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        regex_match_statement=wafv2.CfnWebACL.RegexMatchStatementProperty(
                            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                                single_header={"Name": "content-length"}
                            ),
                            regex_string=greater_than_pattern(max_request_bytes),
                            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
                        )
                    ),
                    visibility_config=_visibility(f"{metric}-size"),
                ),
                _managed_rules(
                    "AWSManagedRulesCommonRuleSet",
                    priority=1,
                    # Batches are legitimately larger than the 8 KB this rule allows; the size rule above applies.
                    count_only=["SizeRestrictions_BODY"],
                    metric=f"{metric}-common",
                ),
                _managed_rules("AWSManagedRulesKnownBadInputsRuleSet", priority=2, metric=f"{metric}-bad-inputs"),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self, "WebAclAssociation", resource_arn=self.stage.stage_arn, web_acl_arn=acl.attr_arn
        )
        return acl

    def _acknowledge(self, *, waf: bool) -> None:
        acknowledge(
            self.api,
            "AwsSolutions-APIG2",
            "Bodies may be gzip-compressed and may carry the write key (Segment semantics), which a gateway "
            "JSON-schema validator cannot read; the function validates every call and names each failing field.",
        )
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acknowledge(
                self.api,
                rule,
                "Callers authenticate with per-source write keys (HTTP Basic or writeKey in the body, as in "
                "Segment's API); the function checks them against the write-keys table, which holds only hashes.",
            )
        acknowledge(
            self.api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level API Gateway logging role needs AWS's managed push-to-CloudWatch policy.",
        )
        if not waf:
            acknowledge(
                self.api,
                "AwsSolutions-APIG3",
                "WAF is off in this stage (context waf=false; on by default in prod): stage throttling and "
                "write keys protect it, and the function enforces the request size limits.",
            )


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _managed_rules(
    name: str, *, priority: int, metric: str, count_only: list[str] | None = None
) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS",
                name=name,
                rule_action_overrides=[
                    wafv2.CfnWebACL.RuleActionOverrideProperty(
                        name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                    )
                    for rule in count_only or []
                ]
                or None,
            )
        ),
        visibility_config=_visibility(metric),
    )
