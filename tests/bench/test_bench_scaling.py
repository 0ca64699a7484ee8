"""Joining an earlier scaling run's sizes to a new one (``bench_scaling.merged_sizes``)."""

import json

import pytest

from tests.bench.scripts import load

scaling = load("bench_scaling")


def size(requested: int, events: int, wall: float) -> dict:
    return {"requested_events": requested, "events": events, "stages": {"land": {"wall_s": wall}}}


def test_earlier_sizes_join_in_order_keeping_when_they_were_measured(tmp_path):
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"generated_at": "2026-12-01T10:00:00+00:00", "days": 90,
                                   "sizes": [size(1_000_000, 995_000, 70.0), size(10_000_000, 9_940_000, 660.0)]}))
    now = [{**size(30_000_000, 29_800_000, 2_000.0), "measured_at": "2026-12-02T18:00:00+00:00"}]
    merged = scaling.merged_sizes(now, [earlier], 90)
    assert [run["events"] for run in merged] == [995_000, 9_940_000, 29_800_000]
    assert [run["measured_at"][:10] for run in merged] == ["2026-12-01", "2026-12-01", "2026-12-02"]


def test_a_size_measured_again_keeps_this_runs_figures(tmp_path):
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"generated_at": "2026-12-01T10:00:00+00:00", "days": 90,
                                   "sizes": [size(1_000_000, 995_000, 70.0)]}))
    merged = scaling.merged_sizes([{**size(1_000_000, 996_000, 80.0), "measured_at": "now"}], [earlier], 90)
    assert [(run["events"], run["measured_at"]) for run in merged] == [(996_000, "now")]


def test_a_run_of_other_simulated_days_is_refused(tmp_path):
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"generated_at": "x", "days": 30, "sizes": [size(1_000_000, 995_000, 70.0)]}))
    with pytest.raises(SystemExit, match="30 simulated days, this run 90"):
        scaling.merged_sizes([], [earlier], 90)
