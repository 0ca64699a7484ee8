"""Glue job ``forget``: erase the person an erasure request names, everywhere the lakehouse keeps data.

The AWS counterpart of ``lakehouse forget`` (docs/erasure.md), run by the ForgetCustomer state machine with the
streaming job stopped. The person travels as a request object, never as an argument (Glue and Step Functions keep
a run's arguments and input in their history): ``state/erasure/requests/<request_id>.json`` =
``{"customer_id": …, "requested_by": …}`` in the lake, deleted (with its versions) once the erasure is recorded.

Job parameters (:class:`lakehouse.core.job_args.ForgetArguments`): ``--request_id``, ``--lake_root s3://bucket``,
``--stage``, ``--region``, ``--target redshift`` and the Redshift connection as ``--redshift_*``.
Locally: ``python -m glue_jobs.forget --request_id R --target duckdb`` (``lakehouse forget`` is the usual way).
Prints the erasure record (no personal data) as its last log line. A missing or unreadable request ends the job
with exit status 2 and one line on stderr.
"""

from __future__ import annotations

import json
from typing import Any

from glue_jobs.common.runtime import job_run, print_summary, run_entry_script
from glue_jobs.erasure.job import run_erasure
from lakehouse.core.erasure import request_key
from lakehouse.core.job_args import ForgetArguments, JobArgumentsError
from lakehouse.core.lake.storage import LakeStorage


def read_request(storage: LakeStorage, request_id: str | None) -> tuple[str, str]:
    """``(customer_id, requested_by)`` of the request object. Raises ``JobArgumentsError`` for a missing id, a
    missing object or one without both fields."""
    if not request_id:
        raise JobArgumentsError("--request_id: the erasure request to carry out (state/erasure/requests/<id>.json)")
    try:
        key = request_key(request_id)
    except ValueError as exc:
        raise JobArgumentsError(f"--{exc}") from None
    if not storage.exists(key):
        raise JobArgumentsError(f"--request_id: no erasure request at {storage.layout.uri(key)}")
    try:
        request = json.loads(storage.get_bytes(key))
        customer_id, requested_by = request["customer_id"], request["requested_by"]
    except (ValueError, KeyError, TypeError):
        raise JobArgumentsError(f"{storage.layout.uri(key)}: a JSON object with customer_id and requested_by "
                                "is expected") from None
    if not isinstance(customer_id, str) or not isinstance(requested_by, str):
        raise JobArgumentsError(f"{storage.layout.uri(key)}: customer_id and requested_by must be strings")
    return customer_id, requested_by


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the job on ``argv`` (``sys.argv`` when None); returns the erasure record printed as its last log line."""
    with job_run(ForgetArguments, argv, lambda names: names.forget_job, spark=False) as run:
        storage = LakeStorage(run.settings.lake, region=run.settings.region)
        customer_id, requested_by = read_request(storage, run.arguments.request_id)
        try:
            record = run_erasure(run.settings, customer_id, requested_by,
                                 warehouse=run.arguments.target or run.settings.warehouse_target, dynamodb=True)
        except ValueError as exc:
            raise JobArgumentsError(str(exc)) from None
        key = request_key(run.arguments.request_id or "")
        storage.delete([key])
        storage.purge_history([key])
    return print_summary(record.document())


if __name__ == "__main__":
    run_entry_script(main)
