"""`lakehouse stream` and `lakehouse customer` as a user runs them (in this process: the shared Spark session), and
`lakehouse stream`, `archive` and `batch` stopped by a signal (processes of their own)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import psutil
import pytest
from typer.testing import CliRunner

from lakehouse.core.config import Settings
from lakehouse.local.cli.main import app
from tests.stream.conftest import make_call, put_payloads, raw_record, record_bytes


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, aws_settings: Settings) -> Settings:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(aws_settings.home))
    monkeypatch.setenv("LAKEHOUSE_STAGE", aws_settings.stage)
    monkeypatch.setenv("COLUMNS", "200")
    return aws_settings


def put_orders(settings: Settings) -> None:
    rng = random.Random(1)
    calls = [make_call("Order Completed", "c-cli", datetime(2025, 6, day, 12, tzinfo=UTC), f"cli-{day}", rng)
             for day in (1, 2, 3)]
    calls.append(make_call("Product Viewed", "c-cli", datetime(2025, 6, 3, 13, tzinfo=UTC), "cli-v", rng))
    payloads = [record_bytes(raw_record(c)) for c in calls] + [b"{broken"]
    put_payloads(settings.names.stream, payloads)


def test_stream_once_then_customer_shows_live_features(spark, cli_env: Settings) -> None:
    put_orders(cli_env)
    runner = CliRunner()
    result = runner.invoke(app, ["stream", "--once", "--max-records", "3"])
    assert result.exit_code == 0, result.output
    assert "stream run" in result.output and "records" in result.output
    shown = runner.invoke(app, ["customer", "c-cli"])
    assert shown.exit_code == 0, shown.output
    assert "customer c-cli" in shown.output and "segment" in shown.output
    assert "2025-06-03" in shown.output and "as of today" in shown.output
    raw = runner.invoke(app, ["customer", "c-cli", "--json"])
    item = json.loads(raw.output)
    assert item["features"]["orders"] == "3" and item["features"]["views_7d"] == "1"
    assert item["last_batch"].endswith(("/0", "/1", "/2"))
    assert item["derived"]["as_of"] >= "2025-06-03"


def test_customer_json_carries_the_features_derived_as_of_the_day(spark, cli_env: Settings) -> None:
    """``--json`` with ``--as-of``: the stored item plus ``derived`` as of that day, money as strings like the
    stored item's. Seen failing before: the JSON was the stored item only (KeyError 'derived'), --as-of ignored."""
    put_orders(cli_env)
    runner = CliRunner()
    assert runner.invoke(app, ["stream", "--once"]).exit_code == 0
    raw = runner.invoke(app, ["customer", "c-cli", "--as-of", "2025-06-10", "--json"])
    assert raw.exit_code == 0, raw.output
    item = json.loads(raw.output)
    derived = item["derived"]
    assert derived["as_of"] == "2025-06-10" and derived["breakpoints_as_of"] == "default"
    assert (derived["recency_days"], derived["frequency"]) == (7, 3)
    assert derived["monetary"] == item["features"]["monetary"] and isinstance(derived["monetary"], str)
    assert {derived[k] for k in ("r_score", "f_score", "m_score")} <= {1, 2, 3, 4, 5}
    assert derived["segment"] and derived["rfm_window_days"] == 365
    later = json.loads(runner.invoke(app, ["customer", "c-cli", "--as-of", "2026-12-31", "--json"]).output)
    assert later["derived"]["frequency"] == 0 and later["derived"]["segment"] == "No recent purchase"
    assert later["features"] == item["features"]  # the stored cache is unchanged


