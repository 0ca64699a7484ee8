"""Job arguments and the Spark session, on AWS Glue (awsglue) and locally (argparse, local Spark)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from typing import Any

from lakehouse.config import Settings

#: settings a job accepts as ``--name value`` (Glue job parameters); anything else comes from LAKEHOUSE_*
SETTINGS_ARGUMENTS = ("project", "stage", "region", "lake_root")
#: Redshift connection settings a job accepts as ``--redshift_<field> value`` (Glue sets no environment
#: variables, so the deployed load_warehouse job gets them as parameters)
REDSHIFT_ARGUMENTS = tuple(f"redshift_{name}" for name in
                           ("host", "port", "database", "workgroup", "secret_arn", "copy_role_arn", "schema_name"))


def on_glue() -> bool:
    return importlib.util.find_spec("awsglue") is not None


def job_arguments(argv: Sequence[str] | None, names: Sequence[str], defaults: dict[str, str] | None = None,
                  flags: Sequence[str] = ()) -> dict[str, Any]:
    """``--name value`` arguments: awsglue's getResolvedOptions on Glue, argparse elsewhere.

    Glue passes every job parameter as ``--name value``; getResolvedOptions fails on names it is asked for
    but not given, so only the names present are resolved and the rest take ``defaults``.
    """
    argv = list(sys.argv if argv is None else argv)
    defaults = dict(defaults or {})
    if on_glue():
        from awsglue.utils import getResolvedOptions

        present = [n for n in [*names, *flags] if f"--{n}" in argv]
        resolved = getResolvedOptions(argv, present) if present else {}
        values: dict[str, Any] = {**defaults, **{k.replace("-", "_"): v for k, v in resolved.items()}}
        for flag in flags:
            values[flag] = str(values.get(flag, "false")).lower() in ("true", "1", "yes")
        return values
    parser = argparse.ArgumentParser(description=argv[0] if argv else None)
    for name in names:
        parser.add_argument(f"--{name}", default=defaults.get(name))
    for flag in flags:
        parser.add_argument(f"--{flag}", action="store_true")
    known, _ = parser.parse_known_args(argv[1:])
    return vars(known)  # argparse names '--a-b' as 'a_b', as getResolvedOptions does


def settings_from(arguments: dict[str, Any]) -> Settings:
    """Settings from job arguments (only those given) on top of the LAKEHOUSE_* environment."""
    given = {k: v for k, v in arguments.items() if k in SETTINGS_ARGUMENTS and v}
    redshift = {k.removeprefix("redshift_"): v for k, v in arguments.items() if k in REDSHIFT_ARGUMENTS and v}
    settings = Settings(**given)
    if redshift:
        merged = settings.redshift.model_dump() | redshift
        settings = settings.model_copy(update={"redshift": type(settings.redshift).model_validate(merged)})
    return settings


def spark_session():
    """(spark, glue job or None): Glue's session on Glue, the process-wide local session elsewhere."""
    if on_glue():
        from awsglue.context import GlueContext
        from awsglue.job import Job
        from pyspark.context import SparkContext

        glue_context = GlueContext(SparkContext.getOrCreate())
        return glue_context.spark_session, Job(glue_context), glue_context
    from lakehouse.spark import local_spark

    return local_spark(), None, None
