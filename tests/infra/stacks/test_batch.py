"""The batch stack. The state machine definition is pinned by a checked-in snapshot: after a deliberate change,
regenerate it with ``UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/infra/stacks/test_batch.py`` and review the diff.
"""

import json
import os
from pathlib import Path

from aws_cdk.assertions import Match

from infra.build import ROOT
from infra.components.raw_events_table import RAW_TABLE, raw_record_columns
from lakehouse.core.config import Settings
from lakehouse.core.job_args import LoadWarehouseArguments

SNAPSHOT = Path(__file__).parent / "snapshots" / "batch_state_machine.json"
LAKE = "arn:${AWS::Partition}:s3:::customer-lakehouse-dev-lake"
GLUE = "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}"
EC2 = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}"
COMMON = {
    # the job's script, its library zip and its zip of wheels (CDK asset objects)
    ("s3:GetObject",): [
        "arn:aws:s3:::cdk-*-assets-*.py",
        "arn:aws:s3:::cdk-*-assets-*.zip",
        "arn:aws:s3:::cdk-*-assets-*.zip",
    ],
    ("s3:ListBucket",): [LAKE],
    ("logs:AssociateKmsKey", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"): [
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/*",
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/*:*",
    ],
    ("cloudwatch:PutMetricData",): ["*"],
    ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"): ["${Storage:LakeKey*.Arn}"],
}
#: what a job reaching Redshift through the warehouse VPC's Glue connection is granted
WAREHOUSE_CONNECTION = {
    ("glue:GetConnection",): [f"{GLUE}:catalog", f"{GLUE}:connection/customer-lakehouse-dev-warehouse-vpc"],
    (
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeRouteTables",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcAttribute",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeVpcs",
    ): ["*"],
    ("ec2:CreateNetworkInterface",): [
        f"{EC2}:network-interface/*",
        f"{EC2}:security-group/${{Warehouse:NetworkLoaderSecurityGroup*.GroupId}}",
        f"{EC2}:subnet/${{Warehouse:NetworkVpcwarehouseSubnet1Subnet*}}",
    ],
    ("ec2:DeleteNetworkInterface",): [f"{EC2}:network-interface/*"],
    ("ec2:CreateTags", "ec2:DeleteTags"): [f"{EC2}:network-interface/*"],
}
#: what every state machine's role is granted for its log delivery and X-Ray traces (no resource types)
STATE_MACHINE_LOGS_AND_TRACES = {
    (
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:DescribeLogGroups",
        "logs:DescribeResourcePolicies",
        "logs:GetLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:UpdateLogDelivery",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ): ["*"],
}
CATALOG = [f"{GLUE}:catalog", f"{GLUE}:database/customer_lakehouse_dev", f"{GLUE}:table/customer_lakehouse_dev/*"]


def state_machine_definition(synth, construct: str = "Pipeline") -> dict:
    """The definition of the Batch stack's state machine of ``construct`` (the chain; ``Erasure``: ForgetCustomer)."""
    (machine,) = [m for logical_id, m in synth.resources("Batch", "AWS::StepFunctions::StateMachine").items()
                  if logical_id.startswith(f"{construct}StateMachine")]
    return json.loads(synth.render(machine["Properties"]["DefinitionString"], "Batch"))


def test_state_machine_definition_matches_the_snapshot(dev) -> None:
    definition = json.dumps(state_machine_definition(dev), indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(definition)
    assert definition == SNAPSHOT.read_text(), "definition changed: review, then UPDATE_SNAPSHOTS=1 (module docstring)"


def test_chain_runs_raw_to_curated_then_star_then_warehouse_load_then_ml(dev) -> None:
    names = Settings(stage="dev").names
    ml_job = names.train_and_score_job
    definition = state_machine_definition(dev)
    order, state = [], definition["StartAt"]
    while state:
        order.append(state)
        step = definition["States"][state]
        assert step["Resource"].endswith(":states:::glue:startJobRun.sync")
        assert step["Retry"][0]["ErrorEquals"] == ["Glue.ConcurrentRunsExceededException", "Glue.ThrottlingException"]
        state = step.get("Next")
    jobs = [definition["States"][s]["Parameters"]["JobName"] for s in order]
    assert order == ["RawToCurated", "BuildStar", "LoadWarehouse", "TrainAndScore", "LoadScores"]
    assert jobs == [names.raw_to_curated_job, names.build_star_job, names.load_warehouse_job, ml_job,
                    names.load_warehouse_job]
    # only LoadScores overrides arguments: the warehouse-load job, scores table only
    arguments = {s: definition["States"][s]["Parameters"].get("Arguments") for s in order}
    assert arguments == {**dict.fromkeys(order), "LoadScores": {"--tables": "scores"}}
    glue_jobs = {j["Properties"]["Name"]: j["Properties"] for j in dev.resources("Batch", "AWS::Glue::Job").values()}
    assert set(glue_jobs) == {*jobs, names.forget_job}  # the forget job runs in ForgetCustomer (test_erasure.py)
    scripts = ("glue_jobs/raw_to_curated.py", "glue_jobs/build_star.py", "glue_jobs/load_warehouse.py", "ml/job.py")
    for name, script in zip(jobs, scripts, strict=False):
        location = dev.render(glue_jobs[name]["Command"]["ScriptLocation"], "Batch")
        assert location.endswith(".py"), location
        asset = dev.outdir / f"asset.{location.rsplit('/', 1)[1]}"
        # the uploaded script is the repository's script, byte for byte
        assert asset.read_bytes() == (ROOT / script).read_bytes()
        assert glue_jobs[name]["GlueVersion"] == "5.0" and glue_jobs[name]["Command"]["Name"] == "glueetl"


def test_state_machine_is_logged_traced_and_scheduled(dev, prod) -> None:
    names = Settings(stage="dev").names
    dev.template("Batch").has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineName": names.batch_state_machine,
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": False}),
        },
    )
    dev.template("Batch").has_resource_properties(
        "AWS::Logs::LogGroup",
        {"LogGroupName": f"/aws/vendedlogs/states/{names.batch_state_machine}", "KmsKeyId": Match.any_value()},
    )
    for synth, cron in ((dev, "cron(0 3 * * ? *)"), (prod, "cron(0 2 * * ? *)")):
        schedules = [
            r for r in synth.resources("Batch", "AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]
        ]
        assert [r["Properties"]["ScheduleExpression"] for r in schedules] == [cron]
        (target,) = schedules[0]["Properties"]["Targets"]
        assert synth.render(target["Arn"], "Batch").startswith("${PipelineStateMachine")


def test_a_failed_batch_run_notifies_once(dev) -> None:
    """One notification per failure: every state of the chain is a Glue job run it waits for (``.sync``, no Catch),
    so a failed, timed-out or stopped job run fails the execution, and the execution rule is the only thing in the
    stack that publishes to the topic; the execution alarms colour the dashboard without actions. Seen failing with
    the batch jobs' job-run rule put back (two rules on the topic: the job's message, then the execution's) and
    with the alarms notifying (the failed run then told three times, and its recovery twice)."""
    definition = state_machine_definition(dev)
    states = definition["States"].values()
    assert {s["Resource"].rsplit(":", 1)[-1] for s in states} == {"startJobRun.sync"}
    assert not [s for s in states if "Catch" in s]
    rules = [r["Properties"] for r in dev.resources("Batch", "AWS::Events::Rule").values()
             if "EventPattern" in r["Properties"]
             and dev.render(r["Properties"]["EventPattern"]["detail"]["stateMachineArn"][0], "Batch")
             .startswith("${PipelineStateMachine")]
    (rule,) = rules
    assert rule["EventPattern"]["source"] == ["aws.states"]
    assert rule["EventPattern"]["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    (machine,) = rule["EventPattern"]["detail"]["stateMachineArn"]
    assert dev.render(machine, "Batch").startswith("${PipelineStateMachine")
    (target,) = rule["Targets"]
    assert dev.render(target["Arn"], "Batch").startswith("${Storage:AlarmsTopic")
    alarms = [a["Properties"] for a in dev.resources("Batch", "AWS::CloudWatch::Alarm").values()]
    assert {a["MetricName"] for a in alarms} == {"ExecutionsFailed", "ExecutionsTimedOut"}
    for alarm in alarms:
        assert "AlarmActions" not in alarm and "OKActions" not in alarm, alarm["AlarmName"]


def test_job_roles_reach_only_their_zones(dev, grants) -> None:
    grants(
        dev.policy_statements("Batch", "RawToCuratedJobRole"),
        {
            **COMMON,
            ("s3:GetObject",): [*COMMON[("s3:GetObject",)], f"{LAKE}/raw/*"],
            ("s3:DeleteObject", "s3:GetObject", "s3:PutObject"): [f"{LAKE}/curated/*", f"{LAKE}/state/*"],
            ("s3:PutObject",): [f"{LAKE}/quarantine/*"],
            (
                "glue:BatchCreatePartition",
                "glue:BatchGetPartition",
                "glue:CreateTable",
                "glue:GetDatabase",
                "glue:GetPartitions",
                "glue:GetTable",
                "glue:GetTables",
                "glue:UpdateTable",
            ): CATALOG,
        },
    )
    grants(
        dev.policy_statements("Batch", "BuildStarJobRole"),
        {
            **COMMON,
            ("s3:GetObject",): [*COMMON[("s3:GetObject",)], f"{LAKE}/curated/*", f"{LAKE}/reference/*"],
            ("s3:DeleteObject", "s3:GetObject", "s3:PutObject"): [f"{LAKE}/state/*", f"{LAKE}/warehouse/*"],
            ("glue:GetDatabase", "glue:GetPartitions", "glue:GetTable", "glue:GetTables"): CATALOG,
        },
    )
    grants(
        dev.policy_statements("Batch", "LoadWarehouseJobRole"),
        {
            **COMMON,
            ("s3:GetObject",): [*COMMON[("s3:GetObject",)], f"{LAKE}/warehouse/*"],
            ("s3:DeleteObject", "s3:GetObject", "s3:PutObject"): [f"{LAKE}/state/*"],
            ("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"): ["${Warehouse:RedshiftAdminSecret*}"],
            ("kms:Decrypt",): ["${Storage:LakeKey*.Arn}"],
            **WAREHOUSE_CONNECTION,
        },
    )
    grants(
        dev.policy_statements("Batch", "PipelineStateMachineRoleDefaultPolicy"),
        {
            ("glue:BatchStopJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:StartJobRun"): [
                "arn:aws:glue:us-east-1:${AWS::AccountId}:job/customer-lakehouse-dev-build-star",
                "arn:aws:glue:us-east-1:${AWS::AccountId}:job/customer-lakehouse-dev-load-warehouse",
                "arn:aws:glue:us-east-1:${AWS::AccountId}:job/customer-lakehouse-dev-raw-to-curated",
                "arn:aws:glue:us-east-1:${AWS::AccountId}:job/customer-lakehouse-dev-train-and-score",
            ],
            **STATE_MACHINE_LOGS_AND_TRACES,
        },
    )


def test_glue_jobs_run_under_an_encrypting_security_configuration(dev) -> None:
    (config,) = dev.resources("Batch", "AWS::Glue::SecurityConfiguration").values()
    encryption = config["Properties"]["EncryptionConfiguration"]
    assert encryption["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert encryption["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"
    for job in dev.resources("Batch", "AWS::Glue::Job").values():
        assert job["Properties"]["SecurityConfiguration"] == config["Properties"]["Name"]


def test_raw_events_table_reads_the_raw_zone_with_partition_projection(dev) -> None:
    names = Settings(stage="dev").names
    dev.template("Batch").has_resource_properties(
        "AWS::Glue::Database", {"DatabaseInput": Match.object_like({"Name": names.glue_database})}
    )
    (table,) = dev.resources("Batch", "AWS::Glue::Table").values()
    table_input = table["Properties"]["TableInput"]
    assert table_input["Name"] == RAW_TABLE
    params = table_input["Parameters"]
    assert (
        params["storage.location.template"]
        == f"s3://{names.lake_bucket}/raw/source=${{source}}/dt=${{dt}}/hour=${{hour}}"
    )
    assert params["projection.enabled"] == "true" and params["projection.hour.values"].split(",")[0] == "00"
    columns = [(c["Name"], c["Type"]) for c in table_input["StorageDescriptor"]["Columns"]]
    assert columns == raw_record_columns()
    assert ("event_id", "string") in columns and ("schema_version", "int") in columns
    assert "source" not in dict(columns)  # a partition key, not a column


def test_job_parameters_carry_the_settings_the_job_scripts_read(dev) -> None:
    names = Settings(stage="dev").names
    jobs = {j["Properties"]["Name"]: j["Properties"] for j in dev.resources("Batch", "AWS::Glue::Job").values()}
    for props in jobs.values():
        args = props["DefaultArguments"]
        assert {k: args[k] for k in ("--project", "--stage", "--region", "--lake_root")} == {
            "--project": "customer-lakehouse",
            "--stage": "dev",
            "--region": "us-east-1",
            "--lake_root": f"s3://{names.lake_bucket}",
        }
        assert dev.render(args["--additional-python-modules"], "Batch").endswith(".zip")
        assert args["--python-modules-installer-option"] == "--no-index"
        assert props["SecurityConfiguration"] == names.batch_glue_security
    raw = jobs[names.raw_to_curated_job]["DefaultArguments"]
    assert raw["--job-bookmark-option"] == "job-bookmark-disable" and raw["--catalog"] == "true"  # manifest
    assert jobs[names.build_star_job]["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-disable"
    load = jobs[names.load_warehouse_job]
    assert load["Connections"] == {"Connections": [names.warehouse_connection]}
    args = load["DefaultArguments"]
    assert args["--target"] == "redshift"
    assert dev.render(args["--redshift_host"], "Batch").startswith("${Warehouse:RedshiftWorkgroup")
    assert dev.render(args["--redshift_secret_arn"], "Batch").startswith("${Warehouse:RedshiftAdminSecret")
    assert dev.render(args["--redshift_copy_role_arn"], "Batch").startswith("${Warehouse:RedshiftCopyRole")
    assert args["--redshift_workgroup"] == names.redshift_workgroup
    passed = {k.removeprefix("--") for k in args if k.startswith("--redshift_")}
    assert passed == {n for n in LoadWarehouseArguments.names() if n.startswith("redshift_")}
    assert "Connections" not in jobs[names.raw_to_curated_job]


def test_only_the_warehouse_load_installs_the_warehouse_modules(dev) -> None:
    """The Spark jobs get the small module set (they keep Glue's own boto3); the load job the one with the driver."""
    names = Settings(stage="dev").names
    jobs = {j["Properties"]["Name"]: j["Properties"] for j in dev.resources("Batch", "AWS::Glue::Job").values()}
    modules = {name: dev.render(props["DefaultArguments"]["--additional-python-modules"], "Batch")
               for name, props in jobs.items()}
    assert modules[names.raw_to_curated_job] == modules[names.build_star_job] != modules[names.load_warehouse_job]


def test_a_flex_step_is_retried_once_by_the_chain_and_glue_retries_nothing(dev) -> None:
    """An interrupted Flex run is run again by the state that waits for it: a job-level MaxRetries would start a
    second run the `.sync` task does not wait for, after the first had failed the execution (seen with
    MaxRetries 1: the chain failed and notified while the retry ran unwatched). The ML job (standard) is not retried:
    a second attempt would record a second scoring run."""
    jobs = {j["Properties"]["Name"]: j["Properties"] for j in dev.resources("Batch", "AWS::Glue::Job").values()}
    assert {props["MaxRetries"] for props in jobs.values()} == {0}
    for state in state_machine_definition(dev)["States"].values():
        flex = jobs[state["Parameters"]["JobName"]].get("ExecutionClass") == "FLEX"
        failed = [r for r in state.get("Retry", []) if r["ErrorEquals"] == ["States.TaskFailed"]]
        assert [(r["MaxAttempts"], r["IntervalSeconds"]) for r in failed] == ([(1, 60)] if flex else [])
    assert any(props.get("ExecutionClass") == "FLEX" for props in jobs.values())
    assert any(props.get("ExecutionClass") is None for props in jobs.values())
