"""Curated and star stage times on the real CDNOW log (issue 15: the star stage must take less than the curated one).

Usage: ``python bench/bench_cdnow_stages.py <replayed cdnow home> <scratch home>``. The first argument is a
lakehouse home into which the CDNOW log was replayed through the ingestion API (``lakehouse ml evaluate
--dataset cdnow`` leaves one at ``<LAKEHOUSE_HOME>/cdnow``: :func:`lakehouse.local.ml_runs.replay_cdnow`; ``lakehouse
demo --dataset cdnow`` one at ``<LAKEHOUSE_HOME>/demo-cdnow``; the suite takes the first that exists). Its raw
zone (and rate reference files) are copied to the scratch home, which is deleted first; then raw -> curated and
curated -> star run one after the other in one process, each timed, and the ``fact_customer_metrics`` row count
and every star table's rows are printed as JSON. Figures: docs/batch.md, "The customer snapshot".
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from report import record


def main(source: Path, target: Path) -> dict:
    """Copy ``source``'s raw zone to a fresh ``target`` home, run and time the two stages; returns the figures."""
    from lakehouse.core.config import Settings
    from lakehouse.core.spark import local_spark
    from lakehouse.local.batch import run_batch

    if target.exists():
        shutil.rmtree(target)
    for part in ("raw", "reference"):
        if (source / "lake" / part).exists():
            shutil.copytree(source / "lake" / part, target / "lake" / part)
    settings = Settings(home=target)
    spark = local_spark("bench-cdnow-stages")
    out: dict = {}
    report = None
    for step in ("curated", "star"):
        started = time.monotonic()
        report = run_batch(settings, spark, steps=(step,), catalog=False)
        out[f"{step}_seconds"] = round(time.monotonic() - started, 1)
        print(step, out[f"{step}_seconds"], "s", flush=True)
    star = report.star
    out.update(as_of=star.as_of, fact_customer_metrics_rows=star.tables["fact_customer_metrics"].rows,
               tables={name: table.rows for name, table in star.tables.items()})
    record("CDNOW batch stages", "curated -> star", out["star_seconds"], "s",
           size=f"{out['fact_customer_metrics_rows']:,} customer-snapshot rows", baseline="raw -> curated",
           baseline_value=out["curated_seconds"])
    return out


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2])), indent=1))
