"""Scaling run: time and peak memory of every batch stage at growing sizes (default 1M -> 10M -> 30M events), and
each stage's growth exponent.

For each size the generator simulates about N events over ``--days`` days (more customers for more events, the
same days: a bigger business, not a longer one) into a fresh lakehouse home, and the stages run one after the
other, **each in a child process of its own**:

  generate        the data generator writes its gzip JSON-lines chunks (``lakehouse generate``)
  land            every call validated and converted as the ingestion API does (``parse_event`` + ``to_record``),
                  written to the raw zone as gzip JSON-lines objects (``lakehouse.local.sample_data.land_calls``)
  read floor      baseline, measured in the same run: one Python process reads every raw object once
                  (gzip + ``orjson.loads`` per line) and counts them — linear work by construction, so its measured
                  exponent shows how far from 1.0 these shared cores put a linear job
  raw -> curated  the batch's first job (Spark: validate, dedup, 11 tables + sessions, ZSTD Parquet)
  star            curated -> star schema (Spark: SCD2 customers, facts, marts' parameters), a full build
  warehouse       star -> the DuckDB warehouse (COPY-equivalent + MERGE)

Per stage and size: wall time, CPU time of the process tree, and the **peak memory of the whole process tree**
(the Python child, the JVM it starts, Spark's Python workers: their summed PSS), sampled with psutil every 0.5 s by
this parent. Spark runs with
``--driver-memory`` (default 4g: the heap grows lazily up to it, so the peak says what the job held, bounded by
that). The growth exponent *b* of ``time ≈ a · events^b`` is the least-squares slope on log-log over the sizes run
(``report.growth_exponent``); 1.0 is linear.

    python bench/bench_scaling.py                         # 1M, 10M, 30M events (hours on 2 cores)
    python bench/bench_scaling.py --sizes 1M,10M          # what docs/scaling.md reports
    python bench/bench_scaling.py --sizes 100k,300k       # a quick look
    python bench/bench_scaling.py --sizes 30M --include bench/results/scaling-<date>.json   # add a size to a run
    python bench/bench_scaling.py --sizes 30M --work DIR --keep --resume   # go on after an interrupted run

The JSON lands in bench/results/scaling-<date>.json; figures go to docs/scaling.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psutil
from report import growth_exponent, parse_size, scaling_markdown

RESULTS = Path(__file__).parent / "results"
STAGES = ("generate", "land", "read floor", "raw -> curated", "star", "warehouse")
START = date(2025, 1, 1)
MIB = 2**20


# --- children: one stage each -----------------------------------------------------------------------------------


def _settings(home: Path):
    from lakehouse.core.config import BatchSettings, Settings

    return Settings(stage="bench", home=home, batch=BatchSettings(target_file_rows=5_000_000))


def stage_generate(home: Path, events: int, days: int) -> dict[str, Any]:
    from lakehouse.local.generator import GeneratorConfig, customers_for_events, generate

    config = GeneratorConfig(start=START, days=days)
    customers = customers_for_events(events, config)
    report = generate(GeneratorConfig(start=START, days=days, customers=customers), home / "generated")
    return {"customers": customers, "events": sum(report.counts.values())}


def stage_land(home: Path, events: int, days: int) -> dict[str, Any]:
    from lakehouse.local.sample_data import land_calls, read_calls

    keys = land_calls(_settings(home), read_calls(home / "generated"))
    return {"raw_objects": len(keys)}


def stage_read_floor(home: Path, events: int, days: int) -> dict[str, Any]:
    import orjson

    lines = 0
    for path in sorted((home / "lake" / "raw").rglob("*.jsonl.gz")):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            if line:
                orjson.loads(line)
                lines += 1
    return {"records": lines}


def stage_curate(home: Path, events: int, days: int) -> dict[str, Any]:
    from glue_jobs.curated.job import run_raw_to_curated
    from lakehouse.core.spark import local_spark

    report = run_raw_to_curated(local_spark("lakehouse-scaling"), _settings(home))
    return {"new_events": report.new_events}


def stage_star(home: Path, events: int, days: int) -> dict[str, Any]:
    from glue_jobs.star.job import run_build_star
    from lakehouse.core.spark import local_spark

    report = run_build_star(local_spark("lakehouse-scaling"), _settings(home), force=True, full=True)
    return {"rows": {name: table.rows for name, table in report.tables.items()}}


def stage_warehouse(home: Path, events: int, days: int) -> dict[str, Any]:
    from glue_jobs.warehouse.load import load_warehouse

    report = load_warehouse(_settings(home), force=True)
    return {"rows": sum(report.tables.values())}


CHILDREN = {"generate": stage_generate, "land": stage_land, "read floor": stage_read_floor,
            "raw -> curated": stage_curate, "star": stage_star, "warehouse": stage_warehouse}


# --- the parent: sizes, stages, the process tree's peak ------------------------------------------------------------


class TreeMeter:
    """Peak memory (MiB) of a process and all its descendants, and their CPU seconds, sampled every ``interval``
    seconds in a thread.

    Memory is the tree's summed PSS (proportional set size: a page shared by n processes counts 1/n in each), so
    forked Python workers sharing their parent's pages are not counted n times, as summed RSS would. CPU seconds
    are each process's user + system time when last seen (a process living less than one interval is missed).
    """

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_mib = 0.0
        self.peak_processes: list[tuple[str, float]] = []
        self._cpu: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            seen = []
            for process in processes:
                try:
                    with process.oneshot():
                        pss = process.memory_full_info().pss
                        times = process.cpu_times()
                        self._cpu[(process.pid, process.create_time())] = times.user + times.system
                        seen.append((process.name(), pss / MIB))
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            total = sum(mib for _, mib in seen)
            if total > self.peak_mib:
                self.peak_mib, self.peak_processes = total, seen
            self._stop.wait(self.interval)

    def stop(self) -> tuple[float, float]:
        """Stop sampling; the peak seen (MiB) and the tree's CPU seconds."""
        self._stop.set()
        self._thread.join()
        return self.peak_mib, sum(self._cpu.values())


