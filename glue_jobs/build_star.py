"""Glue job ``build_star``: curated tables -> star schema Parquet under ``warehouse/`` + RFM breakpoints.

Job parameters (:class:`lakehouse.core.job_args.BuildStarArguments`): ``--lake_root s3://bucket``
``--stage prod`` ``--force true`` (rebuild even if the curated zone is unchanged), ``--full true`` (rebuild every
table from the whole curated zone, not incrementally).
Locally: ``python -m glue_jobs.build_star [--lake_root DIR] [--force true]``.
"""

from __future__ import annotations

from typing import Any

from glue_jobs.common.runtime import job_run, print_summary, run_entry_script
from glue_jobs.star.job import run_build_star
from lakehouse.core.job_args import BuildStarArguments


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the job on ``argv`` (``sys.argv`` when None); returns the report printed as its last log line."""
    with job_run(BuildStarArguments, argv, lambda names: names.build_star_job) as run:
        report = run_build_star(run.spark, run.settings, force=run.arguments.force,
                                full=run.arguments.full)
    return print_summary(report.as_dict())


if __name__ == "__main__":
    run_entry_script(main)
