"""The ForgetCustomer state machine and the forget job, as synthesized (docs/erasure.md). Nothing here runs Step
Functions or Glue: the states, their order and the grants are read from the template; the JSONata expressions are
Step Functions' to evaluate (docs/erasure.md, "On AWS", says how to try one on a deployment)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from lakehouse.core.config import Settings
from tests.infra.stacks.test_batch import (
    COMMON,
    LAKE,
    STATE_MACHINE_LOGS_AND_TRACES,
    WAREHOUSE_CONNECTION,
    state_machine_definition,
)

NAMES = Settings(stage="dev").names
STREAMING_JOB = f"arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:job/{NAMES.streaming_job}"
ERASED = ["checkpoints", "curated", "quarantine", "raw", "state", "warehouse"]


def _path(definition: dict, start: str, choose: dict[str, int]) -> list[str]:
    """The states visited from ``start``: a Choice takes the branch ``choose`` gives it (-1: its default)."""
    seen, state = [], start
    while state and state not in seen:
        seen.append(state)
        step = definition["States"][state]
        if step["Type"] == "Choice":
            index = choose[state]
            state = step["Default"] if index < 0 else step["Choices"][index]["Next"]
        else:
            state = step.get("Next")
    return seen


def test_the_streaming_job_is_stopped_around_the_erasure_and_started_again_only_if_it_ran(dev) -> None:
    """Fails without the Catch on Erase: a failed erasure would leave the streaming job stopped."""
    definition = state_machine_definition(dev, "Erasure")
    assert definition["QueryLanguage"] == "JSONata"
    running = {"BatchRunning": -1, "StreamingActive": 0, "StillActive": -1, "StreamingWasRunning": 0}
    assert _path(definition, definition["StartAt"], running) == [
        "Request", "FindBatchRuns", "BatchRunning", "FindStreamingRuns", "StreamingActive", "StopStreaming",
        "WaitForStop", "CheckStopped", "StillActive",
        "Erase", "StreamingWasRunning", "StartStreaming", "Done"]
    idle = {"StreamingActive": -1, "StreamingWasRunning": -1}
    assert _path(definition, "FindStreamingRuns", idle) == [
        "FindStreamingRuns", "StreamingActive", "Erase", "StreamingWasRunning", "Done"]
    (catch,) = definition["States"]["Erase"]["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"]
    assert _path(definition, catch["Next"], {"StreamingWasRunningBeforeFailure": 0}) == [
        "StreamingWasRunningBeforeFailure", "StartStreamingAfterFailure", "ErasureFailed"]
    assert definition["States"]["ErasureFailed"]["Type"] == "Fail"
    # still stopping: wait and look again; a batch execution running: wait for it to end
    assert definition["States"]["StillActive"]["Choices"][0]["Next"] == "WaitForStop"
    assert _path(definition, "BatchRunning", {"BatchRunning": 0}) == ["BatchRunning", "WaitForBatch",
                                                                       "FindBatchRuns"]
    assert definition["States"]["FindBatchRuns"]["Arguments"]["StatusFilter"] == "RUNNING"


def test_the_person_never_travels_in_the_execution(dev) -> None:
    """The execution's input and the job run's arguments carry only the request id (Step Functions and Glue keep
    both in their history); the logs leave execution data out."""
    definition = state_machine_definition(dev, "Erasure")
    erase = definition["States"]["Erase"]
    assert erase["Resource"].endswith(":states:::glue:startJobRun.sync")
    assert erase["Arguments"]["JobName"] == NAMES.forget_job
    assert erase["Arguments"]["Arguments"] == {"--request_id": "{% $request_id %}"}
    assert "NotificationProperty" not in erase["Arguments"] or erase["Arguments"]["NotificationProperty"]
    assert definition["States"]["Request"]["Assign"]["request_id"] == "{% $states.input.request_id %}"
    for name in ("FindStreamingRuns", "StopStreaming", "CheckStopped", "StartStreaming"):
        assert definition["States"][name]["Arguments"]["JobName"] == NAMES.streaming_job
    (machine,) = [m for k, m in dev.resources("Batch", "AWS::StepFunctions::StateMachine").items()
                  if k.startswith("ErasureStateMachine")]
    assert machine["Properties"]["StateMachineName"] == NAMES.forget_state_machine
    assert machine["Properties"]["LoggingConfiguration"]["IncludeExecutionData"] is False


def test_a_failed_erasure_is_notified(dev) -> None:
    rules = [r["Properties"] for r in dev.resources("Batch", "AWS::Events::Rule").values()
             if "EventPattern" in r["Properties"]
             and dev.render(r["Properties"]["EventPattern"]["detail"]["stateMachineArn"][0], "Batch")
             .startswith("${ErasureStateMachine")]
    (rule,) = rules
    assert rule["EventPattern"]["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    (target,) = rule["Targets"]
    assert dev.render(target["Arn"], "Batch").startswith("${Storage:AlarmsTopic")


def test_the_forget_job_reaches_every_zone_with_people_and_only_the_live_tables(dev, grants) -> None:
    zones = [f"{LAKE}/{z}/*" for z in ERASED]
    grants(
        dev.policy_statements("Batch", "ForgetJobRole"),
        {
            **COMMON,
            ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObject", "s3:PutObject"): zones,
            ("s3:ListBucketVersions",): [LAKE],
            ("dynamodb:DeleteItem",): [
                "${ScoresTable*.Arn}",
                f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{NAMES.features_table}"],
            ("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"): ["${Warehouse:RedshiftAdminSecret*}"],
            ("kms:Decrypt", "kms:GenerateDataKey"): ["${Storage:LakeKey*.Arn}"],
            **WAREHOUSE_CONNECTION,
        },
    )
    grants(
        dev.policy_statements("Batch", "ErasureStateMachineRoleDefaultPolicy"),
        {
            ("glue:BatchStopJobRun", "glue:GetJobRuns", "glue:StartJobRun"): [STREAMING_JOB],
            ("states:ListExecutions",): ["${PipelineStateMachine*}"],
            ("glue:BatchStopJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:StartJobRun"): [
                f"arn:aws:glue:us-east-1:${{AWS::AccountId}}:job/{NAMES.forget_job}"],
            **STATE_MACHINE_LOGS_AND_TRACES,
        },
    )


def test_the_forget_job_ships_the_state_store_codecs_and_is_never_flex(dev) -> None:
    (job,) = [j["Properties"] for j in dev.resources("Batch", "AWS::Glue::Job").values()
              if j["Properties"]["Name"] == NAMES.forget_job]
    assert job.get("ExecutionClass") is None and job["MaxRetries"] == 0
    url = dev.render(job["DefaultArguments"]["--additional-python-modules"], "Batch")
    asset = next(dev.outdir.glob(f"asset.{url.rsplit('/', 1)[1].removesuffix('.zip')}*"))
    names = zipfile.ZipFile(asset).namelist() if asset.is_file() else [p.name for p in Path(asset).iterdir()]
    assert any(n.startswith("lz4-") for n in names) and any(n.startswith("xxhash-") for n in names)
    assert any(n.startswith("redshift_connector-") for n in names)
