"""Glue job ``load_warehouse``: the latest star build -> Redshift Serverless (COPY + MERGE, one transaction).

Runs as a Glue 5 job (the CDK batch stack ships the pinned wheels with ``--additional-python-modules``).
Job parameters (:class:`lakehouse.core.job_args.LoadWarehouseArguments`): ``--lake_root s3://bucket``
``--stage prod`` ``--target redshift`` ``--force true`` and the Redshift connection as ``--redshift_host``,
``--redshift_port``, ``--redshift_database``, ``--redshift_workgroup``, ``--redshift_secret_arn``,
``--redshift_copy_role_arn``, ``--redshift_schema_name`` (each overrides the matching
``LAKEHOUSE_REDSHIFT__*`` variable). Locally: ``python -m glue_jobs.load_warehouse`` loads the DuckDB file.

``--tables star`` (the default) loads the latest star build; ``--tables scores`` loads only the ML scores
(``fact_customer_scores``, written by the ML job), which is how the batch chain's ``LoadScores`` state runs this
same job after ``TrainAndScore``.

A load that cannot go through (duplicate keys in the build, a value a column cannot hold, an unusable target)
ends the job with exit status 1 and one line on stderr (``load_warehouse.py: error: cannot load dim_customer:
duplicate key customer_key=7 (2 rows). Nothing was loaded …``); the warehouse keeps its previous build.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

from glue_jobs.common.runtime import job_run, print_summary, run_entry_script
from glue_jobs.warehouse.load import load_scores, load_warehouse, target_for
from lakehouse.core.job_args import LoadWarehouseArguments
from lakehouse.core.warehouse import WarehouseError


class LoadWarehouseJobArguments(LoadWarehouseArguments):
    """:class:`~lakehouse.core.job_args.LoadWarehouseArguments` plus ``tables``: what to load, ``star`` (None:
    the latest star build) or ``scores`` (the ML scores table only)."""

    tables: Literal["star", "scores"] | None = None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the job on ``argv`` (``sys.argv`` when None); returns the report printed as its last log line."""
    with job_run(LoadWarehouseJobArguments, argv, lambda names: names.load_warehouse_job, spark=False) as run:
        target = target_for(run.settings, run.arguments.target)
        if run.arguments.tables == "scores":
            report = load_scores(run.settings, target=target, force=run.arguments.force)
        else:
            report = load_warehouse(run.settings, target=target, force=run.arguments.force,
                                    full=run.arguments.full)
    return print_summary(report.as_dict())


def entry(argv: list[str] | None = None) -> None:
    """``__main__``: run :func:`main`; a failed load ends with its one-line message and exit status 1 (no stack
    trace), a bad argument with exit status 2."""
    try:
        run_entry_script(lambda: main(argv))
    except WarehouseError as exc:
        print(f"{Path((argv or sys.argv)[0]).name}: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    entry()
