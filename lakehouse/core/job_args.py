"""One arguments model for every Glue entry script, read the same way on AWS Glue and on a laptop.

Glue passes each job parameter to the script as ``--name value`` in ``sys.argv`` (AWS Glue Developer Guide,
"Using job parameters in AWS Glue jobs"); a local run passes the same words on the command line. Each job has
a model (a subclass of :class:`JobArguments`) that names exactly the arguments the job reads; the CDK stacks
build the jobs' ``DefaultArguments`` from the same models (:meth:`JobArguments.to_glue`), so the stacks and the
scripts cannot disagree on a name.

Spelling, the same everywhere:

* every argument takes a value: ``--force true``, ``--catalog false`` (Glue parameters are key-value pairs,
  so a bare ``--force`` cannot exist on Glue; it is refused locally too, with a message saying so);
* booleans are ``true`` / ``false`` (also ``1``/``0``, ``yes``/``no``), case-insensitive;
* an argument not given keeps the value of the matching ``LAKEHOUSE_*`` variable, or its default;
* arguments Glue adds itself (``--JOB_ID``, ``--TempDir``, ``--job-bookmark-option`` …) are read where a
  job needs them (:attr:`ParsedJobArguments.job_name`, :attr:`ParsedJobArguments.job_bookmark_option`) and
  otherwise ignored; any other unknown argument is reported in :attr:`ParsedJobArguments.ignored`.

>>> parsed = RawToCuratedArguments.parse(["raw_to_curated.py", "--stage", "prod", "--catalog", "true"])
>>> parsed.arguments.catalog, parsed.arguments.settings().stage
(True, 'prod')
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from lakehouse.core.config import (
    ArchiveSettings,
    BatchSettings,
    EventTimeSettings,
    MoneySettings,
    RedshiftSettings,
    Settings,
    StreamSettings,
)

#: Job parameters AWS Glue sets or reads itself (AWS Glue Developer Guide, "Using job parameters in AWS Glue
#: jobs", and awsglue.job.Job's reserved names): never reported as unknown.
GLUE_PARAMETERS = frozenset({
    "JOB_NAME", "JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION", "TempDir", "RedshiftTempDir",
    "job-bookmark-option", "job-bookmark-from", "job-bookmark-to", "continuation-option", "encryption-type",
    "job-language", "class", "scriptLocation", "extra-py-files", "extra-jars", "extra-files", "user-jars-first",
    "additional-python-modules", "python-modules-installer-option", "enable-metrics",
    "enable-observability-metrics", "enable-continuous-cloudwatch-log", "enable-continuous-log-filter",
    "continuous-log-logGroup", "continuous-log-logStreamPrefix", "continuous-log-conversionPattern",
    "enable-glue-datacatalog", "enable-job-insights", "enable-spark-ui", "spark-event-logs-path",
    "enable-auto-scaling", "auto-scale-within-microbatch", "enable-rename-algorithm-v2",
    "enable-s3-parquet-optimized-committer", "enable-lakeformation-fine-grained-access", "datalake-formats",
    "conf", "executor-cores", "customer-driver-env-vars", "customer-executor-env-vars", "disable-proxy-v2",
    "use-postgres-driver", "write-shuffle-files-to-s3", "write-shuffle-spills-to-s3", "shuffle-storage-path",
    "job-run-queuing-enabled",
})
BOOKMARK_OPTIONS = ("job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable")


class JobArgumentsError(ValueError):
    """The arguments cannot be used; the message names the argument and what it takes."""


J = TypeVar("J", bound="JobArguments")


@dataclass(frozen=True)
class ParsedJobArguments(Generic[J]):
    """A job's arguments and what Glue passed beside them.

    ``job_name`` is Glue's ``--JOB_NAME`` (None locally); ``job_bookmark_option`` Glue's
    ``--job-bookmark-option`` (``job-bookmark-disable`` when absent, as awsglue's ``getResolvedOptions``
    answers); ``ignored`` lists arguments that neither the job nor Glue knows (a typo, usually).
    """

    arguments: J
    job_name: str | None
    job_bookmark_option: str
    ignored: tuple[str, ...]


class JobArguments(BaseModel):
    """What every Glue job reads: where it runs. Subclasses add what one job reads besides.

    Every field is an argument ``--<field name> <value>``; None means "not given" (the ``LAKEHOUSE_*``
    environment or the default applies).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: prefix -> nested settings model: ``--redshift_host`` sets ``Settings.redshift.host``
    NESTED: ClassVar[Mapping[str, type[BaseModel]]] = {}

    project: str | None = None
    stage: str | None = None
    region: str | None = None
    lake_root: str | None = None

    @classmethod
    def usage(cls, prog: str) -> str:
        """The arguments this job reads, one per line (what ``--help`` prints)."""
        lines = [f"usage: {prog} [--name value ...]   (every argument takes a value, booleans too)", ""]
        for name, field in cls.model_fields.items():
            kind = re.sub(r"<class '(\w+)'>", r"\1", str(field.annotation)).replace("typing.", "")
            kind = re.sub(r"^Optional\[(.*)\]$", r"\1", kind.removesuffix(" | None"))
            kind = "true|false" if kind == "bool" else re.sub(r"^Literal\[(.*)\]$", r"one of \1", kind)
            default = "" if field.default is None else f" (default {str(field.default).lower()})"
            lines.append(f"  --{name:<36} {kind}{default}")
        lines.append("\nArguments not given take the LAKEHOUSE_* environment's value, or the default.")
        return "\n".join(lines)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The argument names this job reads (without ``--``), in declaration order."""
        return tuple(cls.model_fields)

    @classmethod
    def parse(cls: type[J], argv: Sequence[str]) -> ParsedJobArguments[J]:
        """Read ``argv`` (``sys.argv``: the script's path first).

        Raises :class:`JobArgumentsError` for an argument without a value or with a value of the wrong kind.
        """
        parser = _Parser(prog=argv[0] if argv else None, add_help=False, allow_abbrev=False)
        for name in cls.names():
            parser.add_argument(f"--{name}", dest=name)
        parser.add_argument("--JOB_NAME", dest="JOB_NAME")
        parser.add_argument("--job-bookmark-option", dest="job_bookmark_option", choices=BOOKMARK_OPTIONS,
                            default=BOOKMARK_OPTIONS[-1])
        ours = {*cls.names(), "JOB_NAME", "job-bookmark-option"}
        try:
            known, extra = parser.parse_known_args(_without_glue_parameters(argv[1:], ours))
        except argparse.ArgumentError as exc:
            raise JobArgumentsError(_argparse_message(exc, cls)) from None
        values = vars(known)
        job_name = values.pop("JOB_NAME")
        bookmark = values.pop("job_bookmark_option")
        try:
            arguments = cls.model_validate({k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:
            raise JobArgumentsError(_validation_message(exc)) from None
        ignored = tuple(token for token in extra if token.startswith("--"))
        return ParsedJobArguments(arguments, job_name, bookmark, ignored)

    @classmethod
    def from_settings(cls: type[J], settings: Settings, **given: Any) -> J:
        """Arguments carrying ``settings``' project, stage and every nested setting this job reads (what the CDK
        passes, so that deploy-time ``LAKEHOUSE_*`` values reach a job that has no environment); ``given`` wins.
        """
        values: dict[str, Any] = {"project": settings.project, "stage": settings.stage}
        for prefix in cls.NESTED:
            nested = getattr(settings, prefix).model_dump()
            for name in cls.names():
                field = name.removeprefix(f"{prefix}_")
                if name.startswith(f"{prefix}_") and nested.get(field) is not None:
                    values[name] = nested[field]
        return cls(**{**values, **given})

    def to_glue(self) -> dict[str, str]:
        """The arguments given to the constructor as Glue ``DefaultArguments`` (``{"--force": "true"}``)."""
        out: dict[str, str] = {}
        for name, value in self.model_dump(exclude_none=True, exclude_unset=True).items():
            out[f"--{name}"] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return out

    def settings(self) -> Settings:
        """Settings from the ``LAKEHOUSE_*`` environment with the given arguments on top.

        Raises :class:`JobArgumentsError` when the result is not valid (a nested value out of its range).
        """
        given = self.model_dump(exclude_none=True)
        try:
            settings = Settings(**{k: v for k, v in given.items() if k in Settings.model_fields})
            updates: dict[str, BaseModel] = {}
            for prefix, model in self.NESTED.items():
                nested = {k.removeprefix(f"{prefix}_"): v for k, v in given.items() if k.startswith(f"{prefix}_")}
                if nested:
                    current: BaseModel = getattr(settings, prefix)
                    try:
                        updates[prefix] = model.model_validate(current.model_dump() | nested)
                    except ValidationError as exc:
                        raise JobArgumentsError(_validation_message(exc, prefix=f"{prefix}_")) from None
            return settings.model_copy(update=updates) if updates else settings
        except ValidationError as exc:
            raise JobArgumentsError(_validation_message(exc)) from None


class RawToCuratedArguments(JobArguments):
    """``glue_jobs/raw_to_curated.py``: raw -> curated; ``catalog`` registers tables in the Glue Data Catalog.

    ``batch_*``: the :class:`~lakehouse.core.config.BatchSettings` this job reads; ``event_time_*``: which event
    times are believable (:class:`~lakehouse.core.config.EventTimeSettings`).
    """

    NESTED: ClassVar[Mapping[str, type[BaseModel]]] = {"batch": BatchSettings, "event_time": EventTimeSettings}

    catalog: bool = False
    batch_session_gap_minutes: int | None = None
    batch_target_file_rows: int | None = None
    batch_write_task_rows: int | None = None
    batch_validation: Literal["spark", "python"] | None = None
    batch_partition_version_retention_days: float | None = None
    batch_zstd_level: int | None = None
    event_time_future_tolerance_seconds: int | None = None
    event_time_earliest_event_date: date | None = None
    event_time_max_skew_correction_seconds: int | None = None


class BuildStarArguments(JobArguments):
    """``glue_jobs/build_star.py``: curated -> star schema; ``force`` rebuilds even when curated is unchanged;
    ``full`` rebuilds every table from the whole curated zone (not incrementally from the previous build).

    ``batch_*``: the :class:`~lakehouse.core.config.BatchSettings` this job reads; ``money_*``: the reporting
    currency and the rate file (:class:`~lakehouse.core.config.MoneySettings`).
    """

    NESTED: ClassVar[Mapping[str, type[BaseModel]]] = {"batch": BatchSettings, "money": MoneySettings}

    force: bool = False
    full: bool = False
    batch_session_gap_minutes: int | None = None
    batch_target_file_rows: int | None = None
    batch_rfm_window_days: int | None = None
    batch_affinity_min_support: float | None = None
    batch_affinity_min_confidence: float | None = None
    batch_affinity_min_pair_orders: int | None = None
    money_reporting_currency: str | None = None
    money_rates_key: str | None = None
    money_max_rate_age_days: int | None = None


class WarehouseArguments(JobArguments):
    """What a job that writes to the warehouse reads: the target and the Redshift connection as ``--redshift_*``.

    Glue sets no environment variables, so a deployed job receives the ``LAKEHOUSE_REDSHIFT__*`` settings as
    parameters.
    """

    NESTED: ClassVar[Mapping[str, type[BaseModel]]] = {"redshift": RedshiftSettings}

    target: Literal["duckdb", "redshift"] | None = None
    redshift_host: str | None = None
    redshift_port: int | None = None
    redshift_database: str | None = None
    redshift_workgroup: str | None = None
    redshift_secret_arn: str | None = None
    redshift_copy_role_arn: str | None = None
    redshift_schema_name: str | None = None


class LoadWarehouseArguments(WarehouseArguments):
    """``glue_jobs/load_warehouse.py``: star build -> warehouse (:class:`WarehouseArguments`). ``force`` loads even
    when the build id is already recorded; ``force`` and ``full`` load every table whole (not the build's deltas).
    """

    force: bool = False
    full: bool = False


class ForgetArguments(WarehouseArguments):
    """``glue_jobs/forget.py``: erase the person named by the erasure request ``request_id``
    (``state/erasure/requests/<request_id>.json``, :func:`lakehouse.core.erasure.request_key`) from the lake, the
    warehouse (:class:`WarehouseArguments`) and DynamoDB. The id travels as a request object, never as an argument:
    Glue keeps a run's arguments in its history."""

    request_id: str | None = None


class StreamingJobArguments(JobArguments):
    """``stream/glue_job.py``: the Glue streaming job; its tuning as ``--stream_*`` (``StreamSettings`` fields).

    ``stream_arn`` and ``checkpoint_location`` are required on Glue (the job cannot start without them).
    ``raw_archive_checkpoint`` starts the raw archive as a second query of the job, tuned by ``--archive_*``
    (``ArchiveSettings`` fields).
    ``event_time_*`` and ``money_*`` carry the event-time rule and the reporting currency, as for the batch.
    """

    NESTED: ClassVar[Mapping[str, type[BaseModel]]] = {"stream": StreamSettings, "event_time": EventTimeSettings,
                                                       "money": MoneySettings, "archive": ArchiveSettings}

    stream_arn: str | None = None
    checkpoint_location: str | None = None
    raw_archive_checkpoint: str | None = None  # the raw archive query's checkpoint; none: the job runs no archive
    kinesis_shards: int | None = None
    stream_trigger_seconds: float | None = None
    stream_max_records_per_trigger: int | None = None
    stream_starting_position: Literal["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"] | None = None
    stream_starting_timestamp: str | None = None
    stream_writer_threads: int | None = None
    stream_state_partitions: int | None = None
    stream_dedup_ttl_hours: int | None = None
    stream_retention_days: int | None = None
    stream_breakpoints_refresh_seconds: float | None = None
    event_time_future_tolerance_seconds: int | None = None
    event_time_earliest_event_date: date | None = None
    money_reporting_currency: str | None = None
    money_rates_key: str | None = None
    money_max_rate_age_days: int | None = None
    archive_buffer_seconds: float | None = None
    archive_max_object_bytes: int | None = None
    archive_max_records_per_trigger: int | None = None
    archive_starting_position: Literal["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"] | None = None
    archive_starting_timestamp: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **given: Any) -> StreamingJobArguments:
        """As :meth:`JobArguments.from_settings`, with the stream's shard count."""
        return super().from_settings(settings, **{"kinesis_shards": settings.kinesis_shards, **given})


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so the caller can word the error."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(exit_on_error=False, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise JobArgumentsError(message)


