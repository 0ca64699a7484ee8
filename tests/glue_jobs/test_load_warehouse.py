"""The load_warehouse Glue entry script, run locally (DuckDB target)."""

from __future__ import annotations

from glue_jobs import load_warehouse


def test_entry_script_loads_the_local_warehouse(lake_copy, monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(lake_copy.home))
    assert load_warehouse.main(["load_warehouse.py"])["skipped"].startswith("duckdb already holds")
    summary = load_warehouse.main(["load_warehouse.py", "--force", "true"])
    assert summary["skipped"] is None and summary["tables"]["fact_order"] > 0


def test_a_build_that_cannot_load_ends_the_job_with_one_line(lake_copy, monkeypatch, capsys) -> None:
    """A star build with a duplicated dim_channel row: exit status 1 and one line naming table and key.

    Seen failing before: the entry script let the exception through (a stack trace, exit status 1 from Python)."""
    import json
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq
    import pytest

    from glue_jobs.warehouse.load import manifest_keys

    monkeypatch.setenv("LAKEHOUSE_HOME", str(lake_copy.home))
    manifest = json.loads((Path(lake_copy.lake.key("")) / manifest_keys(lake_copy)["dim_channel"]).read_text())
    first = Path(manifest["entries"][0]["url"].removeprefix("file://"))
    rows = pq.read_table(first)
    pq.write_table(pa.concat_tables([rows, rows.slice(0, 1)]), first)
    with pytest.raises(SystemExit) as exited:
        load_warehouse.entry(["load_warehouse.py", "--force", "true"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("load_warehouse.py: error: cannot load dim_channel: duplicate key channel_key=")
    assert err.count("\n") == 1 and "Traceback" not in err
