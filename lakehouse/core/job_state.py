"""Job state kept in the lake (``state/<job>/``): run records, the raw manifest, build watermarks.

Each raw_to_curated run that commits writes one record ``state/raw_to_curated/runs/<run_id>.json``
listing the raw objects it processed and the landing-log records (``raw/_landed/…``, see
:mod:`lakehouse.core.lake.raw`) it took them from: together they are the manifest of processed raw objects
(locally and whenever Glue job bookmarks are not used). Records are written last, after every table, so a run
that crashes leaves no record and its raw objects are processed again by the next run.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from lakehouse.core.lake.storage import LakeStorage

CURATED_RUNS = "state/raw_to_curated/runs"
STAR_STATE = "state/build_star/last_build.json"
MANIFESTS = "warehouse/_manifests"  # Redshift COPY manifests of the latest star build, one per table


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run id: ``20250602T093000Z-1a2b3c4d``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:8]}"


def read_json(storage: LakeStorage, key: str) -> Any | None:
    """The JSON document at ``key`` in the lake, or None when there is none."""
    if not storage.exists(key):
        return None
    return json.loads(storage.get_bytes(key))


def write_json(storage: LakeStorage, key: str, value: Any) -> str:
    """Write ``value`` as JSON at ``key`` (atomically; values JSON lacks become strings); returns its URI."""
    body = json.dumps(value, indent=1, sort_keys=True, default=str).encode()
    return storage.put_bytes(key, body, content_type="application/json")


def run_records(storage: LakeStorage) -> list[dict[str, Any]]:
    """Every committed raw_to_curated run record, oldest first."""
    return [json.loads(storage.get_bytes(o.key)) for o in storage.list(CURATED_RUNS) if o.key.endswith(".json")]


def processed_raw_objects(storage: LakeStorage) -> set[str]:
    """Raw object keys that committed runs have processed (the local manifest)."""
    return {key for record in run_records(storage) for key in record.get("raw_objects", [])}


def processed_landing_logs(storage: LakeStorage) -> set[str]:
    """Landing-log record keys that committed runs have taken their raw objects from."""
    return {key for record in run_records(storage) for key in record.get("landing_logs", [])}


def curated_version(storage: LakeStorage) -> str | None:
    """Id of the latest committed raw_to_curated run that changed the curated zone (what a star build is
    built from); runs that only found duplicates or rejects do not count."""
    changed = [r["run_id"] for r in run_records(storage) if r.get("report", {}).get("new_events", 0) > 0]
    return max(changed) if changed else None


def commit_run(storage: LakeStorage, run_id: str, raw_objects: list[str], report: dict[str, Any],
               landing_logs: list[str] | None = None) -> str:
    """Commit a raw_to_curated run: write its record (the raw objects it processed, the landing-log records it
    took them from, its report); returns the URI.

    Call it last: once written, the run's raw objects and landing-log records count as processed.
    """
    record = {"run_id": run_id, "committed_at": datetime.now(UTC).isoformat(), "raw_objects": sorted(raw_objects),
              "landing_logs": sorted(landing_logs or []), "report": report}
    return write_json(storage, f"{CURATED_RUNS}/{run_id}.json", record)
