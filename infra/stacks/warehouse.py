"""Warehouse: Redshift Serverless namespace + workgroup in a private VPC, admin secret, COPY role."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.components.redshift_serverless import RedshiftServerless
from infra.components.warehouse_network import WarehouseNetwork
from infra.config import Deployment
from infra.stacks.storage import StorageStack


class WarehouseStack(Stack):
    """Redshift Serverless in its private network (see the module docstring)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, deployment: Deployment, storage: StorageStack, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.network = WarehouseNetwork(self, "Network", deployment=deployment, key=storage.key)
        self.redshift = RedshiftServerless(
            self,
            "Redshift",
            deployment=deployment,
            network=self.network,
            key=storage.key,
            lake_bucket=deployment.lake.bucket,
        )
        self.vpc = self.network.vpc
        self.admin_secret = self.redshift.admin_secret
        self.copy_role = self.redshift.copy_role
        self.workgroup = self.redshift.workgroup

        # The values LAKEHOUSE_REDSHIFT__* needs to load the warehouse from outside CloudFormation.
        CfnOutput(
            self,
            "WorkgroupEndpoint",
            value=self.workgroup.attr_workgroup_endpoint_address,
            description="LAKEHOUSE_REDSHIFT__HOST",
        )
        CfnOutput(
            self, "AdminSecretArn", value=self.admin_secret.secret_arn, description="LAKEHOUSE_REDSHIFT__SECRET_ARN"
        )
        CfnOutput(self, "CopyRoleArn", value=self.copy_role.role_arn, description="LAKEHOUSE_REDSHIFT__COPY_ROLE_ARN")
