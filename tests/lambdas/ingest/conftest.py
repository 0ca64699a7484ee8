"""Fixtures for the ingestion Lambda: settings on moto (local or S3 lake), write keys, request helpers,
read-back of raw objects and Kinesis records, and Kinesis fault injection through botocore event hooks."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from lakehouse.core.lake.raw import decode_lines
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.write_keys import WriteKeyStore
from lakehouse.local.aws.provision import provision
from lakehouse.local.gateway import LocalLambdaContext, proxy_event
from lambdas.ingest.app import create_handler
from lambdas.ingest.kinesis_sink import KINESIS_CONFIG


@pytest.fixture
def s3_settings(moto_endpoint: str, tmp_path: Path) -> Settings:
    """Settings whose lake root is the stage's S3 bucket on moto, everything provisioned."""
    stage = "t" + uuid.uuid4().hex[:10]
    probe = Settings(stage=stage, home=tmp_path / "home")
    settings = Settings(stage=stage, home=tmp_path / "home", lake_root=f"s3://{probe.names.lake_bucket}",
                        ingest={"kinesis_backoff_seconds": 0.01})
    provision(settings)
    return settings


def create_key(settings: Settings, source: str = "web") -> str:
    return WriteKeyStore(settings.names.write_keys_table, settings.region).create(source).key


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class Api:
    """Calls the real handler with API Gateway proxy events, as the gateway does."""

    def __init__(self, settings: Settings, key: str, timeout_ms: int | None = None):
        self.settings = settings
        self.key = key
        self.timeout_ms = timeout_ms  # the function's timeout (None: the gateway's default)
        self.handler = create_handler(settings)

    def call(self, method: str, path: str, body: bytes | str | None = None, *, headers: dict[str, str] | None = None,
             auth: bool = True, binary: bool = True) -> Answer:
        data = body.encode() if isinstance(body, str) else (body or b"")
        sent = {"Content-Type": "application/json"}
        if auth:
            sent["Authorization"] = basic(self.key)
        sent.update(headers or {})
        event = proxy_event(method, path, [(k, v) for k, v in sent.items() if v is not None], data,
                            source_ip="203.0.113.9", stage=self.settings.stage,
                            binary_media_types=("*/*",) if binary else ())
        context = LocalLambdaContext(function_name="ingest-test")
        if self.timeout_ms is not None:
            context.timeout_ms = self.timeout_ms
        result = self.handler(event, context)
        headers_out = {k: v[-1] for k, v in (result.get("multiValueHeaders") or {}).items()}
        headers_out.update(result.get("headers") or {})
        return Answer(result["statusCode"], json.loads(result["body"]), headers_out)

    def post(self, path: str, document: Any, *, gzip_body: bool = False, **kwargs: Any) -> Answer:
        data = json.dumps(document).encode()
        if gzip_body:
            data = gzip.compress(data)
            kwargs.setdefault("headers", {})["Content-Encoding"] = "gzip"
        return self.call("POST", path, data, **kwargs)


@pytest.fixture
def api(s3_settings: Settings) -> Api:
    return Api(s3_settings, create_key(s3_settings))


def raw_records(settings: Settings, zone: str = "raw") -> list[tuple[str, dict[str, Any]]]:
    """(object key, line) for every line of the gzip JSON-lines objects below ``zone``."""
    storage = LakeStorage(settings.lake, region=settings.region)
    return [(obj.key, json.loads(line)) for obj in storage.list(zone) if obj.key.endswith(".jsonl.gz")
            for line in decode_lines(storage.get_bytes(obj.key))]


