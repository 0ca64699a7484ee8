"""The Glue security configuration: S3 writes (SSE-KMS), CloudWatch Logs and job bookmarks (CSE-KMS) under the
lake key.
"""

from __future__ import annotations

from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from constructs import Construct


class GlueSecurity(Construct):
    """The Glue security configuration the jobs of one stack run under (cdk-nag checks it in the same stack)."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.configuration = glue.CfnSecurityConfiguration(
            self,
            "Configuration",
            name=name,
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                s3_encryptions=[
                    glue.CfnSecurityConfiguration.S3EncryptionProperty(
                        s3_encryption_mode="SSE-KMS", kms_key_arn=key.key_arn
                    )
                ],
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=key.key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=key.key_arn
                ),
            ),
        )
