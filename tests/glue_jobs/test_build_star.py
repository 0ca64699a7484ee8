"""The build_star Glue entry script, run locally."""

from __future__ import annotations

from glue_jobs import build_star


def test_entry_script_skips_an_unchanged_curated_zone(lake_copy, monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(lake_copy.home))
    summary = build_star.main(["build_star.py"])
    assert summary["skipped"] == "curated zone unchanged since the last build" and summary["build_id"]
