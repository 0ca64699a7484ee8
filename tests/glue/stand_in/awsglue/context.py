"""Stand-in for ``awsglue.context`` (tests only; see the package docstring): :class:`GlueContext`.

What our scripts call, emulated on the local Spark session:

* ``GlueContext(sc).spark_session`` — the process's session;
* ``create_dynamic_frame.from_options(connection_type="s3", connection_options={"paths": [...], "recurse": ...},
  format="csv", format_options={...}, transformation_ctx=...)`` — Glue's CSV reader over ``s3://`` prefixes
  (listed and fetched with boto3, so the moto server works) or local directories: ``separator``,
  ``quoteChar`` (``-1``: no quoting), ``withHeader``, ``attachFilename`` (the object's full URI in that column);
  columns without a header are ``col0``, ``col1`` …; gzip objects are read by their ``.gz`` suffix; names starting
  with ``_`` or ``.`` are skipped. With a job bookmark (``Job.init`` with ``job-bookmark-enable``/``pause`` and a
  ``transformation_ctx``) only objects the committed bookmark has not seen are read. Nothing new: a frame
  without columns, as Glue returns;
* ``create_data_frame.from_options(connection_type="kinesis", connection_options={...})`` — checks the options
  Glue's Kinesis source needs (``streamARN`` or ``streamName``, ``classification: json``, a ``schema`` when
  ``inferSchema`` is false, a ``startingPosition`` Glue accepts) and returns a :class:`KinesisStream` over the
  micro-batches the test put in ``STAND_IN.kinesis_batches``, each already shaped like Glue's output: the
  schema's columns, then ``__src_timestamp`` when ``addRecordTimestamp`` is ``"true"`` (checked per batch);
* ``forEachBatch(frame, batch_function, options)`` — ``windowSize`` and ``checkpointLocation`` required, as in
  Glue; each non-empty micro-batch is persisted and passed with its batch id (counting from 0 per checkpoint);
  a batch whose function raises is retried with the **same id** up to ``batchMaxRetries`` (default 3) times, as
  Glue restarts the query and Spark replays an uncommitted batch; then the error propagates and the batch stays
  uncommitted, so the next run on the checkpoint (a restarted job) starts with it again. Returns when the test's
  micro-batches are used up (a real streaming job runs until stopped); no back-off sleeps.

Not emulated: Glue's real readers (S3 listing consistency windows, other formats and options, the Kinesis
client), the checkpoint's Spark offsets (the stand-in keeps ``stand-in-commits.json`` in a local checkpoint
directory), ``persistDataFrame``/``storageLevel`` variants, metrics and logging.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from awsglue import STAND_IN

ARRIVAL_COLUMN = "__src_timestamp"
STARTING_POSITIONS = ("latest", "trim_horizon", "earliest")
#: "a timestamp string in UTC format in the pattern yyyy-mm-ddTHH:MM:SSZ (where Z represents a UTC timezone offset
#: with a +/-. For example: "2023-04-04T08:00:00-04:00")" — AWS Glue, Kinesis connection option startingPosition
STARTING_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
WINDOW_SIZE = re.compile(r"^\d+ (second|seconds|minute|minutes)$")
COMMITS_FILE = "stand-in-commits.json"


class GlueContext:
    """``awsglue.context.GlueContext`` over the local Spark session (see the module docstring for what it does)."""

    def __init__(self, sparkContext: Any, **options: Any):
        self._sc = sparkContext
        self.spark_session: SparkSession = SparkSession.builder.getOrCreate()
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.create_data_frame = DataFrameReader(self)
        self._job: Any = None  # the awsglue.job.Job of this run, once initialised
        STAND_IN.record("GlueContext", options=options)

    def forEachBatch(self, frame: KinesisStream, batch_function: Callable[[DataFrame, int], Any],
                     options: dict[str, Any] | None = None) -> None:
        """Call ``batch_function(micro_batch, batch_id)`` for each micro-batch of ``frame`` (module docstring).

        Raises ``Exception`` for a missing ``windowSize``/``checkpointLocation`` (as Glue does), ``ValueError``
        for an invalid option or a micro-batch not shaped as the source promised, and the batch function's own
        error once the retries are used up.
        """
        options = dict(options or {})
        for required in ("windowSize", "checkpointLocation"):
            if required not in options:
                raise Exception(f"Missing {required} argument")
        if not WINDOW_SIZE.match(str(options["windowSize"])):
            raise ValueError(f"windowSize {options['windowSize']!r} is not a Spark processing-time interval")
        retries_allowed = int(options.get("batchMaxRetries", 3))
        if not 0 <= retries_allowed <= 100:
            raise ValueError("Please specify the number of retries as an integer in the range of [0, 100].")
        if not isinstance(frame, KinesisStream):
            raise TypeError("the awsglue stand-in's forEachBatch takes the frame of create_data_frame.from_options")
        STAND_IN.record("forEachBatch", options=options)
        commits = _local_path(str(options["checkpointLocation"])) / COMMITS_FILE
        batch_id = json.loads(commits.read_text())["next_batch_id"] if commits.is_file() else 0
        while batch_id < len(frame.batches):
            micro_batch = frame.batches[batch_id]
            frame.check(micro_batch, batch_id)
            attempt = 0
            while True:
                attempt += 1
                STAND_IN.record("batch", batch_id=batch_id, attempt=attempt)
                try:
                    micro_batch.persist()
                    if micro_batch.count() > 0:  # Glue skips empty micro-batches
                        batch_function(micro_batch, batch_id)
                    micro_batch.unpersist()
                    break
                except Exception:
                    micro_batch.unpersist()
                    if attempt > retries_allowed:
                        raise
            commits.parent.mkdir(parents=True, exist_ok=True)
            commits.write_text(json.dumps({"next_batch_id": batch_id + 1}))  # Spark's commit log, in short
            batch_id += 1


class DynamicFrame:
    """A stand-in DynamicFrame: only :meth:`toDF` (and :meth:`count`)."""

    def __init__(self, frame: DataFrame):
        self._frame = frame

    def toDF(self) -> DataFrame:
        """The rows as a Spark DataFrame."""
        return self._frame

    def count(self) -> int:
        """The number of rows."""
        return self._frame.count()


class DynamicFrameReader:
    """``glue_context.create_dynamic_frame``: ``from_options`` for S3 (or local) paths in CSV."""

    def __init__(self, glue_context: GlueContext):
        self._context = glue_context

    def from_options(self, connection_type: str, connection_options: dict[str, Any] | None = None,
                     format: str | None = None, format_options: dict[str, Any] | None = None,
                     transformation_ctx: str = "", push_down_predicate: str = "", **kwargs: Any) -> DynamicFrame:
        """Read the objects under ``connection_options["paths"]`` (only unseen ones with a bookmark).

        Raises ``NotImplementedError`` for what the stand-in does not emulate (another connection type or
        format, a push-down predicate).
        """
        if connection_type != "s3" or format != "csv" or push_down_predicate:
            raise NotImplementedError("the awsglue stand-in reads only connection_type='s3', format='csv'")
        connection_options, format_options = dict(connection_options or {}), dict(format_options or {})
        recurse = str(connection_options.get("recurse", False)).lower() == "true"
        listed: dict[str, str] = {}
        for path in connection_options.get("paths", []):
            listed.update(_list_objects(path, recurse))
        job = self._context._job
        new = job.unseen(transformation_ctx, listed) if job is not None else listed
        STAND_IN.record("create_dynamic_frame.from_options", connection_type=connection_type,
                        connection_options=connection_options, format=format, format_options=format_options,
                        transformation_ctx=transformation_ctx, listed=sorted(listed), read=sorted(new))
        spark = self._context.spark_session
        if not new:
            return DynamicFrame(spark.createDataFrame([], StructType([])))
        return DynamicFrame(_read_csv(spark, sorted(new), format_options))


class DataFrameReader:
    """``glue_context.create_data_frame``: ``from_options`` for Kinesis, over the test's micro-batches."""

    def __init__(self, glue_context: GlueContext):
        self._context = glue_context

    def from_options(self, connection_type: str, connection_options: dict[str, Any] | None = None,
                     format: str | None = None, format_options: dict[str, Any] | None = None,
                     transformation_ctx: str = "", push_down_predicate: str = "", **kwargs: Any) -> KinesisStream:
        """The Kinesis source as a :class:`KinesisStream`; raises ``ValueError`` for options Glue would refuse
        and ``NotImplementedError`` for another connection type."""
        if connection_type != "kinesis":
            raise NotImplementedError("the awsglue stand-in's create_data_frame reads only connection_type='kinesis'")
        options = {k: str(v) for k, v in (connection_options or {}).items()}
        STAND_IN.record("create_data_frame.from_options", connection_type=connection_type,
                        connection_options=options, transformation_ctx=transformation_ctx)
        if not options.get("streamARN") and not options.get("streamName"):
            raise ValueError("a Kinesis source needs streamARN or streamName")
        if options.get("classification", format or "").lower() != "json":
            raise ValueError("the awsglue stand-in emulates the Kinesis source with classification 'json' only")
        position = options.get("startingPosition", "latest")
        if position.lower() not in STARTING_POSITIONS and not STARTING_TIMESTAMP.match(position):
            raise ValueError(f"startingPosition {position!r}: Glue takes latest, trim_horizon, earliest or a "
                             "timestamp yyyy-mm-ddTHH:MM:SS+hh:mm")
        for name in ("maxFetchRecordsPerShard", "maxRecordPerRead"):
            if name in options and not (options[name].isdigit() and int(options[name]) > 0):
                raise ValueError(f"{name} {options[name]!r} is not a positive integer")
        columns: list[str] | None = None
        if options.get("inferSchema", "false").lower() == "false":
            if not options.get("schema"):
                raise ValueError("inferSchema false needs a schema")
            spark = self._context.spark_session
            columns = spark.createDataFrame([], options["schema"]).columns
            if options.get("addRecordTimestamp", "false").lower() == "true":
                columns.append(ARRIVAL_COLUMN)
        return KinesisStream(options, columns, list(STAND_IN.kinesis_batches))