def _without_glue_parameters(tokens: Sequence[str], ours: set[str]) -> list[str]:
    """``tokens`` without Glue's own parameters and their values.

    Glue passes each as a pair, and a value may itself start with ``--`` (``--python-modules-installer-option
    --no-index``), so a value is whatever follows, unless it names an argument this parser or Glue knows.
    """
    known = ours | GLUE_PARAMETERS
    kept: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        name = token[2:].split("=", 1)[0] if token.startswith("--") else None
        if name in GLUE_PARAMETERS and name not in ours:
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            takes_value = "=" not in token and following is not None and not (
                following.startswith("--") and following[2:].split("=", 1)[0] in known)
            index += 2 if takes_value else 1
            continue
        kept.append(token)
        index += 1
    return kept


def _argparse_message(exc: argparse.ArgumentError, model: type[JobArguments]) -> str:
    name = exc.argument_name or "an argument"
    if "expected one argument" in str(exc):
        field = model.model_fields.get(name.removeprefix("--"))
        flag = field is not None and field.annotation in (bool, "bool")
        return f"argument {name} needs a value" + (f" (booleans too: {name} true)" if flag else "")
    return f"argument {name}: {exc.message}"


def _validation_message(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for error in exc.errors():
        field = "_".join(str(p) for p in error["loc"] if not isinstance(p, int))
        parts.append(f"--{prefix}{field}: {error['msg']}")
    return "; ".join(parts)
