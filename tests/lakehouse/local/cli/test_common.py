"""Errors every CLI command shares: shown in one line with exit code 2, never as a traceback."""

from __future__ import annotations

import pytest
import typer
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from lakehouse.local.aws.embedded import free_port
from lakehouse.local.cli.common import friendly_errors


@pytest.mark.parametrize("error", [
    EndpointConnectionError(endpoint_url="http://127.0.0.1:9/"),
    ReadTimeoutError(endpoint_url="http://127.0.0.1:9/"),
])
def test_an_aws_endpoint_lost_mid_command_is_one_line_and_exit_2(error: Exception, capsys, monkeypatch) -> None:
    """A command whose AWS endpoint went away while it ran (the embedded emulator stopped under ``lakehouse ml
    score``, which checks nothing up front) says so and how to go on.

    Seen failing without the protection (no ``except BotoCoreError`` in ``friendly_errors``): ``lakehouse ml score``
    with the emulator down ended in a 40-line traceback, exit 1 (the error escaped the wrapper here too)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")

    @friendly_errors
    def command() -> None:
        raise error

    with pytest.raises(typer.Exit) as stopped:
        command()
    assert stopped.value.exit_code == 2
    message = capsys.readouterr().err
    assert "AWS could not be reached" in message and "http://127.0.0.1:9" in message and "lakehouse up" in message
    assert "Traceback" not in message


def test_a_real_unreachable_call_is_caught_the_same_way(capsys, monkeypatch) -> None:
    """The same through a real botocore client against a closed port (not a constructed exception)."""
    import boto3

    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)

    @friendly_errors
    def command() -> None:
        boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="x",
                     aws_secret_access_key="x").list_tables()

    with pytest.raises(typer.Exit):
        command()
    assert f"is {endpoint} running?" in capsys.readouterr().err


@pytest.mark.parametrize(("command", "content", "message"), [
    (["post"], b"\x8b\x1f random bytes, not gzip", "bad.jsonl.gz: cannot be read"),
    (["validate"], b"\x8b\x1f random bytes, not gzip", "cannot be read as gzip-compressed UTF-8 JSON lines"),
    (["validate"], '{"type": "track", "event": "caf\xe9"}\n'.encode("latin-1"), "cannot be read as UTF-8"),
    (["customer", ""], None, "give a customer id"),
], ids=["post: not gzip", "validate: not gzip", "validate: not UTF-8", "customer: empty id"])
def test_unreadable_input_is_one_line_and_exit_2(tmp_path, monkeypatch, command, content, message) -> None:
    """Seen failing (a review): each was a Python traceback with exit 1 (``gzip.BadGzipFile``,
    ``UnicodeDecodeError``, and DynamoDB's ``ValidationException`` for the empty key)."""
    from typer.testing import CliRunner

    from lakehouse.local.cli.main import app

    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))
    args = list(command)
    if content is not None:
        path = tmp_path / ("bad.jsonl.gz" if content.startswith(b"\x8b") else "latin1.jsonl")
        path.write_bytes(content)
        args.append(str(path))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert message.replace(" ", "") in "".join(result.output.split())  # the console wraps anywhere in a path
    assert "Traceback" not in result.output
