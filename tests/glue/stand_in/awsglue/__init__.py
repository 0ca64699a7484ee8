"""A stand-in for AWS Glue's ``awsglue`` library, for this project's tests only. It is not AWS Glue.

AWS Glue provides ``awsglue`` inside a job run; it cannot be installed here. This package implements exactly what
our entry scripts call, with the documented semantics of the real library:

* :func:`awsglue.utils.getResolvedOptions` — the argument resolution of awslabs/aws-glue-libs ``awsglue/utils.py``;
* :class:`awsglue.context.GlueContext` — ``spark_session``; ``create_dynamic_frame.from_options`` for S3 (or local)
  paths in the ``csv`` format with Glue's job bookmarks; ``create_data_frame.from_options`` for Kinesis, returning
  the micro-batches the test provides; ``forEachBatch``;
* :class:`awsglue.job.Job` — ``init(name, args)`` and ``commit()`` (bookmarks persist on commit only).

What it does **not** emulate: the JVM side of Glue (no ``_jvm``, no ``GlueContext`` as an ``SQLContext``),
DynamicFrame transforms and choice types, formats other than CSV, data sources other than S3 paths and Kinesis,
catalog sources and sinks, bookmark ranges (``--job-bookmark-from``/``--job-bookmark-to``), Glue's real Kinesis
reader (the test supplies each micro-batch, already shaped like its output), and CloudWatch metrics or logs.

Tests put ``tests/glue/stand_in`` on ``sys.path`` only while they need it (:func:`tests.glue.runtime.glue_stand_in`),
so ``importlib.util.find_spec("awsglue")`` — how our scripts detect Glue — is true only inside those tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StandIn:
    """What a test gives the stand-in, and what the stand-in saw (one per activation).

    ``bookmark_dir`` holds the committed job bookmarks, one JSON file per job name (Glue keeps them in the
    service); ``kinesis_batches`` are the DataFrames ``forEachBatch`` hands out, one per micro-batch, in order
    (batch ids count from 0 per checkpoint); ``calls`` records what the scripts asked of Glue, in order, as
    ``(what, details)``; ``work_dir`` is scratch space (S3 objects are fetched there to be read by Spark).
    """

    bookmark_dir: Path | None = None
    work_dir: Path | None = None
    kinesis_batches: list[Any] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def record(self, what: str, **details: Any) -> None:
        """Note one call (``what`` is e.g. ``"Job.commit"``)."""
        self.calls.append((what, details))

    def called(self, what: str) -> list[dict[str, Any]]:
        """The details of every recorded call of ``what``, in order."""
        return [details for name, details in self.calls if name == what]


STAND_IN = StandIn()
