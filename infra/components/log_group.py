"""CloudWatch log groups encrypted with the lake key and kept for the stage's retention."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
}


def retention(days: int) -> logs.RetentionDays:
    """The CloudWatch retention setting for a number of days (one of the values CloudWatch accepts)."""
    allowed = sorted(_RETENTION)
    if days not in _RETENTION:
        raise ValueError(f"log retention of {days} days is not allowed; choose one of {allowed}")
    return _RETENTION[days]


def encrypted_log_group(
    scope: Construct, construct_id: str, *, name: str, key: kms.IKey, days: int, retain: bool
) -> logs.LogGroup:
    """A log group encrypted with ``key``, kept ``days`` days (``ValueError`` for a retention CloudWatch lacks),
    retained on stack deletion when ``retain``."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        encryption_key=key,
        retention=retention(days),
        removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
    )
