"""Glue job ``train_and_score``: train, evaluate and score the ML models on the driver, after the warehouse load.

The batch chain runs it between ``LoadWarehouse`` and ``LoadScores`` (infra/stacks/batch.py). It is a Glue 5.0
job (Python 3.11) that never starts Spark: pandas, DuckDB and LightGBM run in the driver's Python process
(docs/decisions-infra.md, "The ML job"). One run calls :func:`ml.pipeline.run_scoring`, which reads the curated
zone, trains and evaluates the models, writes the model artifacts (``artifacts/models/``), the report and the
scores (``warehouse/fact_customer_scores/``, DynamoDB), and returns a JSON-ready report; the job prints that
report as the last line of its log. The scores reach Redshift in the next state, ``LoadScores`` (the warehouse
load job run with ``--tables scores``).

Job parameters (:class:`TrainAndScoreArguments`): ``--lake_root s3://bucket`` ``--stage prod`` ``--region …``
and, optionally, ``--cutoff 2026-11-30`` (the scoring date: everything strictly before 00:00 UTC of that day is
"before"), ``--horizon_days 90`` (the window of the propensity and CLV labels) and ``--churn_days 90`` (no order
in that many days = churned); an argument not given leaves the pipeline's default. Every argument takes a value
(Glue parameters are key-value pairs). Locally: ``python -m ml.job [--lake_root DIR] [--cutoff DATE]``.

Exit status: 0 after a run, 2 for an unusable argument (one line on stderr, no stack trace); any other failure
propagates, so Glue marks the run FAILED and the state machine stops before ``LoadScores`` — the warehouse load
of the same execution stays committed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import Field

from lakehouse.core.config import Settings
from lakehouse.core.job_args import JobArguments, JobArgumentsError
from ml.pipeline import run_scoring

#: ``run_scoring(settings, cutoff, horizon_days, churn_days) -> report``: the signature of ml.pipeline.run_scoring
Scoring = Callable[[Settings, date | None, int | None, int | None], dict[str, Any]]


class TrainAndScoreArguments(JobArguments):
    """``ml/job.py``: where it runs (the base model's fields) plus the scoring date and label windows.

    ``cutoff``: the scoring date (ISO ``YYYY-MM-DD``); ``horizon_days``: days after the cutoff the propensity
    and CLV labels look at; ``churn_days``: days without an order that make a customer churned. Each is None
    when not given, and the pipeline's default applies.
    """

    cutoff: date | None = None
    horizon_days: int | None = Field(default=None, ge=1)
    churn_days: int | None = Field(default=None, ge=1)


def on_glue() -> bool:
    """True inside an AWS Glue job run (the ``awsglue`` library is importable)."""
    return importlib.util.find_spec("awsglue") is not None


def parse_arguments(argv: Sequence[str], glue: bool | None = None) -> TrainAndScoreArguments:
    """The job's arguments from ``argv`` (``sys.argv``: the script's path first).

    An argument neither this job nor Glue knows is an error off Glue (a typo, usually) and only reported on
    stderr on Glue (``glue``: None asks :func:`on_glue`), where Glue may add parameters of its own, as the batch
    jobs do (glue_jobs/common/runtime.py). Raises :class:`~lakehouse.core.job_args.JobArgumentsError` for an
    argument without a value, a value of the wrong kind (``--cutoff 30/11/2026``, ``--horizon_days 0``) or,
    off Glue, an unknown argument.
    """
    parsed = TrainAndScoreArguments.parse(argv)
    if parsed.ignored:
        if not (on_glue() if glue is None else glue):
            raise JobArgumentsError(f"unknown arguments {' '.join(parsed.ignored)} (--help lists what this job reads)")
        print(f"ignored job arguments (no job reads them): {' '.join(parsed.ignored)}", file=sys.stderr)
    return parsed.arguments


def main(argv: Sequence[str] | None = None, scoring: Scoring | None = None) -> dict[str, Any]:
    """Run the job on ``argv`` (``sys.argv`` when None); returns the report printed as its last log line.

    ``scoring`` is the function that does the work, :func:`ml.pipeline.run_scoring` when None (a test passes
    its own to check what the job hands over). ``--help`` prints the arguments and exits with status 0.
    """
    argv = list(sys.argv if argv is None else argv)
    if {"-h", "--help"} & set(argv[1:]):
        print(TrainAndScoreArguments.usage(Path(argv[0]).name if argv else "job.py"))
        raise SystemExit(0)
    arguments = parse_arguments(argv)
    settings = arguments.settings()
    os.environ.setdefault("MPLBACKEND", "Agg")  # the Glue driver has no display: the report's plots render to PNG
    report = (scoring or run_scoring)(settings, arguments.cutoff, arguments.horizon_days, arguments.churn_days)
    print(json.dumps(report, default=str), flush=True)
    return report


def entry(argv: Sequence[str] | None = None) -> None:
    """``__main__``: run :func:`main`; an unusable argument ends with its one-line message and exit status 2."""
    try:
        main(argv)
    except JobArgumentsError as exc:
        print(f"{Path((argv or sys.argv)[0]).name}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    entry()
