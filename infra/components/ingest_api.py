"""The REST API in front of the ingest function: Segment's routes, stage throttling, access logs, optional WAF.

Every path and method is proxied to the function, which owns the route table (``/v1/track``, ``/v1/batch`` …,
``/health``, ``/openapi.json``) and answers unknown routes (404), wrong methods (405) and CORS preflights
itself; the gateway stage is named after the lakehouse stage
(``https://<id>.execute-api.<region>.amazonaws.com/<stage>/v1/track``). Every request body reaches the
function base64-encoded (binary media type ``*/*``) so gzip-compressed bodies arrive intact; the function
decompresses, enforces the 32 KB/event and 500 KB/request limits and answers with Segment's status codes.

With WAF (prod), the web ACL runs, in order: a rate-based rule per write key (the ``Authorization`` header), one
per client IP, the ``Content-Length`` size rule, then AWS's common and known-bad-inputs rule groups with every rule
that inspects the body in count mode (batches legitimately carry URLs, free text and HTML-ish strings). Both rate
rules answer 429 with the API's JSON error shape and ``Retry-After`` (docs/decisions-infra.md, "Per-source
throttling at the edge").
"""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.components.log_group import encrypted_log_group
from infra.components.nag import acknowledge
from infra.config import WAF_RATE_WINDOW_SECONDS, Deployment, StageProfile, waf_rate_limit

API_VERSION = "v1"

#: The rules of AWS's managed rule groups that inspect the request body (every name ending in ``_BODY``), from AWS
#: WAF Developer Guide, "Baseline rule groups"
#: (https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html). They run in
#: count mode: a batch legitimately carries page URLs and referrers, free text and HTML-ish strings, and one false
#: positive would drop a whole batch of valid events; the function validates every call against the contract.
#: ``RestrictedExtensions`` has no body rule (only ``_URIPATH`` and ``_QUERYARGUMENTS``).
COMMON_RULE_SET_BODY_RULES = (
    "SizeRestrictions_BODY",  # 8 KB: batches are larger; the Content-Length rule and the function apply 500 KB
    "EC2MetaDataSSRF_BODY",
    "GenericLFI_BODY",
    "GenericRFI_BODY",  # URLs with IPv4 hosts, e.g. a page URL or referrer on an intranet address
    "CrossSiteScripting_BODY",  # HTML-ish strings in properties and traits
)
KNOWN_BAD_INPUTS_BODY_RULES = (
    "JavaDeserializationRCE_BODY",
    "Log4JRCE_BODY",
)

#: Keys of the web ACL's custom response bodies (one per rate rule: each names the key it counted on)
SOURCE_RATE_LIMITED = "rate-limited-source"
IP_RATE_LIMITED = "rate-limited-ip"


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
        profile = deployment.profile
        source_limit = waf_rate_limit(profile.api_source_rate_limit, "api_source_rate_limit")
        ip_limit = waf_rate_limit(profile.api_ip_rate_limit, "api_ip_rate_limit")
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(metric),
            custom_response_bodies=rate_limited_bodies(profile),
            rules=[
                # Rate rules first: cheap, and a flood is refused before the managed groups inspect it.
                wafv2.CfnWebACL.RuleProperty(
                    name="rate-per-source",
                    priority=0,
                    action=_rate_limited(SOURCE_RATE_LIMITED),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        # One budget per write key: each distinct Authorization value (Basic base64(writeKey:))
                        # is its own aggregation instance, so one noisy source cannot use up the others' budget.
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="CUSTOM_KEYS",
                            custom_keys=[
                                wafv2.CfnWebACL.RateBasedStatementCustomKeyProperty(
                                    header=wafv2.CfnWebACL.RateLimitHeaderProperty(
                                        name="authorization",
                                        text_transformations=[
                                            wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                                        ],
                                    )
                                )
                            ],
                            limit=source_limit,
                            evaluation_window_sec=WAF_RATE_WINDOW_SECONDS,
                        )
                    ),
                    visibility_config=_visibility(f"{metric}-rate-source"),
                ),
                # Requests without an Authorization header (write key in the body) are not counted by the rule
                # above: "Web requests that are missing any of the components specified in the aggregation keys
                # are omitted from the rate-based rule evaluation and handling" (AWS WAFV2 API Reference,
                # RateBasedStatement, AggregateKeyType). This rule counts every request per client address; it
                # also caps a client cycling through made-up keys.
                wafv2.CfnWebACL.RuleProperty(
                    name="rate-per-ip",
                    priority=1,
                    action=_rate_limited(IP_RATE_LIMITED),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP",
                            limit=ip_limit,
                            evaluation_window_sec=WAF_RATE_WINDOW_SECONDS,
                        )
                    ),
                    visibility_config=_visibility(f"{metric}-rate-ip"),
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="request-size-limit",
                    priority=2,
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
                    priority=3,
                    count_only=COMMON_RULE_SET_BODY_RULES,
                    metric=f"{metric}-common",
                ),
                _managed_rules(
                    "AWSManagedRulesKnownBadInputsRuleSet",
                    priority=4,
                    count_only=KNOWN_BAD_INPUTS_BODY_RULES,
                    metric=f"{metric}-bad-inputs",
                ),
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


def rate_limited_body(*, field: str, per: str, requests_per_second: float) -> str:
    """The JSON body of a rate rule's 429: the function's error shape (``success``, ``code``, ``message``,
    ``field``, ``retry_after``; lambdas/ingest/responses.py), compact like the function's answers."""
    message = (
        f"Too many requests {per}: over {requests_per_second:g} requests/s, counted by AWS WAF over the last "
        f"{WAF_RATE_WINDOW_SECONDS} s; retry after {WAF_RATE_WINDOW_SECONDS} s"
    )
    body = {
        "success": False,
        "code": "rate_limited",
        "message": message,
        "field": field,
        "retry_after": WAF_RATE_WINDOW_SECONDS,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def rate_limited_bodies(profile: StageProfile) -> dict[str, wafv2.CfnWebACL.CustomResponseBodyProperty]:
    """The web ACL's ``CustomResponseBodies``: one JSON body per rate rule, naming the key it counted on
    (``Authorization`` for the per-source rule, ``(ip)`` for the per-address rule)."""
    bodies = {
        SOURCE_RATE_LIMITED: rate_limited_body(
            field="Authorization", per="for this write key", requests_per_second=profile.api_source_rate_limit
        ),
        IP_RATE_LIMITED: rate_limited_body(
            field="(ip)", per="from this address", requests_per_second=profile.api_ip_rate_limit
        ),
    }
    return {
        key: wafv2.CfnWebACL.CustomResponseBodyProperty(content_type="APPLICATION_JSON", content=content)
        for key, content in bodies.items()
    }


def _rate_limited(body_key: str) -> wafv2.CfnWebACL.RuleActionProperty:
    """Block with 429, the JSON body ``body_key``, ``Retry-After`` (one window) and CORS' allow-origin, so a
    browser SDK can read the answer as it reads the function's."""
    return wafv2.CfnWebACL.RuleActionProperty(
        block=wafv2.CfnWebACL.BlockActionProperty(
            custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                response_code=429,
                custom_response_body_key=body_key,
                response_headers=[
                    wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Retry-After", value=str(WAF_RATE_WINDOW_SECONDS)),
                    wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Access-Control-Allow-Origin", value="*"),
                ],
            )
        )
    )


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _managed_rules(
    name: str, *, priority: int, metric: str, count_only: tuple[str, ...] = ()
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
                    for rule in count_only
                ]
                or None,
            )
        ),
        visibility_config=_visibility(metric),
    )
