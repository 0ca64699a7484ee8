"""Nightly batch benchmark: the run for one new day after 30, 90 and 180 days of history, per stage.

For each history length H the benchmark builds a lake holding days 0..H-1 of one generated data set (curated,
star and warehouse, not timed), lands day H's calls and times the nightly run stage by stage
(``lakehouse batch``: raw -> curated, curated -> star, star -> warehouse). The baseline, measured in the same
run, is a full rebuild of the same H+1 days on a fresh lake. A batch that keeps up has nightly times that stay
flat as H grows while the full rebuild grows with it.

    python bench/bench_nightly.py                          # 30, 90, 180 days at ~1,000 events/day
    python bench/bench_nightly.py --history 30,90 --events-per-day 500

Figures go to docs/batch.md; the JSON lands in bench/results/nightly-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from report import record

from lakehouse.core.config import Settings
from lakehouse.core.spark import local_spark
from lakehouse.local.batch import STEPS, run_batch
from lakehouse.local.generator import GeneratorConfig, customers_for_events, generate
from lakehouse.local.sample_data import Arrival, land_calls, read_calls

START = date(2025, 1, 1)
RESULTS = Path(__file__).parent / "results"


def arrival_day(call: dict[str, Any], arrival: Arrival) -> int:
    """The day index from :data:`START` on which the call reaches the API (UTC): late calls arrive days after
    their timestamp, so a nightly run also touches older partitions, as it does in production."""
    return (arrival.received_at(call).date() - START).days


def calls_arriving(directory: Path, arrival: Arrival, first: int, last: int) -> Iterator[dict[str, Any]]:
    """Generated calls arriving on days ``first``..``last`` (inclusive)."""
    return (c for c in read_calls(directory) if first <= arrival_day(c, arrival) <= last)


def timed_steps(settings: Settings, spark, notes: dict[str, Any] | None = None) -> dict[str, float]:
    """Wall-clock seconds of each batch stage, run one after the other as ``lakehouse batch`` runs them; ``notes``
    receives how the star built (``star_mode``, ``dirty_customers``, ``customers``) and the load ran
    (``load_mode``)."""
    seconds = {}
    for step in STEPS:
        started = time.perf_counter()
        report = run_batch(settings, spark, steps=[step])
        seconds[step] = time.perf_counter() - started
        if notes is not None and step == "star" and report.star and not report.star.skipped:
            notes.update(star_mode=report.star.mode, dirty_customers=report.star.dirty_customers,
                         customers=report.star.tables["dim_customer"].rows)
        if notes is not None and step == "warehouse" and report.warehouse:
            notes["load_mode"] = report.warehouse.mode
    return seconds


def lake(home: Path) -> Settings:
    return Settings(stage="bench", home=home)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", default="30,90,180", help="history lengths in days, comma-separated")
    parser.add_argument("--events-per-day", type=int, default=1000)
    parser.add_argument("--late-share", type=float, default=0.02, help="share of calls arriving two days late")
    parser.add_argument("--keep", type=Path, help="keep the lakes in this directory (default: a temp dir)")
    args = parser.parse_args()
    histories = sorted(int(h) for h in args.history.split(","))
    os.environ.setdefault("LAKEHOUSE_SPARK_DRIVER_MEMORY", "3g")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-nightly-"))
    days = histories[-1] + 1
    config = GeneratorConfig(start=START, days=days)
    customers = customers_for_events(args.events_per_day * days, config)
    print(f"generating ~{args.events_per_day * days:,} events ({customers:,} customers, {days} days) ...", flush=True)
    generated = work / "generated"
    generate(GeneratorConfig(customers=customers, start=START, days=days), generated)
    arrival = Arrival(late_share=args.late_share)
    spark = local_spark("lakehouse-bench-nightly")
    warm = lake(work / "warmup")  # JIT, code generation and Python workers warm up
    land_calls(warm, calls_arriving(generated, arrival, 0, 1), arrival=arrival)
    run_batch(warm, spark)

    results = []
    for history in histories:
        nightly = lake(work / f"nightly-{history}")
        land_calls(nightly, calls_arriving(generated, arrival, 0, history - 1), arrival=arrival)
        started = time.perf_counter()
        run_batch(nightly, spark)
        history_s = time.perf_counter() - started
        new_calls = list(calls_arriving(generated, arrival, history, history))
        land_calls(nightly, new_calls, arrival=arrival)
        notes: dict[str, Any] = {}
        night = timed_steps(nightly, spark, notes)
        full = lake(work / f"full-{history}")
        land_calls(full, calls_arriving(generated, arrival, 0, history), arrival=arrival)
        rebuild = timed_steps(full, spark)
        results.append({"history_days": history, "new_day_calls": len(new_calls), "history_build_s": history_s,
                        "nightly_s": night, "full_rebuild_s": rebuild, "nightly": notes})
        print(f"  {history:>4} days: nightly ({notes}) " + ", ".join(f"{k} {v:.1f}s" for k, v in night.items())
              + " | full rebuild " + ", ".join(f"{k} {v:.1f}s" for k, v in rebuild.items()), flush=True)
        if not args.keep:
            for folder in (nightly, full):
                shutil.rmtree(folder.home, ignore_errors=True)

    print(f"\nnightly batch: the calls arriving on day H (~{args.events_per_day:,} events/day, "
          f"{args.late_share:.0%} two days late) after H days of history; baseline: a full rebuild of the "
          f"H+1 days in the same run; Spark {spark.version}, 2 cores")
    header = f"  {'history':>8} {'new calls':>10} " + " ".join(f"{'nightly ' + s:>18}" for s in STEPS) \
        + " " + " ".join(f"{'full ' + s:>15}" for s in STEPS)
    print(header)
    for r in results:
        print(f"  {r['history_days']:>6} d {r['new_day_calls']:>10,} "
              + " ".join(f"{r['nightly_s'][s]:>17.1f}s" for s in STEPS) + " "
              + " ".join(f"{r['full_rebuild_s'][s]:>14.1f}s" for s in STEPS))
    if len(results) > 1:
        first, last = results[0], results[-1]
        growth = {s: last["nightly_s"][s] / first["nightly_s"][s] for s in STEPS}
        full_growth = {s: last["full_rebuild_s"][s] / first["full_rebuild_s"][s] for s in STEPS}
        print(f"  nightly growth {first['history_days']} -> {last['history_days']} days: "
              + ", ".join(f"{s} x{g:.2f}" for s, g in growth.items())
              + "; full rebuild: " + ", ".join(f"{s} x{g:.2f}" for s, g in full_growth.items()))
    for r in results:
        for step in STEPS:
            record("nightly batch", f"one new day after {r['history_days']} days: {step}", r["nightly_s"][step], "s",
                   size=f"{r['new_day_calls']:,} new calls, ~{args.events_per_day:,} events/day",
                   baseline=f"full rebuild of the {r['history_days'] + 1} days",
                   baseline_value=r["full_rebuild_s"][step])
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    out = RESULTS / f"nightly-{stamp}.json"
    out.write_text(json.dumps({"events_per_day": args.events_per_day, "late_share": args.late_share,
                               "generated_at": datetime.now(UTC).isoformat(), "runs": results}, indent=2))
    print(f"results: {out}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
