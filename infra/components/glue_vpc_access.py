"""What a Glue job needs to run inside a VPC through a Glue network connection: read the connection, and let Glue
create, tag and delete its workers' network interfaces in the connection's subnet and security group.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from infra.components.nag import acknowledge

#: Read-only EC2 calls Glue makes to validate the connection's network; EC2 offers no resource scoping for them.
DESCRIBE_ACTIONS = [
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcs",
]
GLUE_ENI_TAG = "aws-glue-service-resource"


def _ec2_arn(resource: str) -> str:
    return f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


@dataclass(frozen=True)
class GlueVpcAccess:
    """A Glue network connection (by name) and the subnet and security group it places workers in."""

    name: str
    subnet_id: str
    security_group_id: str

    def statements(self) -> list[iam.PolicyStatement]:
        """What a Glue job role needs to run in the connection's subnet: read the connection, describe the
        network, and create, tag and delete its workers' network interfaces (tags limited to Glue's)."""
        interfaces = _ec2_arn("network-interface/*")
        glue = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        return [
            iam.PolicyStatement(
                sid="ReadOwnConnection",
                actions=["glue:GetConnection"],
                resources=[f"{glue}:catalog", f"{glue}:connection/{self.name}"],
            ),
            iam.PolicyStatement(sid="InspectNetwork", actions=DESCRIBE_ACTIONS, resources=["*"]),
            iam.PolicyStatement(
                sid="CreateWorkerInterfaces",
                actions=["ec2:CreateNetworkInterface"],
                resources=[
                    interfaces,
                    _ec2_arn(f"subnet/{self.subnet_id}"),
                    _ec2_arn(f"security-group/{self.security_group_id}"),
                ],
            ),
            iam.PolicyStatement(
                sid="DeleteWorkerInterfaces", actions=["ec2:DeleteNetworkInterface"], resources=[interfaces]
            ),
            iam.PolicyStatement(
                sid="TagWorkerInterfaces",
                actions=["ec2:CreateTags", "ec2:DeleteTags"],
                resources=[interfaces],
                conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [GLUE_ENI_TAG]}},
            ),
        ]

    def acknowledge(self, role: IConstruct) -> None:
        """Acknowledge, on ``role``, the cdk-nag wildcard findings :meth:`statements` cannot avoid (with reasons)."""
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "EC2 Describe* calls (Glue validating the connection's subnet, routes and endpoints) have no resource "
            "scoping; they are read-only.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]",
            "Glue creates its workers' network interfaces at run time, so their ids are unknown; creation is "
            "limited to the connection's subnet and security group, tagging to Glue's own tag.",
        )
