"""The ingest Lambda: code from ``lambdas/ingest``, dependencies and the ``lakehouse`` core in a layer.

No Docker: the layer directory is built with pip for the Lambda platform by ``infra.build``. The function's
role is written by hand, statement by statement: put objects under ``quarantine/`` (rejected calls; accepted
events reach ``raw/`` through the stream and the raw archive, never from this function), put records on the event
stream, read write keys, and use the lake key only through S3, Kinesis and DynamoDB.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.build import LAMBDA_PIP_PLATFORMS, LAMBDA_PYTHON_VERSION
from infra.components import policies
from infra.components.log_group import encrypted_log_group
from infra.components.nag import acknowledge
from infra.config import Deployment

HANDLER = "handler.handler"
RUNTIMES = {
    "3.12": lambda_.Runtime.PYTHON_3_12,
    "3.13": lambda_.Runtime.PYTHON_3_13,
    "3.14": lambda_.Runtime.PYTHON_3_14,
}
ARCHITECTURE = lambda_.Architecture.ARM_64 if "aarch64" in LAMBDA_PIP_PLATFORMS[0] else lambda_.Architecture.X86_64
CODE_EXCLUDES = ["__pycache__", "*.pyc", "requirements.txt", "tests"]


def function_environment(deployment: Deployment, pii_hash_key: str) -> dict[str, str]:
    """What ``lakehouse.core.config.Settings`` reads inside the function (``LAKEHOUSE_*``), plus Powertools'."""
    settings = deployment.settings
    return {
        "LAKEHOUSE_PII__HASH_KEY": pii_hash_key,
        "LAKEHOUSE_PROJECT": settings.project,
        "LAKEHOUSE_STAGE": settings.stage,
        "LAKEHOUSE_REGION": settings.region,
        "LAKEHOUSE_LAKE_ROOT": settings.lake.root_uri,
        "LAKEHOUSE_HOME": "/tmp/lakehouse",  # the only writable directory on Lambda
        # the deployment's own rules, which the function would otherwise read as defaults
        "LAKEHOUSE_PII__EMAIL": settings.pii.email,
        "LAKEHOUSE_PII__IP": settings.pii.ip,
        "LAKEHOUSE_EVENT_TIME__FUTURE_TOLERANCE_SECONDS": str(settings.event_time.future_tolerance_seconds),
        "LAKEHOUSE_EVENT_TIME__EARLIEST_EVENT_DATE": settings.event_time.earliest_event_date.isoformat(),
        "LAKEHOUSE_EVENT_TIME__MAX_SKEW_CORRECTION_SECONDS": str(settings.event_time.max_skew_correction_seconds),
        "POWERTOOLS_SERVICE_NAME": "ingest",
        "POWERTOOLS_METRICS_NAMESPACE": "CustomerLakehouse",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


class IngestFunction(Construct):
    """The function, its layer, its encrypted log group and its role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        code_dir: Path,
        layer_dir: Path,
        key: kms.IKey,
        lake_bucket: str,
        stream: kinesis.IStream,
        write_keys: dynamodb.ITableV2,
    ) -> None:
        super().__init__(scope, construct_id)
        if not (code_dir / "handler.py").is_file():
            raise FileNotFoundError(f"the ingest function's handler {code_dir / 'handler.py'} does not exist")
        names = deployment.names
        profile = deployment.profile
        self.log_group = encrypted_log_group(
            self,
            "Logs",
            name=f"/aws/lambda/{names.ingest_function}",
            key=key,
            days=profile.log_retention_days,
            retain=profile.retain_data,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the ingest function {names.ingest_function}",
        )
        landing = [deployment.zone_prefix("quarantine")]  # raw/ is the raw archive's (infra/stacks/streaming.py)
        for statement in (
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            ),
            policies.s3_objects(lake_bucket, policies.S3_WRITE, landing),
            iam.PolicyStatement(sid="PublishEvents", actions=["kinesis:PutRecords"], resources=[stream.stream_arn]),
            iam.PolicyStatement(sid="ReadWriteKeys", actions=["dynamodb:GetItem"], resources=[write_keys.table_arn]),
            policies.kms_via(key, policies.KMS_ENCRYPT, ["s3", "kinesis"]),
            policies.kms_via(key, policies.KMS_DECRYPT, ["dynamodb"]),
        ):
            self.role.add_to_policy(statement)

        # The HMAC key for hashed e-mails: generated once, kept in Secrets Manager, resolved into the (KMS-encrypted)
        # environment at deploy time. Rotating it would change every hashed address, so it is never rotated.
        self.pii_hash_key = secretsmanager.Secret(
            self,
            "PiiHashKey",
            description=f"HMAC key the ingest function uses to hash e-mail addresses ({names.ingest_function})",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
            removal_policy=RemovalPolicy.RETAIN if profile.retain_data else RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.pii_hash_key,
            "AwsSolutions-SMG4",
            "Hashed e-mail addresses must stay comparable across time (they join customers); rotating the HMAC "
            "key would silently split every customer's history.",
        )

        self.layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_asset(str(layer_dir)),
            compatible_runtimes=[RUNTIMES[LAMBDA_PYTHON_VERSION]],
            compatible_architectures=[ARCHITECTURE],
            description="Ingest dependencies (lambdas/ingest/requirements.txt) and the lakehouse core package",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=names.ingest_function,
            description="Validates Segment-style calls, puts them on Kinesis and quarantines rejects in S3",
            runtime=RUNTIMES[LAMBDA_PYTHON_VERSION],
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(code_dir), exclude=CODE_EXCLUDES),
            layers=[self.layer],
            role=self.role,
            memory_size=profile.ingest_memory_mb,
            timeout=Duration.seconds(profile.ingest_timeout_seconds),
            reserved_concurrent_executions=profile.ingest_reserved_concurrency or None,
            environment=function_environment(deployment, self.pii_hash_key.secret_value.unsafe_unwrap()),
            environment_encryption=key,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            # INFO, not higher: the EMF metric lines carry no "level", and Lambda files such lines as INFO (Lambda
            # Developer Guide, "Log-level filtering"), so a WARN filter would drop every custom metric and the
            # alarms built on them. The platform's per-invocation lines (start, report) are what WARN saves.
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel(profile.lambda_system_log_level),
        )
        policies.acknowledge_prefixes(self.role, lake_bucket, landing)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments/PutTelemetryRecords have no resource type; tracing needs them on '*'.",
        )