def run_stage(stage: str, home: Path, events: int, days: int, driver_memory: str) -> dict[str, Any]:
    """One stage in a child process: wall and CPU seconds, the process tree's peak memory (PSS), the child's counts."""
    env = {**os.environ, "LAKEHOUSE_SPARK_DRIVER_MEMORY": driver_memory}
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, __file__, "--child", stage, "--child-home", str(home),
                                  "--child-events", str(events), "--days", str(days), "--child-out", out.name],
                                 env=env)
        meter = TreeMeter(child.pid)
        code = child.wait()
        wall = time.perf_counter() - started
        peak, cpu = meter.stop()
        if code != 0:
            raise RuntimeError(f"stage {stage!r} at {events:,} events exited with {code}")
        counts = json.loads(Path(out.name).read_text())
    print(f"  {stage:<15} {wall:8.1f} s wall, {cpu:8.1f} s CPU, peak {peak:7,.0f} MiB  {json.dumps(counts)}",
          flush=True)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_pss_mib": round(peak, 1), "counts": counts,
            "peak_processes": [[name, round(mib, 1)] for name, mib in meter.peak_processes]}


def run_size(events: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One size's stages in order. Each finished stage's figures are saved to ``<home>/stages.json`` as it ends;
    with ``--resume`` a size whose home holds that file keeps its lake and its finished stages and runs the rest
    (a run of hours outlives a session or a machine's restart)."""
    home = work / f"events-{events}"
    done = home / "stages.json"
    stages: dict[str, Any] = json.loads(done.read_text()) if args.resume and done.exists() else {}
    if not stages:
        shutil.rmtree(home, ignore_errors=True)
    print(f"{events:,} events over {args.days} days in {home} (load average {os.getloadavg()[0]:.1f})"
          + (f", resuming after {list(stages)[-1]}" if stages else ""), flush=True)
    for stage in STAGES:
        if stage not in stages:
            stages[stage] = run_stage(stage, home, events, args.days, args.driver_memory)
            done.write_text(json.dumps(stages, indent=1) + "\n")
    generated = stages["generate"]["counts"]["events"]
    result = {"events": generated, "requested_events": events, "customers": stages["generate"]["counts"]["customers"],
              "raw_gzip_mib": round(sum(p.stat().st_size for p in (home / "lake" / "raw").rglob("*.jsonl.gz")) / MIB,
                                    1),
              "load_average_end": round(os.getloadavg()[0], 2), "stages": stages}
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return result


def merged_sizes(runs: list[dict[str, Any]], included: list[Path], days: int) -> list[dict[str, Any]]:
    """This run's sizes and those of earlier runs' JSON files, ordered by events; an earlier size keeps its run's
    ``generated_at`` as ``measured_at``, and one of a size this run measured again is left out. Raises
    ``SystemExit`` when an earlier run simulated other days (its sizes would not be the same business grown)."""
    merged = {run["requested_events"]: run for run in runs}
    for path in included:
        earlier = json.loads(path.read_text())
        if earlier.get("days") != days:
            raise SystemExit(f"{path}: {earlier.get('days')} simulated days, this run {days}: not comparable")
        for run in earlier["sizes"]:
            merged.setdefault(run["requested_events"], {**run, "measured_at": run.get("measured_at",
                                                                                       earlier["generated_at"])})
    return sorted(merged.values(), key=lambda run: run["events"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M,30M", help="comma-separated event counts (k/M/G suffixes)")
    parser.add_argument("--days", type=int, default=90, help="simulated days at every size")
    parser.add_argument("--driver-memory", default="4g", help="Spark driver heap (LAKEHOUSE_SPARK_DRIVER_MEMORY)")
    parser.add_argument("--work", type=Path, help="directory for the lakes (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep each size's lake in --work")
    parser.add_argument("--resume", action="store_true",
                        help="in --work, keep a size's lake and the stages it finished (its stages.json), run the "
                             "rest")
    parser.add_argument("--json", type=Path, help="where to write the figures (default bench/results/scaling-<date>"
                                                  ".json)")
    parser.add_argument("--include", type=Path, action="append", default=[],
                        help="an earlier run's JSON (same machine) whose sizes join this run's in the table and the "
                             "exponents, each marked with its run's time (repeatable)")
    parser.add_argument("--child", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--child-home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-events", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        counts = CHILDREN[args.child](args.child_home, args.child_events, args.days)
        args.child_out.write_text(json.dumps(counts))
        return

    sizes = [parse_size(text) for text in args.sizes.split(",") if text.strip()]
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"scaling run: {', '.join(f'{s:,}' for s in sizes)} events, {psutil.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Spark driver {args.driver_memory}", flush=True)
    runs = []
    for events in sizes:
        runs.append(run_size(events, args, work))
    generated_at = datetime.now(UTC).isoformat()
    for run in runs:
        run["measured_at"] = generated_at
    runs = merged_sizes(runs, args.include, args.days)
    scaling = {"generated_at": generated_at, "days": args.days, "driver_memory": args.driver_memory,
               "cores": psutil.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
               "stages": list(STAGES), "sizes": runs, "included": [str(path) for path in args.include]}
    counts = [run["events"] for run in runs]
    scaling["exponents"] = {
        stage: {"time": growth_exponent(counts, [run["stages"][stage]["wall_s"] for run in runs]),
                "memory": growth_exponent(counts, [run["stages"][stage]["peak_pss_mib"] for run in runs])}
        for stage in STAGES}
    print()
    print(scaling_markdown(scaling))
    out = args.json or RESULTS / f"scaling-{date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(scaling, indent=1) + "\n")
    print(f"results: {out}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
