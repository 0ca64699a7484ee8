"""Glue job ``load_warehouse``: the latest star build -> Redshift Serverless (COPY + MERGE, one transaction).

Runs as a Glue 5 job (the CDK batch stack ships the pinned wheels with ``--additional-python-modules``).
Job parameters: ``--lake_root s3://bucket`` ``--stage prod`` ``--target redshift`` ``--force true`` and
the Redshift connection as ``--redshift_host``, ``--redshift_port``, ``--redshift_database``,
``--redshift_workgroup``, ``--redshift_secret_arn``, ``--redshift_copy_role_arn``,
``--redshift_schema_name`` (each overrides the matching ``LAKEHOUSE_REDSHIFT__*`` variable). Locally:
``python -m glue_jobs.load_warehouse`` loads the embedded DuckDB file.
"""

from __future__ import annotations

import json
import sys

from glue_jobs.common.args import REDSHIFT_ARGUMENTS, SETTINGS_ARGUMENTS, job_arguments, settings_from
from lakehouse.warehouse.load import load_warehouse, target_for


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv if argv is None else argv
    args = job_arguments(argv, ["JOB_NAME", *SETTINGS_ARGUMENTS, *REDSHIFT_ARGUMENTS, "target"], flags=["force"])
    settings = settings_from(args)
    report = load_warehouse(settings, target=target_for(settings, args.get("target")), force=bool(args.get("force")))
    summary = report.as_dict()
    print(json.dumps(summary, default=str))
    return summary


if __name__ == "__main__":
    main()
