"""Alarms that notify the alarm topic; each stack keeps the ones for its own resources in an ``AlarmSet``."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

FIVE_MINUTES = Duration.minutes(5)


class AlarmSet(Construct):
    """Creates alarms wired to the topic (alarm and recovery) and remembers them for the dashboard."""

    def __init__(self, scope: Construct, construct_id: str, *, topic: sns.ITopic, prefix: str) -> None:
        super().__init__(scope, construct_id)
        self._action = actions.SnsAction(topic)
        self._prefix = prefix
        self.alarms: list[cloudwatch.AlarmBase] = []

    def add(
        self,
        construct_id: str,
        *,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        periods: int = 1,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        notify: bool = True,
    ) -> cloudwatch.Alarm:
        """An alarm named ``<prefix>-<construct-id in kebab case>`` that notifies the topic on alarm and on recovery.

        It fires when ``metric`` compares to ``threshold`` (default: at or above) in ``periods`` consecutive
        periods; missing data counts as not breaching unless ``missing`` says otherwise. ``notify=False``: no
        actions, for an alarm that notifies through a composite alarm (:meth:`add_composite`).
        """
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{self._prefix}-{_kebab(construct_id)}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            comparison_operator=comparison,
            treat_missing_data=missing,
        )
        if notify:
            alarm.add_alarm_action(self._action)
            alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def add_composite(
        self,
        construct_id: str,
        *,
        rule: cloudwatch.IAlarmRule,
        description: str,
        suppressor: cloudwatch.IAlarm,
        suppress_for: Duration,
    ) -> cloudwatch.CompositeAlarm:
        """A composite alarm named like :meth:`add`'s that notifies the topic when ``rule`` holds, unless the
        failure was already notified by ``suppressor``: its actions wait while ``suppressor`` is in ALARM and for
        ``suppress_for`` after it leaves ALARM (then, still in ALARM, it notifies). Waits 1 minute for
        ``suppressor`` to enter ALARM when it fires first.
        """
        alarm = cloudwatch.CompositeAlarm(
            self,
            construct_id,
            composite_alarm_name=f"{self._prefix}-{_kebab(construct_id)}",
            alarm_description=description,
            alarm_rule=rule,
            actions_suppressor=suppressor,
            actions_suppressor_wait_period=Duration.minutes(1),
            actions_suppressor_extension_period=suppress_for,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
        return alarm


def _kebab(name: str) -> str:
    """``LambdaErrors`` → ``lambda-errors``."""
    out = []
    for i, char in enumerate(name):
        if char.isupper() and i and not name[i - 1].isupper():
            out.append("-")
        out.append(char.lower())
    return "".join(out)
