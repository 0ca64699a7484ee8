import json

import pytest

from lakehouse.core.config import Settings
from tests.infra.conftest import synthesize

LAKE = "arn:${AWS::Partition}:s3:::customer-lakehouse-dev-lake"


def _one(synth, resource_type: str) -> dict:
    (resource,) = synth.resources("Warehouse", resource_type).values()
    return resource["Properties"]


def test_workgroup_is_private_with_enhanced_vpc_routing_in_three_isolated_subnets(dev) -> None:
    names = Settings(stage="dev").names
    workgroup = _one(dev, "AWS::RedshiftServerless::Workgroup")
    assert workgroup["WorkgroupName"] == names.redshift_workgroup
    assert workgroup["NamespaceName"] == names.redshift_namespace
    assert workgroup["EnhancedVpcRouting"] is True and workgroup["PubliclyAccessible"] is False
    assert {"ParameterKey": "require_ssl", "ParameterValue": "true"} in workgroup["ConfigParameters"]
    subnets = dev.resources("Warehouse", "AWS::EC2::Subnet")
    assert sorted(dev.render(s, "Warehouse") for s in workgroup["SubnetIds"]) == sorted(f"${{{k}}}" for k in subnets)
    assert len({s["Properties"]["AvailabilityZone"] for s in subnets.values()}) == 3
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    assert not dev.resources("Warehouse", "AWS::EC2::InternetGateway")
    assert not dev.resources("Warehouse", "AWS::EC2::NatGateway")
    endpoints = [e["Properties"] for e in dev.resources("Warehouse", "AWS::EC2::VPCEndpoint").values()]
    (gateway,) = [e for e in endpoints if e["VpcEndpointType"] == "Gateway"]
    assert dev.render(gateway["ServiceName"], "Warehouse").endswith(".s3")
    assert len(dev.resources("Warehouse", "AWS::EC2::FlowLog")) == 1


def _security_group(synth, prefix: str) -> dict:
    (group,) = [g for k, g in synth.resources("Warehouse", "AWS::EC2::SecurityGroup").items() if k.startswith(prefix)]
    return group["Properties"]


def test_redshift_admits_sql_only_from_the_load_job_and_sends_only_https(dev) -> None:
    group = _security_group(dev, "RedshiftSecurityGroup")
    assert "SecurityGroupIngress" not in group  # the only rule is the separate one below
    ingress = [
        i["Properties"]
        for i in dev.resources("Warehouse", "AWS::EC2::SecurityGroupIngress").values()
        if dev.render(i["Properties"]["GroupId"], "Warehouse").startswith("${RedshiftSecurityGroup")
    ]
    assert len(ingress) == 1
    assert (ingress[0]["FromPort"], ingress[0]["ToPort"], ingress[0]["IpProtocol"]) == (5439, 5439, "tcp")
    assert dev.render(ingress[0]["SourceSecurityGroupId"], "Warehouse").startswith("${NetworkLoaderSecurityGroup")
    assert group["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS to S3 through the gateway endpoint (no other route)",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]


def test_namespace_is_kms_encrypted_audited_and_takes_its_password_from_the_secret(dev) -> None:
    namespace = _one(dev, "AWS::RedshiftServerless::Namespace")
    assert dev.render(namespace["KmsKeyId"], "Warehouse").startswith("${Storage:LakeKey")
    assert namespace["LogExports"] == ["userlog", "connectionlog", "useractivitylog"]
    password = dev.render(namespace["AdminUserPassword"], "Warehouse")
    assert password.startswith("{{resolve:secretsmanager:${RedshiftAdminSecret") and password.endswith(":password::}}")
    secret = _one(dev, "AWS::SecretsManager::Secret")
    assert dev.render(secret["KmsKeyId"], "Warehouse").startswith("${Storage:LakeKey")
    assert '"username": "lakehouse_admin"' in secret["GenerateSecretString"]["SecretStringTemplate"]
    assert [dev.render(r, "Warehouse") for r in namespace["IamRoles"]] == ["${RedshiftCopyRole*.Arn}"] or dev.render(
        namespace["IamRoles"][0], "Warehouse"
    ).startswith("${RedshiftCopyRole")


def test_copy_role_reads_only_the_warehouse_prefix(dev, grants) -> None:
    statements = dev.policy_statements("Warehouse", "RedshiftCopyRoleDefaultPolicy")
    grants(
        statements,
        {
            ("s3:GetObject",): [f"{LAKE}/warehouse/*"],
            ("s3:ListBucket",): [LAKE],
            ("kms:Decrypt",): ["${Storage:LakeKey*.Arn}"],
        },
    )
    (listing,) = [s for s in statements if s["actions"] == ("s3:ListBucket",)]
    assert listing["condition"] == {"StringLike": {"s3:prefix": ["warehouse/", "warehouse/*"]}}
    (role,) = [r for k, r in dev.resources("Warehouse", "AWS::IAM::Role").items() if k.startswith("RedshiftCopyRole")]
    principals = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    assert sorted(principals) == ["redshift-serverless.amazonaws.com", "redshift.amazonaws.com"]


