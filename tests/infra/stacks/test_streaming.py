from lakehouse.core.aws.resources import dynamodb_tables
from lakehouse.core.config import Settings
from lakehouse.core.monitoring import NAMESPACE

LAKE = "arn:${AWS::Partition}:s3:::customer-lakehouse-dev-lake"


def test_stream_is_kms_encrypted_and_sized_by_stage(dev, prod) -> None:
    (stream,) = dev.resources("Streaming", "AWS::Kinesis::Stream").values()
    props = stream["Properties"]
    assert props["Name"] == Settings(stage="dev").names.stream
    assert props["StreamEncryption"]["EncryptionType"] == "KMS"
    assert dev.render(props["StreamEncryption"]["KeyId"], "Streaming").startswith("${Storage:LakeKey")
    assert props["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert props["ShardCount"] == Settings(stage="dev").kinesis_shards
    assert props["RetentionPeriodHours"] == 24
    (prod_stream,) = prod.resources("Streaming", "AWS::Kinesis::Stream").values()
    assert prod_stream["Properties"]["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert "ShardCount" not in prod_stream["Properties"]
    assert prod_stream["Properties"]["RetentionPeriodHours"] == 72


def test_feature_and_scores_tables_follow_the_shared_table_specs(dev) -> None:
    settings = Settings(stage="dev")
    owners = {settings.names.write_keys_table: "Ingestion", settings.names.scores_table: "Batch"}
    specs = {s.name: s for s in dynamodb_tables(settings)}
    tables = {
        t["Properties"]["TableName"]: (t["Properties"], stack)
        for stack in ("Streaming", "Batch")
        for t in dev.resources(stack, "AWS::DynamoDB::GlobalTable").values()
    }
    assert set(tables) == set(specs) - {settings.names.write_keys_table}
    assert {name: stack for name, (_, stack) in tables.items()} == {
        name: owners.get(name, "Streaming") for name in tables}
    for name, (props, stack) in tables.items():
        spec = specs[name]
        assert props["KeySchema"] == [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
        (replica,) = props["Replicas"]
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert "LakeKey" in dev.render(replica["SSESpecification"]["KMSMasterKeyId"], stack)
        if spec.ttl_attribute:
            assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props


def test_prod_feature_table_has_auto_scaled_write_capacity(prod) -> None:
    """prod's profile provisions the feature table (dev and the other tables stay on demand): writes under target
    tracking between the profile's bounds, fixed reads, in the shape CloudFormation's AWS::DynamoDB::GlobalTable
    takes (WriteProvisionedThroughputSettings at the table, ReadProvisionedThroughputSettings per replica)."""
    from infra.config import PROFILES, TARGET_UTILIZATION_PERCENT

    profile = PROFILES["prod"]
    (table,) = prod.resources("Streaming", "AWS::DynamoDB::GlobalTable").values()
    props = table["Properties"]
    assert props["BillingMode"] == "PROVISIONED"
    assert props["WriteProvisionedThroughputSettings"]["WriteCapacityAutoScalingSettings"] == {
        "MinCapacity": profile.features_table_min_write_units,
        "MaxCapacity": profile.features_table_max_write_units,
        "TargetTrackingScalingPolicyConfiguration": {"TargetValue": TARGET_UTILIZATION_PERCENT},
    }
    (replica,) = props["Replicas"]
    assert replica["ReadProvisionedThroughputSettings"] == {"ReadCapacityUnits": profile.features_table_read_units}
    (scores,) = prod.resources("Batch", "AWS::DynamoDB::GlobalTable").values()
    assert scores["Properties"]["BillingMode"] == "PAY_PER_REQUEST"


def test_streaming_job_is_a_glue_5_streaming_job_with_checkpoints_in_the_lake(dev) -> None:
    names = Settings(stage="dev").names
    (job,) = dev.resources("Streaming", "AWS::Glue::Job").values()
    props = job["Properties"]
    assert props["Name"] == names.streaming_job
    assert props["Command"]["Name"] == "gluestreaming"
    assert props["GlueVersion"] == "5.0"
    assert props["SecurityConfiguration"] == names.streaming_glue_security
    args = props["DefaultArguments"]
    assert args["--checkpoint_location"] == f"s3://{names.lake_bucket}/checkpoints/{names.streaming_job}"
    # the raw archive: a second query of the same job, its own checkpoint
    assert args["--raw_archive_checkpoint"] == f"s3://{names.lake_bucket}/checkpoints/{names.raw_archive_job}"
    assert args["--archive_buffer_seconds"] == "300.0"
    assert "--stream_name" not in args  # the job finds the stream by its ARN
    assert args["--lake_root"] == f"s3://{names.lake_bucket}"
    assert dev.render(args["--extra-py-files"], "Streaming").endswith(".zip") and args["--job-language"] == "python"


def test_streaming_job_role_reads_the_stream_and_writes_only_its_tables_and_checkpoints(dev, grants) -> None:
    job = "customer-lakehouse-dev-stream-features"
    grants(
        dev.policy_statements("Streaming", "FeatureJobRoleDefaultPolicy"),
        {
            ("s3:GetObject",): [
                "arn:aws:s3:::cdk-*-assets-*.py",
                "arn:aws:s3:::cdk-*-assets-*.zip",
                "arn:aws:s3:::cdk-*-assets-*.zip",
                f"{LAKE}/state/rfm_breakpoints.json",
                f"{LAKE}/reference/currency_rates.csv",
            ],
            ("s3:PutObject",): [f"{LAKE}/quarantine/*", f"{LAKE}/raw/*"],  # raw/: the raw archive, put only
            ("s3:DeleteObject", "s3:GetObject", "s3:PutObject"): [
                f"{LAKE}/checkpoints/customer-lakehouse-dev-raw-archive/*",
                f"{LAKE}/checkpoints/{job}/*",
                f"{LAKE}/state/{job}/*",
            ],
            ("s3:ListBucket",): [LAKE],
            ("logs:AssociateKmsKey", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"): [
                "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/*",
                "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/*:*",
            ],
            ("cloudwatch:PutMetricData",): ["*"],
            ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"): ["${Storage:LakeKey*.Arn}"],
            (
                "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary",
                "kinesis:GetRecords",
                "kinesis:GetShardIterator",
                "kinesis:ListShards",
            ): ["${Events*.Arn}"],
            ("dynamodb:BatchWriteItem",): ["${CustomerFeaturesTable*.Arn}"],
            ("kms:Decrypt",): ["${Storage:LakeKey*.Arn}"],
            ("kms:Decrypt", "kms:GenerateDataKey"): ["${Storage:LakeKey*.Arn}"],
        },
    )


def test_streaming_job_publishes_metrics_only_to_glue_and_the_archive_heartbeat_namespace(dev) -> None:
    (statement,) = [s for s in dev.policy_statements("Streaming", "FeatureJobRoleDefaultPolicy")
                    if s["actions"] == ("cloudwatch:PutMetricData",)]
    assert statement["condition"] == {"StringEquals": {"cloudwatch:namespace": ["Glue", NAMESPACE]}}


def test_failed_streaming_job_runs_notify_the_alarm_topic(dev) -> None:
    (rule,) = dev.resources("Streaming", "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.glue"]
    assert pattern["detail"]["jobName"] == [Settings(stage="dev").names.streaming_job]
    (target,) = rule["Properties"]["Targets"]
    assert dev.render(target["Arn"], "Streaming").startswith("${Storage:AlarmsTopic")


def test_streaming_job_lists_only_its_prefixes_and_the_published_breakpoints(dev) -> None:
    (listing,) = [
        s
        for s in dev.policy_statements("Streaming", "FeatureJobRoleDefaultPolicy")
        if s["actions"] == ("s3:ListBucket",)
    ]
    job = "customer-lakehouse-dev-stream-features"
    assert listing["condition"] == {
        "StringLike": {
            "s3:prefix": sorted(
                [
                    f"checkpoints/{job}/",
                    f"checkpoints/{job}/*",
                    "checkpoints/customer-lakehouse-dev-raw-archive/",
                    "checkpoints/customer-lakehouse-dev-raw-archive/*",
                    "quarantine/",
                    "quarantine/*",
                    "raw/",
                    "raw/*",
                    f"state/{job}/",
                    f"state/{job}/*",
                    "state/rfm_breakpoints.json",
                    "reference/currency_rates.csv",
                ]
            )
        }
    }


def test_streaming_job_gets_its_tuning_as_parameters(dev) -> None:
    """Glue sets no LAKEHOUSE_STREAM__* variable: the deployment's stream settings reach the job as parameters."""
    (job,) = dev.resources("Streaming", "AWS::Glue::Job").values()
    args = job["Properties"]["DefaultArguments"]
    tuning = dev.lakehouse.deployment.settings.stream
    for name, value in tuning.model_dump(exclude_none=True).items():
        assert args[f"--stream_{name}"] == str(value), name
    shards = dev.lakehouse.deployment.settings.kinesis_shards
    assert args["--stage"] == "dev" and args["--kinesis_shards"] == str(shards)
