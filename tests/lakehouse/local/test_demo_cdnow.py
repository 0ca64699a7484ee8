"""`lakehouse demo --dataset cdnow`: the same chain as the generated demo, on the real CDNOW purchase log, in a home
of its own; what it reports equals what the log holds (the log's own totals are the oracle)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.core.config import Settings
from lakehouse.local.demo import DemoError, demo_settings


def test_a_cdnow_demo_has_a_home_of_its_own(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", lake_root=str(tmp_path / "elsewhere"))
    assert demo_settings(settings, "generated") is settings
    cdnow = demo_settings(settings, "cdnow")
    assert cdnow.home == tmp_path / "home" / "demo-cdnow"
    assert cdnow.lake.root_uri != settings.lake.root_uri and cdnow.run_dir != settings.run_dir
    assert cdnow.warehouse_path == tmp_path / "home" / "demo-cdnow" / "warehouse.duckdb"
    with pytest.raises(DemoError, match="unknown dataset 'adventureworks'; choose from generated, cdnow"):
        demo_settings(settings, "adventureworks")


def test_the_cli_refuses_an_unknown_dataset_in_words(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lakehouse.local.cli.main import app

    result = CliRunner().invoke(app, ["demo", "--dataset", "nope"], env={"LAKEHOUSE_HOME": str(tmp_path)})
    assert result.exit_code == 2
    assert "unknown dataset 'nope'" in result.output and "Traceback" not in result.output


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_cdnow_demo_runs_every_stage_on_the_real_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every order of the log is accepted, archived, curated, in the warehouse and in the live features once: the
    warehouse's order count, customers and revenue equal the log's own (parsed independently of the pipeline)."""
    from rich.console import Console

    from lakehouse.core.aws.clients import reset_clients
    from lakehouse.core.warehouse.query import run_query
    from lakehouse.local.demo import Demo, DemoOptions
    from lakehouse.local.generator.cdnow import CDNOW_CUSTOMERS, CDNOW_ORDERS, cdnow_text, parse_cdnow

    settings = demo_settings(Settings(home=tmp_path / "home", stage="cdnowdemo"), "cdnow")
    console = Console(record=True, width=120)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    try:
        report = Demo(settings, DemoOptions(dataset="cdnow", keep_running=False), console).run()
    finally:
        reset_clients()

    assert [s.name for s in report.stages][1] == "load the CDNOW log"
    loaded = report.facts("load the CDNOW log")
    assert (loaded["events"], loaded["customers"]) == (CDNOW_ORDERS, CDNOW_CUSTOMERS)
    ingested = report.facts("ingest through the API")
    assert (ingested["accepted"], ingested["rejected"]) == (CDNOW_ORDERS, 0)
    assert report.facts("batch: curated, star, warehouse")["curated_events"] == CDNOW_ORDERS
    live = report.facts("real-time features")  # the stream may hold a copy of a timed-out PutRecords: at least once
    assert report.facts("raw archive: stream -> raw zone")["events"] == live["records"]
    assert (live["records"] - live["duplicates"], live["events"]) == (CDNOW_ORDERS, CDNOW_ORDERS)
    assert live["rfm_customers"] == live["rfm_agree"] == CDNOW_CUSTOMERS

    purchases = parse_cdnow(cdnow_text())
    orders, customers, revenue = run_query(
        settings.warehouse_path, "SELECT COUNT(*), COUNT(DISTINCT c.customer_id), SUM(o.order_value) "
        "FROM fact_order o JOIN dim_customer c USING (customer_key)", limit=1).rows[0]
    assert (orders, customers) == (len(purchases), len({p.customer for p in purchases}))
    assert float(revenue) == pytest.approx(sum(p.dollars for p in purchases), abs=0.01)

    ml = report.facts("ML: churn, propensity, CLV")
    assert ml["customers_scored"] == ml["warehouse_rows"] > 0
    text = " ".join(console.export_text().split())
    assert f"LAKEHOUSE_HOME={settings.home} lakehouse dashboard" in text
    assert "no customer closed an account in this data" in text  # the churn mart's 0 % explained
    assert "(or `lakehouse demo --dataset cdnow --dashboard` to serve it right after the demo)" in text