class KinesisStream:
    """Stands for the streaming DataFrame Glue's Kinesis source returns: its options and the test's micro-batches.

    ``columns`` is what every micro-batch must have, in order (None when the schema is inferred).
    """

    isStreaming = True

    def __init__(self, options: dict[str, str], columns: list[str] | None, batches: list[DataFrame]):
        self.options, self.columns, self.batches = options, columns, batches

    def check(self, micro_batch: DataFrame, batch_id: int) -> None:
        """Raise ``ValueError`` when ``micro_batch`` is not shaped as this source's options promise."""
        if self.columns is not None and micro_batch.columns != self.columns:
            raise ValueError(f"micro-batch {batch_id} has columns {micro_batch.columns}, but a Kinesis source with "
                             f"these options yields {self.columns}")


def _local_path(uri: str) -> Path:
    if "://" in uri and not uri.startswith("file://"):
        raise NotImplementedError(f"the awsglue stand-in keeps state in local directories only, not {uri}")
    return Path(uri.removeprefix("file://"))


def _s3() -> Any:
    """An S3 client of its own (AWS_ENDPOINT_URL and the credentials come from the environment, as on Glue)."""
    import boto3

    return boto3.client("s3")


def _hidden(name: str) -> bool:
    return name.startswith(("_", "."))


