"""``lakehouse forget``: erase one person from the local lakehouse and keep them out (docs/erasure.md).

The erasure itself is :func:`glue_jobs.erasure.job.run_erasure`, the same the ``forget`` Glue job runs on AWS;
here it runs on the local lake and DuckDB warehouse, with the streaming jobs' checkpoints and the batch locked for
its whole length (:mod:`lakehouse.core.run_lock`): a running ``lakehouse stream``/``archive``/``batch`` makes it
refuse (``CheckpointBusy``) before anything changed, and none of them starts until it ended.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack

from glue_jobs.erasure.job import Target, assess, checkpoints, run_erasure
from lakehouse.core.config import Settings
from lakehouse.core.erasure import ErasureRecord
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.run_lock import batch_lock, checkpoint_lock
from lakehouse.local.aws.embedded import journal_file


def forget(settings: Settings, customer_id: str, requested_by: str, *, dynamodb: bool = True,
           on_progress: Callable[[str], None] | None = None) -> ErasureRecord:
    """Erase ``customer_id``'s person from the lake, the warehouse (DuckDB; Redshift when it is the configured
    target) and (``dynamodb``) the live tables, and suppress their ids; returns the erasure record (also written to
    the lake). ``dynamodb=False`` when no emulator runs: its tables live in its memory, so nothing of the person
    is kept there. Raises ``CheckpointBusy`` while a streaming job runs, ``ValueError`` for a blank id or
    requester, and before anything changed when the embedded AWS keeps a journal in this home
    (``LAKEHOUSE_MOTO_PERSIST``): the journal holds every request it was sent, the person's events included, and
    the erasure cannot rewrite it (docs/erasure.md)."""
    journal = journal_file(settings.run_dir)
    if journal.is_file() and journal.stat().st_size:
        raise ValueError(f"the embedded AWS keeps a journal ({journal}) holding everything it was sent, this "
                         "person's events included, which the erasure cannot rewrite: land what the stream holds "
                         "with `lakehouse archive --once` (events not archived yet would be lost), delete the "
                         "journal with `lakehouse down --reset` (the emulator's tables and stream start empty at "
                         "the next `lakehouse up`; the lake and the warehouse keep everything), then forget, and "
                         "run the emulator without a journal (LAKEHOUSE_MOTO_PERSIST=false, the default) while "
                         "personal data must be erasable")
    storage = LakeStorage(settings.lake, region=settings.region)
    with ExitStack() as locks:  # the streaming jobs stopped, and kept from starting, while their state is rewritten
        locks.enter_context(checkpoint_lock(batch_lock(settings.lake), "a batch run or another erasure"))
        for name in checkpoints(storage):
            locks.enter_context(checkpoint_lock(settings.lake.path("checkpoints", name),
                                                f"a streaming job ({name}) or another erasure"))
        return run_erasure(settings, customer_id, requested_by, warehouse=settings.warehouse_target,
                           dynamodb=dynamodb, on_progress=on_progress)


def assess_forget(settings: Settings, customer_id: str) -> Target:
    """What :func:`forget` would erase for ``customer_id``, read only (before asking the user to confirm): the
    person's ids, or that they were erased before and nothing holds the id as a person's since. Raises
    ``ValueError`` for an id that is no customer's or visitor's (:func:`glue_jobs.erasure.job.assess`)."""
    return assess(LakeStorage(settings.lake, region=settings.region), customer_id)
