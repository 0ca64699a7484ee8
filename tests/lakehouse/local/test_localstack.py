"""The ingestion → Kinesis → raw archive → live features part of the pipeline against LocalStack, started here
without Docker (its community runtime from PyPI in ``.venv-localstack``: ``make localstack-env``), through
``AWS_ENDPOINT_URL``, as a user runs the CLI.

Kinesis, S3 (the key store's and the quarantine's bucket), CloudWatch and STS are LocalStack's; DynamoDB and Glue are
the embedded moto server's (``AWS_ENDPOINT_URL_DYNAMODB`` / ``_GLUE``): LocalStack's DynamoDB needs Java 21 and
DynamoDB Local, which it downloads at start from outside the package registries, and its Glue is a paid feature
(docs/localstack.md, measured). Slow (``make bench``): LocalStack's start, and two Spark jobs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from lakehouse.core.aws.clients import aws_client, reset_clients
from lakehouse.core.config import Settings
from lakehouse.core.lake.raw import decode_lines
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.local.aws.embedded import DUMMY_CREDENTIALS, EmbeddedAws, free_port
from lakehouse.local.load import run_clients, stream_event_ids, verify

ROOT = Path(__file__).resolve().parents[3]
LOCALSTACK_PYTHON = ROOT / ".venv-localstack" / "bin" / "python"
#: the services the test asks LocalStack for (what it measured working here without Docker)
SERVICES = "s3,kinesis,cloudwatch,sts,sns,kms,secretsmanager"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAKEHOUSE_"))}


@pytest.fixture
def localstack(tmp_path: Path) -> Iterator[str]:
    """LocalStack's runtime (``python -m localstack.runtime.main``) on a free port; its endpoint once healthy."""
    if not LOCALSTACK_PYTHON.exists():
        pytest.skip("no .venv-localstack: run `make localstack-env` (Python 3.13; docs/localstack.md)")
    port = free_port()
    env = {**_clean_env(), "GATEWAY_LISTEN": f"127.0.0.1:{port}", "SERVICES": SERVICES,
           "LOCALSTACK_VOLUME_DIR": str(tmp_path / "ls-volume"), "FILESYSTEM_ROOT": str(tmp_path / "ls-fs"),
           "DISABLE_EVENTS": "1", "SKIP_SSL_CERT_DOWNLOAD": "1"}
    log = open(tmp_path / "localstack.log", "wb")  # noqa: SIM115 (the child's output until the teardown)
    proc = subprocess.Popen([str(LOCALSTACK_PYTHON), "-m", "localstack.runtime.main"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "localstack.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=2) as answer:
                    health = json.load(answer)
                if {"s3", "kinesis"} <= set(health.get("services", {})):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "LocalStack did not answer its health check within 120 s"
            time.sleep(0.5)
        yield endpoint
    finally:
        engines = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
        with_group = [proc.pid]
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        for engine in engines:  # kinesis-local runs in a process group of its own
            if engine.is_running() and engine.pid not in with_group:
                engine.kill()
        log.close()


def _lakehouse(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run([sys.executable, "-m", "lakehouse.local.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"lakehouse {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


def test_ingest_archive_and_live_features_on_localstack(localstack: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    with EmbeddedAws(region="us-east-1", log_path=tmp_path / "moto.log") as moto:
        endpoints = {"AWS_ENDPOINT_URL": localstack, "AWS_ENDPOINT_URL_DYNAMODB": moto.endpoint,
                     "AWS_ENDPOINT_URL_GLUE": moto.endpoint, "AWS_DEFAULT_REGION": "us-east-1", **DUMMY_CREDENTIALS}
        env = {**_clean_env(), **endpoints, "LAKEHOUSE_HOME": str(home), "COLUMNS": "200"}
        for key, value in endpoints.items():
            monkeypatch.setenv(key, value)
        reset_clients()
        settings = Settings(home=home)
        try:
            assert "no emulator started" in _lakehouse(env, "up")
            assert settings.names.stream in aws_client("kinesis", region="us-east-1").list_streams()["StreamNames"]
            key = _lakehouse(env, "keys", "create", "web").strip().splitlines()[-1]

            server = subprocess.Popen([sys.executable, "-m", "lakehouse.local.cli.main", "serve", "--port", "0"],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            try:
                line = server.stdout.readline()
                url = line[line.index("http://"):].split()[0]
                posted = run_clients(url, key, clients=2, seconds=2.0, events_per_request=5)
            finally:
                server.send_signal(signal.SIGINT)
                server.wait(timeout=30)
            assert set(posted.statuses) == {200} and posted.acknowledged
            on_stream = verify(posted.acknowledged, stream_event_ids(settings))  # LocalStack's Kinesis
            assert (on_stream.lost, on_stream.duplicated) == (frozenset(), frozenset())

            _lakehouse(env, "archive", "--once")
            storage = LakeStorage(settings.lake, region="us-east-1")
            archived = [json.loads(line)["event_id"] for o in storage.list("raw") if o.key.endswith(".jsonl.gz")
                        for line in decode_lines(storage.get_bytes(o.key))]
            assert sorted(archived) == sorted(posted.acknowledged)

            _lakehouse(env, "stream", "--once")
            table = aws_client("dynamodb", region="us-east-1").scan(TableName=settings.names.features_table)
            customers = {item["customer_id"]["S"] for item in table["Items"]}
            assert customers == {"load-0", "load-1"}
        finally:
            _lakehouse(env, "down")
            reset_clients()