def test_capacity_follows_the_stage(dev, prod) -> None:
    """Both stages start at 4 RPUs, the smallest base capacity Redshift Serverless offers (Amazon Redshift
    Management Guide, "Compute capacity for Amazon Redshift Serverless": 4, or 8 to 512 in steps of 8)."""
    assert (
        _one(dev, "AWS::RedshiftServerless::Workgroup")["BaseCapacity"],
        _one(dev, "AWS::RedshiftServerless::Workgroup")["MaxCapacity"],
    ) == (4, 32)
    assert _one(prod, "AWS::RedshiftServerless::Workgroup")["BaseCapacity"] == 4
    assert _one(prod, "AWS::RedshiftServerless::Workgroup")["MaxCapacity"] == 128


def _usage_limit_calls(synth) -> dict[str, dict]:
    (limit,) = synth.resources("Warehouse", "Custom::AWS").values()
    return {verb: json.loads(synth.render(limit["Properties"][verb], "Warehouse"))
            for verb in ("Create", "Update", "Delete")}


@pytest.mark.parametrize(("stage", "amount", "period"), [("dev", 24, "daily"), ("prod", 2000, "monthly")])
def test_a_usage_limit_caps_the_workgroups_rpu_hours(request, stage: str, amount: int, period: str) -> None:
    """The calls follow the Redshift Serverless API Reference: CreateUsageLimit takes resourceArn, usageType
    (serverless-compute | cross-region-datasharing), amount (RPU-hours, a positive long), period (daily | weekly
    | monthly) and breachAction (log | emit-metric | deactivate); UpdateUsageLimit takes usageLimitId, amount and
    breachAction only (the period cannot change); DeleteUsageLimit takes usageLimitId."""
    synth = request.getfixturevalue(stage)
    calls = _usage_limit_calls(synth)
    create = calls["Create"]
    assert create["service"] == "redshift-serverless" and create["action"] == "CreateUsageLimit"
    (workgroup,) = synth.resources("Warehouse", "AWS::RedshiftServerless::Workgroup")
    assert create["parameters"] == {"resourceArn": f"${{{workgroup}.Workgroup.WorkgroupArn}}",
                                    "usageType": "serverless-compute", "amount": amount, "period": period,
                                    "breachAction": "deactivate"}
    assert create["physicalResourceId"] == {"responsePath": "usageLimit.usageLimitId"}
    assert calls["Update"]["action"] == "UpdateUsageLimit"
    assert set(calls["Update"]["parameters"]) == {"usageLimitId", "amount", "breachAction"}
    assert calls["Delete"]["action"] == "DeleteUsageLimit" and set(calls["Delete"]["parameters"]) == {"usageLimitId"}
    statements = [s for s in synth.policy_statements("Warehouse", "RedshiftUsageLimit")]
    assert sorted(a for s in statements for a in s["actions"]) == [
        "redshift-serverless:CreateUsageLimit", "redshift-serverless:DeleteUsageLimit",
        "redshift-serverless:UpdateUsageLimit"]


def test_no_usage_limit_when_the_amount_is_zero(tmp_path) -> None:
    synth = synthesize(tmp_path, redshift_usage_limit_rpu_hours="0")
    assert not synth.resources("Warehouse", "Custom::AWS")


def test_load_job_reaches_aws_apis_through_endpoints_in_its_own_subnet_only(dev) -> None:
    names = Settings(stage="dev").names
    (connection,) = dev.resources("Warehouse", "AWS::Glue::Connection").values()
    connection_input = connection["Properties"]["ConnectionInput"]
    assert connection_input["Name"] == names.warehouse_connection
    assert connection_input["ConnectionType"] == "NETWORK"
    requirements = connection_input["PhysicalConnectionRequirements"]
    loader_subnet = dev.render(requirements["SubnetId"], "Warehouse")
    assert loader_subnet.startswith("${NetworkVpcwarehouseSubnet1Subnet")
    interfaces = [
        e["Properties"]
        for e in dev.resources("Warehouse", "AWS::EC2::VPCEndpoint").values()
        if e["Properties"]["VpcEndpointType"] == "Interface"
    ]
    services = sorted(dev.render(e["ServiceName"], "Warehouse").rsplit(".", 1)[1] for e in interfaces)
    assert services == ["glue", "logs", "monitoring", "secretsmanager"]
    for endpoint in interfaces:
        assert [dev.render(s, "Warehouse") for s in endpoint["SubnetIds"]] == [loader_subnet]
        assert endpoint["PrivateDnsEnabled"] is True
    rules = [r["Properties"] for r in dev.resources("Warehouse", "AWS::EC2::SecurityGroupIngress").values()]

    def ingress_of(prefix: str) -> list[tuple]:
        return [
            (r["FromPort"], r["ToPort"], dev.render(r["SourceSecurityGroupId"], "Warehouse").split(".")[0])
            for r in rules
            if dev.render(r["GroupId"], "Warehouse").startswith("${" + prefix)
        ]

    loader = ingress_of("NetworkLoaderSecurityGroup")
    assert len(loader) == 1 and loader[0][:2] == (0, 65535) and loader[0][2].startswith("${NetworkLoaderSecurity")
    endpoint = ingress_of("NetworkEndpointSecurityGroup")
    assert len(endpoint) == 1 and endpoint[0][:2] == (443, 443) and endpoint[0][2].startswith("${NetworkLoader")
    assert all("CidrIp" not in r for r in rules)
