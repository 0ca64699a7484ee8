"""`lakehouse batch` and `lakehouse sql` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse.core.config import Settings
from lakehouse.core.contract import iso
from lakehouse.core.contract.examples import example_calls
from lakehouse.local.cli.main import app
from lakehouse.local.sample_data import land_calls, land_lines

runner = CliRunner()


def tiny_calls() -> list[dict]:
    """Every example call, for two customers on two days."""
    calls = []
    start = datetime(2025, 6, 2, 9, tzinfo=UTC)
    for n, (customer, day) in enumerate([("c1", 0), ("c2", 0), ("c1", 1)]):
        for k, call in enumerate(example_calls().values()):
            copy = call | {"userId": customer, "messageId": f"m-{n}-{k}",
                           "timestamp": iso(start + timedelta(days=day, minutes=k))}
            if "order_id" in copy.get("properties", {}):  # each copy its own order (one order_id counts once)
                copy["properties"] = copy["properties"] | {"order_id": f"{copy['properties']['order_id']}-{n}"}
            calls.append(copy)
    return calls


def _sql(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAKEHOUSE_"))}
    env.update({"LAKEHOUSE_HOME": str(home), "COLUMNS": "200"})
    return subprocess.run([sys.executable, "-m", "lakehouse.local.cli.main", "sql", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def batch_home(tmp_path_factory, spark) -> Path:
    home = tmp_path_factory.mktemp("cli") / "home"
    settings = Settings(home=home)
    land_calls(settings, tiny_calls())
    land_lines(settings, ["{broken"], source="legacy", received_at=datetime(2025, 6, 2, 10, tzinfo=UTC))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKEHOUSE_HOME", str(home))
        patch.setenv("COLUMNS", "200")
        result = runner.invoke(app, ["batch", "--no-catalog"])
        assert result.exit_code == 0, result.output
        assert "records read" in result.output and "(line): is not a JSON object" in result.output
        assert "warehouse (duckdb)" in result.output
        assert "identities stitched / conflicts" in result.output and "orders unconverted into USD" in result.output
        again = runner.invoke(app, ["batch", "--no-catalog"])
        assert again.exit_code == 0 and "no new raw objects" in again.output
        assert "already holds star build" in again.output
    return home


def test_batch_builds_the_local_warehouse(batch_home: Path) -> None:
    assert (batch_home / "warehouse.duckdb").is_file()
    assert (batch_home / "lake" / "curated" / "orders").is_dir()


def test_single_steps_can_be_run(batch_home: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(batch_home))
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["batch", "--step", "warehouse", "--force"])
    assert result.exit_code == 0, result.output
    assert "tables / views loaded" in result.output and "curated" not in result.output.split("batch run")[1]


def test_unknown_steps_and_targets_are_user_errors(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    result = runner.invoke(app, ["batch", "--step", "publish"])
    assert result.exit_code == 2 and "unknown step publish" in result.output
    result = runner.invoke(app, ["batch", "--target", "bigquery"])
    assert result.exit_code == 2 and "unknown target" in result.output


def test_sql_prints_a_table(batch_home: Path) -> None:
    done = _sql("SELECT customer_id, geography FROM dim_customer WHERE is_current ORDER BY 1", home=batch_home)
    assert done.returncode == 0, done.stderr
    assert "customer_id" in done.stdout and "c1" in done.stdout and "France" in done.stdout
    assert "2 row(s)" in done.stdout


def test_sql_accepts_redshift_dialect(batch_home: Path) -> None:
    done = _sql("--redshift", "SELECT NVL(SUM(orders), 0) AS orders FROM fact_daily_kpis", home=batch_home)
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout and " 3 " in done.stdout


def test_bad_sql_is_a_clear_error_without_traceback(batch_home: Path, tmp_path: Path) -> None:
    done = _sql("SELECT * FROM no_such_table", home=batch_home)
    assert done.returncode == 2 and "no_such_table" in done.stderr and "Traceback" not in done.stderr
    missing = _sql("SELECT 1", home=tmp_path)
    assert missing.returncode == 2 and "lakehouse batch" in missing.stderr and "Traceback" not in missing.stderr
