"""The whole app: encryption everywhere, no wildcard actions, cdk-nag and cfn-lint clean, names from Settings."""

import pytest

from infra.check import lint, validation_violations
from lakehouse.core.config import Settings

STACKS = ("Storage", "Streaming", "Ingestion", "Warehouse", "Batch", "Monitoring")


def _encrypted(resource_type: str, props: dict) -> bool:
    checks = {
        "AWS::S3::Bucket": lambda p: bool(p["BucketEncryption"]["ServerSideEncryptionConfiguration"]),
        "AWS::DynamoDB::GlobalTable": lambda p: (
            p["SSESpecification"]["SSEEnabled"] is True and p["SSESpecification"]["SSEType"] == "KMS"
        ),
        "AWS::Kinesis::Stream": lambda p: p["StreamEncryption"]["EncryptionType"] == "KMS",
        "AWS::Logs::LogGroup": lambda p: "KmsKeyId" in p,
        "AWS::SNS::Topic": lambda p: "KmsMasterKeyId" in p,
        "AWS::SecretsManager::Secret": lambda p: "KmsKeyId" in p,
        # a function holds data in its environment only (the usage limit's custom-resource function has none)
        "AWS::Lambda::Function": lambda p: "KmsKeyArn" in p or "Environment" not in p,
        "AWS::RedshiftServerless::Namespace": lambda p: "KmsKeyId" in p,
        "AWS::Glue::Job": lambda p: "SecurityConfiguration" in p,
    }
    return checks[resource_type](props)


@pytest.mark.parametrize(
    "resource_type",
    [
        "AWS::S3::Bucket",
        "AWS::DynamoDB::GlobalTable",
        "AWS::Kinesis::Stream",
        "AWS::Logs::LogGroup",
        "AWS::SNS::Topic",
        "AWS::SecretsManager::Secret",
        "AWS::Lambda::Function",
        "AWS::RedshiftServerless::Namespace",
        "AWS::Glue::Job",
    ],
)
def test_every_data_holding_resource_is_encrypted(dev, prod, resource_type: str) -> None:
    for synth in (dev, prod):
        found = synth.all_resources(resource_type)
        assert found, f"no {resource_type} in the app"
        unencrypted = [path for path, r in found.items() if not _encrypted(resource_type, r["Properties"])]
        assert not unencrypted, f"unencrypted {resource_type}: {unencrypted}"


def test_no_identity_policy_allows_a_wildcard_action(dev, prod) -> None:
    for synth in (dev, prod):
        for path, policy in synth.all_resources("AWS::IAM::Policy").items():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all("*" not in action for action in actions), f"{path}: {actions}"
        for path, role in synth.all_resources("AWS::IAM::Role").items():
            assert "Policies" not in role["Properties"], f"{path} has inline policies outside AWS::IAM::Policy"


def test_cdk_nag_reports_no_unacknowledged_error(dev, prod) -> None:
    for synth in (dev, prod):
        report = synth.validation_report()
        errors = [f for f in validation_violations(synth.outdir) if f.severity == "error"]
        assert not errors, errors
        assert all(p["conclusion"] == "success" for p in report["pluginReports"])


def test_every_acknowledgement_has_a_reason_and_none_waives_a_wildcard_action(dev, prod) -> None:
    for synth in (dev, prod):
        assert synth.acknowledged
        for acknowledged in synth.acknowledged:
            assert acknowledged.rule.startswith("AwsSolutions-")
            assert len(acknowledged.reason) >= 40, acknowledged
            assert "[Action::" not in acknowledged.rule, acknowledged


def test_every_acknowledgement_matches_a_real_finding(dev, unacknowledged_findings) -> None:
    """Synthesized without acknowledgements, each recorded one must show up as a violation where it was made."""
    assert unacknowledged_findings
    for acknowledged in dev.acknowledged:
        assert any(
            rule == acknowledged.rule and path.startswith(acknowledged.path + "/")
            for rule, path in unacknowledged_findings
        ), f"stale acknowledgement: {acknowledged}"


def test_cfn_lint_finds_no_error_in_any_template(dev, prod) -> None:
    for synth in (dev, prod):
        findings = lint(synth.outdir)
        assert not [f for f in findings if f.severity == "error"], findings
        assert {f.rule for f in findings} <= {"W3005", "W3010"}, findings


def test_every_resource_the_configuration_names_exists_under_that_name(dev) -> None:
    names = Settings(stage="dev").names
    text = "".join((dev.outdir / f"{stack}.template.json").read_text() for stack in STACKS)
    for field, value in names.model_dump().items():
        if field == "prefix":
            continue
        assert f'"{value}"' in text, f"{field} = {value!r} is not the name of any resource"


def test_stacks_are_named_after_the_stage_and_deploy_in_dependency_order(dev, prod) -> None:
    for synth in (dev, prod):
        stacks = synth.lakehouse.stacks
        prefix = synth.lakehouse.deployment.names.prefix
        assert [s.stack_name for s in stacks] == [f"{prefix}-{s.lower()}" for s in STACKS]
        for index, stack in enumerate(stacks):
            assert all(dep in stacks[:index] for dep in stack.dependencies), stack.stack_name
        assert all(s.termination_protection is (synth is prod) for s in stacks)
