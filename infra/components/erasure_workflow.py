"""The ForgetCustomer state machine: the AWS counterpart of ``lakehouse forget`` (docs/erasure.md).

Input ``{"request_id": "<id>"}``: the person travels in the request object ``state/erasure/requests/<id>.json``
in the lake, never in the execution's input or the job run's arguments (Step Functions and Glue keep those in their
history). A batch execution already running read records before the person was suppressed, so the workflow waits
for it to end (FindBatchRuns ⇄ WaitForBatch; one started later reads the suppression list). The forget job rewrites
the streaming job's state store, so the streaming job must not run meanwhile::

    Request → FindBatchRuns ⇄ WaitForBatch (while a batch execution runs) → FindStreamingRuns, then:

    FindStreamingRuns ─ active? ─ yes ─> StopStreaming ─> WaitForStop ─> CheckStopped ─ still active? ─ yes ─┐
          │                                                  ^───────────────────────────────────────────────┘
          no ──────────────────────────────────────────────────────────────> Erase (the forget job, .sync)
                                                                                │ ok             │ failed
                                                            StreamingWasRunning? ─ yes ─> StartStreaming ─> Done
                                                            StreamingWasRunningBeforeFailure? ─ yes ─> Start… ─> Failed

The streaming job is started again only when this execution stopped it, whether the erasure succeeded or not; a
failed erasure fails the execution (notified by the failure rule like the batch's). Written in JSONata: the run
filter is one expression (``JobRuns[JobRunState in [...]].Id``).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.components.glue_job import GlueJob
from infra.components.log_group import encrypted_log_group
from infra.components.nag import acknowledge
from infra.config import Deployment

#: Glue job run states of a run that holds the job (JobRun.JobRunState, AWS Glue API)
ACTIVE_RUN_STATES = ("STARTING", "RUNNING", "WAITING", "STOPPING")
#: how long to wait between looks at a stopping streaming run, and at a running batch execution
STOP_POLL = Duration.seconds(30)
BATCH_POLL = Duration.minutes(1)


class ErasureWorkflow(Construct):
    """The state machine (module docstring) around ``forget_job``, stopping and restarting ``streaming_job``."""

    def __init__(self, scope: Construct, construct_id: str, *, deployment: Deployment, key: kms.IKey,
                 forget_job: GlueJob, streaming_job_name: str, streaming_job_arn: str,
                 batch_state_machine_arn: str) -> None:
        super().__init__(scope, construct_id)
        names = deployment.names
        active = "[" + ", ".join(f"'{s}'" for s in ACTIVE_RUN_STATES) + "]"

        def job_runs(state_name: str, assign: dict[str, str] | None = None) -> tasks.CallAwsService:
            return tasks.CallAwsService.jsonata(
                self, state_name, service="glue", action="getJobRuns", iam_action="glue:GetJobRuns",
                iam_resources=[streaming_job_arn], parameters={"JobName": streaming_job_name, "MaxResults": 50},
                assign=assign)

        def start_streaming(state_name: str) -> tasks.CallAwsService:
            return tasks.CallAwsService.jsonata(
                self, state_name, service="glue", action="startJobRun", iam_action="glue:StartJobRun",
                iam_resources=[streaming_job_arn], parameters={"JobName": streaming_job_name})

        # a batch execution already running read records before the person was suppressed: let it end first
        batch = tasks.CallAwsService.jsonata(
            self, "FindBatchRuns", service="sfn", action="listExecutions", iam_action="states:ListExecutions",
            iam_resources=[batch_state_machine_arn],
            parameters={"StateMachineArn": batch_state_machine_arn, "StatusFilter": "RUNNING"},
            assign={"batches": "{% $count($states.result.Executions) %}"})
        request = sfn.Pass.jsonata(self, "Request", assign={"request_id": "{% $states.input.request_id %}"})
        batch_wait = sfn.Wait.jsonata(self, "WaitForBatch", time=sfn.WaitTime.duration(BATCH_POLL))
        find = job_runs("FindStreamingRuns", {
            "stopped": f"{{% [$states.result.JobRuns[JobRunState in {active}].Id] %}}"})
        stop = tasks.CallAwsService.jsonata(
            self, "StopStreaming", service="glue", action="batchStopJobRun", iam_action="glue:BatchStopJobRun",
            iam_resources=[streaming_job_arn],
            parameters={"JobName": streaming_job_name, "JobRunIds": "{% $stopped %}"})
        wait = sfn.Wait.jsonata(self, "WaitForStop", time=sfn.WaitTime.duration(STOP_POLL))
        check = job_runs("CheckStopped", {
            "still_active": f"{{% $count($states.result.JobRuns[JobRunState in {active}]) %}}"})
        # notify_delay_after: without it the JSONata rendering of this task sends "NotificationProperty": null
        erase = tasks.GlueStartJobRun.jsonata(
            self, "Erase", glue_job_name=forget_job.name, integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            arguments=sfn.TaskInput.from_object({"--request_id": "{% $request_id %}"}),
            notify_delay_after=Duration.minutes(deployment.profile.batch_timeout_minutes))
        done = sfn.Succeed(self, "Done")
        failed = sfn.Fail(self, "ErasureFailed", error="ErasureFailed",
                          cause="the forget job failed: its log names the store (the request object stays)")
        restart = start_streaming("StartStreaming").next(done)
        restart_after_failure = start_streaming("StartStreamingAfterFailure").next(failed)
        was_running = "{% $count($stopped) > 0 %}"
        erase.add_catch(sfn.Choice.jsonata(self, "StreamingWasRunningBeforeFailure")
                        .when(sfn.Condition.jsonata(was_running), restart_after_failure).otherwise(failed),
                        errors=["States.ALL"])
        after = (sfn.Choice.jsonata(self, "StreamingWasRunning")
                 .when(sfn.Condition.jsonata(was_running), restart).otherwise(done))
        erase.next(after)
        stopped = (sfn.Choice.jsonata(self, "StillActive")
                   .when(sfn.Condition.jsonata("{% $still_active > 0 %}"), wait).otherwise(erase))
        wait.next(check)
        check.next(stopped)
        stop.next(wait)
        find.next(sfn.Choice.jsonata(self, "StreamingActive")
                  .when(sfn.Condition.jsonata(was_running), stop).otherwise(erase))
        batch_wait.next(batch)
        batch.next(sfn.Choice.jsonata(self, "BatchRunning")
                   .when(sfn.Condition.jsonata("{% $batches > 0 %}"), batch_wait).otherwise(find))
        chain = request.next(batch)

        self.log_group = encrypted_log_group(
            self, "Logs", name=f"/aws/vendedlogs/states/{names.forget_state_machine}", key=key,
            days=deployment.profile.log_retention_days, retain=deployment.profile.retain_data)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine", state_machine_name=names.forget_state_machine,
            query_language=sfn.QueryLanguage.JSONATA,
            definition_body=sfn.DefinitionBody.from_chainable(chain),
            timeout=Duration.minutes(deployment.profile.batch_timeout_minutes * 2),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        acknowledge(self.state_machine.role, "AwsSolutions-IAM5[Resource::*]",
                    "Step Functions needs logs:*LogDelivery* and X-Ray actions on '*' (they have no resource type); "
                    "the Glue actions are scoped to the forget and streaming jobs, ListExecutions to the batch chain.")