def stream_records(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """(partition key, record) for every record on the stage's stream, all shards, from the start."""
    return [(key, json.loads(data)) for key, data in stream_lines(settings)]


def stream_lines(settings: Settings) -> list[tuple[str, bytes]]:
    """(partition key, data) for every record on the stage's stream, all shards, from the start: the lines the
    API acknowledged, byte for byte (what the raw archive lands)."""
    kinesis = aws_client("kinesis", region=settings.region)
    found = []
    for shard in kinesis.list_shards(StreamName=settings.names.stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=settings.names.stream, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            found += [(r["PartitionKey"], r["Data"]) for r in page["Records"]]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return found


@contextmanager
def kinesis_faults(settings: Settings, fail: Callable[[int, dict[str, Any]], bool]) -> Iterator[list[int]]:
    """Make PutRecords report ``ProvisionedThroughputExceededException`` for records where ``fail(call, record)``.

    The other records of the call really go to Kinesis (moto); the failed ones are removed from the call
    and put back into the response as failures, as Kinesis itself reports partial failures. Yields the
    number of records failed per call.
    """
    client = aws_client("kinesis", region=settings.region, config=KINESIS_CONFIG)
    failures: list[int] = []

    def before(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        records = params["Records"]
        verdicts = [fail(len(failures), r) for r in records]
        if all(verdicts):
            verdicts[-1] = False  # PutRecords needs at least one record; keep the last one real
        context["injected"] = verdicts
        failures.append(sum(verdicts))
        params["Records"] = [r for r, bad in zip(records, verdicts, strict=True) if not bad]

    def after(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        verdicts = context.pop("injected", None)
        if verdicts is None or "Records" not in parsed:
            return
        real = iter(parsed["Records"])
        parsed["Records"] = [{"ErrorCode": "ProvisionedThroughputExceededException",
                              "ErrorMessage": "Rate exceeded for shard (injected)"} if bad else next(real)
                             for bad in verdicts]
        parsed["FailedRecordCount"] = parsed.get("FailedRecordCount", 0) + sum(verdicts)

    client.meta.events.register("before-parameter-build.kinesis.PutRecords", before)
    client.meta.events.register("after-call.kinesis.PutRecords", after)
    try:
        yield failures
    finally:
        client.meta.events.unregister("before-parameter-build.kinesis.PutRecords", before)
        client.meta.events.unregister("after-call.kinesis.PutRecords", after)


@contextmanager
def kinesis_throttled(settings: Settings) -> Iterator[list[int]]:
    """Every PutRecords call reports every record failed (a stream throttled throughout); yields call sizes."""
    client = aws_client("kinesis", region=settings.region, config=KINESIS_CONFIG)
    calls: list[int] = []

    class Http:
        status_code = 200

    def count(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["throttle_records"] = len(params["Records"])

    def answer(context: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        n = context.pop("throttle_records")
        calls.append(n)
        failed = {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"}
        return Http(), {"FailedRecordCount": n, "Records": [dict(failed) for _ in range(n)]}

    client.meta.events.register("before-parameter-build.kinesis.PutRecords", count)
    client.meta.events.register("before-call.kinesis.PutRecords", answer)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-parameter-build.kinesis.PutRecords", count)
        client.meta.events.unregister("before-call.kinesis.PutRecords", answer)


@pytest.fixture
def kinesis_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kinesis unreachable: its endpoint points at a closed port (the other services stay on moto)."""
    from lakehouse.local.aws.embedded import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", f"http://127.0.0.1:{free_port()}")


@pytest.fixture
def closed_endpoint(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``down(service)``: that service's endpoint points at a closed port (the other services stay on moto)."""
    from lakehouse.local.aws.embedded import free_port

    def down(service: str) -> None:
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service.upper()}", f"http://127.0.0.1:{free_port()}")

    return down


@pytest.fixture
def kinesis_hangs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Kinesis accepts connections and never answers (a listening socket nobody reads from); yields the times
    (``time.monotonic()``) at which it was connected to."""
    import socket
    import threading
    import time

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    connected: list[float] = []
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            connected.append(time.monotonic())
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", f"http://127.0.0.1:{server.getsockname()[1]}")
    yield connected
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


@dataclass(frozen=True)
class Kit:
    """The helpers above, as one fixture (test modules cannot import conftest)."""

    create_key: Callable[..., str] = create_key
    raw_records: Callable[..., list] = raw_records
    stream_records: Callable[..., list] = stream_records
    kinesis_faults: Callable[..., Any] = kinesis_faults
    kinesis_throttled: Callable[..., Any] = kinesis_throttled
    basic: Callable[[str], str] = basic
    Api: type = Api


@pytest.fixture
def kit() -> Kit:
    return Kit()