def test_user_mistakes_get_a_message_not_a_traceback(cli_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    unknown = runner.invoke(app, ["customer", "nobody"])
    assert unknown.exit_code == 2 and "no live features for customer 'nobody'" in unknown.output
    empty = runner.invoke(app, ["customer", "c1", "--as-of", ""])  # seen failing: '' meant today
    assert empty.exit_code == 2 and "--as-of must be a day like 2025-06-30, got ''" in empty.output
    bad = runner.invoke(app, ["stream", "--starting-position", "EARLIEST"])
    assert bad.exit_code == 2 and "--starting-position must be one of" in bad.output
    monkeypatch.setenv("LAKEHOUSE_STAGE", "neverprovisioned")
    missing = runner.invoke(app, ["customer", "c1"])
    assert missing.exit_code == 2 and "lakehouse up" in missing.output
    assert "Traceback" not in unknown.output + empty.output + bad.output + missing.output


def test_customer_of_a_merged_id_points_to_the_customer(cli_env: Settings) -> None:
    """An anonymous id stitched to a customer has no features of its own: the CLI says where they went."""
    from rich.console import Console

    from lakehouse.local.cli.stream_commands import customer_table

    table, note = customer_table(cli_env, "anon-1", {"customer_id": "anon-1", "merged_into": "u-42",
                                                     "merged_at": "2026-11-30T05:00:00Z"})
    console = Console(width=200, record=True)
    console.print(table)
    assert "merged into u-42" in console.export_text() and "u-42" in note


def _spawn(settings: Settings, *args: str) -> subprocess.Popen[str]:
    """``lakehouse ARGS`` as a user starts it: a process of its own (its own session, as a terminal's job) on the
    session's emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    env.update({"LAKEHOUSE_HOME": str(settings.home), "LAKEHOUSE_STAGE": settings.stage, "COLUMNS": "200"})
    return subprocess.Popen([sys.executable, "-m", "lakehouse.local.cli.main", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _ended_cleanly(proc: subprocess.Popen[str], sig: signal.Signals) -> tuple[str, str]:
    """Signal ``proc``; its output once it and every process of its group ended (none left behind)."""
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_in_group(p, proc.pid) for p in psutil.process_iter()):
        time.sleep(0.2)
    left = [p.pid for p in psutil.process_iter() if _in_group(p, proc.pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "processes of the command still running after it ended"
    assert proc.returncode == 128 + sig, (out, err)
    return out, err


def _wait_for_java(proc: subprocess.Popen[str], timeout: float) -> None:
    """Return once a ``java`` process (Spark's JVM starting) descends from ``proc``; fail if none in ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess):
            if any(child.name() == "java" for child in psutil.Process(proc.pid).children(recursive=True)):
                return
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no JVM started in {timeout} s: {proc.communicate()}")


def _in_group(process: psutil.Process, pgid: int) -> bool:
    try:
        return os.getpgid(process.pid) == pgid
    except (ProcessLookupError, psutil.NoSuchProcess):
        return False


@pytest.mark.parametrize(("command", "sig"), [("stream", signal.SIGINT), ("archive", signal.SIGTERM)])
def test_a_running_streaming_command_stops_cleanly_on_a_signal(aws_settings: Settings, command: str,
                                                               sig: signal.Signals) -> None:
    """Ctrl-C (or SIGTERM) on a running `lakehouse stream` / `archive`: the query stops between two waits, the
    summary is printed, exit 128 + n, no traceback. Seen failing before ``setting_on_signals``: Ctrl-C raised
    ``KeyboardInterrupt`` inside a py4j call, which py4j logged as tracebacks (ending in a ``BrokenPipeError``),
    exit 0; SIGTERM ended the process at once (-15), no summary, the JVM printing its own stack traces."""
    proc = _spawn(aws_settings, command)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # the first micro-batch line: Spark runs the query
        line = proc.stdout.readline()
        if not line or line.startswith("batch 0:"):
            break
    assert proc.poll() is None, proc.communicate()
    out, err = _ended_cleanly(proc, sig)
    said = " ".join(out.split())
    assert f"stopped by {sig.name}: what was committed stays committed" in said and "run" in said, said
    assert "Traceback" not in err and "ERROR" not in err, err


def test_a_batch_stopped_while_spark_starts_leaves_nothing_running(aws_settings: Settings) -> None:
    """`lakehouse batch` signalled while Spark's JVM starts: one line, exit 130, no traceback, no JVM left behind
    (friendly_errors stops Spark and the command's processes). Seen failing before the batch ran inside
    ``stop_on_signals``: no "stopped by SIGINT" line, Java and py4j stack traces on standard error. The signal
    waits for the JVM's process: a fixed 3 s wait failed on a busy 2-core runner (the command still importing,
    typer's own Ctrl-C exit: 130 and a blank line)."""
    proc = _spawn(aws_settings, "batch", "--no-catalog")
    _wait_for_java(proc, timeout=240)
    assert proc.poll() is None, proc.communicate()
    _, err = _ended_cleanly(proc, signal.SIGINT)
    assert "stopped by SIGINT" in " ".join(err.split()) and "Traceback" not in err, err
