"""Stages of `lakehouse demo` run alone on the suite's batch-built lake (tests/lake_fixtures.py: two months of
generated data), where the whole demo is not needed."""

from __future__ import annotations

from rich.console import Console

from lakehouse.local.demo import ML_MIN_DAYS, Demo, DemoOptions


def test_the_ml_stage_says_it_skipped_with_too_little_history(built_lake) -> None:
    """Two months of data: the ML stage skips, says why and how to run it; ``Demo.run`` prints such a stage as
    skipped, not with a check mark (the slow demo --dashboard test sees that line). Seen failing with the stage's
    day check removed: ``evaluate`` raised ``MLError`` on a cutoff without history before it."""
    console = Console(record=True, width=200)
    facts = Demo(built_lake.settings, DemoOptions(), console).run_models()
    assert facts == {"skipped": f"fewer than {ML_MIN_DAYS} days"}
    assert f"run the demo with --days {ML_MIN_DAYS} or more" in console.export_text()
