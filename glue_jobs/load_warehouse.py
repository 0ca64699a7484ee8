"""Glue job ``load_warehouse``: the latest star build -> Redshift Serverless (COPY + MERGE, one transaction).

Runs as a Glue Python shell job (no Spark needed) with ``--additional-python-modules``
``redshift-connector==2.2.0,sqlglot==30.30.0``. Job parameters: ``--lake_root s3://bucket`` ``--stage prod``
``--target redshift`` ``--force true``; Redshift connection settings come from ``LAKEHOUSE_REDSHIFT__*``
(workgroup, database, copy_role_arn, secret_arn). Locally: ``python -m glue_jobs.load_warehouse`` loads
the embedded DuckDB file.
"""

from __future__ import annotations

import json
import sys

from glue_jobs.common.args import SETTINGS_ARGUMENTS, job_arguments, settings_from
from lakehouse.warehouse.load import load_warehouse, target_for


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv if argv is None else argv
    args = job_arguments(argv, ["JOB_NAME", *SETTINGS_ARGUMENTS, "target"], flags=["force"])
    settings = settings_from(args)
    report = load_warehouse(settings, target=target_for(settings, args.get("target")), force=bool(args.get("force")))
    summary = report.as_dict()
    print(json.dumps(summary, default=str))
    return summary


if __name__ == "__main__":
    main()
