"""The benchmark suite's pure parts (bench/report.py): sizes, the growth exponent, the figures and the tables."""

import math

import numpy as np
import pytest

from tests.bench.scripts import load

report = load("report")


@pytest.mark.parametrize(("text", "count"), [("30M", 30_000_000), ("1.5k", 1_500), ("100", 100), ("2g", 2 * 10**9),
                                             (" 10M ", 10_000_000)])
def test_sizes_are_read_with_their_suffix(text, count):
    assert report.parse_size(text) == count
    assert report.parse_size(report.size_label(count)) == count


@pytest.mark.parametrize("text", ["", "M", "-1M", "10X", "0", "1e6"])
def test_a_size_that_is_not_one_is_refused_naming_it(text):
    with pytest.raises(ValueError, match="not a size"):
        report.parse_size(text)


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0, 1.3, 2.0])
def test_the_growth_exponent_of_a_power_law_is_its_power(exponent):
    sizes = [1e6, 1e7, 3e7]
    assert report.growth_exponent(sizes, [4.2 * s**exponent for s in sizes]) == pytest.approx(exponent, abs=1e-9)


def test_the_growth_exponent_of_noisy_points_is_numpys_least_squares_slope():
    sizes = [1e6, 3e6, 1e7, 3e7]
    times = [160.0, 520.0, 1900.0, 5100.0]
    slope = np.polyfit(np.log(sizes), np.log(times), 1)[0]
    assert report.growth_exponent(sizes, times) == pytest.approx(slope)
    assert report.growth_exponent(sizes[:2], times[:2]) == pytest.approx(math.log(520 / 160) / math.log(3))


def test_no_growth_exponent_from_one_size_or_missing_values():
    assert report.growth_exponent([1e6], [10.0]) is None
    assert report.growth_exponent([1e6, 1e6], [10.0, 11.0]) is None
    assert report.growth_exponent([1e6, 1e7], [10.0, 0.0]) is None


def test_record_writes_nothing_outside_the_suite_and_one_line_per_figure_in_it(tmp_path, monkeypatch):
    monkeypatch.delenv(report.RECORD_ENV, raising=False)
    report.record("batch", "build_star", 13_000, "events/s")
    assert not list(tmp_path.iterdir())
    target = tmp_path / "figures.jsonl"
    monkeypatch.setenv(report.RECORD_ENV, str(target))
    report.record("batch", "build_star", 13_000, "events/s", size="1,000,000 events", baseline="curated",
                  baseline_value=6_500)
    report.record("items", "puts per event", 0.32, "puts")
    figures = report.read_figures(target)
    assert [f["measure"] for f in figures] == ["build_star", "puts per event"]
    assert set(figures[0]) == set(report.FIGURE_KEYS)
    assert report.ratio(figures[0]) == pytest.approx(2.0)
    assert report.ratio(figures[1]) is None


def test_a_benchmark_run_again_replaces_its_earlier_figures_and_keeps_the_others():
    earlier = [{"benchmark": "batch", "seconds": 1}, {"benchmark": "ML", "seconds": 2}]
    merged = report.merge_runs(earlier, [{"benchmark": "batch", "seconds": 3}])
    assert sorted((r["benchmark"], r["seconds"]) for r in merged) == [("ML", 2), ("batch", 3)]


def scaling(times: dict[str, float], memory: dict[str, float], sizes=(1_000_000, 10_000_000)) -> dict:
    """A scaling result whose stage at size n took ``times[stage] * (n / 1M) ** b`` — b from the stage's name."""
    runs = []
    for n in sizes:
        stages = {stage: {"wall_s": base * (n / 1e6) ** {"read floor": 1.0, "star": 1.2}.get(stage, 1.0),
                          "peak_pss_mib": memory[stage] * (n / 1e6) ** 0.5, "cpu_s": 1.0}
                  for stage, base in times.items()}
        runs.append({"events": n, "requested_events": n, "stages": stages})
    return {"stages": list(times), "sizes": runs, "generated_at": "2026-12-02T00:00:00+00:00"}


def test_the_scaling_table_gives_each_stage_its_time_and_memory_exponent():
    result = scaling({"read floor": 2.0, "land": 70.0, "raw -> curated": 160.0, "star": 80.0, "warehouse": 4.0},
                     {"read floor": 30, "land": 1000, "raw -> curated": 4000, "star": 5000, "warehouse": 150})
    table = report.scaling_markdown(result)
    star = next(line for line in table.splitlines() if line.startswith("| star "))
    assert star.split(" | ")[-2:] == ["1.20", "0.50 |"]
    assert "1,000,000 events: time / peak" in table and "10,000,000 events: time / peak" in table
    figures = report.scaling_figures(result)
    rates = {(f["measure"], f["size"]): f for f in figures}
    curate = rates[("raw -> curated, events/s", "10,000,000 events")]
    assert curate["value"] == pytest.approx(1e7 / 1600) and curate["baseline_value"] == pytest.approx(1e7 / 20)
    assert ("raw -> curated, events/s", "1,000,000 events") not in rates  # every size is in the scaling table
    exponent = rates[("star, time growth exponent", "1M -> 10M")]
    assert exponent["value"] == pytest.approx(1.2) and exponent["baseline_value"] == pytest.approx(1.0)


def test_the_suite_table_puts_each_figure_beside_its_baseline_and_says_which_command_made_it():
    runs = [{"benchmark": "batch", "script": "bench/bench_batch.py", "args": ["--events", "150000"],
             "started_at": "2026-12-02T09:41:07.5+00:00", "seconds": 300.0, "status": "ok", "figures": [
                {"benchmark": "batch", "measure": "build_star", "size": "150,000 events", "value": 13_022.4,
                 "unit": "events/s", "baseline": "raw | curated", "baseline_value": 6_511.2, "note": ""}]},
            {"benchmark": "CDNOW", "args": [], "seconds": 0.0, "status": "skipped: no raw zone", "figures": []}]
    table = report.markdown(runs, command="make bench")
    assert table.startswith("Written by `make bench`;")
    row = next(line for line in table.splitlines() if "build_star" in line)
    assert "13,022 events/s" in row and "6,511 events/s — raw \\| curated" in row and "2.00x" in row
    assert "| batch | `python bench/bench_batch.py --events 150000` | 2026-12-02T09:41 | 300 s | ok |" in table
    assert "| CDNOW | `python` |  | 0 s | skipped: no raw zone |" in table
