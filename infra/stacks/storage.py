"""Lake storage: the KMS key, the lake bucket (zones as prefixes), its access-log bucket, the alarm topic and the
account's monthly cost budget that notifies it."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.components.alarm_topic import AlarmTopic
from infra.components.cost_budget import CostBudget
from infra.components.lake_bucket import AccessLogBucket, LakeBucket
from infra.components.lake_key import LakeKey
from infra.config import Deployment


class StorageStack(Stack):
    """Deployed first: every other stack encrypts with ``key``, writes to ``lake`` and alarms to ``alarm_topic``."""

    def __init__(self, scope: Construct, construct_id: str, *, deployment: Deployment, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        names = deployment.names
        retain = deployment.profile.retain_data
        self.key = LakeKey(self, "LakeKey", alias=names.kms_alias, retain=retain).key
        self.access_logs = AccessLogBucket(self, "AccessLogs", deployment=deployment).bucket
        self.lake = LakeBucket(self, "Lake", deployment=deployment, key=self.key, access_logs=self.access_logs).bucket
        self.alarm_topic = AlarmTopic(
            self, "Alarms", name=names.alarm_topic, key=self.key, email=deployment.profile.alarm_email
        ).topic
        if deployment.profile.monthly_budget_usd > 0:
            CostBudget(self, "Budget", name=f"{names.prefix}-monthly-cost",
                       monthly_usd=deployment.profile.monthly_budget_usd, topic=self.alarm_topic)

        CfnOutput(self, "LakeRoot", value=f"s3://{self.lake.bucket_name}", description="LAKEHOUSE_LAKE_ROOT")
        CfnOutput(self, "LakeKeyArn", value=self.key.key_arn)
        CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)
