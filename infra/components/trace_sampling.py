"""The X-Ray sampling rule of the ingestion API: ``reservoir`` traced requests a second, then ``rate`` of the rest.

API Gateway makes the sampling decision for each request with the first matching rule (API Gateway Developer
Guide, "Configure AWS X-Ray sampling rules for API Gateway APIs": service name ``{api-name}/{stage-name}``, service
type ``AWS::ApiGateway::Stage``, the stage's ARN) and passes it on in the trace header; the ingest function, with
active tracing, follows the decision it receives, so one rule governs both. Without it X-Ray's default rule traces
1 request a second and 5 % of the others.
"""

from __future__ import annotations

from aws_cdk import aws_xray as xray
from constructs import Construct

#: X-Ray evaluates rules in ascending priority (1 to 9999); the default rule comes last
PRIORITY = 100
#: X-Ray sampling rule names are at most 32 characters
MAX_RULE_NAME = 32


class ApiTraceSampling(Construct):
    """One sampling rule for ``api_name``'s stage ``stage_name`` (``stage_arn``)."""

    def __init__(self, scope: Construct, construct_id: str, *, rule_name: str, api_name: str, stage_name: str,
                 stage_arn: str, rate: float, reservoir_per_second: int) -> None:
        super().__init__(scope, construct_id)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"trace sampling rate must be a share from 0 to 1, got {rate}")
        self.rule = xray.CfnSamplingRule(
            self,
            "Rule",
            sampling_rule=xray.CfnSamplingRule.SamplingRuleProperty(
                rule_name=rule_name[:MAX_RULE_NAME],
                priority=PRIORITY,
                fixed_rate=rate,
                reservoir_size=reservoir_per_second,
                service_name=f"{api_name}/{stage_name}",
                service_type="AWS::ApiGateway::Stage",
                resource_arn=stage_arn,
                host="*",
                http_method="*",
                url_path="*",
                version=1,
            ),
        )
