"""The benchmark suite's runner (bench/suite.py): a real benchmark's figures and log, failures, the README section."""

import json
from pathlib import Path

import pytest

from tests.bench.scripts import load

suite = load("suite")


def test_the_suite_runs_a_real_benchmark_and_keeps_its_figures_and_log(tmp_path, monkeypatch):
    """Seen failing: with the suite's environment variable not passed to the child, no figure came back and the run
    was reported as 'ran but recorded no figure'."""
    monkeypatch.setattr(suite, "RESULTS", tmp_path)
    item = suite.Benchmark("feature items", "bench_items.py", ("--customers", "40", "--days", "20"))
    record = suite.run(item, "2026-12-02", tmp_path / "scaling.json")
    assert record["status"] == "ok", record
    assert {f["measure"] for f in record["figures"]} == {"DynamoDB puts per event",
                                                        "write units per put, item as stored"}
    assert "feature items:" in Path(record["log"]).read_text()
    broken = suite.run(suite.Benchmark("feature items", "bench_items.py", ("--customers", "many")), "2026-12-02",
                       tmp_path / "scaling.json")
    assert broken["status"] == "failed (exit 2)" and any("invalid int value" in line for line in broken["log_tail"])
    missing = suite.run(suite.Benchmark("cdnow", "bench_cdnow_stages.py", needs=(str(tmp_path / "no"), "make it")),
                        "2026-12-02", tmp_path / "scaling.json")
    assert missing["status"].startswith("skipped: no ") and "make it" in missing["status"]


def test_the_readme_section_between_the_markers_is_replaced_and_nothing_else(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{suite.README_BEGIN}\nold table\n{suite.README_END}\nafter\n")
    suite.update_readme(readme, "new table\n")
    assert readme.read_text() == f"# Title\n\nbefore\n{suite.README_BEGIN}\nnew table\n{suite.README_END}\nafter\n"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="bench-suite:begin"):
        suite.update_readme(readme, "x")
    assert json.dumps(readme.read_text()) == json.dumps("no markers\n")
