"""Helpers for tests of the Glue entry scripts: the ``awsglue`` stand-in switched on for a block, and Glue's argv.

>>> with glue_stand_in(tmp_path) as glue:          # awsglue importable only inside the block
...     raw_to_curated.main(glue_argv("raw_to_curated.py", "lakehouse-raw-to-curated", bookmark="enable"))
...     glue.called("Job.commit")
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STAND_IN_ROOT = Path(__file__).with_name("stand_in")


@contextmanager
def glue_stand_in(state_dir: Path, kinesis_batches: Sequence[Any] = ()) -> Iterator[Any]:
    """Make the ``awsglue`` stand-in importable for the block; yields its :class:`awsglue.StandIn`.

    Job bookmarks are kept in ``state_dir/bookmarks`` (keep the same ``state_dir`` across blocks for a bookmark to
    outlive one); ``kinesis_batches`` are the micro-batches its Kinesis source delivers. Afterwards ``awsglue``
    is neither importable nor imported, so ``on_glue()`` is false again.
    """
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(STAND_IN_ROOT))
    importlib.invalidate_caches()
    try:
        import awsglue  # imported afresh: the block before removed it from sys.modules

        state = awsglue.STAND_IN
        state.bookmark_dir, state.work_dir = Path(state_dir) / "bookmarks", Path(state_dir)
        state.kinesis_batches = list(kinesis_batches)
        yield state
    finally:
        sys.path.remove(str(STAND_IN_ROOT))
        for name in [m for m in sys.modules if m == "awsglue" or m.startswith("awsglue.")]:
            del sys.modules[name]
        importlib.invalidate_caches()


def glue_argv(script: str, job_name: str, *job_arguments: str, bookmark: str = "disable") -> list[str]:
    """``sys.argv`` as AWS Glue 5 builds it for a job run: Glue's parameters first, then the job's own.

    Glue passes its run identity, ``--job-bookmark-option job-bookmark-<bookmark>``, ``--TempDir``, special
    parameters (some with empty values, one whose value itself starts with ``--``) and ``--JOB_NAME``, then every
    ``DefaultArguments`` entry of the job as ``--name value`` (AWS Glue Developer Guide, "Using job parameters in
    AWS Glue jobs").
    """
    return [f"/tmp/{script}", "--JOB_ID", "j_6e2b3a9f0c1d", "--JOB_RUN_ID", "jr_4f1c0e9d8b7a6c5d",
            "--job-bookmark-option", f"job-bookmark-{bookmark}", "--TempDir", "s3://aws-glue-assets-1/temporary/",
            "--enable-metrics", "true", "--enable-glue-datacatalog", "true", "--enable-continuous-cloudwatch-log",
            "true", "--extra-files", "", "--additional-python-modules",
            "pydantic==2.14.3,pydantic-settings==2.16.3", "--python-modules-installer-option", "--no-index",
            "--enable-job-insights", "false", "--JOB_NAME", job_name, *job_arguments]
