"""Operational CloudWatch metrics declared once: what the runtime publishes and the CDK app's alarms read.

The streaming job's two queries each publish a heartbeat (:mod:`stream.heartbeat`: every trigger counted, idle
triggers included; alarmed on by ``infra/stacks/monitoring.py`` with missing data as breaching), in namespace
:data:`NAMESPACE`, unit Count, as statistic sets (``SampleCount`` = triggers, ``Sum`` = records the triggers read):

* the raw archive: metric :data:`ARCHIVED_RECORDS`, dimensions :func:`archive_dimensions`; one datapoint per trigger
  (its triggers are minutes apart);
* the feature query: metric :data:`FEATURE_RECORDS`, dimensions :func:`features_dimensions`; its triggers are
  seconds apart, so they are summed into at most one datapoint a minute (:data:`FEATURES_HEARTBEAT_SECONDS`).
"""

from __future__ import annotations

NAMESPACE = "CustomerLakehouse"  # the ingest function's Powertools namespace too (lambdas/ingest/app.py)
ARCHIVE_SERVICE = "raw-archive"
ARCHIVED_RECORDS = "ArchivedRecords"
FEATURES_SERVICE = "stream-features"
FEATURE_RECORDS = "FeatureRecords"
#: the feature query's heartbeat publishes its triggers' sums at most this often (seconds): PutMetricData per
#: trigger would be one call every few seconds
FEATURES_HEARTBEAT_SECONDS = 60.0


def heartbeat_dimensions(service: str, stage: str) -> dict[str, str]:
    """A heartbeat's dimensions: ``{"service": service, "stage": stage}`` (two stages in one account keep two)."""
    return {"service": service, "stage": stage}


def archive_dimensions(stage: str) -> dict[str, str]:
    """The raw archive's heartbeat dimensions for ``stage``: ``{"service": "raw-archive", "stage": stage}``."""
    return heartbeat_dimensions(ARCHIVE_SERVICE, stage)


def features_dimensions(stage: str) -> dict[str, str]:
    """The feature query's heartbeat dimensions for ``stage``: ``{"service": "stream-features", "stage": stage}``."""
    return heartbeat_dimensions(FEATURES_SERVICE, stage)
