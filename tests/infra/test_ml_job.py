"""The ML job in the batch stack: a Glue 5.0 job running ml/job.py with the ml library and the scientific wheels,
a role reaching only its lake prefixes and the features table, and its place in the chain (after the warehouse
load, before the scores load), covered by the failure notifications.
"""

from __future__ import annotations

import io
import json
import tomllib
import zipfile

import pytest

from glue_jobs.load_warehouse import LoadWarehouseJobArguments
from infra import build
from infra.build import ROOT
from infra.stacks.batch import LOAD_SCORES_ARGUMENTS
from lakehouse.core.config import Settings
from lakehouse.core.job_args import GLUE_PARAMETERS
from ml.job import TrainAndScoreArguments

NAMES = Settings(stage="dev").names
ML_JOB = NAMES.train_and_score_job
LAKE = "arn:${AWS::Partition}:s3:::customer-lakehouse-dev-lake"
#: the ML libraries the job needs, at pyproject.toml's pins (read here independently of infra/build.py)
ML_PACKAGES = ("lightgbm", "lifetimes", "duckdb", "matplotlib", "scikit-learn")


def _jobs(synth) -> dict[str, dict]:
    return {j["Properties"]["Name"]: j["Properties"] for j in synth.resources("Batch", "AWS::Glue::Job").values()}


def _asset(synth, url) -> bytes:
    """The bytes of the asset an ``s3://…/<hash>.<ext>`` job argument points at."""
    name = synth.render(url, "Batch").rsplit("/", 1)[1]
    return (synth.outdir / f"asset.{name}").read_bytes()


def _pyproject_pins() -> dict[str, str]:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {line.split("==")[0].strip().lower(): line.split("==")[1].strip() for line in declared if "==" in line}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_ml_job_is_a_small_glue_5_job_running_ml_job_py(stage: str, request) -> None:
    """Glue 5.0 (Python 3.11, glueetl): Python shell jobs offer only Python 3.9; two G.1X workers in every stage
    (the driver does the work; prod's batch jobs get 10)."""
    synth = request.getfixturevalue(stage)
    job = _jobs(synth)[Settings(stage=stage).names.train_and_score_job]
    assert job["GlueVersion"] == "5.0"
    assert job["Command"]["Name"] == "glueetl" and job["Command"]["PythonVersion"] == "3"
    assert (job["WorkerType"], job["NumberOfWorkers"]) == ("G.1X", 2)
    assert job["MaxRetries"] == 0 and job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert _asset(synth, job["Command"]["ScriptLocation"]) == (ROOT / "ml" / "job.py").read_bytes()
    assert job["SecurityConfiguration"] == Settings(stage=stage).names.batch_glue_security
    assert "Connections" not in job  # no VPC: it reaches S3 and DynamoDB only


def test_ml_job_arguments_parse_with_the_scripts_model(dev) -> None:
    args = {k: dev.render(v, "Batch") for k, v in _jobs(dev)[ML_JOB]["DefaultArguments"].items()}
    parsed = TrainAndScoreArguments.parse(["job.py", *[x for kv in args.items() for x in kv]])
    assert parsed.ignored == ()
    assert {k for k in args if k.removeprefix("--") not in GLUE_PARAMETERS} == {
        "--project", "--stage", "--region", "--lake_root"}
    assert parsed.arguments.settings().lake.root_uri == f"s3://{NAMES.lake_bucket}"
    assert args["--python-modules-installer-option"] == "--no-index"
    assert args["--job-bookmark-option"] == "job-bookmark-disable"


def test_ml_job_ships_the_ml_library_and_the_pinned_ml_wheels(dev) -> None:
    args = _jobs(dev)[ML_JOB]["DefaultArguments"]
    library = zipfile.ZipFile(io.BytesIO(_asset(dev, args["--extra-py-files"])))
    tops = {name.split("/")[0] for name in library.namelist()}
    assert tops == {"lakehouse", "ml"} and "ml/job.py" in library.namelist()
    assert not [n for n in library.namelist() if n.startswith(("lakehouse/local/", "glue_jobs/"))]
    wheels = zipfile.ZipFile(io.BytesIO(_asset(dev, args["--additional-python-modules"]))).namelist()
    shipped = dict(build.wheel_distribution(w) for w in wheels)
    pins = _pyproject_pins()
    assert {p: shipped.get(p) for p in ML_PACKAGES} == {p: pins[p] for p in ML_PACKAGES}
    assert {p: pins[p] for p in ML_PACKAGES} == {"lightgbm": "4.7.0", "lifetimes": "0.11.3", "duckdb": "2.0.0",
                                                  "matplotlib": "3.11.2", "scikit-learn": "1.9.1"}
    # the Spark jobs keep their small set: the scientific stack is the ML job's alone
    spark = _jobs(dev)[NAMES.build_star_job]["DefaultArguments"]["--additional-python-modules"]
    assert dev.render(spark, "Batch") != dev.render(args["--additional-python-modules"], "Batch")


