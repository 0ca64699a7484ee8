"""The embedded emulator: provisioning over HTTP, idempotence, and stopping only our own process."""

import os
import subprocess
import sys
import time

import psutil
import pytest

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.aws.resources import dynamodb_tables
from lakehouse.local.aws.embedded import (
    EmbeddedAws,
    EmulatorState,
    is_our_emulator,
    running_emulator,
    start_detached,
    state_file,
    stop_detached,
)
from lakehouse.local.aws.provision import provision


def test_provision_creates_everything_then_is_idempotent(moto_endpoint, settings) -> None:
    settings = settings.model_copy(update={"kinesis_shards": 3})
    first = provision(settings)
    assert {p.status for p in first} == {"created"}
    assert {p.kind for p in first} == {"s3 bucket", "kinesis stream", "dynamodb table", "glue database",
                                       "rate file"}

    second = provision(settings)
    assert [(p.kind, p.name) for p in second] == [(p.kind, p.name) for p in first]
    assert {p.status for p in second} == {"exists"}

    names = settings.names
    aws_client("s3").head_bucket(Bucket=names.lake_bucket)
    shards = aws_client("kinesis").list_shards(StreamName=names.stream)["Shards"]
    assert len(shards) == 3
    for spec in dynamodb_tables(settings):
        table = aws_client("dynamodb").describe_table(TableName=spec.name)["Table"]
        assert table["KeySchema"] == [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    assert aws_client("glue").get_database(Name=names.glue_database)["Database"]["Name"] == names.glue_database


def test_s3_lake_root_bucket_is_provisioned_too(moto_endpoint, settings) -> None:
    bucket = f"{settings.stage}-custom-lake"
    custom = settings.model_copy(update={"lake_root": f"s3://{bucket}/lake"})
    report = provision(custom)
    assert ("s3 bucket", bucket) in [(p.kind, p.name) for p in report]
    aws_client("s3").head_bucket(Bucket=bucket)


def test_embedded_aws_reuses_an_endpoint_that_is_already_configured(moto_endpoint) -> None:
    with EmbeddedAws() as aws:
        assert aws.endpoint == moto_endpoint
        assert not aws.started_here
    assert os.environ["AWS_ENDPOINT_URL"] == moto_endpoint


def test_detached_emulator_lifecycle_and_down_stops_only_ours(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    run_dir = tmp_path / "run"
    state, started = start_detached(run_dir)
    try:
        assert started and is_our_emulator(state.pid)
        again, started_again = start_detached(run_dir)
        assert again == state and not started_again
        assert running_emulator(run_dir) == state
    finally:
        stopped = stop_detached(run_dir)
    assert stopped == state
    assert not psutil.pid_exists(state.pid) or psutil.Process(state.pid).status() == psutil.STATUS_ZOMBIE
    assert not state_file(run_dir).exists()
    assert stop_detached(run_dir) is None


def test_down_never_signals_a_process_that_is_not_our_emulator(tmp_path) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        EmulatorState(pid=stranger.pid, port=1, endpoint="http://127.0.0.1:1", started_at=time.time()).save(
            state_file(tmp_path))
        assert stop_detached(tmp_path) is None
        time.sleep(0.2)
        assert stranger.poll() is None, "a foreign process was killed"
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.parametrize("content", ["", "not json", '{"pid": "x"}'])
def test_corrupt_state_file_is_treated_as_nothing_running(tmp_path, content: str) -> None:
    state_file(tmp_path).write_text(content)
    assert running_emulator(tmp_path) is None
    assert stop_detached(tmp_path) is None
