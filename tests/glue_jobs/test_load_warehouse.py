"""The load_warehouse Glue entry script, run locally (DuckDB target)."""

from __future__ import annotations

from glue_jobs import load_warehouse


def test_entry_script_loads_the_local_warehouse(lake_copy, monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(lake_copy.home))
    assert load_warehouse.main(["load_warehouse.py"])["skipped"].startswith("duckdb already holds")
    summary = load_warehouse.main(["load_warehouse.py", "--force", "true"])
    assert summary["skipped"] is None and summary["tables"]["fact_order"] > 0
