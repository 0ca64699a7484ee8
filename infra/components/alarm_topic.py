"""The one notification channel: alarms, failed batch runs and failed Glue jobs publish here."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class AlarmTopic(Construct):
    """A KMS-encrypted SNS topic that refuses non-TLS publishers, with an optional e-mail subscription."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, key: kms.IKey, email: str = "") -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=name,
            display_name="Customer Lakehouse alarms",
            master_key=key,
            enforce_ssl=True,
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
