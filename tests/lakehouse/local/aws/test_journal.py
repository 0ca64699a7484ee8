"""The emulator's journal: a SIGKILLed emulator restarts with everything it acknowledged, exactly.

Seen failing without the protection (each on a copy of the branch with one change):
- replay's clock not frozen (``install_request_clock`` made a no-op): the stream's ``StreamCreationTimestamp``,
  every record's ``ApproximateArrivalTimestamp`` and every object's ``LastModified`` came back as the restart's
  time, and the snapshot comparison failed on the first of them;
- multipart upload ids not mapped (``upload_ids`` never filled in ``replay``): the journaled ``UploadPart`` of the
  old upload id answered 404 ``NoSuchUpload``, the restarted emulator exited with code 2 and ``start_detached``
  raised ``EmbeddedAwsError`` naming the journal;
- a torn last line kept (``read_journal`` raising on it): the emulator exited 2 on start.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from botocore.exceptions import ClientError

from lakehouse.core.aws.clients import aws_client
from lakehouse.local.aws.embedded import (
    EmbeddedAwsError,
    export_endpoint,
    journal_file,
    restore_env,
    running_emulator,
    start_detached,
    stop_detached,
)
from lakehouse.local.aws.journal import is_mutating, read_journal

STREAM = "journal-stream"
TABLE = "journal-table"
BUCKET = "journal-bucket"


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A run directory of its own; whatever emulator the test leaves behind is stopped and its journal kept."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    previous = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
                                              "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
    run = tmp_path / "run"
    yield run
    stop_detached(run)
    restore_env(previous)


def start(run_dir: Path, persist: bool = True) -> int:
    """Start the detached emulator, point the clients at it; returns its PID."""
    state, started = start_detached(run_dir, persist=persist)
    assert started
    export_endpoint(state.endpoint, "us-east-1")
    return state.pid


def kill(pid: int) -> None:
    """SIGKILL the emulator and wait until it is gone."""
    os.kill(pid, signal.SIGKILL)
    psutil.Process(pid).wait(10)


def write_everything() -> None:
    """Kinesis (two shards, puts one by one and in batches), DynamoDB (put, update, conditional put, delete),
    S3 (put, multipart, delete, overwrite), CloudWatch data points."""
    kinesis, dynamodb = aws_client("kinesis"), aws_client("dynamodb")
    s3, cloudwatch = aws_client("s3"), aws_client("cloudwatch")
    kinesis.create_stream(StreamName=STREAM, ShardCount=2)
    for n in range(30):
        kinesis.put_record(StreamName=STREAM, Data=f"one-{n}".encode(), PartitionKey=f"k{n}")
    kinesis.put_records(StreamName=STREAM, Records=[{"Data": f"batch-{n}".encode(), "PartitionKey": f"b{n}"}
                                                    for n in range(200)])
    dynamodb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    for n in range(40):
        dynamodb.put_item(TableName=TABLE, Item={"id": {"S": f"c{n}"}, "n": {"N": str(n)}})
    dynamodb.update_item(TableName=TABLE, Key={"id": {"S": "c1"}}, UpdateExpression="ADD n :one",
                         ExpressionAttributeValues={":one": {"N": "1"}})
    with pytest.raises(ClientError):  # refused: not journaled, and must not come back on replay either
        dynamodb.put_item(TableName=TABLE, Item={"id": {"S": "c2"}, "n": {"N": "-1"}},
                          ConditionExpression="attribute_not_exists(id)")
    dynamodb.delete_item(TableName=TABLE, Key={"id": {"S": "c3"}})
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="a/one.txt", Body=b"one")
    s3.put_object(Bucket=BUCKET, Key="a/two.txt", Body=b"two")
    s3.put_object(Bucket=BUCKET, Key="a/two.txt", Body=b"two, again")
    s3.delete_object(Bucket=BUCKET, Key="a/one.txt")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="big.bin")["UploadId"]
    parts = []
    for number in (1, 2):
        body = bytes([number]) * (5 * 1024 * 1024 if number == 1 else 1000)
        etag = s3.upload_part(Bucket=BUCKET, Key="big.bin", UploadId=upload, PartNumber=number, Body=body)["ETag"]
        parts.append({"ETag": etag, "PartNumber": number})
    s3.complete_multipart_upload(Bucket=BUCKET, Key="big.bin", UploadId=upload, MultipartUpload={"Parts": parts})
    cloudwatch.put_metric_data(Namespace="Journal", MetricData=[
        {"MetricName": "Things", "Value": float(n), "Unit": "Count"} for n in range(5)])


def snapshot() -> dict[str, Any]:
    """Everything :func:`write_everything` made, as the emulator reports it now."""
    kinesis, dynamodb = aws_client("kinesis"), aws_client("dynamodb")
    s3, cloudwatch = aws_client("s3"), aws_client("cloudwatch")
    summary = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]
    records = {}
    for shard in kinesis.list_shards(StreamName=STREAM)["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        records[shard["ShardId"]] = [(r["SequenceNumber"], r["Data"], r["PartitionKey"],
                                      r["ApproximateArrivalTimestamp"]) for r in page["Records"]]
    items = sorted(json.dumps(i, sort_keys=True) for i in dynamodb.scan(TableName=TABLE)["Items"])
    objects = {o["Key"]: (o["ETag"], o["Size"], o["LastModified"],
                          hashlib.sha256(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()).hexdigest())
               for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(Namespace="Journal", MetricName="Things",
                                              StartTime=now - timedelta(hours=1), EndTime=now + timedelta(hours=1),
                                              Period=3600, Statistics=["Sum", "SampleCount"])["Datapoints"]
    return {"created": summary["StreamCreationTimestamp"], "records": records, "items": items,
            "objects": objects, "metrics": [(p["Sum"], p["SampleCount"]) for p in points]}


def test_a_killed_emulator_restarts_with_everything_it_acknowledged(run_dir: Path) -> None:
    pid = start(run_dir)
    write_everything()
    before = snapshot()
    assert sum(len(r) for r in before["records"].values()) == 230 and len(before["items"]) == 39
    assert set(before["objects"]) == {"a/two.txt", "big.bin"} and before["metrics"] == [(10.0, 5.0)]
    endpoint = running_emulator(run_dir).endpoint  # type: ignore[union-attr]
    lines = sum(1 for _ in read_journal(journal_file(run_dir)))
    snapshot()  # reads are not journaled
    assert sum(1 for _ in read_journal(journal_file(run_dir))) == lines

    time.sleep(1.1)  # a replay at a later second must still give the original times
    kill(pid)
    assert running_emulator(run_dir) is None
    start(run_dir)
    assert running_emulator(run_dir).endpoint == endpoint  # type: ignore[union-attr]  # the same port: clients resume
    assert snapshot() == before

    put = aws_client("kinesis").put_record(StreamName=STREAM, Data=b"after", PartitionKey="k0")
    shard = before["records"][put["ShardId"]]
    assert int(put["SequenceNumber"]) == int(shard[-1][0]) + 1  # the shard's sequence goes on where it was

    stop_detached(run_dir)  # a clean stop keeps the state too
    start(run_dir)
    after = snapshot()
    assert after["records"][put["ShardId"]][-1][:3] == (put["SequenceNumber"], b"after", "k0")
    assert {k: v for k, v in after.items() if k != "records"} == {k: v for k, v in before.items() if k != "records"}

    stop_detached(run_dir, reset=True)  # down --reset: the next start is empty
    assert not journal_file(run_dir).exists()
    start(run_dir)
    with pytest.raises(ClientError, match="ResourceNotFound"):
        aws_client("kinesis").describe_stream_summary(StreamName=STREAM)


def test_without_persistence_a_restart_starts_empty(run_dir: Path) -> None:
    """The oracle of the test above can fail: an emulator without its journal forgets the stream."""
    pid = start(run_dir, persist=False)
    aws_client("kinesis").create_stream(StreamName=STREAM, ShardCount=1)
    kill(pid)
    start(run_dir, persist=False)
    with pytest.raises(ClientError, match="ResourceNotFound"):
        aws_client("kinesis").describe_stream_summary(StreamName=STREAM)


def test_a_torn_last_line_is_cut_off_and_a_torn_middle_line_stops_the_start(run_dir: Path) -> None:
    pid = start(run_dir)
    aws_client("kinesis").create_stream(StreamName=STREAM, ShardCount=1)
    kill(pid)
    journal = journal_file(run_dir)
    whole = journal.read_bytes()
    journal.write_bytes(whole + b'{"at": 1, "environ": {"REQUEST_')  # killed while writing: never answered
    start(run_dir)
    aws_client("kinesis").describe_stream_summary(StreamName=STREAM)
    assert journal.read_bytes().startswith(whole) and b"REQUEST_\n" not in journal.read_bytes()

    stop_detached(run_dir)
    journal.write_bytes(b'{"torn\n' + journal.read_bytes())
    with pytest.raises(EmbeddedAwsError, match="journal"):
        start_detached(run_dir, persist=True)
    assert "unreadable journal line at byte 0" in (run_dir / "moto.log").read_text()


@pytest.mark.parametrize(("environ", "body", "mutating"), [
    ({"HTTP_X_AMZ_TARGET": "Kinesis_20131202.PutRecords", "REQUEST_METHOD": "POST"}, b"", True),
    ({"HTTP_X_AMZ_TARGET": "Kinesis_20131202.GetRecords", "REQUEST_METHOD": "POST"}, b"", False),
    ({"HTTP_X_AMZ_TARGET": "Kinesis_20131202.GetShardIterator", "REQUEST_METHOD": "POST"}, b"", False),
    ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.BatchWriteItem", "REQUEST_METHOD": "POST"}, b"", True),
    ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.Query", "REQUEST_METHOD": "POST"}, b"", False),
    ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.TransactWriteItems", "REQUEST_METHOD": "POST"}, b"", True),
    ({"PATH_INFO": "/service/GraniteServiceVersion20100801/operation/PutMetricData", "REQUEST_METHOD": "POST"},
     b"", True),
    ({"PATH_INFO": "/service/GraniteServiceVersion20100801/operation/GetMetricData", "REQUEST_METHOD": "POST"},
     b"", False),
    ({"CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8", "REQUEST_METHOD": "POST"},
     b"Action=PutMetricAlarm&Version=2010-08-01", True),
    ({"CONTENT_TYPE": "application/x-www-form-urlencoded", "REQUEST_METHOD": "POST"},
     b"Action=DescribeAlarms&Version=2010-08-01", False),
    ({"REQUEST_METHOD": "PUT", "PATH_INFO": "/bucket/key"}, b"data", True),
    ({"REQUEST_METHOD": "POST", "PATH_INFO": "/bucket", "QUERY_STRING": "delete"}, b"<Delete/>", True),
    ({"REQUEST_METHOD": "GET", "PATH_INFO": "/bucket/key"}, b"", False),
    ({"REQUEST_METHOD": "HEAD", "PATH_INFO": "/bucket"}, b"", False),
    ({"HTTP_X_AMZ_TARGET": "Kinesis_20131202.SomethingNew", "REQUEST_METHOD": "POST"}, b"", True),
])
def test_which_requests_are_journaled(environ: dict[str, str], body: bytes, mutating: bool) -> None:
    assert is_mutating(environ, body) is mutating
