from aws_cdk.assertions import Match

from lakehouse.core.config import Settings


def _bucket(synth, name: str) -> dict:
    (bucket,) = [
        b for b in synth.resources("Storage", "AWS::S3::Bucket").values() if b["Properties"].get("BucketName") == name
    ]
    return bucket["Properties"]


def test_lake_bucket_is_kms_encrypted_private_versioned_and_logged(dev) -> None:
    names = Settings(stage="dev").names
    lake = _bucket(dev, names.lake_bucket)
    (rule,) = lake["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert dev.render(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"], "Storage").startswith("${LakeKey")
    assert rule["BucketKeyEnabled"] is True
    assert lake["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert lake["VersioningConfiguration"] == {"Status": "Enabled"}
    assert lake["LoggingConfiguration"]["LogFilePrefix"] == f"{names.lake_bucket}/"
    assert "AccessLogs" in dev.render(lake["LoggingConfiguration"]["DestinationBucketName"], "Storage")


def test_raw_data_tiers_to_infrequent_access_then_glacier_and_quarantine_expires(dev, prod) -> None:
    for synth, glacier_days, quarantine_days in ((dev, 90, 90), (prod, 180, 365)):
        stage = synth.lakehouse.deployment.settings.stage
        rules = {
            r["Id"]: r
            for r in _bucket(synth, Settings(stage=stage).names.lake_bucket)["LifecycleConfiguration"]["Rules"]
        }
        raw = rules["raw-tiering"]
        assert raw["Prefix"] == "raw/"
        assert raw["Transitions"] == [
            {"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
            {"StorageClass": "GLACIER_IR", "TransitionInDays": glacier_days},
        ]
        assert rules["quarantine-expiry"]["Prefix"] == "quarantine/"
        assert rules["quarantine-expiry"]["ExpirationInDays"] == quarantine_days
        assert rules["checkpoints-old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
        assert rules["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_access_log_bucket_uses_s3_managed_keys_because_s3_logging_requires_it(dev) -> None:
    logs = _bucket(dev, Settings(stage="dev").names.access_log_bucket)
    (rule,) = logs["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert logs["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 90
    (policy,) = [
        p
        for p in dev.resources("Storage", "AWS::S3::BucketPolicy").values()
        if "AccessLogs" in dev.render(p["Properties"]["Bucket"], "Storage")
    ]
    delivery = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in delivery] == [{"Service": "logging.s3.amazonaws.com"}]


def test_every_bucket_policy_denies_requests_without_tls(dev) -> None:
    buckets = dev.all_resources("AWS::S3::Bucket")
    policies = dev.all_resources("AWS::S3::BucketPolicy")
    assert len(buckets) == 2
    denied = set()
    for path, policy in policies.items():
        stack_id = path.split("/")[0]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                assert statement["Principal"] == {"AWS": "*"}
                assert statement["Action"] == "s3:*"
                denied.add(dev.render(policy["Properties"]["Bucket"], stack_id))
    assert denied == {"${" + logical + "}" for logical in dev.resources("Storage", "AWS::S3::Bucket")}


def test_key_rotates_and_lets_only_this_accounts_log_groups_use_it(dev, prod) -> None:
    dev.template("Storage").has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    dev.template("Storage").has_resource_properties(
        "AWS::KMS::Alias", {"AliasName": "alias/customer-lakehouse-dev-lake"}
    )
    (key,) = dev.resources("Storage", "AWS::KMS::Key").values()
    logs = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "CloudWatchLogsEncryptsThisAccountsLogGroups"
    ]
    assert len(logs) == 1
    assert "kms:EncryptionContext:aws:logs:arn" in logs[0]["Condition"]["ArnLike"]
    assert all(
        "*" not in action for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") for action in s["Action"]
    )
    assert key["DeletionPolicy"] == "Delete"
    (prod_key,) = prod.resources("Storage", "AWS::KMS::Key").values()
    assert prod_key["DeletionPolicy"] == "Retain"


def test_data_is_retained_in_prod_and_removable_in_dev(dev, prod) -> None:
    for synth, policy in ((dev, "Delete"), (prod, "Retain")):
        for resource_type in ("AWS::S3::Bucket", "AWS::DynamoDB::GlobalTable", "AWS::Kinesis::Stream"):
            found = synth.all_resources(resource_type)
            assert found, resource_type
            assert {r["DeletionPolicy"] for r in found.values()} == {policy}, resource_type


def test_alarm_topic_is_encrypted_and_refuses_plain_http(dev) -> None:
    template = dev.template("Storage")
    template.has_resource_properties(
        "AWS::SNS::Topic", {"TopicName": "customer-lakehouse-dev-alarms", "KmsMasterKeyId": Match.any_value()}
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
