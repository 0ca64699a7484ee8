"""Stand-in for ``awsglue.utils`` (tests only; see the package docstring): :func:`getResolvedOptions`.

Same semantics as awslabs/aws-glue-libs ``awsglue/utils.py``: an argparse parser that raises
:class:`GlueArgumentError` instead of exiting; the requested options are required ``--name value`` pairs; names
Glue reserves raise ``RuntimeError`` when requested; ``--job-bookmark-option`` (default ``job-bookmark-disable``,
or translated from the older ``--continuation-option``), ``--JOB_ID``, ``--JOB_RUN_ID``,
``--SECURITY_CONFIGURATION``, ``--encryption-type``, ``--TempDir``/``--RedshiftTempDir`` (each mirrors the other)
and the bookmark range options are always understood; anything else is left alone (``parse_known_args``).
Not emulated: the module's JVM helpers (``makeOptions``, ``callsite`` …).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from awsglue.job import Job


class GlueArgumentError(Exception):
    """An argument Glue cannot resolve (a required option missing, a value outside its choices)."""


class GlueArgumentParser(argparse.ArgumentParser):
    """argparse that raises :class:`GlueArgumentError` instead of exiting the process."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise GlueArgumentError(message)


def _bare(option: str) -> str:
    return option.lstrip("-")


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, Any]:
    """The values of ``options`` (names without ``--``) in ``args`` (``sys.argv``), plus Glue's own options.

    Raises :class:`GlueArgumentError` when a requested option is missing or a choice is invalid, and
    ``RuntimeError`` when a reserved name is requested or the bookmark range options do not fit the bookmark option.
    """
    parser = GlueArgumentParser()
    bookmark, *bookmark_choices = Job.job_bookmark_options()
    continuation, *continuation_choices = Job.continuation_options()
    for reserved in (bookmark, continuation, *Job.job_bookmark_range_options(), *Job.id_params()[1:],
                     Job.encryption_type_options()[0]):
        if _bare(reserved) in options:
            raise RuntimeError(f"Using reserved arguments {reserved}")
    parser.add_argument(bookmark, choices=bookmark_choices, required=False)
    parser.add_argument(continuation, choices=continuation_choices, required=False)
    for name in (*Job.job_bookmark_range_options(), *Job.id_params()[1:]):
        parser.add_argument(name, required=False)
    encryption, *encryption_choices = Job.encryption_type_options()
    parser.add_argument(encryption, choices=encryption_choices)
    parser.add_argument("--RedshiftTempDir", required=False)
    parser.add_argument("--TempDir", required=False)
    for name in options:
        if name not in ("RedshiftTempDir", "TempDir"):
            parser.add_argument(f"--{name}", required=True)

    known, _extra = parser.parse_known_args(list(args[1:]))
    resolved = vars(known)
    if resolved.get("TempDir") is not None:
        resolved["RedshiftTempDir"] = resolved["TempDir"]
    elif resolved.get("RedshiftTempDir") is not None:
        resolved["TempDir"] = resolved["RedshiftTempDir"]

    continuation_value = resolved.pop("continuation_option", None)
    if resolved.get("job_bookmark_option") is None:
        if continuation_value is None:
            resolved["job_bookmark_option"] = "job-bookmark-disable"
        else:  # the older spelling, position for position
            resolved["job_bookmark_option"] = bookmark_choices[continuation_choices.index(continuation_value)]

    absent = [o for o in Job.job_bookmark_range_options() if resolved.get(_bare(o).replace("-", "_")) is None]
    if resolved["job_bookmark_option"] == "job-bookmark-pause":
        if len(absent) == 1:
            raise RuntimeError(f"Missing option or value for {absent[0]}")
    elif not absent:
        raise RuntimeError("Invalid option(s)" + " ".join(Job.job_bookmark_range_options()))
    return resolved
