"""EventBridge rules that publish failed Step Functions executions and failed Glue job runs to the alarm topic."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

FAILED_EXECUTION = ["FAILED", "TIMED_OUT", "ABORTED"]
FAILED_JOB_RUN = ["FAILED", "TIMEOUT", "ERROR", "STOPPED"]


def notify_failed_executions(
    scope: Construct, construct_id: str, *, state_machine: sfn.IStateMachine, topic: sns.ITopic
) -> events.Rule:
    """An EventBridge rule that posts each failed, timed-out or aborted execution of ``state_machine`` to ``topic``."""
    rule = events.Rule(
        scope,
        construct_id,
        description="Failed, timed-out or aborted batch executions -> alarm topic",
        event_pattern=events.EventPattern(
            source=["aws.states"],
            detail_type=["Step Functions Execution Status Change"],
            detail={"status": FAILED_EXECUTION, "stateMachineArn": [state_machine.state_machine_arn]},
        ),
    )
    rule.add_target(
        targets.SnsTopic(
            topic,
            message=events.RuleTargetInput.from_text(
                f"Batch execution {events.EventField.from_path('$.detail.name')} ended "
                f"{events.EventField.from_path('$.detail.status')}: "
                f"{events.EventField.from_path('$.detail.executionArn')}"
            ),
        )
    )
    return rule


def notify_failed_job_runs(
    scope: Construct, construct_id: str, *, job_names: Sequence[str], topic: sns.ITopic
) -> events.Rule:
    """An EventBridge rule that posts each failed, timed-out, errored or stopped run of the Glue jobs to ``topic``."""
    rule = events.Rule(
        scope,
        construct_id,
        description="Glue job runs that failed, timed out, errored or stopped -> alarm topic",
        event_pattern=events.EventPattern(
            source=["aws.glue"],
            detail_type=["Glue Job State Change"],
            detail={"state": FAILED_JOB_RUN, "jobName": list(job_names)},
        ),
    )
    rule.add_target(
        targets.SnsTopic(
            topic,
            message=events.RuleTargetInput.from_text(
                f"Glue job {events.EventField.from_path('$.detail.jobName')} run "
                f"{events.EventField.from_path('$.detail.jobRunId')} ended "
                f"{events.EventField.from_path('$.detail.state')}: {events.EventField.from_path('$.detail.message')}"
            ),
        )
    )
    return rule
