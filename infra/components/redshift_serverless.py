"""Redshift Serverless: namespace (KMS, audit logs, admin secret) and a private workgroup with enhanced VPC routing.

The COPY role may read only the lake's ``warehouse/`` prefix (objects and listing) and decrypt through S3.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_redshiftserverless as redshift
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.components import policies
from infra.components.log_group import encrypted_log_group
from infra.components.nag import acknowledge
from infra.components.redshift_usage_limit import RedshiftUsageLimit
from infra.components.warehouse_network import WarehouseNetwork
from infra.config import Deployment

ADMIN_USER = "lakehouse_admin"
PORT = 5439
LOG_EXPORTS = ["userlog", "connectionlog", "useractivitylog"]


class RedshiftServerless(Construct):
    """The namespace, workgroup, admin secret and COPY role of the warehouse (see the module docstring)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        network: WarehouseNetwork,
        key: kms.IKey,
        lake_bucket: str,
    ) -> None:
        super().__init__(scope, construct_id)
        names = deployment.names
        profile = deployment.profile
        database = deployment.settings.redshift.database
        removal = RemovalPolicy.RETAIN if profile.retain_data else RemovalPolicy.DESTROY

        self.admin_secret = secretsmanager.Secret(
            self,
            "AdminSecret",
            description=f"Admin credentials of the Redshift Serverless namespace {names.redshift_namespace}",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=f'{{"username": "{ADMIN_USER}"}}',
                generate_string_key="password",
                exclude_characters="\"'@/\\ `",
                password_length=32,
            ),
            removal_policy=removal,
        )
        acknowledge(
            self.admin_secret,
            "AwsSolutions-SMG4",
            "Rotating a Redshift Serverless admin password needs a rotation function inside the isolated VPC; "
            "rotate on demand (docs/deploy.md) until a rotation schedule is added.",
        )

        warehouse_prefix = deployment.zone_prefix("warehouse")
        self.copy_role = iam.Role(
            self,
            "CopyRole",
            assumed_by=iam.CompositePrincipal(
                iam.ServicePrincipal("redshift.amazonaws.com"),
                iam.ServicePrincipal("redshift-serverless.amazonaws.com"),
            ),
            description="Redshift COPY from the lake's warehouse/ prefix",
        )
        for statement in (
            policies.s3_objects(lake_bucket, policies.S3_READ, [warehouse_prefix]),
            policies.s3_list(lake_bucket, [warehouse_prefix]),
            policies.kms_via(key, policies.KMS_DECRYPT, ["s3"]),
        ):
            self.copy_role.add_to_policy(statement)
        policies.acknowledge_prefixes(self.copy_role, lake_bucket, [warehouse_prefix])

        self.namespace = redshift.CfnNamespace(
            self,
            "Namespace",
            namespace_name=names.redshift_namespace,
            db_name=database,
            admin_username=ADMIN_USER,
            admin_user_password=self.admin_secret.secret_value_from_json("password").unsafe_unwrap(),
            kms_key_id=key.key_id,
            iam_roles=[self.copy_role.role_arn],
            default_iam_role_arn=self.copy_role.role_arn,
            log_exports=LOG_EXPORTS,
        )
        self.namespace.apply_removal_policy(removal)

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description=f"Redshift Serverless workgroup {names.redshift_workgroup} (SQL on {PORT} from allowed peers)",
            allow_all_outbound=False,
        )
        # Enhanced VPC routing sends COPY traffic through the VPC: the isolated subnets' only route out is the S3
        # gateway endpoint, so HTTPS egress reaches S3 and nothing else.
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to S3 through the gateway endpoint (no other route)"
        )
        self.workgroup = redshift.CfnWorkgroup(
            self,
            "Workgroup",
            workgroup_name=names.redshift_workgroup,
            namespace_name=names.redshift_namespace,
            base_capacity=profile.redshift_base_rpu,
            max_capacity=profile.redshift_max_rpu,
            enhanced_vpc_routing=True,
            publicly_accessible=False,
            port=PORT,
            subnet_ids=network.subnets.subnet_ids,
            security_group_ids=[self.security_group.security_group_id],
            config_parameters=[
                redshift.CfnWorkgroup.ConfigParameterProperty(parameter_key="require_ssl", parameter_value="true"),
                redshift.CfnWorkgroup.ConfigParameterProperty(
                    parameter_key="enable_user_activity_logging", parameter_value="true"
                ),
            ],
        )
        self.allow_sql_from(network.loader_security_group, "warehouse-load Glue job")
        self.workgroup.node.add_dependency(self.namespace)
        self.workgroup.apply_removal_policy(removal)

        self.usage_limit = None
        if profile.redshift_usage_limit_rpu_hours:
            self.usage_limit = RedshiftUsageLimit(
                self,
                "UsageLimit",
                workgroup_arn=self.workgroup.attr_workgroup_workgroup_arn,
                amount=profile.redshift_usage_limit_rpu_hours,
                period=profile.redshift_usage_limit_period,
                breach_action=profile.redshift_usage_limit_action,
                log_group=encrypted_log_group(
                    self,
                    "UsageLimitLogs",
                    name=f"/aws/lambda/{names.redshift_workgroup}-usage-limit",
                    key=key,
                    days=profile.log_retention_days,
                    retain=False,
                ),
            )

    def allow_sql_from(self, peer: ec2.ISecurityGroup, description: str) -> None:
        """Let a security group (a Glue connection's) reach the workgroup's SQL port."""
        self.security_group.add_ingress_rule(peer, ec2.Port.tcp(PORT), description)
