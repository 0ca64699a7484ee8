"""Where a batch entry script runs: AWS Glue (awsglue present) or a laptop (the local Spark session).

:func:`job_run` is the part every entry script shares: read the job's arguments (one model for both worlds,
:mod:`lakehouse.core.job_args`), get the Spark session, and on Glue initialise the job before the work and
commit it after (a job bookmark advances only on commit, so a failed run is read again by the next one).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from lakehouse.core.config import ResourceNames, Settings
from lakehouse.core.job_args import JobArguments, JobArgumentsError, ParsedJobArguments

J = TypeVar("J", bound=JobArguments)


def on_glue() -> bool:
    """True inside an AWS Glue job run (the ``awsglue`` library is importable)."""
    return importlib.util.find_spec("awsglue") is not None


@dataclass
class JobRun(Generic[J]):
    """One run of an entry script: its arguments, settings and Spark session; Glue's context and job on Glue."""

    parsed: ParsedJobArguments[J]
    settings: Settings
    spark: Any  # pyspark.sql.SparkSession
    glue_context: Any = None  # awsglue.context.GlueContext on Glue
    job: Any = None  # awsglue.job.Job on Glue

    @property
    def arguments(self) -> J:
        """The job's own arguments."""
        return self.parsed.arguments

    @property
    def bookmarked(self) -> bool:
        """True when Glue tracks what this job has read (``--job-bookmark-option job-bookmark-enable``)."""
        return self.glue_context is not None and self.parsed.job_bookmark_option == "job-bookmark-enable"


@contextmanager
def job_run(model: type[J], argv: Sequence[str] | None, default_name: Callable[[ResourceNames], str], *,
            spark: bool = True) -> Iterator[JobRun[J]]:
    """Parse ``argv`` (``sys.argv`` when None) for ``model`` and run the body as one job run.

    On Glue the job is initialised under Glue's ``--JOB_NAME`` (``default_name(settings.names)`` when absent)
    with the options awsglue's ``getResolvedOptions`` resolves, and committed only when the body returns.
    ``spark=False`` skips the Spark session (the warehouse load needs none). ``--help`` prints the job's
    arguments and exits. Raises :class:`~lakehouse.core.job_args.JobArgumentsError` for unusable arguments and,
    off Glue, for unknown ones (on Glue they are reported on stderr: Glue may add parameters of its own).
    """
    argv = list(sys.argv if argv is None else argv)
    if {"-h", "--help"} & set(argv[1:]):
        print(model.usage(Path(argv[0]).name if argv else "job"))
        raise SystemExit(0)
    parsed = model.parse(argv)
    if parsed.ignored:
        if not on_glue():  # a typo here; on Glue, a parameter Glue added that we do not know: reported, not fatal
            raise JobArgumentsError(f"unknown arguments {' '.join(parsed.ignored)} (--help lists what this job reads)")
        print(f"ignored job arguments (no job reads them): {' '.join(parsed.ignored)}", file=sys.stderr)
    settings = parsed.arguments.settings()
    if not on_glue():
        session = None
        if spark:
            from lakehouse.core.spark import local_spark

            session = local_spark()
        yield JobRun(parsed, settings, session)
        return
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    named = any(a == "--JOB_NAME" or a.startswith("--JOB_NAME=") for a in argv)
    options = getResolvedOptions(argv, ["JOB_NAME"]) if named else {}
    job.init(parsed.job_name or default_name(settings.names), options)
    yield JobRun(parsed, settings, glue_context.spark_session, glue_context, job)
    job.commit()


def run_entry_script(main: Callable[[], Any]) -> None:
    """``if __name__ == "__main__"`` of an entry script: a user error ends with its message and exit status 2."""
    try:
        main()
    except JobArgumentsError as exc:
        print(f"{Path(sys.argv[0]).name}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def print_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """Print a job's report as one JSON line (the last line of its log) and return it."""
    print(json.dumps(summary, default=str), flush=True)
    return summary


__all__ = ["JobArgumentsError", "JobRun", "job_run", "on_glue", "print_summary", "run_entry_script"]
