"""The extension point of the batch state machine, on a small stack (fast: no full app)."""

import json
import os
from pathlib import Path

from aws_cdk import App, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from infra.components.batch_pipeline import BatchPipeline
from infra.components.glue_job import GlueJob, GlueJobSpec
from infra.components.glue_security import GlueSecurity
from infra.config import deployment_from_context

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def test_extra_steps_run_after_the_glue_steps_in_order(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text("print('job')\n")
    (tmp_path / "lib.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    deployment = deployment_from_context({"stage": "dev"}, environ={})
    stack = Stack(App(), "Pipeline")
    key = kms.Key(stack, "Key")
    security = GlueSecurity(stack, "Security", name="security", key=key)

    def glue_job(name: str) -> GlueJob:
        return GlueJob(
            stack,
            name,
            spec=GlueJobSpec(name=name, script=tmp_path / "job.py", description=name),
            library=tmp_path / "lib.zip",
            security=security,
            key=key,
            lake_bucket=deployment.lake.bucket,
            temp_prefix=f"state/{name}/",
        )

    def score(scope) -> sfn.IChainable:
        return sfn.Pass(scope, "ScoreCustomers")

    def publish(scope) -> sfn.IChainable:
        return sfn.Pass(scope, "PublishScores")

    BatchPipeline(
        stack,
        "Batch",
        deployment=deployment,
        key=key,
        steps=[("First", glue_job("first")), ("Second", glue_job("second"))],
        extra_steps=[score, publish],
    )
    (machine,) = Template.from_stack(stack).find_resources("AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    definition = json.loads("".join(p if isinstance(p, str) else "aws" for p in parts))
    order, state = [], definition["StartAt"]
    while state:
        order.append(state)
        state = definition["States"][state].get("Next")
    assert order == ["First", "Second", "ScoreCustomers", "PublishScores"]
    assert definition["States"]["PublishScores"]["End"] is True
    assert definition["TimeoutSeconds"] == 4 * 60 * 60  # one timeout budget per step
