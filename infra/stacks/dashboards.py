"""Dashboards: QuickSight on the warehouse, generated from the metrics layer (only with ``-c quicksight=true``).

What it creates (docs/dashboards-aws.md):

* a QuickSight VPC connection into the warehouse VPC's isolated subnets (the workgroup is not publicly
  accessible), with its execution role and a security group that may reach the workgroup's SQL port; the
  workgroup's security group lets that group in (the rule lives in this stack, so the Warehouse stack's template
  is the same with QuickSight on or off);
* a REDSHIFT data source on the workgroup endpoint (SSL on; credentials resolved by CloudFormation from the
  warehouse admin secret);
* one DIRECT_QUERY custom-SQL dataset per metrics-layer source table plus the day-grain dataset of cross-source
  ratios (:mod:`lakehouse.core.metrics.quicksight`); DIRECT_QUERY so the numbers are the warehouse's as soon as
  a load commits, with no SPICE capacity or refresh schedule to buy and keep in step;
* an analysis and a dashboard with the same definition (:mod:`infra.components.quicksight_analysis`).

Every QuickSight resource is owned by the principal of ``-c quicksightPrincipal=<user or group ARN>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_quicksight as quicksight
from constructs import Construct

from infra.components import quicksight_analysis
from infra.components.nag import acknowledge
from infra.components.redshift_serverless import PORT
from infra.config import Deployment
from infra.stacks.warehouse import WarehouseStack
from lakehouse.core.metrics import quicksight as qs

DATA_SOURCE_ACTIONS = (
    "quicksight:DescribeDataSource",
    "quicksight:DescribeDataSourcePermissions",
    "quicksight:PassDataSource",
    "quicksight:UpdateDataSource",
    "quicksight:DeleteDataSource",
    "quicksight:UpdateDataSourcePermissions",
)
DATA_SET_ACTIONS = (
    "quicksight:DescribeDataSet",
    "quicksight:DescribeDataSetPermissions",
    "quicksight:PassDataSet",
    "quicksight:DescribeIngestion",
    "quicksight:ListIngestions",
    "quicksight:UpdateDataSet",
    "quicksight:DeleteDataSet",
    "quicksight:CreateIngestion",
    "quicksight:CancelIngestion",
    "quicksight:UpdateDataSetPermissions",
)
ANALYSIS_ACTIONS = (
    "quicksight:RestoreAnalysis",
    "quicksight:UpdateAnalysisPermissions",
    "quicksight:DeleteAnalysis",
    "quicksight:DescribeAnalysisPermissions",
    "quicksight:QueryAnalysis",
    "quicksight:DescribeAnalysis",
    "quicksight:UpdateAnalysis",
)
DASHBOARD_ACTIONS = (
    "quicksight:DescribeDashboard",
    "quicksight:ListDashboardVersions",
    "quicksight:UpdateDashboardPermissions",
    "quicksight:QueryDashboard",
    "quicksight:UpdateDashboard",
    "quicksight:DeleteDashboard",
    "quicksight:DescribeDashboardPermissions",
    "quicksight:UpdateDashboardPublishedVersion",
)
#: what QuickSight needs to place its network interfaces in the VPC (QuickSight User Guide, "Configuring the VPC
#: connection with the QuickSight CLI": the execution role's minimum EC2 permissions)
VPC_CONNECTION_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)


def _logical(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


class DashboardsStack(Stack):
    """QuickSight data source, datasets, analysis and dashboard on the warehouse (see the module docstring)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        warehouse: WarehouseStack,
        sql_dir: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        names = deployment.names
        principal = deployment.quicksight.principal_arn
        account = Stack.of(self).account

        def owner(permission: Any, actions: tuple[str, ...]) -> list[Any]:
            return [permission(principal=principal, actions=list(actions))]

        # --- network: QuickSight's interfaces in the warehouse VPC -------------------------------------------
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=warehouse.vpc,
            description="QuickSight VPC connection: SQL to the Redshift workgroup, replies from it",
            allow_all_outbound=False,
        )
        workgroup_sg = warehouse.redshift.security_group
        self.security_group.add_egress_rule(workgroup_sg, ec2.Port.tcp(PORT), "SQL to the Redshift workgroup")
        # QuickSight's interface security group is not stateful: replies from the database need an inbound rule
        # (QuickSight User Guide, "Configuring the VPC connection": rules for the QuickSight security group).
        self.security_group.add_ingress_rule(workgroup_sg, ec2.Port.all_tcp(), "Replies from the Redshift workgroup")
        ec2.CfnSecurityGroupIngress(
            self,
            "WorkgroupIngressFromQuickSight",
            group_id=workgroup_sg.security_group_id,
            ip_protocol="tcp",
            from_port=PORT,
            to_port=PORT,
            source_security_group_id=self.security_group.security_group_id,
            description="SQL from the QuickSight VPC connection",
        )
        self.vpc_role = iam.Role(
            self,
            "VpcConnectionRole",
            assumed_by=iam.ServicePrincipal("quicksight.amazonaws.com"),
            description="QuickSight VPC connection: manage its network interfaces in the warehouse VPC",
        )
        self.vpc_role.add_to_policy(iam.PolicyStatement(actions=list(VPC_CONNECTION_ACTIONS), resources=["*"]))
        acknowledge(
            self.vpc_role,
            "AwsSolutions-IAM5[Resource::*]",
            "QuickSight creates its network interfaces at connection time; their ids are unknown in advance, and "
            "ec2:Describe* actions support no resource-level permissions (QuickSight VPC connection docs).",
        )
        self.vpc_connection = quicksight.CfnVPCConnection(
            self,
            "VpcConnection",
            aws_account_id=account,
            vpc_connection_id=f"{names.prefix}-warehouse",
            name=f"{names.prefix} warehouse VPC",
            role_arn=self.vpc_role.role_arn,
            security_group_ids=[self.security_group.security_group_id],
            subnet_ids=warehouse.network.subnets.subnet_ids,
        )
        self.vpc_connection.node.add_dependency(self.vpc_role)

        # --- the data source ------------------------------------------------------------------------------
        secret = warehouse.admin_secret
        self.data_source = quicksight.CfnDataSource(
            self,
            "DataSource",
            aws_account_id=account,
            data_source_id=f"{names.prefix}-redshift",
            name=f"{names.prefix} warehouse (Redshift Serverless)",
            type="REDSHIFT",
            data_source_parameters=quicksight.CfnDataSource.DataSourceParametersProperty(
                redshift_parameters=quicksight.CfnDataSource.RedshiftParametersProperty(
                    host=warehouse.workgroup.attr_workgroup_endpoint_address,
                    port=PORT,
                    database=deployment.settings.redshift.database,
                )
            ),
            credentials=quicksight.CfnDataSource.DataSourceCredentialsProperty(
                credential_pair=quicksight.CfnDataSource.CredentialPairProperty(
                    username=secret.secret_value_from_json("username").unsafe_unwrap(),
                    password=secret.secret_value_from_json("password").unsafe_unwrap(),
                )
            ),
            ssl_properties=quicksight.CfnDataSource.SslPropertiesProperty(disable_ssl=False),
            vpc_connection_properties=quicksight.CfnDataSource.VpcConnectionPropertiesProperty(
                vpc_connection_arn=self.vpc_connection.attr_arn
            ),
            permissions=owner(quicksight.CfnDataSource.ResourcePermissionProperty, DATA_SOURCE_ACTIONS),
        )

        # --- datasets: one per source table, plus the daily ratios ---------------------------------------
        self.datasets: dict[str, quicksight.CfnDataSet] = {}
        for dataset in qs.datasets(qs.warehouse_columns(sql_dir)):
            table_id = dataset.identifier.replace("_", "-")
            self.datasets[dataset.identifier] = quicksight.CfnDataSet(
                self,
                f"DataSet{_logical(dataset.identifier)}",
                aws_account_id=account,
                data_set_id=f"{names.prefix}-{table_id}",
                name=f"{names.prefix} {dataset.identifier}",
                import_mode="DIRECT_QUERY",
                physical_table_map={
                    table_id: quicksight.CfnDataSet.PhysicalTableProperty(
                        custom_sql=quicksight.CfnDataSet.CustomSqlProperty(
                            data_source_arn=self.data_source.attr_arn,
                            name=dataset.identifier,
                            sql_query=dataset.sql,
                            columns=[
                                quicksight.CfnDataSet.InputColumnProperty(
                                    name=c.name, type=c.type.value, sub_type=c.sub_type
                                )
                                for c in dataset.columns
                            ],
                        )
                    )
                },
                permissions=owner(quicksight.CfnDataSet.ResourcePermissionProperty, DATA_SET_ACTIONS),
            )

        # --- analysis and dashboard -------------------------------------------------------------------------
        definition = quicksight_analysis.definition({k: v.attr_arn for k, v in self.datasets.items()})
        self.analysis = quicksight.CfnAnalysis(
            self,
            "Analysis",
            aws_account_id=account,
            analysis_id=f"{names.prefix}-customer-lakehouse",
            name=f"Customer Lakehouse ({names.prefix})",
            permissions=owner(quicksight.CfnAnalysis.ResourcePermissionProperty, ANALYSIS_ACTIONS),
        )
        self.analysis.add_property_override("Definition", definition)
        self.dashboard = quicksight.CfnDashboard(
            self,
            "Dashboard",
            aws_account_id=account,
            dashboard_id=f"{names.prefix}-customer-lakehouse",
            name=f"Customer Lakehouse ({names.prefix})",
            permissions=owner(quicksight.CfnDashboard.ResourcePermissionProperty, DASHBOARD_ACTIONS),
        )
        self.dashboard.add_property_override("Definition", definition)

        CfnOutput(self, "DashboardId", value=self.dashboard.dashboard_id, description="QuickSight dashboard id")
        CfnOutput(self, "AnalysisId", value=self.analysis.analysis_id, description="QuickSight analysis id")
