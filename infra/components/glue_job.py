"""A Glue 5.0 (Spark 3.5) job: its script and shared library uploaded as assets, its own least-privilege role.

Every job runs under its stack's Glue security configuration (S3 SSE-KMS, CloudWatch Logs and job bookmarks
encrypted with the lake key). The role gets only: the two asset objects, read access to the lake prefixes in
``reads`` and the exact objects in ``read_keys``, read/write/delete on ``writes`` (its temporary prefix
included), put-only on ``appends``, listing of exactly those prefixes and keys, its log groups, Glue metrics, and
whatever other statements the caller passes (resource by resource).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from infra.components import policies
from infra.components.glue_security import GlueSecurity
from infra.components.glue_vpc_access import GlueVpcAccess
from infra.components.nag import acknowledge

GLUE_VERSION = "5.0"


@dataclass(frozen=True)
class GlueJobSpec:
    """What differs between jobs: name, script, kind, size and arguments."""

    name: str
    script: Path
    description: str
    streaming: bool = False
    worker_type: str = "G.1X"
    workers: int = 2
    timeout_minutes: int = 60
    bookmarks: bool = False  # Glue job bookmarks (incremental reads of S3 sources)
    arguments: Mapping[str, str] | None = None
    #: the Flex execution class: spare capacity at a lower DPU-hour price, a later start, and a run Glue may
    #: interrupt (then retried once: every batch job commits atomically and reruns to the same result)
    flex: bool = False


#: worker types the Flex execution class accepts (Glue's CreateJob: glueetl jobs, Glue 3.0+, G.1X or G.2X)
FLEX_WORKER_TYPES = ("G.1X", "G.2X")


class GlueJob(Construct):
    """One Glue job with its own role; ``role`` is exposed so callers can add data statements."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: GlueJobSpec,
        library: Path,
        security: GlueSecurity,
        key: kms.IKey,
        lake_bucket: str,
        temp_prefix: str,
        reads: Sequence[str] = (),
        writes: Sequence[str] = (),
        appends: Sequence[str] = (),
        read_keys: Sequence[str] = (),
        statements: Sequence[iam.PolicyStatement] = (),
        metric_namespaces: Sequence[str] = (),
        python_modules: Path | None = None,
        connection: GlueVpcAccess | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not spec.script.is_file():
            raise FileNotFoundError(f"Glue job {spec.name}: script {spec.script} does not exist")
        if spec.flex and (spec.streaming or spec.worker_type not in FLEX_WORKER_TYPES):
            raise ValueError(f"Glue job {spec.name}: the Flex execution class takes batch jobs on "
                             f"{' or '.join(FLEX_WORKER_TYPES)} workers only (set -c batch_flex=false)")
        self.name = spec.name
        self.flex = spec.flex  # the chain runs it again once when a run fails (batch_pipeline.glue_step)
        self.script = s3_assets.Asset(self, "Script", path=str(spec.script))
        self.library = s3_assets.Asset(self, "Library", path=str(library))
        assets = [self.script, self.library]
        if python_modules is not None:
            self.python_modules = s3_assets.Asset(self, "PythonModules", path=str(python_modules))
            assets.append(self.python_modules)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Runs the Glue job {spec.name}",
        )
        # The temporary prefix needs its own grant unless a written prefix already covers it.
        writable = [*writes, *([] if any(temp_prefix.startswith(w) for w in writes) else [temp_prefix])]
        log_groups = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws-glue/*"
        base = [
            iam.PolicyStatement(
                sid="ReadScriptAndLibrary",
                actions=["s3:GetObject"],
                resources=[asset.bucket.arn_for_objects(asset.s3_object_key) for asset in assets],
            ),
            policies.s3_objects(lake_bucket, policies.S3_READ_WRITE, writable),
            policies.s3_list(lake_bucket, [*reads, *writable, *appends], read_keys),
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
                resources=[log_groups, f"{log_groups}:*"],
            ),
            iam.PolicyStatement(
                sid="PublishGlueMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                # Glue's own metrics, and the namespaces the job's code publishes to (``metric_namespaces``)
                conditions={"StringEquals": {"cloudwatch:namespace": ["Glue", *metric_namespaces]
                                             if metric_namespaces else "Glue"}},
            ),
            # The security configuration encrypts bookmarks client-side and S3 writes with the lake key.
            policies.kms_direct(key, ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")),
        ]
        if reads:
            base.append(policies.s3_objects(lake_bucket, policies.S3_READ, reads))
        if appends:
            base.append(policies.s3_objects(lake_bucket, policies.S3_WRITE, appends))
        if read_keys:
            base.append(
                iam.PolicyStatement(
                    actions=list(policies.S3_READ), resources=[policies.object_arn(lake_bucket, k) for k in read_keys]
                )
            )
        for statement in (*base, *statements):
            self.role.add_to_policy(statement)
        policies.acknowledge_prefixes(self.role, lake_bucket, [*reads, *writable, *appends])

        arguments = {
            "--job-language": "python",
            "--extra-py-files": self.library.s3_object_url,
            "--TempDir": f"s3://{lake_bucket}/{temp_prefix}",
            "--enable-metrics": "true",
            "--enable-observability-metrics": "true",
            "--enable-continuous-cloudwatch-log": "true",
            "--job-bookmark-option": "job-bookmark-enable" if spec.bookmarks else "job-bookmark-disable",
            **(spec.arguments or {}),
        }
        if python_modules is not None:
            arguments["--additional-python-modules"] = self.python_modules.s3_object_url
            arguments["--python-modules-installer-option"] = "--no-index"  # never download at run time
        if connection is not None:
            for statement in connection.statements():
                self.role.add_to_policy(statement)
            connection.acknowledge(self.role)
        self.job = glue.CfnJob(
            self,
            "Job",
            name=spec.name,
            description=spec.description,
            role=self.role.role_arn,
            command=glue.CfnJob.JobCommandProperty(
                name="gluestreaming" if spec.streaming else "glueetl",
                python_version="3",
                script_location=self.script.s3_object_url,
            ),
            glue_version=GLUE_VERSION,
            worker_type=spec.worker_type,
            number_of_workers=spec.workers,
            timeout=None if spec.streaming else spec.timeout_minutes,
            max_retries=0,  # a Flex run interrupted is retried by the chain that waits for it, not by Glue
            execution_class="FLEX" if spec.flex else None,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            security_configuration=security.name,
            connections=glue.CfnJob.ConnectionsListProperty(connections=[connection.name]) if connection else None,
            default_arguments=arguments,
        )
        self.job.node.add_dependency(security.configuration)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/*]",
            "Glue names its log groups itself (/aws-glue/jobs/..., suffixed with the security configuration).",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/*:*]",
            "Log streams of the Glue log groups above; Glue names the streams after each job run.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData has no resource type; the statement is limited to the Glue namespace.",
        )

    @property
    def arn(self) -> str:
        """The job's ARN (``arn:<partition>:glue:<region>:<account>:job/<name>``)."""
        return Stack.of(self).format_arn(service="glue", resource="job", resource_name=self.name)
