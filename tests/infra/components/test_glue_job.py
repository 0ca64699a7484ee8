"""One Glue job on a small stack (fast: no full app): the Flex execution class and where Glue refuses it."""

import os
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from infra.components.glue_job import GlueJob, GlueJobSpec
from infra.components.glue_security import GlueSecurity

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def job_template(tmp_path: Path, **spec: object) -> dict:
    (tmp_path / "job.py").write_text("print('job')\n")
    (tmp_path / "lib.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    stack = Stack(App(), "Jobs")
    key = kms.Key(stack, "Key")
    security = GlueSecurity(stack, "Security", name="security", key=key)
    GlueJob(stack, "Job", spec=GlueJobSpec(name="job", script=tmp_path / "job.py", description="job", **spec),
            library=tmp_path / "lib.zip", security=security, key=key, lake_bucket="lake", temp_prefix="state/job/")
    jobs = Template.from_stack(stack).find_resources("AWS::Glue::Job")
    return next(iter(jobs.values()))["Properties"]


def test_a_flex_job_runs_on_flex_and_glue_does_not_retry_it(tmp_path: Path) -> None:
    """Glue's own retry would start a second run after the chain's `.sync` task had failed on the first: the chain
    retries instead (tests/infra/components/test_batch_pipeline.py)."""
    flex = job_template(tmp_path, flex=True)
    assert flex["ExecutionClass"] == "FLEX" and flex["MaxRetries"] == 0
    standard = job_template(tmp_path)
    assert "ExecutionClass" not in standard and standard["MaxRetries"] == 0


@pytest.mark.parametrize("spec", [{"streaming": True}, {"worker_type": "G.025X"}, {"worker_type": "G.4X"}],
                         ids=["streaming", "G.025X", "G.4X"])
def test_flex_where_glue_refuses_it_fails_the_synth_naming_the_setting(tmp_path: Path, spec: dict) -> None:
    """Glue's CreateJob accepts FLEX only for glueetl jobs on G.1X or G.2X workers: refused here, not at deploy."""
    with pytest.raises(ValueError, match="batch_flex=false"):
        job_template(tmp_path, flex=True, **spec)