def _list_objects(path: str, recurse: bool) -> dict[str, str]:
    """Objects under ``path``: full URI -> modification marker."""
    if path.startswith("s3://"):
        bucket, _, prefix = path[len("s3://"):].partition("/")
        s3 = _s3()
        objects = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                rest = item["Key"][len(prefix):].lstrip("/")
                if any(_hidden(part) for part in rest.split("/")) or (not recurse and "/" in rest):
                    continue
                objects[f"s3://{bucket}/{item['Key']}"] = f"{item['LastModified'].isoformat()}/{item['ETag']}"
        return objects
    root = _local_path(path)
    if root.is_file():
        return {f"file://{root.resolve()}": str(root.stat().st_mtime_ns)}
    found = root.rglob("*") if recurse else root.glob("*")
    return {f"file://{p.resolve()}": str(p.stat().st_mtime_ns) for p in sorted(found)
            if p.is_file() and not any(_hidden(part) for part in p.relative_to(root).parts)}


def _read_csv(spark: SparkSession, uris: list[str], format_options: dict[str, Any]) -> DataFrame:
    """Glue's CSV reading of ``uris`` with Spark's CSV reader; S3 objects are fetched to a scratch directory."""
    scratch = Path(tempfile.mkdtemp(prefix="awsglue-stand-in-", dir=STAND_IN.work_dir))  # S3 objects fetched here
    paths, s3_prefix = [], str(scratch.resolve()) + "/"
    for uri in uris:
        if uri.startswith("s3://"):
            bucket, _, key = uri[len("s3://"):].partition("/")
            target = scratch / bucket / key
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as handle:
                shutil.copyfileobj(_s3().get_object(Bucket=bucket, Key=key)["Body"], handle)
            paths.append(str(target))
        else:
            paths.append(uri.removeprefix("file://"))
    quote = format_options.get("quoteChar", '"')
    reader = spark.read.options(sep=str(format_options.get("separator", ",")),
                                quote="" if str(quote) == "-1" else str(quote),
                                escape=str(format_options.get("escaper", "\\")),
                                header=str(bool(format_options.get("withHeader", False))).lower(),
                                inferSchema="false", multiLine=str(format_options.get("multiLine", False)).lower())
    frame = reader.csv(paths)
    if not format_options.get("withHeader", False):
        frame = frame.toDF(*[f"col{i}" for i in range(len(frame.columns))])
    name = format_options.get("attachFilename")
    if name:
        local = F.regexp_replace(F.col("_metadata.file_path"), "^file:/*", "/")
        fetched = F.concat(F.lit("s3://"), local.substr(len(s3_prefix) + 1, 1 << 30))
        uri = F.when(local.startswith(s3_prefix), fetched).otherwise(F.concat(F.lit("file://"), local))
        frame = frame.select("*", uri.alias(name))
    return frame
