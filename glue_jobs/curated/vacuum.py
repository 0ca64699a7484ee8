"""Delete curated partition versions no reader can still need (runs after a raw_to_curated run committed).

Two kinds of version folders go, each only when older than the retention (``batch.partition_version_retention_days``,
7 days by default: a reader that resolved the manifest before a switch keeps reading the version it found):

* **retired** versions, listed in the manifest with the time they stopped being current (for a legacy partition,
  the files directly in ``curated/<table>/event_date=D/``);
* **orphans**: ``event_date=D/_v-<run_id>/`` folders the manifest does not name and ``_w-<run_id>/`` work folders
  (a run that crashed before its switch), aged by the start time in their run id.

The files go first, then the manifest drops the retired entries: a crash in between leaves entries whose files are
gone, which the next vacuum drops again (deleting nothing twice). Current versions are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from glue_jobs.common.lakefs import delete_keys
from lakehouse.core.lake import tables
from lakehouse.core.lake.storage import LakeStorage


@dataclass(frozen=True)
class Vacuumed:
    """What :func:`vacuum_table` removed: partition versions (retired + orphan) and data files."""

    table_rel: str
    versions: int = 0
    files: int = 0


def vacuum_table(storage: LakeStorage, table_rel: str, retention: timedelta, run_id: str,
                 now: datetime | None = None, region: str | None = None) -> Vacuumed:
    """Delete the retired and orphan versions of one table older than ``retention``; returns what went.

    A table without a manifest (legacy, or never rewritten) is left alone.
    """
    now = now or datetime.now(UTC)
    state = tables.current(storage, table_rel)
    if not state.managed:
        return Vacuumed(table_rel)
    cutoff = now - retention
    live = {state.dir_rel(v) for v in state.partitions}
    doomed: dict[str, tuple[str, str] | None] = {}  # folder -> retired entry (None: orphan)
    keep = []
    for entry in state.retired:
        folder = state.dir_rel(entry.partition, entry.version)
        if folder in live:  # never delete what is current (a version retired, then current again)
            continue
        if datetime.fromisoformat(entry.retired_at) <= cutoff:
            doomed[folder] = (entry.partition, entry.version)
        else:
            keep.append(entry)
    named = live | {state.dir_rel(r.partition, r.version) for r in state.retired}
    keys: list[str] = []
    prefix = f"{state.column}="
    for obj in storage.list(table_rel):
        parts = obj.key[len(table_rel) + 1:].split("/")
        if parts[0].startswith("_w-"):  # what a crashed run wrote before moving it to version folders
            started = tables.version_time(tables.VERSION_PREFIX + parts[0][3:])
            if started is not None and started <= cutoff:
                keys.append(obj.key)
            continue
        if not parts[0].startswith(prefix) or len(parts) < 2:
            continue
        if len(parts) == 2 and not parts[1].startswith("_"):
            folder = f"{table_rel}/{parts[0]}"  # a legacy partition's own file (its checksum file too)
        elif len(parts) >= 3 and parts[1].startswith(tables.VERSION_PREFIX):
            folder = f"{table_rel}/{parts[0]}/{parts[1]}"
            started = tables.version_time(parts[1])
            if folder not in named and started is not None and started <= cutoff:
                doomed.setdefault(folder, None)  # an orphan: a run crashed before its switch
        else:
            continue
        if folder in doomed and folder not in live:
            keys.append(obj.key)
    delete_keys(storage, keys, region)
    if not storage.layout.is_s3:
        _prune_empty_folders(Path(storage.layout.key(table_rel)))
    if len(keep) != len(state.retired):
        state.retired = keep
        tables.commit(storage, state, run_id, now)
    return Vacuumed(table_rel, versions=len(doomed), files=len(keys))


def _prune_empty_folders(root: Path) -> None:
    """Remove the folders a local vacuum left holding nothing but hidden files (Hadoop's ``.crc`` checksums of the
    deleted data files) below ``root`` (S3 has no folders)."""
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        entries = list(folder.iterdir())
        if all(e.is_file() and e.name.startswith(".") for e in entries):
            for entry in entries:
                entry.unlink()
            folder.rmdir()


def vacuum(storage: LakeStorage, table_names: list[str], retention: timedelta, run_id: str,
           now: datetime | None = None, region: str | None = None) -> list[Vacuumed]:
    """:func:`vacuum_table` for each curated table of ``table_names``."""
    return [vacuum_table(storage, storage.layout.curated_table(t), retention, run_id, now, region)
            for t in table_names]
