"""Batch: Glue catalog, the raw→curated, star-schema, warehouse-load and ML (train-and-score) Glue jobs, the Step
Functions chain, its EventBridge schedule and failure notifications.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.build import ROOT
from infra.components import policies
from infra.components.alarms import FIVE_MINUTES, AlarmSet
from infra.components.batch_pipeline import BatchPipeline, StepFactory
from infra.components.dynamodb_table import LakehouseTable
from infra.components.erasure_workflow import ErasureWorkflow
from infra.components.failure_notifications import notify_failed_executions
from infra.components.glue_job import GlueJob, GlueJobSpec
from infra.components.glue_security import GlueSecurity
from infra.components.glue_vpc_access import GlueVpcAccess
from infra.components.nag import acknowledge
from infra.components.raw_events_table import LakeCatalog
from infra.config import Deployment
from infra.stacks.storage import StorageStack
from infra.stacks.warehouse import WarehouseStack
from lakehouse.core.aws.resources import dynamodb_tables
from lakehouse.core.job_args import (
    BuildStarArguments,
    ForgetArguments,
    JobArguments,
    LoadWarehouseArguments,
    RawToCuratedArguments,
)

GLUE_JOBS_DIR = ROOT / "glue_jobs"
ML_SCRIPT = ROOT / "ml" / "job.py"
#: The ML job runs pandas/LightGBM on the driver only (no Spark work): the smallest G.1X job Glue allows (a driver
#: and one executor; 4 vCPU and 16 GB on the driver), whatever the stage's batch size (docs/decisions-infra.md).
ML_WORKER_TYPE = "G.1X"
ML_WORKERS = 2
#: Lake prefixes the ML job writes below the artifacts and warehouse zones: model versions (ml/artifacts.py) and
#: each scoring run's Parquet and Redshift COPY manifest (ml/serving.py), which the LoadScores state loads. The run
#: writes no evaluation report to the lake (run_scoring returns its metrics; the job logs them).
ML_MODELS_PREFIX = "models/"
SCORES_TABLE = "fact_customer_scores"
#: What ml/serving.py calls on the live scores table: batched reads of the stored scores (BatchGetItem) and
#: one conditional UpdateItem per customer (SET scores); no PutItem, no PartiQL.
SCORE_WRITE_ACTIONS = ["dynamodb:BatchGetItem", "dynamodb:UpdateItem"]  # on the scores table only
#: The LoadScores state's run arguments: the warehouse-load job, scores table only (glue_jobs/load_warehouse.py).
LOAD_SCORES_ARGUMENTS = {"--tables": "scores"}
CATALOG_WRITE_ACTIONS = [
    "glue:BatchCreatePartition",
    "glue:BatchGetPartition",
    "glue:CreateTable",
    "glue:GetDatabase",
    "glue:GetPartitions",
    "glue:GetTable",
    "glue:GetTables",
    "glue:UpdateTable",
]
#: the zones the forget job rewrites (every one that holds people's records; docs/erasure.md)
ERASED_ZONES = ("raw", "quarantine", "curated", "warehouse", "state", "checkpoints")
CATALOG_READ_ACTIONS = ["glue:GetDatabase", "glue:GetPartitions", "glue:GetTable", "glue:GetTables"]


class BatchStack(Stack):
    """State names of the chain (``RawToCurated`` → ``BuildStar`` → ``LoadWarehouse`` → ``TrainAndScore`` →
    ``LoadScores``) are part of its contract: the snapshot test pins the definition.

    ``LoadScores`` runs the warehouse-load job again with ``--tables scores``. A failed ``TrainAndScore`` stops the
    execution (failure notification and alarm) without touching what ``LoadWarehouse`` committed before it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        storage: StorageStack,
        warehouse: WarehouseStack,
        library: Path,
        python_modules: Path,
        warehouse_python_modules: Path,
        erasure_python_modules: Path,
        ml_library: Path,
        ml_python_modules: Path,
        scripts_dir: Path = GLUE_JOBS_DIR,
        ml_script: Path = ML_SCRIPT,
        extra_steps: Sequence[StepFactory] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        names = deployment.names
        profile = deployment.profile
        settings = deployment.settings
        zone = deployment.zone_prefix
        bucket, key = deployment.lake.bucket, storage.key

        self.catalog = LakeCatalog(self, "Catalog", deployment=deployment)
        # the ML stage's live scores, one item per customer (ml/serving.py); the stream's feature items stay its own
        (scores_spec,) = [s for s in dynamodb_tables(settings) if s.name == names.scores_table]
        self.scores_table = LakehouseTable(
            self, "ScoresTable", spec=scores_spec, key=key, retain=profile.retain_data
        ).table
        glue_arn = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        catalog_arns = [
            f"{glue_arn}:catalog",
            f"{glue_arn}:database/{names.glue_database}",
            f"{glue_arn}:table/{names.glue_database}/*",
        ]
        security = GlueSecurity(self, "GlueSecurity", name=names.batch_glue_security, key=key)
        # Each job's arguments come from its model in lakehouse.core.job_args, the one its entry script parses;
        # from_settings carries the deployment's batch tuning (a Glue job has no LAKEHOUSE_* environment).
        where = {"region": deployment.region, "lake_root": deployment.lake.root_uri}

        def job(
            construct_id: str,
            name: str,
            script: str,
            description: str,
            *,
            reads: list[str],
            writes: list[str],
            statements: list[iam.PolicyStatement],
            appends: tuple[str, ...] = (),
            arguments: JobArguments,
            bookmarks: bool = False,
            connection: GlueVpcAccess | None = None,
            modules: Path = python_modules,
            flex: bool | None = None,
            size: tuple[str, int] | None = None,
        ) -> GlueJob:
            return GlueJob(
                self,
                construct_id,
                spec=GlueJobSpec(
                    name=name,
                    script=scripts_dir / script,
                    description=description,
                    worker_type=size[0] if size else profile.batch_worker_type,
                    workers=size[1] if size else profile.batch_workers,
                    timeout_minutes=profile.batch_timeout_minutes,
                    bookmarks=bookmarks,
                    arguments=arguments.to_glue(),
                    flex=profile.batch_flex if flex is None else flex,
                ),
                library=library,
                security=security,
                key=key,
                lake_bucket=bucket,
                temp_prefix=f"{zone('state')}{name}/",
                reads=reads,
                writes=[*writes, zone("state")],
                appends=appends,
                statements=statements,
                python_modules=modules,
                connection=connection,
            )

        self.raw_to_curated = job(
            "RawToCuratedJob",
            names.raw_to_curated_job,
            "raw_to_curated.py",
            "raw/ (gzip JSON lines) -> curated/ (ZSTD Parquet by event_date) + Glue Data Catalog",
            reads=[zone("raw")],
            writes=[zone("curated")],
            appends=(zone("quarantine"),),  # malformed raw lines, with the reason
            # new raw objects from the lake's manifest of committed runs, not a job bookmark: Glue's bookmarked
            # reader fails the whole run on one unreadable object, and the bookmark never advances past it
            bookmarks=False,
            # register curated tables and partitions in the Glue catalog
            arguments=RawToCuratedArguments.from_settings(settings, **where, catalog=True),
            statements=[iam.PolicyStatement(actions=CATALOG_WRITE_ACTIONS, resources=catalog_arns)],
        )
        self.build_star = job(
            "BuildStarJob",
            names.build_star_job,
            "build_star.py",
            "curated/ -> warehouse/ (dimensions incl. SCD2 dim_customer, facts, marts)",
            reads=[zone("curated"), zone("reference")],  # reference/: the exchange-rate CSV
            writes=[zone("warehouse")],
            statements=[iam.PolicyStatement(actions=CATALOG_READ_ACTIONS, resources=catalog_arns)],
            arguments=BuildStarArguments.from_settings(settings, **where),
        )
        redshift = warehouse.redshift
        self.load_warehouse = job(
            "LoadWarehouseJob",
            names.load_warehouse_job,
            "load_warehouse.py",
            "warehouse/ -> Redshift Serverless (COPY into staging, MERGE, one transaction)",
            reads=[zone("warehouse")],
            writes=[],
            statements=[
                iam.PolicyStatement(
                    sid="ReadWarehouseAdminSecret",
                    actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    resources=[redshift.admin_secret.secret_arn],
                ),
                policies.kms_via(key, policies.KMS_DECRYPT, ["secretsmanager"]),
            ],
            # Glue sets no environment variables: the LAKEHOUSE_REDSHIFT__* settings come as parameters
            arguments=LoadWarehouseArguments.from_settings(
                settings,
                **where,
                target="redshift",
                redshift_host=redshift.workgroup.attr_workgroup_endpoint_address,
                redshift_port=settings.redshift.port,
                redshift_workgroup=names.redshift_workgroup,
                redshift_database=settings.redshift.database,
                redshift_secret_arn=redshift.admin_secret.secret_arn,
                redshift_copy_role_arn=redshift.copy_role.role_arn,
                redshift_schema_name=settings.redshift.schema_name,
            ),
            modules=warehouse_python_modules,  # + sqlglot and the Redshift driver
            # Redshift is private: the job runs in the warehouse VPC through a Glue network connection.
            connection=GlueVpcAccess(
                name=warehouse.network.connection_name,
                subnet_id=warehouse.network.loader_subnet.subnet_id,
                security_group_id=warehouse.network.loader_security_group.security_group_id,
            ),
        )
        self.load_warehouse.job.node.add_dependency(warehouse.network.connection)
        # The right to be forgotten (docs/erasure.md): the forget job rewrites every zone that holds people's
        # records, the streaming checkpoints included, deletes their Redshift rows and DynamoDB items; the
        # ForgetCustomer state machine stops the streaming job around it.
        redshift_arguments = {
            "redshift_host": redshift.workgroup.attr_workgroup_endpoint_address,
            "redshift_port": settings.redshift.port,
            "redshift_workgroup": names.redshift_workgroup,
            "redshift_database": settings.redshift.database,
            "redshift_secret_arn": redshift.admin_secret.secret_arn,
            "redshift_copy_role_arn": redshift.copy_role.role_arn,
            "redshift_schema_name": settings.redshift.schema_name,
        }
        erased_zones = [zone(z) for z in ERASED_ZONES]
        table_arn = f"arn:{Aws.PARTITION}:dynamodb:{Aws.REGION}:{Aws.ACCOUNT_ID}:table"
        self.forget = job(
            "ForgetJob",
            names.forget_job,
            "forget.py",
            "Erases one person (an erasure request in state/erasure/requests/) from every zone of the lake, the "
            "streaming state, Redshift and DynamoDB",
            reads=[],
            writes=erased_zones,
            statements=[
                iam.PolicyStatement(
                    sid="DeleteOldVersionsOfRewrittenObjects",
                    actions=["s3:ListBucketVersions"],
                    resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}"],
                    conditions={"StringLike": {"s3:prefix": [p for z in erased_zones for p in (z, f"{z}*")]}},
                ),
                policies.s3_objects(bucket, ("s3:DeleteObjectVersion",), erased_zones),
                iam.PolicyStatement(
                    sid="DeleteLiveItems",
                    actions=["dynamodb:DeleteItem"],
                    resources=[f"{table_arn}/{names.features_table}", self.scores_table.table_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadWarehouseAdminSecret",
                    actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    resources=[redshift.admin_secret.secret_arn],
                ),
                policies.kms_via(key, policies.KMS_ENCRYPT_DECRYPT, ["secretsmanager", "dynamodb"]),
            ],
            arguments=ForgetArguments.from_settings(settings, **where, target="redshift", **redshift_arguments),
            modules=erasure_python_modules,  # + lz4/xxhash (the state store's framing), sqlglot, the driver
            flex=False,  # rare and with the streaming job stopped meanwhile: never interrupted for spare capacity
            size=(ML_WORKER_TYPE, ML_WORKERS),  # Python on the driver, no Spark work: the smallest job, as ML's
            connection=GlueVpcAccess(
                name=warehouse.network.connection_name,
                subnet_id=warehouse.network.loader_subnet.subnet_id,
                security_group_id=warehouse.network.loader_security_group.security_group_id,
            ),
        )
        self.forget.job.node.add_dependency(warehouse.network.connection)
        streaming_job_arn = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}:job/{names.streaming_job}"


        for glue_job in (self.raw_to_curated, self.build_star):
            acknowledge_catalog_tables(glue_job, names.glue_database)
        for glue_job in (self.raw_to_curated, self.build_star, self.load_warehouse):
            glue_job.job.node.add_dependency(self.catalog.database)

        # The ML job: a Glue 5.0 (Python 3.11) job whose driver trains, evaluates and scores; no Spark work.
        ml_job_name = names.train_and_score_job
        self.train_and_score = GlueJob(
            self,
            "TrainAndScoreJob",
            spec=GlueJobSpec(
                name=ml_job_name,
                script=ml_script,
                description="curated/ -> churn, propensity and CLV models (artifacts/models/), customer scores "
                "(warehouse/fact_customer_scores/, DynamoDB)",
                worker_type=ML_WORKER_TYPE,
                workers=ML_WORKERS,
                timeout_minutes=profile.batch_timeout_minutes,
                # ml/job.py parses these with TrainAndScoreArguments (the base fields: the label windows and the
                # cutoff keep the pipeline's defaults)
                arguments=JobArguments.from_settings(settings, **where).to_glue(),
                # standard class: a retried scoring run would record a second score run for the same cutoff
            ),
            library=ml_library,
            security=security,
            key=key,
            lake_bucket=bucket,
            temp_prefix=f"{zone('state')}{ml_job_name}/",
            reads=[zone("curated"), zone("reference")],  # the events; the exchange-rate CSV
            writes=[
                f"{zone('artifacts')}{ML_MODELS_PREFIX}",
                f"{zone('warehouse')}{SCORES_TABLE}/",
                f"{zone('warehouse')}_manifests/{SCORES_TABLE}/",
                # the RFM breakpoints the star build published; the scoring run records (state/score/runs/), the
                # job's temporary files
                zone("state"),
            ],
            statements=[
                iam.PolicyStatement(
                    sid="WriteLiveScores",
                    actions=SCORE_WRITE_ACTIONS,
                    resources=[self.scores_table.table_arn],
                ),
                policies.kms_via(key, policies.KMS_ENCRYPT_DECRYPT, ["dynamodb"]),
            ],
            python_modules=ml_python_modules,  # + the scientific stack (infra/build.py, GLUE_MODULE_SETS["ml"])
        )

        self.jobs = [self.raw_to_curated, self.build_star, self.load_warehouse, self.train_and_score]
        self.pipeline = BatchPipeline(
            self,
            "Pipeline",
            deployment=deployment,
            key=key,
            steps=[
                ("RawToCurated", self.raw_to_curated),
                ("BuildStar", self.build_star),
                ("LoadWarehouse", self.load_warehouse),
                ("TrainAndScore", self.train_and_score),
                ("LoadScores", self.load_warehouse, LOAD_SCORES_ARGUMENTS),
            ],
            extra_steps=extra_steps,
        )
        self.state_machine = self.pipeline.state_machine

        if profile.batch_schedule:
            self.schedule = events.Rule(
                self,
                "Schedule",
                description="Runs the batch chain",
                schedule=events.Schedule.expression(profile.batch_schedule),
                targets=[targets.SfnStateMachine(self.state_machine)],
            )
        # One notification per failure: every step of the chain is a Glue job it runs (no Catch), so a failed,
        # timed-out or stopped job run ends the execution FAILED; the execution rule alone notifies, one message per
        # failed, timed-out or aborted execution, and the execution alarms below only colour the dashboard. A batch
        # job run started by hand, outside the chain, is not notified (docs/decisions-infra.md, "One notification
        # per failure").
        self.erasure = ErasureWorkflow(self, "Erasure", deployment=deployment, key=key, forget_job=self.forget,
                                       streaming_job_name=names.streaming_job, streaming_job_arn=streaming_job_arn,
                                       batch_state_machine_arn=self.state_machine.state_machine_arn)
        self.execution_failure_rule = notify_failed_executions(
            self, "ExecutionFailures", state_machine=self.state_machine, topic=storage.alarm_topic
        )
        self.erasure_failure_rule = notify_failed_executions(
            self, "ErasureFailures", state_machine=self.erasure.state_machine, topic=storage.alarm_topic
        )

        self.alarms = AlarmSet(self, "Alarms", topic=storage.alarm_topic, prefix=names.prefix)
        sm = self.state_machine
        self.alarms.add(
            "BatchExecutionsFailed",
            metric=sm.metric_failed(period=FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            notify=False,
            description="A batch execution failed (notified by the ExecutionFailures rule, once per execution).",
        )
        self.alarms.add(
            "BatchExecutionsTimedOut",
            metric=sm.metric_timed_out(period=FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            notify=False,
            description="A batch execution timed out (notified by the ExecutionFailures rule, once per execution).",
        )

        CfnOutput(self, "StateMachineArn", value=sm.state_machine_arn)
        CfnOutput(self, "GlueDatabase", value=names.glue_database)
        CfnOutput(self, "ScoresTableName", value=self.scores_table.table_name)
        CfnOutput(self, "ForgetStateMachineArn", value=self.erasure.state_machine.state_machine_arn)


def acknowledge_catalog_tables(job: GlueJob, database: str) -> None:
    """The catalog statement covers the tables of the lake's database (``table/<database>/*``)."""
    acknowledge(
        job.role,
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/{database}/*]",
        "The jobs register and update the lake's tables themselves (schemas live in the job code); the "
        "statement is limited to this database's tables.",
    )
