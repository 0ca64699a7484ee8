"""DynamoDB tables built from the shared ``TableSpec`` list (the local provisioner uses the same list)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import TARGET_UTILIZATION_PERCENT
from lakehouse.core.aws.resources import TableSpec


def provisioned_billing(min_write_units: int, max_write_units: int, read_units: int) -> dynamodb.Billing:
    """Provisioned capacity: writes under target-tracking auto scaling between the two bounds (a global table's
    write capacity must be auto scaled), reads fixed."""
    return dynamodb.Billing.provisioned(
        read_capacity=dynamodb.Capacity.fixed(read_units),
        write_capacity=dynamodb.Capacity.autoscaled(
            min_capacity=min_write_units, max_capacity=max_write_units,
            target_utilization_percent=TARGET_UTILIZATION_PERCENT,
        ),
    )


class LakehouseTable(Construct):
    """A table with the spec's string partition key and TTL, KMS encryption and point-in-time recovery; on demand
    unless ``billing`` says otherwise."""

    def __init__(self, scope: Construct, construct_id: str, *, spec: TableSpec, key: kms.IKey, retain: bool,
                 billing: dynamodb.Billing | None = None) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.table = dynamodb.TableV2(
            self,
            "Table",
            table_name=spec.name,
            partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
            billing=billing or dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.ttl_attribute,
            deletion_protection=retain,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
