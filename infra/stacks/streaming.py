"""Streaming: the Kinesis event stream, the DynamoDB feature table, and the Glue streaming job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from constructs import Construct

from infra.build import ROOT
from infra.components import policies
from infra.components.dynamodb_table import LakehouseTable, provisioned_billing
from infra.components.failure_notifications import notify_failed_job_runs
from infra.components.glue_job import GlueJob, GlueJobSpec
from infra.components.glue_security import GlueSecurity
from infra.components.nag import acknowledge
from infra.config import Deployment
from infra.stacks.storage import StorageStack
from lakehouse.core.aws.resources import dynamodb_tables
from lakehouse.core.job_args import StreamingJobArguments
from lakehouse.core.monitoring import NAMESPACE as MONITORING_NAMESPACE
from lakehouse.core.rfm_breakpoints import BREAKPOINTS_KEY

STREAM_SCRIPT = ROOT / "stream" / "glue_job.py"
STREAM_READ_ACTIONS = [
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
]
#: what stream/stateful.py calls: whole customer items, put in batches (no reads, no conditions)
FEATURE_WRITE_ACTIONS = ["dynamodb:BatchWriteItem"]


class StreamingStack(Stack):
    """Kinesis → Glue streaming job (Spark) → DynamoDB ``customer_features`` and, as a second query, the raw archive
    → ``raw/`` (large objects, one per arrival hour per buffer period); checkpoints in the lake."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        storage: StorageStack,
        library: Path,
        python_modules: Path,
        script: Path = STREAM_SCRIPT,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        names = deployment.names
        profile = deployment.profile
        on_demand = profile.kinesis_mode == "on-demand"
        self.stream = kinesis.Stream(
            self,
            "Events",
            stream_name=names.stream,
            stream_mode=kinesis.StreamMode.ON_DEMAND if on_demand else kinesis.StreamMode.PROVISIONED,
            shard_count=None if on_demand else deployment.settings.kinesis_shards,
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=storage.key,
            retention_period=Duration.hours(profile.kinesis_retention_hours),
            removal_policy=RemovalPolicy.RETAIN if profile.retain_data else RemovalPolicy.DESTROY,
        )

        acknowledge(
            self.stream,
            "AwsSolutions-KDS3",
            "The stream is encrypted with the lake's customer-managed key (rotated, key policy under our "
            "control) rather than the AWS-managed aws/kinesis key.",
        )

        (features_spec,) = [s for s in dynamodb_tables(deployment.settings) if s.name == names.features_table]
        billing = None if profile.features_table_billing == "on-demand" else provisioned_billing(
            profile.features_table_min_write_units, profile.features_table_max_write_units,
            profile.features_table_read_units)
        self.features_table = LakehouseTable(
            self, _construct_id(features_spec.name, names.prefix), spec=features_spec, key=storage.key,
            retain=profile.retain_data, billing=billing,
        ).table

        self.checkpoint_prefix = f"{deployment.zone_prefix('checkpoints')}{names.streaming_job}/"
        # the raw archive runs as a second query of the same job (stream/glue_job.py): its own checkpoint
        self.archive_checkpoint_prefix = f"{deployment.zone_prefix('checkpoints')}{names.raw_archive_job}/"
        temp_prefix = f"{deployment.zone_prefix('state')}{names.streaming_job}/"
        security = GlueSecurity(self, "GlueSecurity", name=names.streaming_glue_security, key=storage.key)
        self.job = GlueJob(
            self,
            "FeatureJob",
            spec=GlueJobSpec(
                name=names.streaming_job,
                script=script,
                description="Kinesis events -> real-time RFM features in DynamoDB, and the raw archive into raw/",
                streaming=True,
                worker_type=profile.streaming_worker_type,
                workers=profile.streaming_workers,
                # stream/glue_job.py parses these with the same model; the tuning is the deployment's settings
                arguments=StreamingJobArguments.from_settings(
                    deployment.settings,
                    region=deployment.region,
                    lake_root=deployment.lake.root_uri,
                    stream_arn=self.stream.stream_arn,
                    checkpoint_location=deployment.lake.uri(self.checkpoint_prefix),
                    raw_archive_checkpoint=deployment.lake.uri(self.archive_checkpoint_prefix),
                ).to_glue(),
            ),
            library=library,
            python_modules=python_modules,
            security=security,
            key=storage.key,
            lake_bucket=deployment.lake.bucket,
            temp_prefix=temp_prefix,
            writes=[self.checkpoint_prefix, self.archive_checkpoint_prefix],
            metric_namespaces=[MONITORING_NAMESPACE],  # the raw archive's heartbeat (stream/archive_metrics.py)
            # records the job cannot use; raw/: the raw archive's objects and landing log, put only (a replayed
            # micro-batch overwrites its own keys with PutObject; it never reads or deletes raw objects)
            appends=[deployment.zone_prefix("quarantine"), deployment.zone_prefix("raw")],
            # RFM quintiles published by the batch build; the exchange rates users supply
            read_keys=[deployment.lake.key(BREAKPOINTS_KEY), deployment.lake.key(deployment.settings.money.rates_key)],
            statements=[
                iam.PolicyStatement(actions=STREAM_READ_ACTIONS, resources=[self.stream.stream_arn]),
                iam.PolicyStatement(
                    actions=FEATURE_WRITE_ACTIONS,
                    resources=[self.features_table.table_arn],
                ),
                policies.kms_via(storage.key, policies.KMS_DECRYPT, ["kinesis"]),
                policies.kms_via(storage.key, policies.KMS_ENCRYPT_DECRYPT, ["dynamodb"]),
            ],
        )

        self.job_failure_rule = notify_failed_job_runs(
            self, "JobFailures", job_names=[self.job.name], topic=storage.alarm_topic
        )

        CfnOutput(self, "StreamName", value=self.stream.stream_name)
        CfnOutput(self, "FeaturesTable", value=self.features_table.table_name)
        CfnOutput(self, "CheckpointLocation", value=deployment.lake.uri(self.checkpoint_prefix))


def _construct_id(table_name: str, prefix: str) -> str:
    """``customer-lakehouse-dev-customer-features`` → ``CustomerFeaturesTable``."""
    return "".join(part.capitalize() for part in table_name.removeprefix(f"{prefix}-").split("-")) + "Table"
