"""`lakehouse stream` and `lakehouse customer` as a user runs them (in this process: the shared Spark session)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

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
