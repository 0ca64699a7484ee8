"""Local ML runs: the data set an evaluation reads, the real CDNOW log replayed through the pipeline, and the
scores loaded into the local warehouse (local tooling on top of the ``ml`` stage and the warehouse loader).

``--dataset cdnow`` replays the CDNOW purchase log (``lakehouse load-cdnow``) through the ingestion API (the
local gateway invoking the real Lambda handler), the raw archive (the stream into the raw zone) and the batch
chain's raw -> curated step (the job that
validates, deduplicates and partitions what the features read; ``--with-star`` runs the star and warehouse steps
too) in a lakehouse of its own, ``<home>/cdnow`` with its own embedded AWS, so it never mixes with the demo's
data. The replay runs once: ``<home>/cdnow/replayed.json`` records it, and later evaluations read its curated
zone.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakehouse.core.config import Settings
from lakehouse.core.write_keys import WriteKeyStore

DATASETS = ("lake", "cdnow")
REPLAYED = "replayed.json"
Say = Callable[[str], None]


class DatasetError(RuntimeError):
    """The data set cannot be prepared; the message says why."""


def dataset_settings(settings: Settings, dataset: str) -> Settings:
    """The settings an evaluation of ``dataset`` runs with: ``lake`` = the configured lakehouse, ``cdnow`` = a
    lakehouse of its own under ``<home>/cdnow`` (same resource names, its own emulator and files)."""
    if dataset == "lake":
        return settings
    if dataset == "cdnow":
        return settings.model_copy(update={"home": settings.home / "cdnow", "lake_root": None, "duckdb_path": None})
    raise DatasetError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")


def _cdnow_digest() -> str:
    from lakehouse.local.generator.cdnow import cdnow_text

    return hashlib.sha256(cdnow_text().encode("utf-8")).hexdigest()


def replay_cdnow(settings: Settings, say: Say = print, steps: tuple[str, ...] = ("curated",)) -> dict[str, Any]:
    """Replay the CDNOW log through the ingestion API, the raw archive and the batch chain's ``steps`` (default:
    raw -> curated, what the ML features read) into ``settings`` (from :func:`dataset_settings`), unless
    ``replayed.json`` says it was done for the same file. Returns the record."""
    marker = settings.home / REPLAYED
    digest = _cdnow_digest()
    record = json.loads(marker.read_text()) if marker.exists() else {}
    if record.get("sha256") == digest:
        say(f"CDNOW already replayed into {settings.home} ({record['accepted']:,} events accepted on "
            f"{record['replayed_at']}); delete {marker} to replay again")
        missing = tuple(step for step in steps if step not in record.get("steps", ("curated",)))
        if missing:
            from lakehouse.core.spark import local_spark
            from lakehouse.local.batch import run_batch

            run_batch(settings, local_spark("lakehouse-ml"), steps=missing, catalog=False)
            record["steps"] = [*record.get("steps", ["curated"]), *missing]
            marker.write_text(json.dumps(record, indent=1))
            say(f"batch chain ({', '.join(missing)}) built from the replay")
        return record
    from lakehouse.core.spark import local_spark
    from lakehouse.local.aws.embedded import export_endpoint, restore_env, start_detached, stop_detached
    from lakehouse.local.aws.provision import provision
    from lakehouse.local.batch import run_batch
    from lakehouse.local.gateway import LocalGateway
    from lakehouse.local.generator import load_cdnow
    from lakehouse.local.replay import post_files
    from stream.archive import run_archive

    started = time.perf_counter()
    state, started_now = start_detached(settings.run_dir, settings.moto_port)
    previous = export_endpoint(state.endpoint, settings.region)
    try:
        provision(settings)
        files_dir = settings.home / "data" / "cdnow"
        written = load_cdnow(files_dir)
        say(f"CDNOW: {written.total_events:,} Order Completed calls for {written.customers:,} customers "
            f"written to {files_dir}")
        key = WriteKeyStore(settings.names.write_keys_table, settings.region).create("cdnow").key
        with LocalGateway(settings) as gateway:
            posted = post_files([files_dir / f.name for f in written.files], gateway.url, key)
        if not posted.ok or posted.accepted != written.total_events:
            raise DatasetError(f"the ingestion API accepted {posted.accepted:,} of {written.total_events:,} CDNOW "
                               f"calls ({posted.rejected:,} rejected, {posted.failed:,} failed): {posted.errors[:3]}")
        say(f"ingestion API: {posted.accepted:,} accepted in {posted.requests:,} requests")
        archived = run_archive(settings, local_spark("lakehouse-ml"), once=True)  # the stream into the raw zone
        say(f"raw archive: {archived.archived:,} events in {archived.objects:,} raw objects")
        # the features read the curated zone only, so `--with-star` builds the rest of the chain on demand (the
        # star adds ~1.5 minutes on CDNOW: docs/batch.md)
        report = run_batch(settings, local_spark("lakehouse-ml"), steps=steps, catalog=False)
        curated = report.curated.accepted if report.curated else 0
        say(f"batch chain ({', '.join(steps)}): {curated:,} events curated")
    finally:
        restore_env(previous)
        if started_now:
            stop_detached(settings.run_dir)
    record = {"sha256": digest, "accepted": posted.accepted, "curated": curated, "steps": list(steps),
              "replayed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "seconds": round(time.perf_counter() - started, 1)}
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(record, indent=1))
    return record


def load_scores_locally(settings: Settings) -> dict[str, Any]:
    """Load the latest scoring run's files into the local warehouse (:func:`glue_jobs.warehouse.load.load_scores`)."""
    from glue_jobs.warehouse.load import load_scores

    report = load_scores(settings)
    return report.as_dict() if hasattr(report, "as_dict") else dict(vars(report))


def report_dir(settings: Settings, dataset: str, cutoff: str) -> Path:
    """Where ``lakehouse ml evaluate`` writes its report by default: ``<home>/reports/ml/<dataset>-<cutoff>``."""
    return settings.home / "reports" / "ml" / f"{dataset}-{cutoff}"