def test_ml_job_role_reaches_only_its_prefixes_and_the_scores_table(dev, grants) -> None:
    """Reads curated/ and reference/; writes models, the scores table's files and manifests, state/; the live scores
    table gets batched reads and conditional updates (ml/serving.py), nothing else (not the stream's feature table)."""
    grants(
        dev.policy_statements("Batch", "TrainAndScoreJobRole"),
        {
            ("s3:GetObject",): [
                "arn:aws:s3:::cdk-*-assets-*.py",
                "arn:aws:s3:::cdk-*-assets-*.zip",
                "arn:aws:s3:::cdk-*-assets-*.zip",
                f"{LAKE}/curated/*",
                f"{LAKE}/reference/*",
            ],
            ("s3:DeleteObject", "s3:GetObject", "s3:PutObject"): [
                f"{LAKE}/artifacts/models/*",
                f"{LAKE}/warehouse/fact_customer_scores/*",
                f"{LAKE}/warehouse/_manifests/fact_customer_scores/*",
                f"{LAKE}/state/*",
            ],
            ("s3:ListBucket",): [LAKE],
            ("logs:AssociateKmsKey", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"): [
                "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/*",
                "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/*:*",
            ],
            ("cloudwatch:PutMetricData",): ["*"],
            ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"): ["${Storage:LakeKey*.Arn}"],
            ("dynamodb:BatchGetItem", "dynamodb:UpdateItem"): ["${ScoresTable*.Arn}"],
            ("kms:Decrypt", "kms:GenerateDataKey"): ["${Storage:LakeKey*.Arn}"],
        },
    )
    statements = dev.policy_statements("Batch", "TrainAndScoreJobRole")
    (listing,) = [s for s in statements if s["actions"] == ("s3:ListBucket",)]
    prefixes = set(listing["condition"]["StringLike"]["s3:prefix"])
    assert {"curated/*", "reference/*", "artifacts/models/*", "warehouse/fact_customer_scores/*"} <= prefixes
    assert not {"raw/*", "warehouse/*", "artifacts/*"} & prefixes
    (kms_dynamodb,) = [s for s in statements if s["actions"] == ("kms:Decrypt", "kms:GenerateDataKey")]
    assert kms_dynamodb["condition"] == {"StringEquals": {"kms:ViaService": ["dynamodb.us-east-1.amazonaws.com"]}}


def test_ml_state_runs_after_the_warehouse_load_and_before_the_scores_load(dev) -> None:
    """A failed TrainAndScore ends the execution: no Catch, no state that undoes LoadWarehouse's committed load."""
    (machine,) = [m for logical_id, m in dev.resources("Batch", "AWS::StepFunctions::StateMachine").items()
                  if logical_id.startswith("PipelineStateMachine")]
    definition = json.loads(dev.render(machine["Properties"]["DefinitionString"], "Batch"))
    order, state = [], definition["StartAt"]
    while state:
        order.append(state)
        state = definition["States"][state].get("Next")
    assert order == ["RawToCurated", "BuildStar", "LoadWarehouse", "TrainAndScore", "LoadScores"]
    assert set(definition["States"]) == set(order)
    assert all("Catch" not in s for s in definition["States"].values())
    assert definition["States"]["TrainAndScore"]["Parameters"] == {"JobName": ML_JOB}
    load_scores = definition["States"]["LoadScores"]["Parameters"]
    assert load_scores == {"JobName": NAMES.load_warehouse_job, "Arguments": LOAD_SCORES_ARGUMENTS}


def test_load_scores_arguments_are_ones_the_load_script_reads(dev) -> None:
    """The LoadScores state's run arguments, on top of the load job's defaults, parse with the script's model."""
    defaults = {k: dev.render(v, "Batch") for k, v in _jobs(dev)[NAMES.load_warehouse_job]["DefaultArguments"].items()}
    merged = {**defaults, **LOAD_SCORES_ARGUMENTS}
    parsed = LoadWarehouseJobArguments.parse(["load_warehouse.py", *[x for kv in merged.items() for x in kv]])
    assert parsed.ignored == () and parsed.arguments.tables == "scores"


def test_the_state_machine_may_run_the_ml_job(dev) -> None:
    """A failed ML job run fails the execution, which notifies (tests/infra/stacks/test_batch.py)."""
    machine_role = dev.policy_statements("Batch", "PipelineStateMachineRoleDefaultPolicy")
    glue = [s for s in machine_role if "glue:StartJobRun" in s["actions"]]
    assert any(r.endswith(f":job/{ML_JOB}") for s in glue for r in s["resources"])


def test_ml_role_findings_are_acknowledged_with_reasons(dev) -> None:
    """cdk-nag passes (the synth would fail otherwise); each acknowledgement on the ML role says why."""
    mine = [a for a in dev.acknowledged if "TrainAndScoreJob" in a.path]
    assert mine and all(len(a.reason) > 40 for a in mine)
    assert {a.rule for a in mine if "s3:::" in a.rule} == {
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{NAMES.lake_bucket}/{prefix}*]"
        for prefix in ("curated/", "reference/", "artifacts/models/", "warehouse/fact_customer_scores/",
                       "warehouse/_manifests/fact_customer_scores/", "state/")
    }
