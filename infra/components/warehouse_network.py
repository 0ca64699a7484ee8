"""The warehouse's private network: isolated subnets in three zones, no internet route, S3 via a gateway endpoint.

Redshift Serverless needs subnets in three Availability Zones. With enhanced VPC routing its COPY traffic to
S3 stays in the VPC and goes through the S3 gateway endpoint (free). The warehouse-load Glue job runs in the
first subnet through a Glue network connection; the AWS APIs it calls from there (Secrets Manager, CloudWatch
Logs and metrics, Glue) are reached through interface endpoints in that subnet only. Flow logs go to an
encrypted log group.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.components.log_group import encrypted_log_group
from infra.config import Deployment

#: AWS APIs the load job calls from inside the VPC (S3 goes through the gateway endpoint).
LOADER_ENDPOINTS = {
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "Glue": ec2.InterfaceVpcEndpointAwsService.GLUE,
}


class WarehouseNetwork(Construct):
    """The warehouse VPC, its endpoints, and the loader's subnet, security group and Glue connection."""

    def __init__(self, scope: Construct, construct_id: str, *, deployment: Deployment, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        profile = deployment.profile
        names = deployment.names
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=f"{names.prefix}-warehouse",
            ip_addresses=ec2.IpAddresses.cidr("10.42.0.0/16"),
            availability_zones=list(deployment.availability_zones),
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="warehouse", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
            ],
            # Nothing uses the default security group; restricting it needs a custom-resource Lambda.
            restrict_default_security_group=False,
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        flow_logs = encrypted_log_group(
            self,
            "FlowLogs",
            name=f"/aws/vpc/{names.prefix}-warehouse/flow-logs",
            key=key,
            days=profile.log_retention_days,
            retain=profile.retain_data,
        )
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))
        self.subnets = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        # The load job's place in the network: one subnet, a security group Glue's workers share.
        self.loader_subnet = self.subnets.subnets[0]
        self.loader_security_group = ec2.SecurityGroup(
            self,
            "LoaderSecurityGroup",
            vpc=self.vpc,
            description="Glue warehouse-load job (workers talk to each other, to Redshift and to endpoints)",
            allow_all_outbound=True,  # the subnet routes only to the VPC and the S3 gateway endpoint
        )
        self.loader_security_group.add_ingress_rule(
            self.loader_security_group, ec2.Port.all_tcp(), "Glue workers of the same job (required by Glue)"
        )
        endpoints = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface endpoints of the warehouse VPC (HTTPS from the load job only)",
            allow_all_outbound=False,
        )
        endpoints.add_ingress_rule(self.loader_security_group, ec2.Port.tcp(443), "HTTPS from the load job")
        for endpoint_id, service in LOADER_ENDPOINTS.items():
            self.vpc.add_interface_endpoint(
                endpoint_id,
                service=service,
                subnets=ec2.SubnetSelection(subnets=[self.loader_subnet]),
                private_dns_enabled=True,
                security_groups=[endpoints],
                open=False,
            )
        self.connection_name = names.warehouse_connection
        self.connection = glue.CfnConnection(
            self,
            "GlueConnection",
            catalog_id=Stack.of(self).account,
            connection_input=glue.CfnConnection.ConnectionInputProperty(
                name=self.connection_name,
                description="Runs the warehouse-load Glue job inside the warehouse VPC",
                connection_type="NETWORK",
                physical_connection_requirements=glue.CfnConnection.PhysicalConnectionRequirementsProperty(
                    availability_zone=self.loader_subnet.availability_zone,
                    subnet_id=self.loader_subnet.subnet_id,
                    security_group_id_list=[self.loader_security_group.security_group_id],
                ),
            ),
        )
