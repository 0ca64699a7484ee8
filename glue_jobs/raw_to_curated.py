"""Glue job ``raw_to_curated``: new raw objects -> validated, deduplicated, curated ZSTD Parquet tables.

On Glue (5.x, Spark 3.5) with ``--job-bookmark-option job-bookmark-enable`` the new raw objects come
from a bookmarked S3 source; otherwise (and locally) from the manifest of committed runs in ``state/``.
Job parameters: ``--lake_root s3://bucket`` ``--stage prod`` ``--region …`` ``--catalog true``.
Locally: ``python -m glue_jobs.raw_to_curated [--lake_root DIR] [--catalog]``.
"""

from __future__ import annotations

import json
import sys

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from glue_jobs.common.args import SETTINGS_ARGUMENTS, job_arguments, settings_from, spark_session
from glue_jobs.curated.job import run_raw_to_curated
from glue_jobs.curated.parse import raw_object_of

RAW_LINE_SEPARATOR = "\u0001"  # never in a JSON line: control characters must be escaped in JSON


def bookmarked_raw_lines(glue_context, raw_uri: str) -> DataFrame:
    """Lines of raw objects the job bookmark has not seen, as (raw_object, value).

    The CSV reader with an impossible separator and quoting off yields each line whole in one column;
    ``attachFilename`` names the object each line came from.
    """
    frame = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [raw_uri.rstrip("/") + "/"], "recurse": True},
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


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv if argv is None else argv
    args = job_arguments(argv, ["JOB_NAME", *SETTINGS_ARGUMENTS, "job-bookmark-option"], flags=["catalog"])
    settings = settings_from(args)
    spark, job, glue_context = spark_session()
    lines = None
    if job is not None:
        job.init(args.get("JOB_NAME") or settings.names.raw_to_curated_job, args)
        if args.get("job_bookmark_option") == "job-bookmark-enable":
            lines = bookmarked_raw_lines(glue_context, settings.lake.uri("raw"))
    report = run_raw_to_curated(spark, settings, lines=lines, catalog=bool(args.get("catalog")))
    summary = report.as_dict()
    print(json.dumps(summary, default=str))
    if job is not None:
        job.commit()
    return summary


if __name__ == "__main__":
    main()
