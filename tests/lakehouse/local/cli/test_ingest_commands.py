"""`lakehouse keys | post | serve` as a user runs them: separate processes against a real moto server."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError
from typer.testing import CliRunner

from lakehouse.core.aws.clients import reset_clients
from lakehouse.core.config import Settings
from lakehouse.core.contract.examples import example_calls
from lakehouse.core.lake.raw import decode_lines
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.write_keys import WriteKeyStore
from lakehouse.local.aws.provision import provision
from lakehouse.local.cli.main import app


def cli_env(home: Path, stage: str, endpoint: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAKEHOUSE_"))}
    env.update({"LAKEHOUSE_HOME": str(home), "LAKEHOUSE_STAGE": stage, "COLUMNS": "200",
                "AWS_CONFIG_FILE": str(home / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"})
    if endpoint:
        env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"})
    return env


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lakehouse.local.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=180)


@pytest.fixture
def stage(moto_endpoint: str, aws_settings: Settings) -> tuple[Settings, dict[str, str]]:
    return aws_settings, cli_env(aws_settings.home, aws_settings.stage, moto_endpoint)


def test_keys_create_list_revoke(stage) -> None:
    _, env = stage
    created = cli("keys", "create", "web", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("wk_") and "shown once" in created.stdout
    key_id = re.search(r"id ([0-9a-f]{12})", created.stdout).group(1)
    listed = cli("keys", "list", env=env)
    assert key_id in listed.stdout and "web" in listed.stdout and "active" in listed.stdout
    assert key not in listed.stdout
    revoked = cli("keys", "revoke", key_id, env=env)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert "revoked" in cli("keys", "list", env=env).stdout
    bad = cli("keys", "revoke", "ffffffffffff", env=env)
    assert bad.returncode == 2 and "no write key" in bad.stderr and "Traceback" not in bad.stderr
    bad_source = cli("keys", "create", "Not Valid", env=env)
    assert bad_source.returncode == 2 and "source" in bad_source.stderr


def test_post_through_an_in_process_gateway(stage, tmp_path: Path) -> None:
    settings, env = stage
    calls = [dict(c, messageId=f"cli-{i}") for i, c in enumerate(example_calls().values())]
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(c) + "\n" for c in calls).encode()))
    result = cli("post", str(path), "--source", "cli-test", env=env)
    assert result.returncode == 0, result.stderr
    assert "one-off write key for source cli-test" in result.stdout
    key_id = re.search(r"id ([0-9a-f]{12})", result.stdout).group(1)
    # the one-off key is revoked when the post ends (before: each run left one more live key, never shown)
    assert re.search(rf"{key_id}.*revoked", cli("keys", "list", env=env).stdout)
    assert re.search(rf"accepted\s+\S?\s*{len(calls)}\b", result.stdout), result.stdout
    archived = cli("archive", "--once", env=env)  # the stream into the raw zone
    assert archived.returncode == 0, archived.stderr
    assert re.search(rf"records\D+{len(calls)}\b", archived.stdout), archived.stdout
    storage = LakeStorage(settings.lake)
    ids = sorted(json.loads(line)["event_id"] for obj in storage.list("raw/source=cli-test")
                 for line in decode_lines(storage.get_bytes(obj.key)))
    assert ids == sorted(c["messageId"] for c in calls)


def test_a_one_off_key_that_cannot_be_revoked_is_a_warning_not_the_outcome(stage, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The revoke at the end of a post fails (DynamoDB unreachable by then): the post's own outcome stands, with a
    warning naming the command that finishes the revoke. Seen failing before: the revoke's
    ``EndpointConnectionError``, raised in ``finally``, replaced the outcome — exit 2, no table of what was
    accepted, nothing said about the key left live."""
    _, env = stage
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def unreachable(self, key_id: str) -> None:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    monkeypatch.setattr(WriteKeyStore, "revoke", unreachable)
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(dict(example_calls()["Order Completed"], messageId="cli-revoke-1")) + "\n")
    try:
        result = CliRunner().invoke(app, ["post", str(path), "--source", "cli-test"])
    finally:
        reset_clients()
    said = " ".join(result.output.split())
    assert result.exit_code == 0, said
    assert re.search(r"accepted \S? ?1\b", said), said
    key_id = re.search(r"id ([0-9a-f]{12})", said).group(1)
    assert f"the one-off write key {key_id} could not be revoked" in said
    assert f"`lakehouse keys revoke {key_id}`" in said


def test_post_errors_are_clear(stage, tmp_path: Path) -> None:
    _, env = stage
    missing = cli("post", str(tmp_path / "nope.jsonl"), env=env)
    assert missing.returncode == 2 and "not a file" in missing.stderr
    path = tmp_path / "e.jsonl"
    path.write_text("{}\n")
    no_key = cli("post", str(path), "--url", "http://127.0.0.1:9", env=env)
    assert no_key.returncode == 2 and "--write-key" in no_key.stderr
    no_api = cli("post", str(path), "--url", "http://127.0.0.1:9", "--write-key", "wk_x", env=env)
    assert no_api.returncode == 2 and "no ingestion API answers" in no_api.stderr


def test_commands_without_any_aws_say_to_run_lakehouse_up(tmp_path: Path) -> None:
    env = cli_env(tmp_path, "nothing", None)
    for args in (["serve", "--port", "0"], ["keys", "list"]):
        result = cli(*args, env=env)
        assert result.returncode == 2, result.stdout
        assert "lakehouse up" in result.stderr and "Traceback" not in result.stderr


def test_commands_on_an_unprovisioned_stage_say_to_run_lakehouse_up(moto_endpoint: str, tmp_path: Path) -> None:
    result = cli("keys", "list", env=cli_env(tmp_path, "unprovisioned", moto_endpoint))
    assert result.returncode == 2 and "do not exist" in result.stderr and "lakehouse up" in result.stderr


def test_serve_answers_until_stopped(stage) -> None:
    settings, env = stage
    process = subprocess.Popen([sys.executable, "-m", "lakehouse.local.cli.main", "serve", "--port", "0"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
            url = match.group(1) if match else None
        assert url, process.stderr.read() if process.poll() is not None else "no URL printed"
        with urllib.request.urlopen(url + "/health", timeout=10) as response:
            assert json.loads(response.read())["status"] == "ok"
    finally:
        process.terminate()
        process.wait(10)
    provision(settings)  # unchanged: still provisioned (serve never creates or deletes resources)
