"""Glue job ``build_star``: curated tables -> star schema Parquet under ``warehouse/`` + RFM breakpoints.

Job parameters: ``--lake_root s3://bucket`` ``--stage prod`` ``--force true`` (rebuild even if unchanged).
Locally: ``python -m glue_jobs.build_star [--lake_root DIR] [--force]``.
"""

from __future__ import annotations

import json
import sys

from glue_jobs.common.args import SETTINGS_ARGUMENTS, job_arguments, settings_from, spark_session
from glue_jobs.star.job import run_build_star


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv if argv is None else argv
    args = job_arguments(argv, ["JOB_NAME", *SETTINGS_ARGUMENTS], flags=["force"])
    settings = settings_from(args)
    spark, job, _ = spark_session()
    if job is not None:
        job.init(args.get("JOB_NAME") or settings.names.build_star_job, args)
    report = run_build_star(spark, settings, force=bool(args.get("force")))
    summary = report.as_dict()
    print(json.dumps(summary, default=str))
    if job is not None:
        job.commit()
    return summary


if __name__ == "__main__":
    main()
