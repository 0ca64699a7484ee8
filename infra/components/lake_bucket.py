"""The lake bucket (one bucket, one prefix per zone) and the bucket that receives its access logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import Deployment


def _removal(retain: bool) -> RemovalPolicy:
    return RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY


class AccessLogBucket(Construct):
    """Server access logs of the lake bucket. S3 delivers access logs only to SSE-S3 buckets, so no KMS here."""

    def __init__(self, scope: Construct, construct_id: str, *, deployment: Deployment) -> None:
        super().__init__(scope, construct_id)
        profile = deployment.profile
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=deployment.names.access_log_bucket,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(profile.access_log_expire_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=_removal(profile.retain_data),
        )


class LakeBucket(Construct):
    """The lake: raw, quarantine, curated, warehouse, artifacts, checkpoints and state are prefixes of it.

    Versioning protects the system of record (raw) and models against overwrites and deletes; lifecycle rules
    tier raw data to Infrequent Access, then Glacier Instant Retrieval (still readable by a reprocessing job
    without a restore), expire quarantined events, and drop old versions of the zones that jobs rewrite.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        key: kms.IKey,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        profile = deployment.profile
        prefix = deployment.zone_prefix
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=deployment.names.lake_bucket,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{deployment.names.lake_bucket}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="raw-tiering",
                    prefix=prefix("raw"),
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(profile.raw_infrequent_access_days),
                        ),
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(profile.raw_glacier_ir_days),
                        ),
                    ],
                    noncurrent_version_expiration=Duration.days(30),
                ),
                s3.LifecycleRule(
                    id="quarantine-expiry",
                    prefix=prefix("quarantine"),
                    expiration=Duration.days(profile.quarantine_expire_days),
                    noncurrent_version_expiration=Duration.days(7),
                ),
                *[
                    s3.LifecycleRule(
                        id=f"{zone}-old-versions",
                        prefix=prefix(zone),
                        noncurrent_version_expiration=Duration.days(days),
                    )
                    for zone, days in (("curated", 7), ("warehouse", 7), ("artifacts", 90))
                ],
                *[
                    s3.LifecycleRule(
                        id=f"{zone}-old-versions",
                        prefix=prefix(zone),
                        noncurrent_version_expiration=Duration.days(1),
                        expired_object_delete_marker=True,
                    )
                    for zone in ("checkpoints", "state")
                ],
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
            ],
            removal_policy=_removal(profile.retain_data),
        )
        # Request metrics per zone: the monitoring stack charts and alarms on quarantine volume.
        for zone in ("raw", "quarantine"):
            self.bucket.add_metric(id=zone, prefix=prefix(zone))
