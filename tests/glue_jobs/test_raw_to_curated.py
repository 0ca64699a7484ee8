"""The raw_to_curated Glue entry script, run locally."""

from __future__ import annotations

from glue_jobs import raw_to_curated


def test_entry_script_runs_the_job_on_the_configured_lake(lake_copy, monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(lake_copy.home))
    summary = raw_to_curated.main(["raw_to_curated.py", "--JOB_NAME", "local"])
    assert summary["skipped"] == "no new raw objects"
