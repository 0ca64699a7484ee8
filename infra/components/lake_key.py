"""The lake's customer-managed KMS key: every bucket, stream, table, log group, topic and the warehouse use it."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# What AWS services need to do with the key when they encrypt on a caller's behalf (named, no wildcards).
SERVICE_KEY_ACTIONS = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
]


class LakeKey(Construct):
    """A rotating KMS key with an alias, usable by CloudWatch Logs, CloudWatch alarms and EventBridge."""

    def __init__(self, scope: Construct, construct_id: str, *, alias: str, retain: bool) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            alias=alias,
            description=f"Customer Lakehouse data key ({alias})",
            enable_key_rotation=True,
            pending_window=Duration.days(30 if retain else 7),
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        # CloudWatch Logs encrypts log groups of this account and region only.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsEncryptsThisAccountsLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=SERVICE_KEY_ACTIONS,
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
                        )
                    }
                },
            )
        )
        # Alarms, EventBridge rules and the cost budget publish to the encrypted alarm topic.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsAndEventsPublishToEncryptedTopics",
                principals=[
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                    iam.ServicePrincipal("events.amazonaws.com"),
                    iam.ServicePrincipal("budgets.amazonaws.com"),
                ],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
