"""A monthly AWS cost budget that notifies the alarm topic: actual spend past 80 % of it, forecast spend past 100 %."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

#: (notification type, percent of the budget): spend already past 80 %, or forecast to pass 100 % by month end
THRESHOLDS: tuple[tuple[str, float], ...] = (("ACTUAL", 80.0), ("FORECASTED", 100.0))


class CostBudget(Construct):
    """An ``AWS::Budgets::Budget`` of ``monthly_usd`` (unblended cost of the whole account, monthly) named ``name``
    whose notifications go to ``topic``, and the topic policy that lets AWS Budgets of this account publish there.

    The budget watches the account, not the stage: AWS Budgets filters by tag only for cost allocation tags
    activated in the Billing console, so deploy each stage in its own account (docs/deploy.md, "Cost budget").
    The topic's KMS key must let ``budgets.amazonaws.com`` use it (:class:`infra.components.lake_key.LakeKey`).
    Budgets without actions cost nothing (AWS price list: "$0.00 for Budget-days").
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, monthly_usd: float,
                 topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BudgetsOfThisAccountPublish",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:budgets::{stack.account}:*"},
                },
            )
        )
        subscriber = budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=name,
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=[subscriber],
                )
                for kind, percent in THRESHOLDS
            ],
        )
