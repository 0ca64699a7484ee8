"""The benchmark suite: every stage's benchmark at its stated size, each beside its baseline from the same run, and
the scaling run; writes ``bench/results/<date>.json`` and ``bench/results/<date>.md``.

Each benchmark runs as its own process (``python bench/<script> <args>``), its output kept in
``bench/results/logs/<date>/<name>.log``; the headline figures it records (``report.record``) become the rows of
the table, each beside the baseline it measured in the same run. A benchmark that fails is reported as failed (its
log's last lines in the JSON) and the suite goes on; the exit status is 1 when any failed. Running the suite again on
the same day replaces the figures of the benchmarks run again and keeps the others, so one benchmark can be redone.

    python bench/suite.py                                  # all of them (hours: the scaling run goes to 30M)
    python bench/suite.py --only generator,batch           # some
    python bench/suite.py --skip scaling --readme          # and put the table in README.md
    python bench/suite.py --scaling-sizes 1M,3M,10M        # a shorter scaling run

``make bench`` runs the slow tests, then this with ``--readme``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from report import RECORD_ENV, markdown, merge_runs, read_figures, scaling_figures, size_label

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
README_BEGIN = "<!-- bench-suite:begin -->"
README_END = "<!-- bench-suite:end -->"


@dataclass(frozen=True)
class Benchmark:
    """One entry of the suite: a script under ``bench/`` and the arguments that state its size."""

    name: str
    script: str
    args: tuple[str, ...] = ()
    #: a path that must exist for the benchmark to run, and what to do when it does not
    needs: tuple[str, str] | None = None


def benchmarks(args: argparse.Namespace) -> list[Benchmark]:
    """The suite at its stated sizes (README, "Benchmarks", says what each one measures)."""
    home = Path(os.environ.get("LAKEHOUSE_HOME", ROOT / ".lakehouse"))
    # the CDNOW log replayed through the API: by `lakehouse ml evaluate --dataset cdnow`, else by the CDNOW demo
    cdnow = next((home / name for name in ("cdnow", "demo-cdnow") if (home / name / "lake" / "raw").exists()),
                 home / "cdnow")
    return [
        Benchmark("generator", "bench_generator.py", ("--events", "1000000")),
        Benchmark("ingestion handler", "bench_ingest.py", ("--batches", "40")),
        Benchmark("ingestion API under load", "bench_load.py", ("--clients", "50", "--seconds", "60")),
        Benchmark("batch", "bench_batch.py", ("--events", "150000")),
        Benchmark("nightly batch", "bench_nightly.py", ("--history", "30,90", "--events-per-day", "400")),
        Benchmark("curated footprint", "bench_footprint.py", ("--events-per-day", "10000", "--days", "14")),
        Benchmark("feature items", "bench_items.py", ("--customers", "2000", "--days", "180")),
        Benchmark("stream job", "bench_stream.py", ("--rates", "250,1000", "--seconds", "20")),
        Benchmark("ML", "bench_ml.py", ("--customers", "100000", "--json", "bench/results/ml.json")),
        Benchmark("dashboard", "bench_dashboard.py", ("--events", "1000000")),
        Benchmark("CDNOW batch stages", "bench_cdnow_stages.py",
                  (str(cdnow), str(Path(tempfile.gettempdir()) / "bench-cdnow-stages")),
                  needs=(str(cdnow / "lake" / "raw"), "run `lakehouse ml evaluate --dataset cdnow` or `lakehouse "
                                                             "demo --dataset cdnow` first")),
        Benchmark("scaling", "bench_scaling.py", ("--sizes", args.scaling_sizes)),
    ]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {"cores": psutil.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "commit": commit.stdout.strip() or None}


def run(benchmark: Benchmark, day: str, scaling_json: Path) -> dict[str, Any]:
    """Run one benchmark in its own process; its run record (figures, seconds, status, log path)."""
    record: dict[str, Any] = {"benchmark": benchmark.name, "script": f"bench/{benchmark.script}",
                              "args": list(benchmark.args), "started_at": datetime.now(UTC).isoformat(),
                              "load_average_start": round(os.getloadavg()[0], 2), "figures": []}
    if benchmark.needs and not Path(benchmark.needs[0]).exists():
        record.update(status=f"skipped: no {benchmark.needs[0]} ({benchmark.needs[1]})", seconds=0.0)
        print(f"== {benchmark.name}: {record['status']}", flush=True)
        return record
    args = list(benchmark.args)
    if benchmark.name == "scaling":
        args += ["--json", str(scaling_json)]
    logs = RESULTS / "logs" / day
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{re.sub(r'[^a-z0-9]+', '-', benchmark.name.lower()).strip('-')}.log"
    command = [sys.executable, str(HERE / benchmark.script), *args]
    print(f"== {benchmark.name}: {shlex.join(['python', f'bench/{benchmark.script}', *args])} (log: {log})",
          flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        figures = Path(scratch) / "figures.jsonl"
        started = time.perf_counter()
        with log.open("w", encoding="utf-8") as out:
            code = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, RECORD_ENV: str(figures)}).returncode
        record["seconds"] = round(time.perf_counter() - started, 1)
        record["figures"] = read_figures(figures)
    record["log"] = str(log.relative_to(ROOT) if log.is_relative_to(ROOT) else log)
    record["load_average_end"] = round(os.getloadavg()[0], 2)
    if benchmark.name == "scaling" and code == 0 and scaling_json.exists():
        record["scaling"] = json.loads(scaling_json.read_text())
        record["figures"] = scaling_figures(record["scaling"])
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        record.update(status=f"failed (exit {code})", log_tail=tail)
    elif not record["figures"]:
        record["status"] = "failed: ran but recorded no figure"
    else:
        record["status"] = "ok"
    print(f"   {record['status']} in {record['seconds']:,.0f} s, {len(record['figures'])} figures", flush=True)
    return record


def update_readme(readme: Path, table: str) -> None:
    """Replace the text between the README's suite markers with ``table``.

    Raises
    ------
    ValueError
        When the README does not hold both markers, in order.
    """
    text = readme.read_text(encoding="utf-8")
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(f"{readme} has no {README_BEGIN} ... {README_END} section")
    readme.write_text(text[:begin + len(README_BEGIN)] + "\n" + table + text[end:], encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names to leave out")
    parser.add_argument("--scaling-sizes", default="1M,10M,30M", help="the scaling run's sizes (k/M/G suffixes)")
    parser.add_argument("--scaling-from", type=Path, help="take the scaling run from this bench_scaling.py JSON "
                                                          "instead of running it")
    parser.add_argument("--readme", action="store_true", help="put the day's table in README.md")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and their arguments")
    args = parser.parse_args()
    suite = benchmarks(args)
    names = {b.name for b in suite}
    chosen = {n.strip() for n in args.only.split(",") if n.strip()} or names
    skipped = {n.strip() for n in args.skip.split(",") if n.strip()}
    unknown = (chosen | skipped) - names
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(b.name for b in suite)}")
    if args.list:
        for b in suite:
            print(f"{b.name:<28} python bench/{b.script} {shlex.join(b.args)}")
        return 0
    day = date.today().isoformat()
    out, table_out = RESULTS / f"{day}.json", RESULTS / f"{day}.md"
    earlier = latest_runs(RESULTS, day)
    runs = []
    for benchmark in suite:
        if benchmark.name not in chosen or benchmark.name in skipped:
            continue
        if benchmark.name == "scaling" and args.scaling_from:
            scaling = json.loads(args.scaling_from.read_text())
            runs.append(scaling_run(benchmark, scaling, args.scaling_from))
            continue
        runs.append(run(benchmark, day, RESULTS / f"scaling-{day}.json"))
    order = [b.name for b in suite]
    merged = sorted(merge_runs(earlier, runs), key=lambda r: order.index(r["benchmark"]) if r["benchmark"] in order
                    else len(order))
    command = shlex.join(["python", "bench/suite.py", *sys.argv[1:]])
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": day, "machine": machine(), "runs": merged}, indent=1) + "\n")
    table = markdown(merged, command=command)
    table_out.write_text(f"# Benchmarks, {day}\n\n{table}", encoding="utf-8")
    print(f"\n{table}\nresults: {out}, {table_out}")
    if args.readme:
        update_readme(ROOT / "README.md", f"{readme_header(merged, machine()['cores'], machine()['commit'])}"
                                          f"\n\n{table}")
    return 1 if any(r["status"].startswith("failed") for r in runs) else 0


def latest_runs(results: Path, day: str) -> list[dict[str, Any]]:
    """The runs of the newest ``<day>.json`` in ``results`` not after ``day`` (none: ``[]``): what a run of some of
    the benchmarks keeps for the others, so the README's table never loses a benchmark's rows to a new day."""
    files = sorted(p for p in results.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].json") if p.stem <= day)
    return json.loads(files[-1].read_text())["runs"] if files else []


def readme_header(runs: list[dict[str, Any]], cores: int, commit: str) -> str:
    """The line above the README's table: the days its rows ran (from each run's ``started_at``; the scaling run's
    sizes may be older still, its status says), the cores, and the commit the table was written at — not the
    day of writing alone, which a row kept from an earlier run would belie."""
    days = sorted({run["started_at"][:10] for run in runs if run.get("started_at")})
    span = "no run" if not days else days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
    return f"Runs of {span} ({cores} cores; written at commit {commit}; the last table says when each ran):"


def scaling_run(benchmark: Benchmark, scaling: dict[str, Any], source: Path) -> dict[str, Any]:
    """A run record for a scaling run made outside the suite (``--scaling-from``)."""
    sizes = ",".join(size_label(run["requested_events"]) for run in scaling["sizes"])
    seconds = round(sum(stage["wall_s"] for run in scaling["sizes"] for stage in run["stages"].values()), 1)
    ended = datetime.fromisoformat(scaling["generated_at"])  # written when the run ended
    return {"benchmark": benchmark.name, "script": f"bench/{benchmark.script}", "args": ["--sizes", sizes],
            "started_at": (ended - timedelta(seconds=seconds)).isoformat(), "seconds": seconds,
            "status": f"ok (from {source.name}{_measured_when(scaling)})", "figures": scaling_figures(scaling),
            "scaling": scaling}


def _measured_when(scaling: dict[str, Any]) -> str:
    """', sizes measured 1M, 3M, 10M at <time>; 30M at <time>' for a file joining runs (``--include``), else ''."""
    if not scaling.get("included"):
        return ""
    runs: dict[str, list[str]] = {}
    for run in scaling["sizes"]:
        runs.setdefault(run.get("measured_at", scaling["generated_at"])[:16], []).append(
            size_label(run["requested_events"]))
    return ", sizes measured " + "; ".join(f"{', '.join(labels)} at {when}" for when, labels in runs.items())


if __name__ == "__main__":
    sys.exit(main())
