"""IAM statements written resource by resource: named actions only, scoped to prefixes, keys used via services.

No statement built here uses a wildcard action. S3 access is limited to the lake prefixes a role needs
(objects) with a matching ``s3:prefix`` condition for listing. Bucket ARNs are built from the bucket *name*
(``Settings.names``), so a statement reads the same in every stack and its cdk-nag finding can be
acknowledged by exactly that resource (:func:`acknowledge_prefixes`).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import IConstruct

from infra.components.nag import acknowledge

S3_READ = ("s3:GetObject",)
S3_WRITE = ("s3:PutObject",)
S3_READ_WRITE = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
KMS_DECRYPT = ("kms:Decrypt",)
KMS_ENCRYPT = ("kms:GenerateDataKey",)
KMS_ENCRYPT_DECRYPT = ("kms:Decrypt", "kms:GenerateDataKey")


def bucket_arn(bucket: str) -> str:
    """The bucket itself (``arn:<partition>:s3:::bucket``), for bucket-level actions such as listing."""
    return f"arn:{Aws.PARTITION}:s3:::{bucket}"


def objects_arn(bucket: str, prefix: str) -> str:
    """Every object below ``prefix`` (``raw/`` → ``arn:…:s3:::bucket/raw/*``)."""
    return f"{bucket_arn(bucket)}/{prefix}*"


def object_arn(bucket: str, key: str) -> str:
    """Exactly one object."""
    return f"{bucket_arn(bucket)}/{key}"


def s3_objects(bucket: str, actions: Sequence[str], prefixes: Sequence[str]) -> iam.PolicyStatement:
    """Object actions on the keys below each prefix."""
    return iam.PolicyStatement(actions=list(actions), resources=[objects_arn(bucket, p) for p in prefixes])


def s3_list(bucket: str, prefixes: Sequence[str], keys: Sequence[str] = ()) -> iam.PolicyStatement:
    """``ListBucket`` limited by the ``s3:prefix`` condition to the given prefixes and exact keys (an existence
    check lists the key itself)."""
    allowed = sorted({p for prefix in prefixes for p in (prefix, f"{prefix}*")} | set(keys))
    return iam.PolicyStatement(
        actions=["s3:ListBucket"],
        resources=[bucket_arn(bucket)],
        conditions={"StringLike": {"s3:prefix": allowed}},
    )


def acknowledge_prefixes(scope: IConstruct, bucket: str, prefixes: Sequence[str]) -> None:
    """Acknowledge the ``prefix/*`` object resources of a role, one finding per prefix."""
    for prefix in prefixes:
        acknowledge(
            scope,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{bucket}/{prefix}*]",
            f"Objects below the lake prefix {prefix} only: lake keys are partitioned (dt=/hour=/uuid), so a "
            "prefix is the narrowest grant that still covers the objects this role must read or write.",
        )


def kms_via(key: kms.IKey, actions: Sequence[str], services: Sequence[str]) -> iam.PolicyStatement:
    """Key use allowed only when the call comes through the named AWS services (``s3``, ``kinesis`` …)."""
    region = Stack.of(key).region
    return iam.PolicyStatement(
        actions=list(actions),
        resources=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": [f"{service}.{region}.amazonaws.com" for service in services]}},
    )


def kms_direct(key: kms.IKey, actions: Sequence[str]) -> iam.PolicyStatement:
    """Direct key use (Glue encrypts bookmarks and logs client-side with the key)."""
    return iam.PolicyStatement(actions=list(actions), resources=[key.key_arn])
