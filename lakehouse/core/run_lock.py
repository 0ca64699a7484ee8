"""One process at a time on a local streaming checkpoint or batch: an advisory file lock (POSIX ``flock``).

The streaming jobs hold it while their query runs; ``lakehouse forget`` takes it to rewrite a checkpoint's state
with the job stopped. Spark itself does not stop a second query from another process on the same checkpoint.
The lock is the kernel's: it goes with the process that held it, however that process ends. Checkpoints on S3
(the Glue jobs) are not locked here: one job run at a time is Glue's ``MaxConcurrentRuns`` 1.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lakehouse.core.lake.layout import LakeLayout


class CheckpointBusy(RuntimeError):
    """Another process holds the checkpoint's lock (a job runs on it)."""


def batch_lock(lake: LakeLayout) -> str:
    """What a local batch run and ``lakehouse forget`` lock: an erasure must not run while a batch holds records it
    read before the person was suppressed (``<lake>/state/.batch.lock``)."""
    return lake.path("state", "batch")


def lock_path(checkpoint: str | Path) -> Path:
    """``<parent>/.<checkpoint name>.lock``: beside the checkpoint, so clearing the checkpoint leaves it."""
    path = Path(checkpoint)
    return path.parent / f".{path.name}.lock"


@contextmanager
def checkpoint_lock(checkpoint: str | Path, what: str) -> Iterator[None]:
    """Hold the lock of a local ``checkpoint`` (a directory path; ``s3://`` is not locked) while the block runs.

    Raises :class:`CheckpointBusy` naming ``what`` holds it when another process does (never waits).
    """
    if str(checkpoint).startswith("s3://"):
        yield
        return
    path = lock_path(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CheckpointBusy(f"{what} is running on {checkpoint} (another process holds {path}); stop it "
                                 "first") from None
        yield
    finally:
        os.close(fd)
