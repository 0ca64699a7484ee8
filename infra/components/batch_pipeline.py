"""The batch state machine: one Glue task per step, run in order, then any extra steps appended by the app.

A step is ``(state name, Glue job)`` or ``(state name, Glue job, arguments)``: the arguments (``{"--tables":
"scores"}``) override the job's default arguments for that run only, so one job can serve two states.

Extension point: a *step factory* is a callable that receives the construct scope and returns a chainable
(a task, a ``Parallel``, a ``Chain``…). ``create_app(batch_steps=[...])`` appends them after the last Glue step
(``LoadScores``); see docs/deploy.md ("Adding batch steps").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.components.glue_job import GlueJob
from infra.components.log_group import encrypted_log_group
from infra.components.nag import acknowledge
from infra.config import Deployment

StepFactory = Callable[[Construct], sfn.IChainable]
#: (state name, job) or (state name, job, run arguments)
Step = tuple[str, GlueJob] | tuple[str, GlueJob, Mapping[str, str]]

#: Glue errors worth retrying: another run still holds the job's single concurrency slot, or Glue throttled.
RETRYABLE_GLUE_ERRORS = ["Glue.ConcurrentRunsExceededException", "Glue.ThrottlingException"]
#: the error a `.sync` Glue task fails with when its job run ends FAILED, TIMEOUT, STOPPED or ERROR
FAILED_TASK = "States.TaskFailed"


def glue_step(
    scope: Construct, state_name: str, job: GlueJob, arguments: Mapping[str, str] | None = None
) -> tasks.GlueStartJobRun:
    """Run a Glue job and wait for it (``.sync``); keep only its run id, state and duration in the state.

    ``arguments`` (``{"--name": "value"}``) are added to the job's default arguments for this run.
    """
    step = tasks.GlueStartJobRun(
        scope,
        state_name,
        state_name=state_name,
        glue_job_name=job.name,
        arguments=sfn.TaskInput.from_object(dict(arguments)) if arguments else None,
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        result_selector={
            "JobRunId.$": "$.Id",
            "JobRunState.$": "$.JobRunState",
            "ExecutionTime.$": "$.ExecutionTime",
        },
        result_path=f"$.steps.{state_name}",
    )
    step.add_retry(errors=RETRYABLE_GLUE_ERRORS, interval=Duration.minutes(1), max_attempts=3, backoff_rate=2)
    if job.flex:
        # a Flex run Glue interrupts (its spare capacity reclaimed) fails the task: run it once more. Here, not as
        # the job's MaxRetries: `.sync` waits for the run it started, so Glue's own retry would run after the task
        # had already failed the execution, unwatched and unnotified (docs/decisions-infra.md, "Glue Flex")
        step.add_retry(errors=[FAILED_TASK], interval=Duration.minutes(1), max_attempts=1)
    return step


class BatchPipeline(Construct):
    """Runs ``steps`` (state name → Glue job [, run arguments]) in order, then ``extra_steps``; logs and traces
    every execution. A failed step fails the execution: later steps do not run, earlier ones stay done (each job
    commits its own work).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        key: kms.IKey,
        steps: Sequence[Step],
        extra_steps: Sequence[StepFactory] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        names = deployment.names
        profile = deployment.profile
        if not steps:
            raise ValueError("the batch pipeline needs at least one step")
        chain = sfn.Chain.start(glue_step(self, *steps[0]))
        for step in steps[1:]:
            chain = chain.next(glue_step(self, *step))
        for factory in extra_steps:
            chain = chain.next(factory(self))
        self.definition = chain

        self.log_group = encrypted_log_group(
            self,
            "Logs",
            name=f"/aws/vendedlogs/states/{names.batch_state_machine}",
            key=key,
            days=profile.log_retention_days,
            retain=profile.retain_data,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=names.batch_state_machine,
            definition_body=sfn.DefinitionBody.from_chainable(chain),
            timeout=Duration.minutes(profile.batch_timeout_minutes * (len(steps) + len(extra_steps))),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        for finding in ("AwsSolutions-IAM5[Resource::*]",):
            acknowledge(
                self.state_machine.role,
                finding,
                "Step Functions needs logs:*LogDelivery* and X-Ray actions on '*' (they have no resource type); "
                "the Glue actions are scoped to the pipeline's jobs.",
            )
