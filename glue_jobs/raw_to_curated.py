"""Glue job ``raw_to_curated``: new raw objects -> validated, deduplicated, curated ZSTD Parquet tables.

On Glue (5.x, Spark 3.5) with ``--job-bookmark-option job-bookmark-enable`` the new raw objects come
from a bookmarked S3 source (which lists the whole raw prefix every run); otherwise (as deployed, and locally)
from the landing log ``raw/_landed/`` and the manifest of committed runs in ``state/``.
Job parameters (:class:`lakehouse.core.job_args.RawToCuratedArguments`): ``--lake_root s3://bucket``
``--stage prod`` ``--region …`` ``--catalog true``.
Locally: ``python -m glue_jobs.raw_to_curated [--lake_root DIR] [--catalog true]``.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from glue_jobs.common.runtime import job_run, print_summary, run_entry_script
from glue_jobs.curated.job import run_raw_to_curated
from glue_jobs.curated.parse import raw_object_of
from lakehouse.core.job_args import RawToCuratedArguments

RAW_LINE_SEPARATOR = "\u0001"  # never in a JSON line: control characters must be escaped in JSON


def bookmarked_raw_lines(glue_context, raw_uri: str) -> DataFrame:
    """Lines of raw objects the job bookmark has not seen, as (raw_object, value).

    The CSV reader with an impossible separator and quoting off yields each line whole in one column;
    ``attachFilename`` names the object each line came from.
    """
    frame = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        # the landing log's JSON records are not raw lines (Glue's S3 exclusions: a JSON list of glob patterns)
        connection_options={"paths": [raw_uri.rstrip("/") + "/"], "recurse": True,
                            "exclusions": '["**/_landed/**"]'},
        format="csv",
        format_options={"separator": RAW_LINE_SEPARATOR, "quoteChar": -1, "withHeader": False,
                        "attachFilename": "raw_file"},
        transformation_ctx="raw_lines",
    )
    lines = frame.toDF()
    parts = [c for c in lines.columns if c != "raw_file"]
    if not parts:  # the bookmark saw nothing new
        return lines.sparkSession.createDataFrame([], "raw_object string, value string")
    value = F.concat_ws(RAW_LINE_SEPARATOR, *parts) if len(parts) > 1 else F.col(parts[0])
    return lines.select(raw_object_of(F.col("raw_file")).alias("raw_object"), value.alias("value"))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the job on ``argv`` (``sys.argv`` when None); returns the report printed as its last log line.

    With a job bookmark (on Glue) the new raw lines come from the bookmarked S3 source; otherwise the job reads
    the landing log against its manifest of committed runs.
    """
    with job_run(RawToCuratedArguments, argv, lambda names: names.raw_to_curated_job) as run:
        lines = bookmarked_raw_lines(run.glue_context, run.settings.lake.uri("raw")) if run.bookmarked else None
        report = run_raw_to_curated(run.spark, run.settings, lines=lines, catalog=run.arguments.catalog)
    return print_summary(report.as_dict())


if __name__ == "__main__":
    run_entry_script(main)
