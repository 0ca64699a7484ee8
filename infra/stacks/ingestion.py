"""Ingestion: REST API → ingest Lambda → Kinesis (accepted) and S3 quarantine/ (rejected); the write-key table;
their alarms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from infra.build import ROOT
from infra.components.alarms import FIVE_MINUTES, AlarmSet
from infra.components.dynamodb_table import LakehouseTable
from infra.components.ingest_api import IngestApi
from infra.components.ingest_function import IngestFunction
from infra.components.trace_sampling import ApiTraceSampling
from infra.config import Deployment
from infra.stacks.storage import StorageStack
from infra.stacks.streaming import StreamingStack
from lakehouse.core.aws.resources import dynamodb_tables
from lakehouse.core.contract.limits import MAX_REQUEST_BYTES

INGEST_CODE = ROOT / "lambdas" / "ingest"


class IngestionStack(Stack):
    """The public edge of the lakehouse."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        storage: StorageStack,
        streaming: StreamingStack,
        layer_dir: Path,
        code_dir: Path = INGEST_CODE,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        names = deployment.names
        profile = deployment.profile
        (spec,) = [s for s in dynamodb_tables(deployment.settings) if s.name == names.write_keys_table]
        self.write_keys = LakehouseTable(
            self, "WriteKeysTable", spec=spec, key=storage.key, retain=profile.retain_data
        ).table
        ingest = IngestFunction(
            self,
            "Ingest",
            deployment=deployment,
            code_dir=code_dir,
            layer_dir=layer_dir,
            key=storage.key,
            lake_bucket=deployment.lake.bucket,
            stream=streaming.stream,
            write_keys=self.write_keys,
        )
        self.function = ingest.function
        self.role = ingest.role
        api = IngestApi(
            self,
            "Api",
            deployment=deployment,
            function=self.function,
            key=storage.key,
            max_request_bytes=MAX_REQUEST_BYTES,
        )
        self.api = api.api
        self.web_acl = api.web_acl
        self.trace_sampling = ApiTraceSampling(
            self,
            "TraceSampling",
            rule_name=f"{names.prefix}-ingest",
            api_name=names.api,
            stage_name=deployment.settings.stage,
            stage_arn=api.stage.stage_arn,
            rate=profile.trace_sampling_rate,
            reservoir_per_second=profile.trace_reservoir_per_second,
        )

        self.alarms = AlarmSet(self, "Alarms", topic=storage.alarm_topic, prefix=names.prefix)
        self._alarms(profile.ingest_timeout_seconds)

        CfnOutput(self, "IngestUrl", value=api.url, description="POST Segment-style calls to <url>/track etc.")
        CfnOutput(self, "WriteKeysTableName", value=self.write_keys.table_name)

    def _alarms(self, timeout_seconds: int) -> None:
        api, fn, add = self.api, self.function, self.alarms.add
        add(
            "ApiServerErrors",
            metric=api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            threshold=5,
            description="The ingestion API answered 5xx (function errors, throttling by Lambda, Kinesis 503s).",
        )
        add(
            "ApiClientErrorRate",
            metric=api.metric_client_error(period=FIVE_MINUTES, statistic="Average"),
            threshold=0.25,
            periods=3,
            description="More than a quarter of API calls were rejected with 4xx for 15 minutes "
            "(bad write keys, invalid events, throttling).",
        )
        add(
            "ApiLatency",
            metric=api.metric_latency(period=FIVE_MINUTES, statistic="p99"),
            threshold=3000,
            periods=3,
            description="p99 API latency above 3 s for 15 minutes.",
        )
        add(
            "IngestErrors",
            metric=fn.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            description="The ingest function raised errors (it answers every expected failure itself).",
        )
        add(
            "IngestThrottles",
            metric=fn.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            description="The ingest function was throttled (concurrency limit reached).",
        )
        add(
            "IngestDuration",
            metric=fn.metric_duration(period=FIVE_MINUTES, statistic="p99"),
            threshold=Duration.seconds(timeout_seconds).to_milliseconds() * 0.8,
            periods=3,
            description="p99 duration of the ingest function above 80% of its timeout for 15 minutes.",
        )
