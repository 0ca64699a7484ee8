"""Operational CloudWatch metrics declared once: what the runtime publishes and the CDK app's alarms read.

The raw archive's heartbeat (published by :mod:`stream.archive_metrics`, one datapoint per trigger of the archive
query, idle triggers included; alarmed on by ``infra/stacks/monitoring.py``): namespace :data:`NAMESPACE`, metric
:data:`ARCHIVED_RECORDS` (unit Count: records a trigger read and archived, 0 when idle), dimensions
:func:`archive_dimensions`.
"""

from __future__ import annotations

NAMESPACE = "CustomerLakehouse"  # the ingest function's Powertools namespace too (lambdas/ingest/app.py)
ARCHIVE_SERVICE = "raw-archive"
ARCHIVED_RECORDS = "ArchivedRecords"


def archive_dimensions(stage: str) -> dict[str, str]:
    """The heartbeat's dimensions for ``stage``: ``{"service": "raw-archive", "stage": stage}`` (two stages in one
    account keep two heartbeats)."""
    return {"service": ARCHIVE_SERVICE, "stage": stage}
